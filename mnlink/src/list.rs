//! `mnlink list`: each link once, read from the kernel.
use crate::endpoint::Endpoint;
use crate::links::{End, Links};
use anyhow::Result;
use std::collections::BTreeMap;
use std::io::Write;

/// How the list is printed: a table for people, JSON or porcelain for scripts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Porcelain,
}

impl Format {
    pub fn new(json: bool, porcelain: bool) -> Format {
        match (json, porcelain) {
            (true, _) => Format::Json,
            (_, true) => Format::Porcelain,
            _ => Format::Table,
        }
    }
}

pub async fn print(links: &mut Links, node: Option<&str>, format: Format) -> Result<()> {
    let rows = pairs(links, node).await?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            let items: Vec<serde_json::Value> = rows.iter().map(|(a, b)| to_json(a, b.as_ref())).collect();
            writeln!(out, "{}", serde_json::Value::Array(items))?;
            return Ok(());
        }
        Format::Porcelain => {
            for (a, b) in &rows {
                writeln!(out, "{}", porcelain(a, b.as_ref()))?;
            }
            return Ok(());
        }
        Format::Table => {}
    }
    let mut table = vec![["A", "B", "STATE", "SHAPING"].map(String::from).to_vec()];
    for (a, b) in &rows {
        table.push(vec![
            a.end.to_string(),
            a.peer.to_string(),
            state(a, b.as_ref()).to_string(),
            shaping(a, b.as_ref()),
        ]);
    }
    mncli::print_table(&mut out, &table)?;
    Ok(())
}

/// Each link once, in endpoint order, as (end, its peer when the peer's
/// node runs): what `list` and `graph` show.
pub(crate) async fn pairs(links: &mut Links, node: Option<&str>) -> Result<Vec<(End, Option<End>)>> {
    let nodes: Vec<String> = match node {
        Some(n) if crate::links::tunnel::is_remote(links, n) => Vec::new(),
        Some(n) => vec![n.to_string()],
        None => {
            let lab = links.lab();
            lab.node_names()?
                .into_iter()
                .filter(|n| lab.node(n).is_ok_and(|node| node.is_running()))
                .collect()
        }
    };
    let mut ends = links.ends(&nodes).await?;
    // A single node's list needs its peers' side too.
    if node.is_some() {
        let mut peers: Vec<String> =
            ends.iter().map(|e| e.peer.node.clone()).filter(|p| !nodes.contains(p)).collect();
        peers.sort();
        peers.dedup();
        let alive: Vec<String> =
            peers.into_iter().filter(|p| links.lab().node(p).is_ok_and(|n| n.is_running())).collect();
        ends.extend(links.ends(&alive).await?);
    }
    // The ends on other machines, as their mnlink lists them.
    ends.extend(crate::links::tunnel::remote_ends(links)?);
    // Pair the ends: each link once, in endpoint order.
    let mut by_end: BTreeMap<Endpoint, End> = ends.into_iter().map(|e| (e.end.clone(), e)).collect();
    let mut rows: Vec<(End, Option<End>)> = Vec::new();
    while let Some((_, a)) = by_end.pop_first() {
        let b = by_end.remove(&a.peer);
        rows.push((a, b));
    }
    rows.retain(|(a, b)| node.is_none_or(|n| a.end.node == n || b.as_ref().is_some_and(|b| b.end.node == n)));
    Ok(rows)
}

/// The list of a lab that does not exist: empty.
pub fn print_none(format: Format) -> Result<()> {
    if format == Format::Json {
        mncli::say("[]")?;
    } else if format == Format::Table {
        mncli::print_table(
            &mut std::io::stdout().lock(),
            &[["A", "B", "STATE", "SHAPING"].map(String::from).to_vec()],
        )?;
    }
    Ok(())
}

pub(crate) fn state(a: &End, b: Option<&End>) -> &'static str {
    match (a.up, b.map(|b| b.up)) {
        (true, Some(true) | None) => "up",
        (false, Some(false) | None) => "down",
        _ => "half-up",
    }
}

fn shaping(a: &End, b: Option<&End>) -> String {
    let sa = a.shaping_text();
    match b {
        Some(b) if b.shaping_text() != sa => {
            let sb = b.shaping_text();
            format!("{}: {}; {}: {}", a.end, or_none(&sa), b.end, or_none(&sb))
        }
        _ => sa,
    }
}

/// A_NODE A_IF B_NODE B_IF STATE MTU A_SHAPING B_SHAPING, tab-separated.
fn porcelain(a: &End, b: Option<&End>) -> String {
    let shaping = |e: Option<&End>| e.map(|e| or_none(&e.shaping_text()).to_string()).unwrap_or("-".into());
    let mtu = a.mtu.map(|m| m.to_string()).unwrap_or("-".into());
    let (an, ai, bn, bi) = (&a.end.node, &a.end.ifname, &a.peer.node, &a.peer.ifname);
    format!("{an}\t{ai}\t{bn}\t{bi}\t{}\t{mtu}\t{}\t{}", state(a, b), shaping(Some(a)), shaping(b))
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

fn end_json(e: &End) -> serde_json::Value {
    serde_json::json!({
        "node": e.end.node,
        "interface": e.end.ifname,
        "up": e.up,
        "mtu": e.mtu,
        "shaping": e.shaping_text(),
    })
}

fn to_json(a: &End, b: Option<&End>) -> serde_json::Value {
    let peer = b
        .map(end_json)
        .unwrap_or_else(|| serde_json::json!({ "node": a.peer.node, "interface": a.peer.ifname }));
    serde_json::json!({ "a": end_json(a), "b": peer, "state": state(a, b) })
}

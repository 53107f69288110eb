//! `mnlink list`: each link once, read from the kernel.
use crate::endpoint::Endpoint;
use crate::links::{End, Links};
use anyhow::Result;
use std::collections::BTreeMap;
use std::io::Write;

pub async fn print(links: &mut Links, node: Option<&str>, json: bool) -> Result<()> {
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
    let mut out = std::io::stdout().lock();
    if json {
        let items: Vec<serde_json::Value> = rows.iter().map(|(a, b)| to_json(a, b.as_ref())).collect();
        writeln!(out, "{}", serde_json::Value::Array(items))?;
        return Ok(());
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

/// The list of a lab that does not exist: empty.
pub fn print_none(json: bool) -> Result<()> {
    if json {
        mncli::say("[]")?;
    } else {
        mncli::print_table(
            &mut std::io::stdout().lock(),
            &[["A", "B", "STATE", "SHAPING"].map(String::from).to_vec()],
        )?;
    }
    Ok(())
}

fn state(a: &End, b: Option<&End>) -> &'static str {
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

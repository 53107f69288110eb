//! `mnlink graph`: the running lab as a picture (Graphviz DOT, Mermaid),
//! as JSON, or as a topology file `mn --topo` rebuilds. Nodes come from the
//! lab's records, links from the very code `mnlink list` reads the kernel
//! with: both ends' interface names, MACs, addresses and shaping.
use crate::cli::GraphFormat;
use crate::links::{End, Links};
use crate::shaping::Shaping;
use anyhow::{Result, anyhow, bail};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

/// A host's row under its switch: the host's end, the switch's, the link.
type Row<'a> = (&'a Side, &'a Side, &'a Link);

/// Past this many nodes DOT draws the compact picture.
const COMPACT: usize = 300;

/// A node as the picture shows it.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    /// host, switch, router; `None` for a node whose record is unreadable.
    pub kind: Option<String>,
    pub state: String,
    pub pid: Option<i32>,
    pub root: bool,
    /// Hops from the nearest host (hosts 0); switches of one level are
    /// drawn side by side.
    pub level: u32,
    /// Routes someone added (`ip route add` words); read for JSON and
    /// topology files only.
    pub routes: Vec<String>,
    /// The machine a node of a lab across machines lives on (None: here).
    pub machine: Option<String>,
}

/// One end of a link as the picture shows it (the peer's node may be
/// gone: then only its name is known).
#[derive(Debug, Clone)]
pub struct Side {
    pub node: String,
    pub ifname: String,
    pub end: Option<End>,
}

#[derive(Debug, Clone)]
pub struct Link {
    pub a: Side,
    pub b: Side,
    pub state: &'static str,
}

#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
}

/// Reads the lab: its nodes and every link, from the kernel; with
/// `routes`, each host's and router's added routes too.
pub async fn read(links: &mut Links, routes: bool) -> Result<Graph> {
    let lab = links.lab();
    let mut nodes = Vec::new();
    for name in lab.node_names()? {
        let node = match lab.node(&name) {
            Ok(n) => Node {
                name: n.name.clone(),
                kind: Some(n.kind.as_str().to_string()),
                state: n.state().as_str().to_string(),
                pid: n.has_shell().then_some(n.pid),
                root: n.root,
                level: 0,
                routes: Vec::new(),
                machine: None,
            },
            // A node on another machine has a record of its own kind.
            Err(_) => match mnnode::remote::remote_node(lab, &name) {
                Some(r) => Node {
                    name,
                    kind: Some(r.kind),
                    state: "remote".into(),
                    pid: None,
                    root: false,
                    level: 0,
                    routes: Vec::new(),
                    machine: Some(r.machine),
                },
                None => Node {
                    name,
                    kind: None,
                    state: "dead".into(),
                    pid: None,
                    root: false,
                    level: 0,
                    routes: Vec::new(),
                    machine: None,
                },
            },
        };
        nodes.push(node);
    }
    if routes {
        for n in &mut nodes {
            if n.state == "running" && !n.root && n.kind.as_deref().is_some_and(|k| k != "switch") {
                n.routes = links.routes(&n.name).await?;
                links.forget(&n.name).await;
            }
        }
    }
    let pairs = crate::list::pairs(links, None).await?;
    let links = pairs
        .into_iter()
        .map(|(a, b)| {
            let state = crate::list::state(&a, b.as_ref());
            let b = Side { node: a.peer.node.clone(), ifname: a.peer.ifname.clone(), end: b };
            let a = Side { node: a.end.node.clone(), ifname: a.end.ifname.clone(), end: Some(a) };
            Link { a, b, state }
        })
        .collect();
    let mut graph = Graph { nodes, links };
    graph.set_levels();
    Ok(graph)
}

impl Graph {
    /// Levels by breadth-first search from the hosts: in a tree the leaf
    /// switches are level 1 and the root is the tree's depth. A node no
    /// host reaches is level 1.
    pub fn set_levels(&mut self) {
        let index: HashMap<&str, usize> =
            self.nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect();
        let mut next: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for l in &self.links {
            if let (Some(&a), Some(&b)) = (index.get(l.a.node.as_str()), index.get(l.b.node.as_str())) {
                next[a].push(b);
                next[b].push(a);
            }
        }
        let mut level: Vec<Option<u32>> = vec![None; self.nodes.len()];
        let mut queue = VecDeque::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if n.kind.as_deref() == Some("host") {
                level[i] = Some(0);
                queue.push_back(i);
            }
        }
        while let Some(i) = queue.pop_front() {
            let here = level[i].unwrap_or(0);
            for &j in &next[i] {
                if level[j].is_none() {
                    level[j] = Some(here + 1);
                    queue.push_back(j);
                }
            }
        }
        for (n, l) in self.nodes.iter_mut().zip(level) {
            n.level = l.unwrap_or(1);
        }
    }

    fn level_of(&self, name: &str) -> u32 {
        self.nodes.iter().find(|n| n.name == name).map_or(0, |n| n.level)
    }

    pub fn render(&self, format: GraphFormat) -> Result<String> {
        Ok(match format {
            GraphFormat::Dot => self.dot(),
            GraphFormat::Mermaid => self.mermaid(),
            GraphFormat::Json => format!("{}\n", self.json()),
            GraphFormat::Topo => self.topology()?,
        })
    }

    /// JSON: nodes and links, each end with everything the kernel said.
    pub fn json(&self) -> serde_json::Value {
        let nodes: Vec<serde_json::Value> = self
            .nodes
            .iter()
            .map(|n| {
                serde_json::json!({
                    "name": n.name, "kind": n.kind, "state": n.state, "pid": n.pid,
                    "root": n.root, "level": n.level, "routes": n.routes, "machine": n.machine,
                })
            })
            .collect();
        let side = |s: &Side| match &s.end {
            Some(e) => serde_json::json!({
                "node": s.node,
                "interface": s.ifname,
                "mac": e.mac,
                "addresses": e.addresses,
                "mtu": e.mtu,
                "up": e.up,
                "shaping": e.shaping.to_string(),
                "shaping_values": shaping_json(&e.shaping),
            }),
            None => serde_json::json!({ "node": s.node, "interface": s.ifname }),
        };
        let links: Vec<serde_json::Value> = self
            .links
            .iter()
            .map(|l| serde_json::json!({ "a": side(&l.a), "b": side(&l.b), "state": l.state }))
            .collect();
        serde_json::json!({ "nodes": nodes, "links": links })
    }

    /// Links oriented from the higher level down, so that `dot` ranks a
    /// tree's root on top.
    fn oriented(&self) -> Vec<(&Side, &Side, &Link)> {
        self.links
            .iter()
            .map(|l| {
                if self.level_of(&l.b.node) > self.level_of(&l.a.node) {
                    (&l.b, &l.a, l)
                } else {
                    (&l.a, &l.b, l)
                }
            })
            .collect()
    }

    /// Nodes by level, each level in natural order (s2 before s10): mn
    /// numbers a tree depth first, so that is the tree's own order.
    fn by_level(&self) -> BTreeMap<u32, Vec<&Node>> {
        let mut levels: BTreeMap<u32, Vec<&Node>> = BTreeMap::new();
        for n in &self.nodes {
            levels.entry(n.level).or_default().push(n);
        }
        for nodes in levels.values_mut() {
            nodes.sort_by_key(|n| natural(&n.name));
        }
        levels
    }

    /// Graphviz DOT: each level of switches (and routers) a cluster of one
    /// rank, the hosts one rank below. A node is a small table: its name,
    /// and a cell per interface (name and addresses) that its links leave
    /// from, upward links above the name and the rest below, so that no
    /// two labels overlap. Shaping is written on the link.
    pub fn dot(&self) -> String {
        if self.nodes.len() > COMPACT {
            return self.dot_compact();
        }
        let mut ports: HashMap<&str, (Vec<&Side>, Vec<&Side>)> = HashMap::new();
        for (upper, lower, _) in self.oriented() {
            let up_edge = self.level_of(&upper.node) > self.level_of(&lower.node);
            ports.entry(upper.node.as_str()).or_default().1.push(upper);
            let lower_ports = ports.entry(lower.node.as_str()).or_default();
            if up_edge { lower_ports.0.push(lower) } else { lower_ports.1.push(lower) }
        }
        let mut s = String::from("graph lab {\n");
        s += "  graph [rankdir=TB, nodesep=0.15, ranksep=0.9, fontname=\"Helvetica\", fontsize=11, newrank=true];\n";
        s += "  node [shape=plaintext, fontname=\"Helvetica\", fontsize=10];\n";
        s += "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n";
        let none = (Vec::new(), Vec::new());
        for (level, nodes) in self.by_level().iter().rev() {
            if *level == 0 {
                s += "  { rank=same;\n";
            } else {
                let _ = writeln!(s, "  subgraph cluster_level{level} {{");
                let _ =
                    writeln!(s, "    label=\"level {level}\"; style=dashed; color=\"#999999\"; labeljust=l;");
                s += "    { rank=same;\n";
            }
            for n in nodes {
                let (up, down) = ports.get(n.name.as_str()).unwrap_or(&none);
                let _ = writeln!(s, "    {} [label=<{}>];", quote(&n.name), dot_table(n, up, down));
            }
            s += if *level == 0 { "  }\n" } else { "    }\n  }\n" };
        }
        for (a, b, l) in self.oriented() {
            let down = self.level_of(&a.node) > self.level_of(&b.node);
            let mut attrs = Vec::new();
            let shaping = link_shaping(l);
            if !shaping.is_empty() {
                attrs.push(format!("label={}", quote(&shaping)));
                attrs.push("fontcolor=\"#aa3300\"".into());
            }
            if l.state != "up" {
                attrs.push("style=dashed".into());
            }
            let _ = writeln!(
                s,
                "  {}:{}:s -- {}:{}:{}{};",
                quote(&a.node),
                quote(&port_id(&a.ifname)),
                quote(&b.node),
                quote(&port_id(&b.ifname)),
                if down { "n" } else { "s" },
                if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) }
            );
        }
        s += "}\n";
        s
    }

    /// DOT for a big lab (tree,3,10): a port cell per interface would make
    /// the picture tens of thousands of pixels wide. Each level is a rank
    /// (not a cluster), switches are drawn by name, and the hosts hanging off one switch alone are one table
    /// under it, a row per host (name, address, the switch's port); every
    /// interface name is still there, in the links' and rows' tooltips (an
    /// SVG shows them on hover).
    fn dot_compact(&self) -> String {
        // Hosts with one link, to a switch: grouped under that switch.
        let mut degree: HashMap<&str, usize> = HashMap::new();
        for l in &self.links {
            *degree.entry(l.a.node.as_str()).or_default() += 1;
            *degree.entry(l.b.node.as_str()).or_default() += 1;
        }
        let kind: HashMap<&str, Option<&str>> =
            self.nodes.iter().map(|n| (n.name.as_str(), n.kind.as_deref())).collect();
        let leaf = |host: &Side, sw: &Side| {
            kind.get(host.node.as_str()) == Some(&Some("host"))
                && kind.get(sw.node.as_str()) == Some(&Some("switch"))
                && degree.get(host.node.as_str()) == Some(&1)
        };
        let mut groups: BTreeMap<(String, u64), Vec<Row>> = BTreeMap::new();
        let mut grouped: HashMap<&str, ()> = HashMap::new();
        let mut rest = Vec::new();
        for l in &self.links {
            let pair = if leaf(&l.a, &l.b) {
                Some((&l.a, &l.b))
            } else if leaf(&l.b, &l.a) {
                Some((&l.b, &l.a))
            } else {
                None
            };
            match pair {
                Some((host, sw)) => {
                    groups.entry(natural(&sw.node)).or_default().push((host, sw, l));
                    grouped.insert(host.node.as_str(), ());
                }
                None => rest.push(l),
            }
        }
        let mut s = String::from("graph lab {\n");
        s += "  graph [rankdir=TB, nodesep=0.1, ranksep=0.8, fontname=\"Helvetica\", fontsize=11, newrank=true, ordering=out];\n";
        s += "  node [shape=plaintext, fontname=\"Helvetica\", fontsize=9];\n";
        s += "  edge [color=\"#555555\"];\n";
        for (level, nodes) in self.by_level().iter().rev() {
            let nodes: Vec<&&Node> =
                nodes.iter().filter(|n| !grouped.contains_key(n.name.as_str())).collect();
            if nodes.is_empty() {
                continue;
            }
            // One rank per level, without clusters: at this size dot's
            // ordering inside big clusters scatters a tree's branches.
            let _ = writeln!(s, "  {{ rank=same; // level {level}");
            for n in nodes {
                let _ = writeln!(s, "    {} [label=<{}>];", quote(&n.name), dot_table(n, &[], &[]));
            }
            s += "  }\n";
        }
        s += "  { rank=same;\n";
        for ((prefix, number), rows) in &mut groups {
            let sw = format!("{prefix}{number}");
            rows.sort_by_key(|(host, ..)| natural(&host.node));
            let mut t = String::from(
                "<TABLE BORDER=\"1\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"1\" BGCOLOR=\"#dcecff\">",
            );
            for (host, port, l) in rows {
                let addr = host.end.as_ref().and_then(|e| e.addresses.first()).map_or("", String::as_str);
                let tip = format!("{} — {} {}", host.ifname, port.ifname, link_shaping(l));
                let _ = write!(
                    t,
                    "<TR><TD ALIGN=\"LEFT\" TOOLTIP=\"{}\" HREF=\"#\"><B>{}</B></TD><TD ALIGN=\"LEFT\">{}</TD><TD ALIGN=\"LEFT\"><FONT COLOR=\"#666666\">{}</FONT></TD></TR>",
                    html(tip.trim()),
                    html(&host.node),
                    html(addr),
                    html(&port.ifname)
                );
            }
            t += "</TABLE>";
            let _ = writeln!(s, "    {} [label=<{t}>];", quote(&format!("hosts of {sw}")));
        }
        s += "  }\n";
        for (prefix, number) in groups.keys() {
            let sw = format!("{prefix}{number}");
            let _ = writeln!(s, "  {} -- {} [penwidth=2];", quote(&sw), quote(&format!("hosts of {sw}")));
        }
        rest.sort_by_key(|l| (natural(&l.a.node), natural(&l.a.ifname)));
        for l in rest {
            let (a, b) =
                if self.level_of(&l.b.node) > self.level_of(&l.a.node) { (&l.b, &l.a) } else { (&l.a, &l.b) };
            let shaping = link_shaping(l);
            let mut attrs =
                vec![format!("tooltip={}", quote(&format!("{} — {} {shaping}", end_label(a), end_label(b))))];
            if !shaping.is_empty() {
                attrs.push(format!("label={}", quote(&shaping)));
            }
            if l.state != "up" {
                attrs.push("style=dashed".into());
            }
            let _ = writeln!(s, "  {} -- {} [{}];", quote(&a.node), quote(&b.node), attrs.join(", "));
        }
        s += "}\n";
        s
    }

    /// Mermaid: a flowchart, one subgraph per level.
    pub fn mermaid(&self) -> String {
        let mut s = String::from("flowchart TB\n");
        for (level, nodes) in self.by_level().iter().rev() {
            let title = if *level == 0 { "hosts".to_string() } else { format!("level {level}") };
            let _ = writeln!(s, "  subgraph level{level} [\"{title}\"]");
            for n in nodes {
                let label = mermaid_text(&n.name);
                let shape = match n.kind.as_deref() {
                    Some("switch") => format!("{{{{\"{label}\"}}}}"),
                    Some("router") => format!("{{\"{label}\"}}"),
                    _ => format!("[\"{label}\"]"),
                };
                let _ = writeln!(s, "    {}{shape}", mermaid_id(&n.name));
            }
            s += "  end\n";
        }
        for (a, b, l) in self.oriented() {
            let mut label =
                format!("{} — {}", end_label(a).replace('\n', " "), end_label(b).replace('\n', " "));
            let shaping = link_shaping(l);
            if !shaping.is_empty() {
                label += &format!(" ({shaping})");
            }
            let line = if l.state == "up" { "---" } else { "-.-" };
            let _ = writeln!(
                s,
                "  {} {line}|\"{}\"| {}",
                mermaid_id(&a.node),
                mermaid_text(&label),
                mermaid_id(&b.node)
            );
        }
        s
    }

    /// A topology file (see mn(1)) that rebuilds this lab: nodes and
    /// kinds, links with their interface names, MACs, addresses, MTU and
    /// shaping. A host's first link carries its `ip=` (so that mn gives it
    /// no address of its own); `ip=none` when that end has none.
    pub fn topology(&self) -> Result<String> {
        let mut s = String::from(
            "# A topology file written by `mnlink graph --format topo` (mn save): nodes,\n\
             # links with their interface names, MACs, addresses and shaping, and the routes\n\
             # added in nodes, as the kernel had them. Rebuild with: mn --topo FILE\n",
        );
        if self.nodes.is_empty() {
            bail!("the lab has no nodes to save");
        }
        for n in &self.nodes {
            if n.kind.is_none() || n.state != "running" {
                bail!("node {} is {}: only a lab whose nodes all run can be saved", n.name, n.state);
            }
        }
        // A host's address is on its first interface with IPv4 (what mn
        // gave it, and what `mnnode ip` reports): its link goes first, so
        // that the rebuilt host's first link is that one again.
        let mut primary: HashMap<&str, u32> = HashMap::new();
        for side in self.links.iter().flat_map(|l| [&l.a, &l.b]) {
            let Some(e) = &side.end else { continue };
            if e.addresses.first().is_some_and(|a| !a.contains(':')) {
                let best = primary.entry(side.node.as_str()).or_insert(e.index);
                *best = (*best).min(e.index);
            }
        }
        let is_primary =
            |s: &Side| s.end.as_ref().is_some_and(|e| primary.get(s.node.as_str()) == Some(&e.index));
        let mut order: Vec<usize> = (0..self.links.len()).collect();
        order.sort_by_key(|&i| !(is_primary(&self.links[i].a) || is_primary(&self.links[i].b)));
        let mut first: HashMap<&str, (usize, bool)> = HashMap::new();
        for &i in &order {
            let l = &self.links[i];
            for (side, is_a) in [(&l.a, true), (&l.b, false)] {
                first.entry(side.node.as_str()).or_insert((i, is_a));
            }
        }
        let mut host_ip: HashMap<usize, (bool, String)> = HashMap::new();
        for n in &self.nodes {
            let kind = n.kind.as_deref().unwrap_or("host");
            let mut line = format!("{kind} {}", n.name);
            if kind == "host" {
                if let Some(&(i, is_a)) = first.get(n.name.as_str()) {
                    let side = if is_a { &self.links[i].a } else { &self.links[i].b };
                    match side.end.as_ref().and_then(|e| e.addresses.first()) {
                        Some(ip) => {
                            line += &format!(" ip={ip}");
                            host_ip.insert(i, (is_a, ip.clone()));
                        }
                        None => line += " ip=none",
                    }
                }
            }
            let _ = writeln!(s, "{line}");
        }
        for &i in &order {
            let l = &self.links[i];
            let (Some(a), Some(b)) = (&l.a.end, &l.b.end) else {
                bail!("link {}: its peer {} is not running", l.a.ifname, l.b.node);
            };
            if a.shaping != b.shaping {
                bail!(
                    "link {} {}: its ends are shaped differently, which a topology file cannot say",
                    a.end,
                    b.end
                );
            }
            let mut words = vec![
                format!("link {} {}", l.a.node, l.b.node),
                format!("intf1={}", l.a.ifname),
                format!("intf2={}", l.b.ifname),
            ];
            for (n, e, is_a) in [(1, a, true), (2, b, false)] {
                if let Some(mac) = &e.mac {
                    words.push(format!("mac{n}={mac}"));
                }
                let mut addrs: Vec<&String> = e.addresses.iter().collect();
                if let Some((on_a, ip)) = host_ip.get(&i) {
                    if *on_a == is_a {
                        addrs.retain(|x| *x != ip);
                    }
                }
                if !addrs.is_empty() {
                    words.push(format!(
                        "ip{n}={}",
                        addrs.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(",")
                    ));
                }
            }
            if let Some(mtu) = a.mtu.filter(|&m| m != 1500) {
                words.push(format!("mtu={mtu}"));
            }
            words.extend(topology_shaping(&a.shaping));
            let _ = writeln!(s, "{}", words.join(" "));
        }
        for n in &self.nodes {
            for r in &n.routes {
                let _ = writeln!(s, "cmd {} ip route add {r}", n.name);
            }
        }
        Ok(s)
    }
}

fn shaping_json(s: &Shaping) -> serde_json::Value {
    serde_json::json!({
        "bw_bits": s.rate, "delay_us": s.delay, "jitter_us": s.jitter, "loss_pct": s.loss,
        "reorder_pct": s.reorder, "duplicate_pct": s.duplicate, "corrupt_pct": s.corrupt,
        "rate_bits": s.netem_rate, "queue": s.queue,
    })
}

/// Shaping as the topology file's link options (mn's names).
fn topology_shaping(s: &Shaping) -> Vec<String> {
    let mbit = |bits: u64| number(bits as f64 / 1e6);
    let mut words = Vec::new();
    if let Some(r) = s.rate {
        words.push(format!("bw={}", mbit(r)));
    }
    if let Some(d) = s.delay {
        words.push(format!("delay={d}us"));
    }
    if let Some(j) = s.jitter {
        words.push(format!("jitter={j}us"));
    }
    for (name, v) in
        [("loss", s.loss), ("reorder", s.reorder), ("duplicate", s.duplicate), ("corrupt", s.corrupt)]
    {
        if let Some(p) = v {
            words.push(format!("{name}={}", number(p)));
        }
    }
    if let Some(r) = s.netem_rate {
        words.push(format!("rate={}", mbit(r)));
    }
    if let Some(q) = s.queue {
        words.push(format!("queue={q}"));
    }
    words
}

/// A number without a trailing `.0` and with all the digits it needs.
fn number(x: f64) -> String {
    let s = format!("{x:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn link_shaping(l: &Link) -> String {
    let a = l.a.end.as_ref().map(|e| e.shaping.to_string()).unwrap_or_default();
    let b = l.b.end.as_ref().map(|e| e.shaping.to_string()).unwrap_or_default();
    if a == b || b.is_empty() && l.b.end.is_none() {
        a
    } else {
        let or_none = |s: String| if s.is_empty() { "-".to_string() } else { s };
        format!("{}: {}; {}: {}", l.a.ifname, or_none(a), l.b.ifname, or_none(b))
    }
}

/// An end's label: its interface name, then its addresses.
fn end_label(side: &Side) -> String {
    let mut label = side.ifname.clone();
    if let Some(e) = &side.end {
        for a in &e.addresses {
            label += "\n";
            label += a;
        }
    }
    label
}

/// A node as a DOT HTML-like table: upward ports, the name, the rest.
fn dot_table(n: &Node, up: &[&Side], down: &[&Side]) -> String {
    let color = match n.kind.as_deref() {
        Some("host") => "#dcecff",
        Some("switch") => "#d8f5d0",
        Some("router") => "#ffe3b8",
        _ => "#eeeeee",
    };
    let row = |sides: &[&Side]| {
        let cells: String = sides
            .iter()
            .map(|side| {
                let text = end_label(side).split('\n').map(html).collect::<Vec<_>>().join("<BR/>");
                format!("<TD PORT=\"{}\" BGCOLOR=\"#ffffff\">{text}</TD>", html(&port_id(&side.ifname)))
            })
            .collect();
        format!(
            "<TR><TD BORDER=\"0\" CELLPADDING=\"0\"><TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"2\"><TR>{cells}</TR></TABLE></TD></TR>"
        )
    };
    let mut name = format!("<B>{}</B>", html(&n.name));
    if let Some(machine) = &n.machine {
        name += &format!(" on {}", html(machine));
    } else if n.state != "running" {
        name += &format!(" ({})", html(&n.state));
    }
    let mut t = format!(
        "<TABLE BORDER=\"1\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"3\" BGCOLOR=\"{color}\">"
    );
    if !up.is_empty() {
        t += &row(up);
    }
    t += &format!("<TR><TD>{name}</TD></TR>");
    if !down.is_empty() {
        t += &row(down);
    }
    t + "</TABLE>"
}

/// A name's sort key: its letters, then its number (s2 before s10).
fn natural(name: &str) -> (String, u64) {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (text, number) = name.split_at(name.len() - digits);
    (text.to_string(), number.parse().unwrap_or(0))
}

/// A port id for an interface: DOT port names are plain strings.
fn port_id(ifname: &str) -> String {
    format!("p_{ifname}")
}

/// Text for a DOT HTML-like label.
fn html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A DOT string: quotes and backslashes escaped, newlines as `\n`.
fn quote(text: &str) -> String {
    let mut s = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => s += "\\\"",
            '\\' => s += "\\\\",
            '\n' => s += "\\n",
            c => s.push(c),
        }
    }
    s + "\""
}

/// Mermaid ids take letters, digits and `_` (node names are just that).
fn mermaid_id(name: &str) -> String {
    format!("n_{name}")
}

/// Mermaid label text: its own entity for a quote.
fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;")
}

/// Renders DOT to FILE with Graphviz's `dot`; a missing `dot` is named
/// with its Debian package.
pub fn render_file(dot: &str, format: &str, file: &Path) -> Result<()> {
    let mut child = match std::process::Command::new("dot")
        .arg(format!("-T{format}"))
        .arg("-o")
        .arg(file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("--{format} {}: dot not found (Debian package: graphviz)", file.display())
        }
        Err(e) => return Err(crate::io("run dot", &e)),
    };
    let fed = child.stdin.take().map(|mut stdin| stdin.write_all(dot.as_bytes()));
    let out = child.wait_with_output().map_err(|e| crate::io("wait for dot", &e))?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let why = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed").trim();
        bail!("--{format} {}: dot: {}", file.display(), why.trim_start_matches("Error: "));
    }
    if let Some(Err(e)) = fed {
        return Err(crate::io("write to dot", &e));
    }
    Ok(())
}

/// Whether `dot` can be run: checked before the lab is read.
pub fn check_dot(format: &str, file: &Path) -> Result<()> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|dir| dir.join("dot").is_file()))
        .unwrap_or(false);
    if !found {
        return Err(anyhow!("--{format} {}: dot not found (Debian package: graphviz)", file.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::Endpoint;

    fn end(node: &str, ifname: &str, peer: &str, peer_if: &str, addr: Option<&str>) -> End {
        End::for_test(
            Endpoint { node: node.into(), ifname: ifname.into() },
            Endpoint { node: peer.into(), ifname: peer_if.into() },
            addr.map(String::from).into_iter().collect(),
        )
    }

    /// A tree as mn's tree topology makes it, without a kernel.
    pub fn tree(depth: u32, fanout: u32) -> Graph {
        let mut g = Graph::default();
        let mut hosts = 0;
        let mut switches = 0;
        let mut ports: HashMap<String, u32> = HashMap::new();
        fn make(
            g: &mut Graph,
            level: u32,
            fanout: u32,
            hosts: &mut u32,
            switches: &mut u32,
            ports: &mut HashMap<String, u32>,
        ) -> String {
            if level == 0 {
                *hosts += 1;
                let name = format!("h{hosts}");
                g.nodes.push(node(&name, "host"));
                return name;
            }
            *switches += 1;
            let name = format!("s{switches}");
            g.nodes.push(node(&name, "switch"));
            for _ in 0..fanout {
                let child = make(g, level - 1, fanout, hosts, switches, ports);
                let p = ports.entry(name.clone()).or_insert(0);
                *p += 1;
                // mn's numbering: a switch's uplink is the port after its children's.
                let up = if child.starts_with('h') { 0 } else { fanout + 1 };
                let (pif, cif) = (format!("{name}-eth{p}"), format!("{child}-eth{up}"));
                let addr =
                    child.starts_with('h').then(|| format!("10.0.{}.{}/8", *hosts / 256, *hosts % 256));
                let a = end(&child, &cif, &name, &pif, addr.as_deref());
                let b = end(&name, &pif, &child, &cif, None);
                g.links.push(Link {
                    a: Side { node: child.clone(), ifname: cif, end: Some(a) },
                    b: Side { node: name.clone(), ifname: pif, end: Some(b) },
                    state: "up",
                });
            }
            name
        }
        make(&mut g, depth, fanout, &mut hosts, &mut switches, &mut ports);
        g.set_levels();
        g
    }

    fn node(name: &str, kind: &str) -> Node {
        Node {
            name: name.into(),
            kind: Some(kind.into()),
            state: "running".into(),
            pid: Some(1),
            root: false,
            level: 0,
            routes: Vec::new(),
            machine: None,
        }
    }

    #[test]
    fn levels_rank_a_tree_root_on_top() {
        let g = tree(3, 2);
        assert_eq!(g.level_of("s1"), 3);
        assert_eq!(g.level_of("s2"), 2);
        assert_eq!(g.level_of("s3"), 1);
        assert_eq!(g.level_of("h1"), 0);
        let dot = g.dot();
        assert!(dot.contains("subgraph cluster_level3 {"), "{dot}");
        assert!(dot.contains("  \"s1\":\"p_s1-eth1\":s -- \"s2\":\"p_s2-eth3\":n;\n"), "{dot}");
        assert!(
            dot.contains("<TD PORT=\"p_h1-eth0\" BGCOLOR=\"#ffffff\">h1-eth0<BR/>10.0.0.1/8</TD>"),
            "{dot}"
        );
    }

    #[test]
    fn a_topology_file_names_every_end() {
        let g = tree(1, 2);
        let topo = g.topology().expect("a topology");
        assert!(topo.contains("\nhost h1 ip=10.0.0.1/8\n"), "{topo}");
        assert!(topo.contains("\nlink h1 s1 intf1=h1-eth0 intf2=s1-eth1\n"), "{topo}");
    }

    #[test]
    fn mermaid_and_dot_quote_what_they_must() {
        assert_eq!(quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(mermaid_text("say \"hi\""), "say #quot;hi#quot;");
        let m = tree(1, 2).mermaid();
        assert!(m.contains("  n_s1 ---|\"s1-eth1 — h1-eth0 10.0.0.1/8\"| n_h1\n"), "{m}");
    }

    /// tree,3,10 is 1,111 nodes: its DOT is written at once, and (when
    /// Graphviz is installed) `dot` lays it out; the bound is 30 s,
    /// checked generously (5 minutes) since the machine is shared.
    #[test]
    fn dot_for_1111_nodes_renders() {
        let g = tree(3, 10);
        assert_eq!(g.nodes.len(), 1111);
        let dot = g.dot();
        // 110 links between switches, and 100 leaf switches' host tables.
        assert_eq!(dot.matches(" -- ").count(), 210);
        assert!(dot.contains("\"hosts of s3\" [label=<<TABLE"), "{dot}");
        assert_eq!(dot.matches("<TR><TD ALIGN=\"LEFT\" TOOLTIP=").count(), 1000);
        let dir = std::env::temp_dir().join(format!("mnlink-graph-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let svg = dir.join("tree-3-10.svg");
        if check_dot("svg", &svg).is_err() {
            eprintln!("SKIPPED dot_for_1111_nodes_renders: dot (graphviz) is not installed");
            return;
        }
        let started = std::time::Instant::now();
        render_file(&dot, "svg", &svg).expect("dot renders tree,3,10");
        let took = started.elapsed();
        eprintln!("dot rendered 1111 nodes in {took:?}");
        assert!(std::fs::metadata(&svg).map(|m| m.len()).unwrap_or(0) > 10_000);
        assert!(took < std::time::Duration::from_secs(300), "dot took {took:?}");
        if std::env::var_os("MN_GRAPH_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

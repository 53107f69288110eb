//! What each mnnode subcommand does.
use crate::cli::{AddArgs, Cli, Command, KindArg};
use crate::lab::Lab;
use crate::node::{Kind, Node};
use crate::spawn::{self, AddOptions};
use crate::{cgroup, name, netlink, netns_dir, reap, require_root};
use anyhow::{Context, Result, anyhow, bail};
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::process::ExitCode;

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Add(args) => add(args),
        Command::Del { names } => del(&names),
        Command::List { json } => list(json),
        Command::Pid { name } => pid(&name),
        Command::Ip { name } => ip(&name),
        Command::Clean { verbose } => clean(verbose),
    }
}

fn add(args: AddArgs) -> Result<ExitCode> {
    require_root()?;
    let kind = match args.kind {
        KindArg::Host => Kind::Host,
        KindArg::Switch => Kind::Switch,
        KindArg::Router => Kind::Router,
    };
    let opts = AddOptions { kind, root: args.root, cpu: args.cpu, stp: args.stp };
    // Check what needs no lab first, so bad input creates no MN_DIR.
    spawn::validate(&args.names, &opts)?;
    let lab = Lab::create()?;
    spawn::add(&lab, &args.names, &opts)?;
    Ok(ExitCode::SUCCESS)
}

/// The lab, or the error a lookup of `name` in a missing lab gives.
fn lab_for(name: &str) -> Result<Lab> {
    Lab::open()?.ok_or_else(|| anyhow!("no node named {name} in {}", crate::lab::dir_from_env().display()))
}

fn del(names: &[String]) -> Result<ExitCode> {
    require_root()?;
    let lab = lab_for(&names[0])?;
    let mut nodes: Vec<Node> = Vec::new();
    for name in names {
        if nodes.iter().any(|n| &n.name == name) {
            continue;
        }
        nodes.push(lab.node(name)?);
    }
    reap::remove(&lab, &nodes, true)?;
    Ok(ExitCode::SUCCESS)
}

fn list(json: bool) -> Result<ExitCode> {
    let lab = Lab::open()?;
    let nodes: Vec<(String, Option<Node>)> = match &lab {
        Some(lab) => lab.node_names()?.into_iter().map(|n| (n.clone(), lab.node(&n).ok())).collect(),
        None => Vec::new(),
    };
    let mut out = std::io::stdout().lock();
    if json {
        let items: Vec<serde_json::Value> = nodes
            .iter()
            .map(|(name, node)| match (node, &lab) {
                (Some(n), Some(lab)) => serde_json::json!({
                    "name": n.name,
                    "kind": n.kind.as_str(),
                    "pid": n.pid,
                    "state": n.state().as_str(),
                    "root": n.root,
                    "netns": (!n.root).then(|| lab.netns_name(&n.name)),
                    "cpu": n.cpu,
                }),
                _ => serde_json::json!({ "name": name, "kind": null, "pid": null, "state": "dead" }),
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(items))?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 4]> = nodes
        .iter()
        .map(|(name, node)| match node {
            Some(n) => {
                [n.name.clone(), n.kind.to_string(), n.pid.to_string(), n.state().as_str().to_string()]
            }
            None => [name.clone(), "?".into(), "-".into(), "dead".into()],
        })
        .collect();
    let header = ["NAME", "KIND", "PID", "STATE"].map(String::from);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {:>w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn running(name: &str) -> Result<(Lab, Node)> {
    let lab = lab_for(name)?;
    let node = lab.node(name)?;
    if !node.is_running() {
        bail!("node {name} is not running");
    }
    Ok((lab, node))
}

fn pid(name: &str) -> Result<ExitCode> {
    let (_, node) = running(name)?;
    println!("{}", node.pid);
    Ok(ExitCode::SUCCESS)
}

fn ip(name: &str) -> Result<ExitCode> {
    require_root()?;
    let (_, node) = running(name)?;
    let rt = netlink::runtime()?;
    let found = rt.block_on(async {
        let conn = if node.root {
            netlink::connect_here()?
        } else {
            let ns = File::open(node.netns_path()).with_context(|| format!("node {name}"))?;
            netlink::connect_in(ns.as_fd())?
        };
        netlink::first_ipv4(&conn.handle)
            .await
            .map_err(|e| anyhow!("{name}: list addresses: {}", netlink::describe(&e)))
    })?;
    match found {
        Some(ip) => {
            println!("{ip}");
            Ok(ExitCode::SUCCESS)
        }
        None => Ok(ExitCode::FAILURE),
    }
}

fn clean(verbose: bool) -> Result<ExitCode> {
    require_root()?;
    let Some(lab) = Lab::open()? else { return Ok(ExitCode::SUCCESS) };
    let mut nodes = Vec::new();
    let mut broken = Vec::new();
    for name in lab.node_names()? {
        match lab.node(&name) {
            Ok(node) => nodes.push(node),
            Err(_) => broken.push(name),
        }
    }
    let mut said = Vec::new();
    for node in &nodes {
        said.push(format!("removed {} {} ({})", node.kind, node.name, node.state().as_str()));
    }
    let result = reap::remove(&lab, &nodes, false);
    for name in &broken {
        reap::end_unregistered(&lab.dir.join(name));
        lab.remove_node_dir(name)?;
        said.push(format!("removed {}: a directory without a node", lab.dir.join(name).display()));
    }
    said.extend(sweep_stale(&lab));
    if verbose {
        for line in &said {
            println!("{line}");
        }
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

/// `ip netns` entries and cgroups named for this lab that no node owns any
/// more (a crash between creating them and writing the record).
fn sweep_stale(lab: &Lab) -> Vec<String> {
    let prefix = format!("{}-", lab.name);
    let owned = |entry: &str| entry.strip_prefix(&prefix).is_some_and(name::is_valid);
    let mut said = Vec::new();
    if let Ok(dir) = std::fs::read_dir(netns_dir()) {
        for entry in dir.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
            if is_link && owned(&file) && std::fs::remove_file(entry.path()).is_ok() {
                said.push(format!("removed stale ip netns entry {file}"));
            }
        }
    }
    for root in cgroup::roots() {
        let Ok(dir) = std::fs::read_dir(&root) else { continue };
        for entry in dir.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.strip_prefix("mn-").is_some_and(owned) && cgroup::remove(&entry.path()).is_ok() {
                said.push(format!("removed stale cgroup {}", entry.path().display()));
            }
        }
    }
    said
}

/// Prints a clap usage error on one line, `TOOL: what`, and picks the exit
/// code (help and version go to stdout as usual).
pub fn usage_error(tool: &str, err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    let text = err.render().to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    let message = text.split("\n\n").next().unwrap_or(text);
    let one_line: Vec<&str> = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    eprintln!("{tool}: {}", one_line.join(" "));
    ExitCode::from(2)
}

/// Prints an error the way every tool does: `TOOL: what: why`.
pub fn report(tool: &str, err: &anyhow::Error) {
    let mut line = format!("{err:#}");
    line.retain(|c| c != '\n');
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{tool}: {line}");
}

//! What each mnnode subcommand does.
use crate::cli::{AddArgs, Cli, Command};
use crate::lab::Lab;
use crate::node::Node;
use crate::spawn::{self, AddOptions};
use crate::{cgroup, name, netlink, netns_dir, reap, require_root, shell};
use anyhow::{Result, anyhow, bail};
use std::io::Write;
use std::process::ExitCode;

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Add(args) => add(args),
        Command::Del { names } => del(&names),
        Command::List { json } => list(json),
        Command::Pid { name } => pid(&name),
        Command::Ip { name } => ip(&name),
        Command::Restart { name } => restart(&name),
        Command::Clean { verbose } => clean(verbose),
    }
}

fn add(args: AddArgs) -> Result<ExitCode> {
    require_root()?;
    let opts =
        AddOptions { kind: args.kind, root: args.root, cpu: args.cpu, stp: args.stp, ipv6_ll: args.ipv6_ll };
    // Check what needs no lab first, so bad input creates no MN_DIR.
    spawn::validate(&args.names, &opts)?;
    let lab = Lab::create()?;
    spawn::add(&lab, &args.names, &opts)?;
    Ok(ExitCode::SUCCESS)
}

fn del(names: &[String]) -> Result<ExitCode> {
    require_root()?;
    let lab = Lab::open_for(&names[0])?;
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
    // A running node mnrun cannot reach (its FIFO gone or replaced) is
    // broken, and why is said on stderr, in mnrun's words.
    let problems: Vec<Option<String>> = nodes
        .iter()
        .map(|(name, node)| {
            let (lab, node) = (lab.as_ref()?, node.as_ref().filter(|n| n.is_running())?);
            shell::fifo_problem(&lab.node_dir(name).ok()?, node.pid)
        })
        .collect();
    let state = |node: &Node, problem: &Option<String>| match problem {
        Some(_) => "broken",
        None => node.state().as_str(),
    };
    let mut out = std::io::stdout().lock();
    if json {
        let items: Vec<serde_json::Value> = nodes
            .iter()
            .zip(&problems)
            .map(|((name, node), problem)| match (node, &lab) {
                (Some(n), Some(lab)) => serde_json::json!({
                    "name": n.name,
                    "kind": n.kind.as_str(),
                    "pid": n.pid,
                    "state": state(n, problem),
                    "problem": problem,
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
    let mut rows = vec![["NAME", "KIND", "PID", "STATE"].map(String::from).to_vec()];
    rows.extend(nodes.iter().zip(&problems).map(|((name, node), problem)| match node {
        Some(n) => vec![n.name.clone(), n.kind.to_string(), n.pid.to_string(), state(n, problem).to_string()],
        None => vec![name.clone(), "?".into(), "-".into(), "dead".into()],
    }));
    mncli::print_table(&mut out, &rows)?;
    for ((name, _), problem) in nodes.iter().zip(&problems) {
        if let Some(why) = problem {
            let line = anyhow!("{name}: {why}; restart it with mnnode restart {name}");
            mncli::report("mnnode", &line);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn restart(name: &str) -> Result<ExitCode> {
    require_root()?;
    crate::restart::restart(&Lab::open_for(name)?, name)?;
    Ok(ExitCode::SUCCESS)
}

fn running(name: &str) -> Result<Node> {
    Lab::open_for(name)?.running_node(name)
}

fn pid(name: &str) -> Result<ExitCode> {
    let node = running(name)?;
    mncli::say(node.pid)?;
    Ok(ExitCode::SUCCESS)
}

fn ip(name: &str) -> Result<ExitCode> {
    require_root()?;
    let node = running(name)?;
    let rt = netlink::runtime()?;
    let found = rt.block_on(async {
        let conn = netlink::connect_node(&node)?;
        netlink::first_ipv4(&conn.handle)
            .await
            .map_err(|e| anyhow!("{name}: list addresses: {}", netlink::describe(&e)))
    })?;
    match found {
        Some(ip) => {
            mncli::say(ip)?;
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
    // Keep going after an error: remove all that can be, report it all.
    let mut errors: Vec<String> =
        reap::remove(&lab, &nodes, false).err().map(|e| e.to_string()).into_iter().collect();
    reap::end_unregistered(&broken.iter().map(|name| lab.dir.join(name)).collect::<Vec<_>>());
    for name in &broken {
        match lab.remove_node_dir(name) {
            Ok(()) => {
                said.push(format!("removed {}: a directory without a node", lab.dir.join(name).display()))
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    said.extend(sweep_stale(&lab));
    if verbose {
        for line in &said {
            mncli::say(line)?;
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("; "));
    }
    Ok(ExitCode::SUCCESS)
}

/// `ip netns` entries and cgroups named for this lab that no node owns any
/// more (a crash between creating them and writing the record). Only dead
/// ones: a live entry of that name may be another lab's of the same name.
fn sweep_stale(lab: &Lab) -> Vec<String> {
    let prefix = format!("{}-", lab.name);
    let owned = |entry: &str| entry.strip_prefix(&prefix).is_some_and(name::is_valid);
    let mut said = Vec::new();
    if let Ok(dir) = std::fs::read_dir(netns_dir()) {
        for entry in dir.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let dangling =
                entry.file_type().is_ok_and(|t| t.is_symlink()) && std::fs::metadata(entry.path()).is_err();
            if dangling && owned(&file) && std::fs::remove_file(entry.path()).is_ok() {
                said.push(format!("removed stale ip netns entry {file}"));
            }
        }
    }
    for root in cgroup::roots() {
        let Ok(dir) = std::fs::read_dir(&root) else { continue };
        for entry in dir.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            // rmdir fails on a group that still has tasks: one in use.
            if file.strip_prefix("mn-").is_some_and(owned) && std::fs::remove_dir(entry.path()).is_ok() {
                said.push(format!("removed stale cgroup {}", entry.path().display()));
            }
        }
    }
    said
}

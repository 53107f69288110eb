//! What each mnnode subcommand does.
use crate::cli::{AddArgs, Cli, Command};
use crate::lab::{self, Entry, Lab};
use crate::node::Node;
use crate::spawn::{self, AddOptions};
use crate::{cgroup, name, netlink, netns, ovs, reap, require_root, shell};
use anyhow::{Result, anyhow, bail};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::ExitCode;

pub fn run(cli: Cli) -> Result<ExitCode> {
    crate::limits::raise_nofile();
    match cli.command {
        Command::Add(args) => add(args),
        Command::Del { names } => del(&names),
        Command::List { json, porcelain } => list(json, porcelain),
        Command::Pid { names } => pid(&names),
        Command::Ip { name } => ip(&name),
        Command::Restart { name } => restart(&name),
        Command::Clean { verbose, wait } => clean(verbose, wait),
    }
}

fn add(args: AddArgs) -> Result<ExitCode> {
    require_root()?;
    // A kind without namespaces of its own always runs in the root ones.
    let root = args.root || !args.kind.spec().namespaced;
    let mut opts = AddOptions {
        kind: args.kind,
        root,
        cpu: args.cpu,
        stp: args.stp,
        down: args.down,
        ipv6_ll: args.ipv6_ll,
        shared_netns: None,
        env: Vec::new(),
        lazy: args.lazy,
    };
    let ovs_opts = ovs_options(&args)?;
    if let Some(on) = &args.on {
        if ovs_opts.is_some() {
            bail!("--on {on}: OVS switches on other machines are not supported (yet)");
        }
        if crate::cluster::add(&args, &opts, on)? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    // Check what needs no lab first, so bad input creates no MN_DIR.
    spawn::validate(&args.names, &opts)?;
    if args.lazy && root {
        bail!("--lazy is for nodes with namespaces of their own; a --root node has no namespace to pin");
    }
    if let Some(o) = &ovs_opts {
        if args.root {
            bail!("an OVS switch lives in the lab's OVS namespace; --root is not for --kind ovs");
        }
        ovs::validate(&args.names, o)?;
    }
    let lab = Lab::create()?;
    let Some(o) = ovs_opts else {
        spawn::add(&lab, &args.names, &opts)?;
        return Ok(ExitCode::SUCCESS);
    };
    let switches = ovs::Ovs::of(&lab);
    let started = switches.start(&lab, &args.names, &o)?;
    opts.shared_netns = Some(started.ns.as_raw_fd());
    opts.env = switches.environment();
    // ovs-vswitchd makes the bridges while the nodes are made.
    let bridges = match switches.add_bridges(&args.names, &o) {
        Ok(bridges) => bridges,
        Err(e) => return Err(undo_ovs_add(&lab, &switches, started, &[], e)),
    };
    if let Err(e) = spawn::add(&lab, &args.names, &opts) {
        // spawn::add has undone its nodes; a name it refused may be an
        // existing node's, which is not this call's to remove.
        bridges.undo(&switches);
        return Err(undo_ovs_add(&lab, &switches, started, &[], e));
    }
    if let Err(e) = bridges.finish(&switches) {
        return Err(undo_ovs_add(&lab, &switches, started, &args.names, e));
    }
    started.finish(&switches)?;
    Ok(ExitCode::SUCCESS)
}

/// All or nothing: the switches this call made (`made`) go again, and
/// the lab's OVS with the last one. Returns the call's error.
fn undo_ovs_add(
    lab: &Lab,
    switches: &ovs::Ovs,
    started: ovs::Started,
    made: &[String],
    error: anyhow::Error,
) -> anyhow::Error {
    drop(started);
    let nodes: Vec<Node> = made.iter().filter_map(|n| lab.node(n).ok()).collect();
    let _ = reap::remove(lab, &nodes, false);
    let _ = switches.stop_if_unused(lab, &[]);
    error
}

/// The OVS options, parsed; an error for one given to another kind.
fn ovs_options(args: &AddArgs) -> Result<Option<ovs::Options>> {
    let given = [
        ("--dpid", args.dpid.is_some()),
        ("--protocols", args.protocols.is_some()),
        ("--fail-mode", args.fail_mode.is_some()),
        ("--controller", !args.controllers.is_empty()),
        ("--listen", args.listen.is_some()),
        ("--datapath", args.datapath != ovs::Datapath::Auto),
    ];
    if !args.kind.is_ovs() {
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            bail!("{flag} is for OVS switches (--kind ovs)");
        }
        return Ok(None);
    }
    Ok(Some(ovs::Options {
        dpid: args.dpid.as_deref().map(ovs::parse_dpid).transpose()?,
        protocols: args.protocols.as_deref().map(ovs::parse_protocols).transpose()?,
        fail_mode: args.fail_mode,
        controllers: args.controllers.iter().map(|c| ovs::parse_controller(c)).collect::<Result<_>>()?,
        listen: args.listen.as_deref().map(ovs::parse_listen).transpose()?,
        datapath: args.datapath,
    }))
}

fn del(names: &[String]) -> Result<ExitCode> {
    require_root()?;
    let lab = Lab::open_to_delete()?.ok_or_else(|| lab::no_such_node(&names[0], &lab::dir_from_env()))?;
    let names = crate::cluster::del(&lab, names)?;
    let mut nodes: Vec<Node> = Vec::new();
    // Held until the nodes are gone: a lazy node's first shell, started
    // meanwhile, would be one no record leads to (lazy::ensure_shell
    // takes the same lock, and waits).
    let mut held = Vec::new();
    for name in &names {
        if nodes.iter().any(|n| &n.name == name) {
            continue;
        }
        let node = lab.node(name)?;
        let node = match (node.has_shell(), lab.node_dir(name)) {
            (false, Ok(dir)) => {
                crate::lazy::lock_start(&dir)?;
                held.push(dir);
                // A start that held the lock before us has recorded its shell.
                lab.node(name)?
            }
            _ => node,
        };
        nodes.push(node);
    }
    if nodes.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    reap::remove(&lab, &nodes, true)?;
    drop(held);
    Ok(ExitCode::SUCCESS)
}

fn list(json: bool, porcelain: bool) -> Result<ExitCode> {
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
            let (lab, node) = (lab.as_ref()?, node.as_ref().filter(|n| n.shell_alive())?);
            shell::fifo_problem(&lab.node_dir(name).ok()?, node.pid)
        })
        .collect();
    // An OVS switch forwards only while the lab's ovs-vswitchd runs.
    let ovs_up = lab.as_ref().filter(|l| ovs::has_ovs_nodes(l, &[])).map(|l| ovs::Ovs::of(l).is_up());
    let state = |node: &Node, problem: &Option<String>| match problem {
        Some(_) => "broken",
        None if node.kind.is_ovs() && node.is_running() && ovs_up == Some(false) => "down",
        None => node.state().as_str(),
    };
    let remote = match &lab {
        Some(lab) => crate::cluster::states(lab)?,
        None => Default::default(),
    };
    let mut out = std::io::stdout().lock();
    if json {
        let items: Vec<serde_json::Value> = nodes
            .iter()
            .zip(&problems)
            .map(|((name, node), problem)| match (node, &lab) {
                _ if remote.contains_key(name) => {
                    let seen = &remote[name];
                    let kind = lab.as_ref().and_then(|l| crate::remote::remote_node(l, name)).map(|r| r.kind);
                    serde_json::json!({ "name": name, "kind": kind, "pid": seen.pid, "state": seen.state, "machine": seen.machine })
                }
                (Some(n), Some(lab)) => serde_json::json!({
                    "name": n.name,
                    "kind": n.kind.as_str(),
                    "pid": n.has_shell().then_some(n.pid),
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
    if porcelain {
        for ((name, node), problem) in nodes.iter().zip(&problems) {
            match (node, &lab) {
                (Some(n), Some(lab)) => {
                    let netns = if n.root { "-".to_string() } else { lab.netns_name(&n.name) };
                    let (kind, state) = (n.kind.as_str(), state(n, problem));
                    writeln!(out, "{}\t{kind}\t{}\t{state}\t{netns}", n.name, shown_pid(n))?;
                }
                _ => writeln!(out, "{name}\t-\t-\tdead\t-")?,
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![["NAME", "KIND", "PID", "STATE"].map(String::from).to_vec()];
    rows.extend(nodes.iter().zip(&problems).map(|((name, node), problem)| match node {
        Some(n) => vec![n.name.clone(), n.kind.to_string(), shown_pid(n), state(n, problem).to_string()],
        None => vec![name.clone(), "?".into(), "-".into(), "dead".into()],
    }));
    crate::cluster::machine_column(lab.as_ref(), &remote, &mut rows);
    mncli::print_table(&mut out, &rows)?;
    for ((name, _), problem) in nodes.iter().zip(&problems) {
        if let Some(why) = problem {
            let line = anyhow!("{name}: {why}; restart it with mnnode restart {name}");
            mncli::report("mnnode", &line);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A node's pid as list shows it: `-` for a lazy node without a shell yet.
fn shown_pid(node: &Node) -> String {
    if node.has_shell() { node.pid.to_string() } else { "-".to_string() }
}

fn restart(name: &str) -> Result<ExitCode> {
    require_root()?;
    if let Some(code) = crate::cluster::forward("restart", name)? {
        return Ok(code);
    }
    crate::restart::restart(&Lab::open_for(name)?, name)?;
    Ok(ExitCode::SUCCESS)
}

fn running(name: &str) -> Result<Node> {
    Lab::open_for(name)?.running_node(name)
}

fn pid(names: &[String]) -> Result<ExitCode> {
    for name in names {
        if crate::cluster::forward("pid", name)?.is_some() {
            continue;
        }
        // `mnexec -a PID` needs a process in the node: a lazy node's
        // shell starts now.
        let lab = Lab::open_for(name)?;
        let node = crate::lazy::ensure_shell(&lab, name)?;
        if !node.is_running() {
            bail!("node {name} is not running");
        }
        mncli::say(node.pid)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn ip(name: &str) -> Result<ExitCode> {
    require_root()?;
    if let Some(code) = crate::cluster::forward("ip", name)? {
        return Ok(code);
    }
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
        None => bail!("{name} has no IPv4 address"),
    }
}

fn clean(verbose: bool, wait: bool) -> Result<ExitCode> {
    require_root()?;
    let Some(lab) = Lab::open_to_delete()? else {
        if wait {
            crate::settle::wait(&crate::settle::Marks::none())?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    let mut nodes = Vec::new();
    let mut unfinished = Vec::new();
    let mut said = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let kept = crate::cluster::clean(&lab, &mut said, &mut errors)?;
    for name in lab.node_names()?.into_iter().filter(|n| !kept.contains(n)) {
        match lab.entry(&name) {
            Ok(Entry::Node(node)) => nodes.push(node),
            Ok(Entry::Unfinished) => unfinished.push(name),
            Ok(Entry::Foreign) => {
                said.push(format!("left {}: not a node directory", lab.dir.join(&name).display()))
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let no_starts = crate::lazy::NoStarts::hold(&lab, &mut nodes)?;
    for node in &nodes {
        said.push(format!("removed {} {} ({})", node.kind, node.name, node.state().as_str()));
    }
    // Before the kill, while every namespace can still be named.
    let marks = match wait.then(|| crate::settle::mark(&lab, &nodes)) {
        Some(Ok(marks)) => Some(marks),
        Some(Err(e)) => {
            errors.push(e.to_string());
            None
        }
        None => None,
    };
    // Keep going after an error: remove all that can be, report it all.
    errors.extend(reap::remove(&lab, &nodes, false).err().map(|e| e.to_string()));
    let namespaces = reap::end_unregistered(&lab, &unfinished);
    if !unfinished.is_empty() {
        let names: Vec<&str> = unfinished.iter().map(String::as_str).collect();
        // A --root switch's bridge, tagged or not yet, outlives the shell.
        netlink::runtime()?.block_on(async {
            reap::delete_root_links(&lab, &names).await;
            reap::delete_untagged_root_bridges(&lab, &names).await;
        });
    }
    for name in &unfinished {
        // Its entry, if it got one, holds the namespace its shell was in.
        if let Some(&inode) = namespaces.get(name) {
            if let Err(e) = netns::remove(&lab.netns_entry(name), Some(inode)) {
                errors.push(e.to_string());
            }
        }
        match lab.remove_node_dir(name) {
            Ok(()) => {
                said.push(format!("removed {}: a node that was never finished", lab.dir.join(name).display()))
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    // The lab's OVS, whatever a crash left of it too.
    if let Err(e) = ovs::Ovs::of(&lab).stop_if_unused(&lab, &[]) {
        errors.push(e.to_string());
    }
    // The hint naming a lazy shell to share a pty with (see lazy.rs).
    if let Err(e) = lab.remove_lab_file(crate::lazy::PTY_HINT) {
        errors.push(e.to_string());
    }
    drop(no_starts);
    let (swept, failed) = sweep_stale(&lab);
    said.extend(swept);
    errors.extend(failed);
    if let Some(marks) = &marks {
        match crate::settle::wait(marks) {
            Ok(_) if marks.count() == 0 => {}
            Ok(took) => said.push(format!(
                "the kernel finished tearing down {} namespaces {:.3} s after they were marked",
                marks.count(),
                took.as_secs_f64()
            )),
            Err(e) => errors.push(e.to_string()),
        }
    }
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

/// What a crash left that no node record leads to: an older mnnode's
/// dangling `ip netns` symlinks, and this lab's cgroups (named with its
/// id, so surely its own), whose processes are ended first. Returns what
/// was removed and what could not be.
fn sweep_stale(lab: &Lab) -> (Vec<String>, Vec<String>) {
    let prefix = format!("{}-", lab.name);
    let mut said = Vec::new();
    let mut errors = Vec::new();
    if let Ok(dir) = std::fs::read_dir(*netns::DIR) {
        for entry in dir.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let dangling =
                entry.file_type().is_ok_and(|t| t.is_symlink()) && std::fs::metadata(entry.path()).is_err();
            let ours = file.strip_prefix(&prefix).is_some_and(name::is_valid);
            if dangling && ours && std::fs::remove_file(entry.path()).is_ok() {
                said.push(format!("removed stale ip netns entry {file}"));
            }
        }
    }
    let group_prefix = lab.cgroup_name("");
    for root in cgroup::roots() {
        let Ok(dir) = std::fs::read_dir(&root) else { continue };
        for entry in dir.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if !file.strip_prefix(&group_prefix).is_some_and(name::is_valid) {
                continue;
            }
            cgroup::kill_all(&entry.path());
            match cgroup::remove(&entry.path()) {
                Ok(()) => said.push(format!("removed stale cgroup {}", entry.path().display())),
                Err(e) => errors.push(e.to_string()),
            }
        }
    }
    (said, errors)
}

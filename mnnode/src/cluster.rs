//! What mnnode's subcommands do for nodes on other machines (remote.rs):
//! the same subcommand, run there over ssh, and the home records kept
//! true to it.
use crate::cli::AddArgs;
use crate::lab::Lab;
use crate::remote::{self, Machine, RemoteNode};
use crate::spawn::{self, AddOptions};
use anyhow::{Result, anyhow};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::process::ExitCode;

/// `add --on MACHINE`: the names are claimed here first (a name is unique
/// across the lab), then made there in one call, which is all or nothing;
/// on failure the claims go too.
/// Returns `false` for this machine (destination `-`): an ordinary add.
pub fn add(args: &AddArgs, opts: &AddOptions, on: &str) -> Result<bool> {
    spawn::validate(&args.names, opts)?;
    let machine = remote::machine(on)?;
    if machine.dest == "-" {
        return Ok(false);
    }
    let lab = Lab::create()?;
    let mut claimed: Vec<&str> = Vec::new();
    let undo = |claimed: &[&str]| {
        for name in claimed {
            let _ = lab.remove_node_dir(name);
        }
    };
    for name in &args.names {
        let made = lab.claim(name).and_then(|dir| {
            claimed.push(name);
            dir.write_record_text(&remote::record(name, opts.kind.as_str(), opts.root, &machine.name))
        });
        if let Err(e) = made {
            undo(&claimed);
            return Err(e);
        }
    }
    let mut remote_args = vec!["add".to_string(), "--kind".into(), opts.kind.as_str().into()];
    if args.root {
        remote_args.push("--root".into());
    }
    if let Some(cpu) = args.cpu {
        remote_args.push(format!("--cpu={cpu}"));
    }
    if args.stp {
        remote_args.push("--stp".into());
    }
    if args.down {
        remote_args.push("--down".into());
    }
    if args.ipv6_ll {
        remote_args.push("--ipv6-ll".into());
    }
    if args.lazy {
        remote_args.push("--lazy".into());
    }
    remote_args.push("--".into());
    remote_args.extend(args.names.iter().cloned());
    if let Err(e) = machine.run("mnnode", &remote_args) {
        undo(&claimed);
        return Err(e);
    }
    Ok(true)
}

/// The machine of each remote node named, found or failing with the
/// node's name.
fn machines_of(nodes: &[RemoteNode]) -> Result<BTreeMap<String, (Machine, Vec<String>)>> {
    let mut by_machine: BTreeMap<String, (Machine, Vec<String>)> = BTreeMap::new();
    for node in nodes {
        if !by_machine.contains_key(&node.machine) {
            let machine = remote::machine(&node.machine)
                .map_err(|e| anyhow!("node {} lives on machine {}: {e}", node.name, node.machine))?;
            by_machine.insert(node.machine.clone(), (machine, Vec::new()));
        }
        if let Some((_, names)) = by_machine.get_mut(&node.machine) {
            names.push(node.name.clone());
        }
    }
    Ok(by_machine)
}

/// `del` of the remote nodes among `names`, machine by machine; returns
/// the names that are local.
pub fn del(lab: &Lab, names: &[String]) -> Result<Vec<String>> {
    let (remote, local): (Vec<&String>, Vec<&String>) =
        names.iter().partition(|n| remote::remote_node(lab, n).is_some());
    let nodes: Vec<RemoteNode> = remote.iter().filter_map(|n| remote::remote_node(lab, n)).collect();
    for (machine, names) in machines_of(&nodes)?.into_values() {
        let mut args = vec!["del".to_string(), "--".into()];
        args.extend(names.iter().cloned());
        machine.run("mnnode", &args)?;
        for name in &names {
            lab.remove_node_dir(name)?;
        }
    }
    Ok(local.into_iter().cloned().collect())
}

/// What a machine says of its nodes (`mnnode list --json` there).
pub struct Seen {
    pub machine: String,
    pub pid: Option<i64>,
    pub state: String,
}

/// Every remote node's state, one ssh call per machine; a machine that
/// cannot be asked leaves its nodes `unknown`, and says why on stderr.
pub fn states(lab: &Lab) -> Result<BTreeMap<String, Seen>> {
    let mut seen = BTreeMap::new();
    for (machine_name, nodes) in remote::remote_nodes(lab)? {
        let listed = remote::machine(&machine_name)
            .and_then(|m| m.run("mnnode", &["list".into(), "--json".into()]))
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).map_err(|e| anyhow!("{e}")));
        let items = match listed {
            Ok(serde_json::Value::Array(items)) => items,
            Ok(_) => Vec::new(),
            Err(e) => {
                mncli::report("mnnode", &anyhow!("list: {e}"));
                Vec::new()
            }
        };
        for node in nodes {
            let item = items.iter().find(|i| i["name"] == node.name.as_str());
            let (pid, state) = match item {
                Some(i) => (i["pid"].as_i64(), i["state"].as_str().unwrap_or("unknown").to_string()),
                None if items.is_empty() => (None, "unknown".to_string()),
                None => (None, "missing".to_string()),
            };
            seen.insert(node.name.clone(), Seen { machine: machine_name.clone(), pid, state });
        }
    }
    Ok(seen)
}

/// `clean` of every machine the lab's records name: each machine's lab
/// is cleaned whole, and its records here go only once that succeeded,
/// so that `clean` again, once an unreachable machine is back, finishes
/// the job. Control masters are stopped. Returns the names of the records
/// kept (not for the local clean to touch).
pub fn clean(lab: &Lab, said: &mut Vec<String>, errors: &mut Vec<String>) -> Result<HashSet<String>> {
    let mut kept = HashSet::new();
    for (machine_name, nodes) in remote::remote_nodes(lab)? {
        let cleaned = remote::machine(&machine_name)
            .map_err(|e| anyhow!("machine {machine_name}: {e}"))
            .and_then(|m| m.run("mnnode", &["clean".into()]).map(|_| m));
        match cleaned {
            Ok(machine) => {
                for node in &nodes {
                    match lab.remove_node_dir(&node.name) {
                        Ok(()) => {
                            said.push(format!("removed {} {} on {}", node.kind, node.name, machine.name))
                        }
                        Err(e) => errors.push(e.to_string()),
                    }
                }
            }
            Err(e) => {
                errors.push(format!("could not clean {e}; its nodes are kept, clean again to finish"));
                kept.extend(nodes.into_iter().map(|n| n.name));
            }
        }
    }
    // Control masters live only where the lab used ssh.
    let sockets = lab.dir.join(remote::SSH_DIR);
    if sockets.is_dir() {
        for machine in remote::machines().unwrap_or_default() {
            machine.stop_master();
        }
        // A master removes its socket as it exits, just after answering.
        for _ in 0..200 {
            if !kept.is_empty() || std::fs::remove_dir(&sockets).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    Ok(kept)
}

/// Runs `mnnode SUB NAME` on the machine of remote node `name` and passes
/// its output on; `None` when the node is local.
pub fn forward(sub: &str, name: &str) -> Result<Option<ExitCode>> {
    let Some((_, machine)) = remote::lookup(name)? else { return Ok(None) };
    let out = machine.run("mnnode", &[sub.to_string(), "--".into(), name.to_string()])?;
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(Some(ExitCode::SUCCESS))
}

/// `list`'s table for a lab that spans machines: remote nodes' rows as
/// their machine tells them, and a MACHINE column (`-` for this one).
/// A lab on one machine keeps its four columns.
pub fn machine_column(lab: Option<&Lab>, remote: &BTreeMap<String, Seen>, rows: &mut [Vec<String>]) {
    let Some(lab) = lab.filter(|_| !remote.is_empty()) else { return };
    for (i, row) in rows.iter_mut().enumerate() {
        if i == 0 {
            row.push("MACHINE".into());
            continue;
        }
        match remote.get(&row[0]) {
            Some(seen) => {
                if let Some(node) = remote::remote_node(lab, &row[0]) {
                    row[1] = node.kind;
                }
                row[2] = seen.pid.map_or("-".into(), |p| p.to_string());
                row[3] = seen.state.clone();
                row.push(seen.machine.clone());
            }
            None => row.push("-".into()),
        }
    }
}

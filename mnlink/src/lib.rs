//! mnlink: veth links born in their nodes' namespaces, bridge ports,
//! addresses, shaping, and batches of all of these.
pub mod cli;
pub mod endpoint;
mod links;
mod list;
pub mod shaping;

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use cli::{Cli, Command};
use endpoint::Endpoint;
use links::Links;
use mnnode::Lab;
use shaping::Shaping;
use std::io::BufRead;
use std::process::ExitCode;

pub fn run(cli: Cli) -> Result<ExitCode> {
    mnnode::require_root()?;
    raise_fd_limit();
    let rt = mnnode::netlink::runtime()?;
    match (cli.batch, cli.command) {
        (Some(file), _) => rt.block_on(batch(&file)),
        (None, Some(command)) => rt.block_on(run_one(&mut None, command)),
        (None, None) => bail!("nothing to do: give a subcommand or -b FILE (see mnlink --help)"),
    }
    .map(|()| ExitCode::SUCCESS)
}

/// A batch keeps a netlink socket per namespace: allow many.
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// Runs one command, opening the lab on first need: without one, there
/// are no links to list and no node to name.
async fn run_one(links: &mut Option<Links>, command: Command) -> Result<()> {
    let links = match links {
        Some(links) => links,
        None => match Lab::open()? {
            Some(lab) => links.insert(Links::new(lab)),
            None => {
                return match command {
                    Command::List { node: None, json } => list::print_none(json),
                    command => Err(no_lab(&command)),
                };
            }
        },
    };
    execute(links, command).await
}

/// What a command says of its first node when there is no lab.
fn no_lab(command: &Command) -> anyhow::Error {
    let first_node = match command {
        Command::Add { a, .. }
        | Command::Del { a }
        | Command::Up { a }
        | Command::Down { a }
        | Command::Set { a, .. }
        | Command::Addr { a, .. }
        | Command::Mac { a, .. } => Endpoint::parse(a).map(|e| e.node).unwrap_or_default(),
        Command::List { node, .. } => node.clone().unwrap_or_default(),
    };
    mnnode::lab::no_such_node(&first_node, &mnnode::lab::dir_from_env())
}

async fn execute(links: &mut Links, command: Command) -> Result<()> {
    match command {
        Command::Add { a, b, shaping, mtu } => {
            let (a, b) = (Endpoint::parse(&a)?, Endpoint::parse(&b)?);
            let shaping = Shaping::parse(&shaping)?;
            let mtu = mtu.as_deref().map(parse_mtu).transpose()?;
            links.add(&a, &b, &shaping, mtu).await
        }
        Command::Del { a } => links.del(&Endpoint::parse(&a)?).await,
        Command::Up { a } => links.set_state(&Endpoint::parse(&a)?, true).await,
        Command::Down { a } => links.set_state(&Endpoint::parse(&a)?, false).await,
        Command::Set { a, shaping } => {
            let end = Endpoint::parse(&a)?;
            links.set_shaping(&end, &Shaping::parse(&shaping)?).await
        }
        Command::Addr { a, cidr } => links.addr(&Endpoint::parse(&a)?, &cidr).await,
        Command::Mac { a, mac } => links.mac(&Endpoint::parse(&a)?, &mac).await,
        Command::List { node, json } => list::print(links, node.as_deref(), json).await,
    }
}

fn parse_mtu(text: &str) -> Result<u32> {
    match text.parse::<u32>() {
        Ok(mtu) if (68..=65535).contains(&mtu) => Ok(mtu),
        _ => bail!("--mtu {text}: not an MTU (68 to 65535)"),
    }
}

/// Runs a batch file; the first failing line stops it.
async fn batch(file: &std::path::Path) -> Result<()> {
    let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f =
            std::fs::File::open(file).map_err(|e| anyhow!("{}: {}", file.display(), mncli::os_error(&e)))?;
        Box::new(std::io::BufReader::new(f))
    };
    let mut links = None;
    for (number, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{}: read", file.display()))?;
        let words: Vec<&str> = line.split('#').next().unwrap_or("").split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let result = match Cli::try_parse_from(std::iter::once("mnlink").chain(words.iter().copied())) {
            Ok(Cli { command: Some(command), batch: None }) => run_one(&mut links, command).await,
            Ok(_) => Err(anyhow!("a batch line holds one subcommand")),
            Err(err) => Err(anyhow!(mncli::usage_line(&err))),
        };
        result.map_err(|e| anyhow!("line {}: {e:#}", number + 1))?;
    }
    Ok(())
}

//! Links between machines: a VXLAN tunnel per link (see mnnode's
//! remote.rs for machines).
//!
//! Each end is a kernel VXLAN device created from the machine's root
//! namespace, so that its UDP socket lives there on the underlay, and
//! born in its node's namespace under the requested name (IFLA_NET_NS_FD
//! in the creating request: it never exists in the root namespace). Both
//! ends have the link's VNI, unique in the lab (drawn at random; a clash
//! with a VNI in use on either machine is detected by the kernel and
//! another is drawn), the same UDP port (4789, IANA's), and each other's
//! underlay address as their only remote. The inner MTU is the underlay
//! device's less the encapsulation (50 bytes over IPv4, 70 over IPv6), so
//! that nothing is ever fragmented: over a 1500-byte underlay `ping -s
//! 1422 -M do` passes and `ping -s 1423 -M do` fails at once with
//! "message too long, mtu=1450". Ends are tagged, shaped and enslaved to
//! a switch's bridge as veth ends are.
//!
//! The home mnlink makes each end where it lives: here in-process (a node
//! of the home machine, which the hosts file names with destination `-`),
//! elsewhere with `mnlink tunnel` over ssh.
use super::Links;
use crate::cli::{Command, ShapingArgs};
use crate::endpoint::Endpoint;
use crate::shaping::Shaping;
use anyhow::{Result, anyhow, bail};
use futures::TryStreamExt;
use mnnode::netlink;
use mnnode::remote::{self, Machine};
use mnnode::tag::Tag;
use nix::errno::Errno;
use rtnetlink::packet_route::address::AddressAttribute;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

/// VXLAN's IANA port.
pub const PORT: u16 = 4789;
/// What VXLAN adds to a frame: outer IPv4 (20) or IPv6 (40), UDP (8),
/// VXLAN (8) and the inner Ethernet header (14).
pub fn overhead(underlay: IpAddr) -> u32 {
    if underlay.is_ipv4() { 50 } else { 70 }
}

/// Where a node lives.
#[derive(Clone)]
enum Place {
    /// Here, with this machine's hosts entry if it has one (destination `-`).
    Home(Option<Machine>),
    Remote(Machine),
}

impl Place {
    fn machine_name(&self) -> &str {
        match self {
            Place::Home(Some(m)) | Place::Remote(m) => &m.name,
            Place::Home(None) => "",
        }
    }
}

fn place_of(links: &Links, node: &str) -> Result<Place> {
    match remote::remote_node(links.lab(), node) {
        Some(r) => {
            let m = remote::machine(&r.machine)
                .map_err(|e| anyhow!("node {node} lives on machine {}: {e}", r.machine))?;
            if m.dest == "-" { Ok(Place::Home(Some(m))) } else { Ok(Place::Remote(m)) }
        }
        None => Ok(Place::Home(remote::machines()?.into_iter().find(|m| m.dest == "-"))),
    }
}

/// Whether a node of the lab lives on another machine.
pub fn is_remote(links: &Links, node: &str) -> bool {
    remote::remote_node(links.lab(), node).is_some()
}

/// The words of shaping options, to pass them on.
fn shaping_words(s: &ShapingArgs) -> Vec<String> {
    let options = [
        ("--bw", &s.bw),
        ("--delay", &s.delay),
        ("--jitter", &s.jitter),
        ("--delay-distribution", &s.delay_distribution),
        ("--loss", &s.loss),
        ("--reorder", &s.reorder),
        ("--duplicate", &s.duplicate),
        ("--corrupt", &s.corrupt),
        ("--rate", &s.rate),
        ("--queue", &s.queue),
    ];
    options.iter().filter_map(|(o, v)| v.as_ref().map(|v| format!("{o}={v}"))).collect()
}

/// A command that concerns another machine, done there (or across
/// machines); `false` when it is all this machine's.
pub async fn route(links: &mut Links, command: &Command) -> Result<bool> {
    let has_remote =
        |links: &Links, text: &str| Endpoint::parse(text).is_ok_and(|e| is_remote(links, &e.node));
    match command {
        Command::Add { a, b, shaping, mtu } => {
            let (a, b) = (Endpoint::parse(a)?, Endpoint::parse(b)?);
            if !is_remote(links, &a.node) && !is_remote(links, &b.node) {
                return Ok(false);
            }
            Shaping::parse(shaping)?;
            let mtu = mtu.as_deref().map(crate::parse_mtu).transpose()?;
            add(links, &a, &b, shaping, mtu).await?;
        }
        Command::Del { a } | Command::Up { a } | Command::Down { a } if has_remote(links, a) => {
            let verb = match command {
                Command::Del { .. } => "del",
                Command::Up { .. } => "up",
                _ => "down",
            };
            both_ends(links, &Endpoint::parse(a)?, verb).await?;
        }
        Command::Set { a, shaping } if has_remote(links, a) => {
            let mut words = vec!["set".to_string(), a.clone()];
            words.extend(shaping_words(shaping));
            run_there(links, &Endpoint::parse(a)?, &words)?;
        }
        Command::Addr { a, cidr } if has_remote(links, a) => {
            run_there(links, &Endpoint::parse(a)?, &["addr".into(), a.clone(), cidr.clone()])?;
        }
        Command::Mac { a, mac } if has_remote(links, a) => {
            run_there(links, &Endpoint::parse(a)?, &["mac".into(), a.clone(), mac.clone()])?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Runs mnlink with `words` on the machine of the remote node of `end`.
fn run_there(links: &Links, end: &Endpoint, words: &[String]) -> Result<String> {
    match place_of(links, &end.node)? {
        Place::Remote(m) => m.run("mnlink", words),
        Place::Home(_) => bail!("node {} is on this machine", end.node),
    }
}

/// `del`, `up` or `down` of a remote end and of its peer, wherever that is.
async fn both_ends(links: &mut Links, end: &Endpoint, verb: &str) -> Result<()> {
    let listed = run_there(links, end, &["list".into(), end.node.clone(), "--json".into()])?;
    let rows: serde_json::Value = serde_json::from_str(&listed).map_err(|e| anyhow!("{end}: {e}"))?;
    let peer = rows.as_array().into_iter().flatten().find_map(|row| {
        let side =
            |s: &str| Some((row[s]["node"].as_str()?.to_string(), row[s]["interface"].as_str()?.to_string()));
        let (a, b) = (side("a")?, side("b")?);
        let me = (end.node.clone(), end.ifname.clone());
        let other = if a == me {
            b
        } else if b == me {
            a
        } else {
            return None;
        };
        Some(Endpoint { node: other.0, ifname: other.1 })
    });
    let Some(peer) = peer else { bail!("no interface {} in node {}", end.ifname, end.node) };
    run_there(links, end, &[verb.to_string(), end.to_string()])?;
    let here = place_of(links, &end.node)?;
    let there = place_of(links, &peer.node)?;
    if here.machine_name() == there.machine_name() {
        return Ok(()); // a link within that machine: done there whole
    }
    match there {
        Place::Remote(m) => m.run("mnlink", &[verb.to_string(), peer.to_string()]).map(|_| ()),
        Place::Home(_) if links.lab().node(&peer.node).is_err() => Ok(()),
        Place::Home(_) => match verb {
            "del" => links.del(&peer).await,
            v => links.set_state(&peer, v == "up").await,
        },
    }
}

/// `add` where one end or both live on other machines.
async fn add(
    links: &mut Links,
    a: &Endpoint,
    b: &Endpoint,
    shaping: &ShapingArgs,
    mtu: Option<u32>,
) -> Result<()> {
    if a == b {
        bail!("both ends are {a}");
    }
    let (pa, pb) = (place_of(links, &a.node)?, place_of(links, &b.node)?);
    // Both on one other machine: an ordinary link there.
    if let (Place::Remote(ma), Place::Remote(mb)) = (&pa, &pb) {
        if ma.name == mb.name {
            let mut words = vec!["add".to_string(), a.to_string(), b.to_string()];
            words.extend(shaping_words(shaping));
            words.extend(mtu.map(|m| format!("--mtu={m}")));
            ma.run("mnlink", &words)?;
            return Ok(());
        }
    }
    let underlay = |p: &Place, e: &Endpoint| match p {
        Place::Home(Some(m)) | Place::Remote(m) => Ok(m.underlay),
        Place::Home(None) => Err(anyhow!(
            "{e} is on this machine, which the hosts file does not name: \
             give it a line with destination - and its underlay address to link it to other machines"
        )),
    };
    let (ua, ub) = (underlay(&pa, a)?, underlay(&pb, b)?);
    if ua.is_ipv4() != ub.is_ipv4() {
        bail!("{a} and {b}: the machines' underlay addresses are not of one IP version");
    }
    // A VNI in use on either machine is refused by its kernel: draw again.
    let mut last = None;
    for _ in 0..4 {
        let vni = random_vni()?;
        let first = make_end(links, &pa, a, b, vni, ua, ub, shaping, mtu).await;
        match first {
            Err(e) if is_vni_clash(&e) => {
                last = Some(e);
                continue;
            }
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        match make_end(links, &pb, b, a, vni, ub, ua, shaping, mtu).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                // Nothing half-made: the first end goes again.
                let _ = del_end(links, &pa, a).await;
                if !is_vni_clash(&e) {
                    return Err(e);
                }
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| anyhow!("no free VNI found")))
}

fn is_vni_clash(e: &anyhow::Error) -> bool {
    e.to_string().contains("is in use on this machine")
}

fn random_vni() -> Result<u32> {
    let hex = mncli::random_hex(3)?;
    let vni = u32::from_str_radix(&hex, 16).map_err(|e| anyhow!("{e}"))?;
    Ok(vni.clamp(1, (1 << 24) - 1))
}

#[allow(clippy::too_many_arguments)]
async fn make_end(
    links: &mut Links,
    place: &Place,
    end: &Endpoint,
    peer: &Endpoint,
    vni: u32,
    local: IpAddr,
    remote: IpAddr,
    shaping: &ShapingArgs,
    mtu: Option<u32>,
) -> Result<()> {
    match place {
        Place::Home(_) => {
            let shaping = Shaping::parse(shaping)?;
            links.tunnel_end(end, peer, vni, local, remote, PORT, &shaping, mtu).await
        }
        Place::Remote(m) => {
            let mut words = vec![
                "tunnel".to_string(),
                end.to_string(),
                peer.to_string(),
                format!("--vni={vni}"),
                format!("--local={local}"),
                format!("--remote={remote}"),
                format!("--port={PORT}"),
            ];
            words.extend(shaping_words(shaping));
            words.extend(mtu.map(|m| format!("--mtu={m}")));
            m.run("mnlink", &words).map(|_| ())
        }
    }
}

async fn del_end(links: &mut Links, place: &Place, end: &Endpoint) -> Result<()> {
    match place {
        Place::Home(_) => links.del(end).await,
        Place::Remote(m) => m.run("mnlink", &["del".into(), end.to_string()]).map(|_| ()),
    }
}

impl Links {
    /// One end of a tunnel, on this machine: a VXLAN device in the node's
    /// namespace whose socket is on the underlay here; tagged, shaped, in
    /// its switch's bridge, and up. All or nothing.
    #[allow(clippy::too_many_arguments)]
    pub async fn tunnel_end(
        &mut self,
        end: &Endpoint,
        peer: &Endpoint,
        vni: u32,
        local: IpAddr,
        remote: IpAddr,
        port: u16,
        shaping: &Shaping,
        mtu: Option<u32>,
    ) -> Result<()> {
        self.check_netem(shaping)?;
        let node = self.place(&end.node).await?.node.clone();
        if node.root {
            bail!("{} is a --root node: links between machines join namespaced nodes only", end.node);
        }
        let root = netlink::connect_here()?;
        let underlay_mtu = underlay_mtu(&root.handle, local).await?;
        let mtu = mtu.unwrap_or(underlay_mtu.saturating_sub(overhead(local)));
        let bridge = self.bridge(&end.node).await?;
        let ns = self.netns(&end.node).await?.ok_or_else(|| anyhow!("node {} has no namespace", end.node))?;
        let mut msg = rtnetlink::LinkVxlan::new(&end.ifname, vni).port(port).learning(false);
        msg = match (local, remote) {
            (IpAddr::V4(l), IpAddr::V4(r)) => msg.local(l).remote(r),
            (IpAddr::V6(l), IpAddr::V6(r)) => msg.local6(l).remote6(r),
            _ => bail!("{local} and {remote} are not of one IP version"),
        };
        let mut msg = msg.mtu(mtu).setns_by_fd(ns.as_raw_fd());
        if let Some(index) = bridge {
            msg = msg.controller(index);
        }
        let created = root.handle.link().add(msg.build()).execute().await;
        drop(ns);
        if let Err(err) = created {
            let handle = self.place(&end.node).await?.conn.handle.clone();
            if let Ok(Some(_)) = netlink::link_by_name(&handle, &end.ifname).await {
                bail!("{} already exists in node {}", end.ifname, end.node);
            }
            return Err(match netlink::errno(&err) {
                Some(Errno::EEXIST) => anyhow!("VNI {vni} on UDP port {port} is in use on this machine"),
                _ => anyhow!("add {end} (VXLAN to {remote}): {}", netlink::describe(&err)),
            });
        }
        let tag = Tag {
            node: end.node.clone(),
            peer_node: peer.node.clone(),
            peer_if: peer.ifname.clone(),
            lab: self.lab_key(),
        }
        .format();
        let result = async {
            let handle = self.place(&end.node).await?.conn.handle.clone();
            let set = rtnetlink::LinkUnspec::new_with_name(&end.ifname).alias(tag).build();
            let failed = |e: rtnetlink::Error| anyhow!("set up {end}: {}", netlink::describe(&e));
            handle.link().set(set).execute().await.map_err(failed)?;
            if !shaping.is_empty() {
                self.shape(end, shaping).await?;
            }
            let up = rtnetlink::LinkUnspec::new_with_name(&end.ifname).up().build();
            handle.link().set(up).execute().await.map_err(failed)
        }
        .await;
        if result.is_err() {
            let handle = self.place(&end.node).await?.conn.handle.clone();
            let _ = netlink::del_by_name(&handle, &end.ifname).await;
        }
        result
    }
}

/// The MTU of the device holding this machine's underlay address; an
/// error when the machine has no such address (a wrong hosts file).
async fn underlay_mtu(handle: &rtnetlink::Handle, local: IpAddr) -> Result<u32> {
    let mut addresses = handle.address().get().execute();
    let mut index = None;
    while let Some(msg) =
        addresses.try_next().await.map_err(|e| anyhow!("list addresses: {}", netlink::describe(&e)))?
    {
        let has = msg.attributes.iter().any(
            |a| matches!(a, AddressAttribute::Address(ip) | AddressAttribute::Local(ip) if *ip == local),
        );
        if has {
            index = Some(msg.header.index);
            break;
        }
    }
    let Some(index) = index else {
        bail!("this machine has no address {local} (its underlay address in the hosts file)");
    };
    let mut found = handle.link().get().match_index(index).execute();
    let link = found
        .try_next()
        .await
        .map_err(|e| anyhow!("underlay device: {}", netlink::describe(&e)))?
        .ok_or_else(|| anyhow!("underlay device {index} vanished"))?;
    Ok(netlink::link_mtu(&link).unwrap_or(1500))
}

/// Every end on other machines, one `mnlink list --json` per machine; a
/// machine that cannot be asked is reported on stderr and left out.
pub fn remote_ends(links: &Links) -> Result<Vec<super::End>> {
    let mut ends = Vec::new();
    for machine in remote::remote_nodes(links.lab())?.into_keys() {
        let listed = remote::machine(&machine).and_then(|m| {
            if m.dest == "-" { Ok("[]".into()) } else { m.run("mnlink", &["list".into(), "--json".into()]) }
        });
        let rows = match listed
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).map_err(|e| anyhow!("{e}")))
        {
            Ok(serde_json::Value::Array(rows)) => rows,
            Ok(_) => Vec::new(),
            Err(e) => {
                mncli::report("mnlink", &anyhow!("list: {e}"));
                continue;
            }
        };
        for row in rows {
            let endpoint = |side: &serde_json::Value| {
                Some(Endpoint {
                    node: side["node"].as_str()?.to_string(),
                    ifname: side["interface"].as_str()?.to_string(),
                })
            };
            let (Some(a), Some(b)) = (endpoint(&row["a"]), endpoint(&row["b"])) else { continue };
            for (side, end, peer) in [(&row["a"], &a, &b), (&row["b"], &b, &a)] {
                let Some(up) = side["up"].as_bool() else { continue };
                ends.push(super::End {
                    end: end.clone(),
                    peer: peer.clone(),
                    up,
                    mtu: side["mtu"].as_u64().map(|m| m as u32),
                    shaping: Shaping::default(),
                    shown: Some(side["shaping"].as_str().unwrap_or("").to_string()),
                    // What another machine's list tells of an end: no
                    // index that would mean anything here.
                    mac: side["mac"].as_str().map(String::from),
                    addresses: side["addresses"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                        .unwrap_or_default(),
                    index: 0,
                });
            }
        }
    }
    Ok(ends)
}

/// `mnlink --on MACHINE -b FILE`: the whole batch run there by one mnlink,
/// over one ssh call; its status and its words are the remote mnlink's.
pub fn batch_there(on: &str, file: &std::path::Path) -> Result<std::process::ExitCode> {
    use std::process::Stdio;
    let machine = remote::machine(on)?;
    let input = if file.as_os_str() == "-" {
        Stdio::inherit()
    } else {
        let f = std::fs::File::open(file).map_err(|e| crate::io(file.display(), &e))?;
        Stdio::from(f)
    };
    let line = machine.tool_line("mnlink", &["-b".into(), "-".into()]);
    let out = machine
        .ssh(&line)?
        .stdin(input)
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| anyhow!("{}: run ssh: {}", machine.describe(), mncli::os_error(&e)))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {
            eprint!("{stderr}");
            Ok(std::process::ExitCode::SUCCESS)
        }
        Some(code @ 1..=254) if code != 127 => {
            eprint!("{stderr}");
            Ok(std::process::ExitCode::from(code as u8))
        }
        code => Err(machine.failure("mnlink", code, &stderr)),
    }
}

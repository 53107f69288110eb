//! The checked-in shell completions (completions/) are exactly what
//! clap_complete makes of the tools' clap definitions, and they work: bash
//! completes a subcommand and an option. `MN_BLESS=1` rewrites them.
//! completions/bash/mn is mn's own, written by hand: it reads the options
//! and topology names from `mn --help`.
use clap_complete::Shell;
use mn_tests::{Cmd, repo};

fn tools() -> Vec<clap::Command> {
    vec![mnexec::cli::command(), mnnode::cli::command(), mnrun::cli::command(), mnlink::cli::command()]
}

/// Where each shell's completion of a tool lives in completions/.
fn file(shell: Shell, name: &str) -> String {
    match shell {
        Shell::Zsh => format!("zsh/_{name}"),
        Shell::Fish => format!("fish/{name}.fish"),
        _ => format!("bash/{name}"),
    }
}

#[test]
fn completions_match_the_clap_definitions() {
    let dir = repo().join("completions");
    let bless = std::env::var_os("MN_BLESS").is_some();
    let mut stale = Vec::new();
    for mut cmd in tools() {
        let name = cmd.get_name().to_string();
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, &name, &mut script);
            let path = dir.join(file(shell, &name));
            if bless {
                std::fs::write(&path, &script).expect("write completion");
            } else if std::fs::read(&path).ok().as_deref() != Some(&script[..]) {
                stale.push(file(shell, &name));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "completions out of date: {stale:?}; run MN_BLESS=1 cargo test -p mn-tests --test completions"
    );
}

/// What bash completes for the words of a command line (the last one
/// being completed), with the completion file sourced.
fn bash_completes(file: &str, words: &[&str]) -> Vec<String> {
    let path = repo().join("completions/bash").join(file);
    let script = format!(
        "source {path}\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_LINE=\"${{COMP_WORDS[*]}}\"\nCOMP_POINT=${{#COMP_LINE}}\n\
         f=$(complete -p {cmd} | sed -n 's/.*-F \\([^ ]*\\).*/\\1/p')\n\"$f\" {cmd} \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        path = path.display(),
        words = words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" "),
        cword = words.len() - 1,
        cmd = words[0],
    );
    let scripts = repo().join("scripts");
    let out = Cmd::new("bash")
        .args(["-c", &script])
        .env("PATH", format!("{}:{}", scripts.display(), std::env::var("PATH").unwrap_or_default()))
        .ok();
    let mut got: Vec<String> = out.stdout.lines().map(|l| l.trim().to_string()).collect();
    got.sort();
    got
}

#[test]
fn bash_completes_the_tools_subcommands_and_options() {
    let got = bash_completes("mnnode", &["mnnode", "l"]);
    assert_eq!(got, ["list"]);
    let got = bash_completes("mnlink", &["mnlink", "list", "--po"]);
    assert_eq!(got, ["--porcelain"]);
    let got = bash_completes("mnrun", &["mnrun", "-"]);
    assert!(got.contains(&"-n".to_string()) && got.contains(&"-t".to_string()), "{got:?}");
}

#[test]
fn bash_completes_mns_options_and_topology_names() {
    let got = bash_completes("mn", &["mn", "--to"]);
    assert_eq!(got, ["--topo"]);
    let got = bash_completes("mn", &["mn", "--topo", ""]);
    for topo in ["minimal", "single", "linear", "tree"] {
        assert!(got.contains(&topo.to_string()), "{topo} in {got:?}");
    }
    let got = bash_completes("mn", &["mn", "--topo", "li"]);
    assert_eq!(got, ["linear"]);
    let got = bash_completes("mn", &["mn", "--test", "pinga"]);
    assert_eq!(got, ["pingall", "pingallfull"]);
    let got = bash_completes("mn", &["mn", "-v", "o"]);
    assert_eq!(got, ["output"]);
}

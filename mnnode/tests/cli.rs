//! The command line alone, without privileges (the kernel-facing tests
//! live in the workspace's tests/ crate). Building this test also makes
//! cargo build the mnnode binary those tests drive.
use std::process::Command;

fn mnnode(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mnnode")).args(args).output().expect("run mnnode")
}

#[test]
fn help_and_version() {
    let out = mnnode(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("mnnode "));
    let out = mnnode(&["add", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("--kind"));
}

#[test]
fn usage_errors_are_one_line() {
    for args in [&["frob"][..], &["add"], &["add", "--kind", "hub", "h1"], &["add", "--cpu", "abc", "h1"]] {
        let out = mnnode(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("mnnode: ") && err.lines().count() == 1, "{args:?}: {err}");
    }
}

#[test]
fn no_subcommand_is_a_one_line_error() {
    let out = mnnode(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "mnnode: a subcommand is needed (see mnnode --help)\n");
}

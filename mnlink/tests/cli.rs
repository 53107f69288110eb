//! The command line alone, without privileges (the kernel-facing tests
//! live in the workspace's tests/ crate). Building this test also makes
//! cargo build the mnlink binary those tests drive.
use std::process::Command;

fn mnlink(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mnlink")).args(args).output().expect("run mnlink")
}

#[test]
fn help_and_version() {
    let out = mnlink(&["--version"]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("mnlink "));
    let out = mnlink(&["add", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("--bw"));
}

#[test]
fn usage_errors_are_one_line() {
    for args in [&["frob"][..], &["add", "h1-eth0"], &["list", "--bogus"]] {
        let out = mnlink(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("mnlink: ") && err.lines().count() == 1, "{args:?}: {err}");
    }
}

//! The command line alone, without privileges (the kernel-facing tests
//! live in the workspace's tests/ crate). Building this test also makes
//! cargo build the mnexec binary those tests drive.
use std::process::Command;

fn mnexec(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mnexec")).args(args).output().expect("run mnexec")
}

#[test]
fn version_and_help() {
    let out = mnexec(&["-v"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("mnexec {}\n", env!("CARGO_PKG_VERSION")));
    let out = mnexec(&["-h"]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Usage: mnexec"));
}

#[test]
fn usage_errors_exit_1_on_stderr() {
    for args in [&["-q"][..], &[][..], &["-a"][..], &["--frobnicate"][..]] {
        let out = mnexec(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("mnexec: "), "{args:?}");
    }
}

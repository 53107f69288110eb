//! The command line alone, without privileges (the kernel-facing tests
//! live in the workspace's tests/ crate). Building this test also makes
//! cargo build the mnrun binary those tests drive.
use std::process::Command;

fn mnrun(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mnrun"))
        .args(args)
        .env("MN_DIR", "/nonexistent/lab")
        .output()
        .expect("run mnrun")
}

#[test]
fn usage_errors_exit_255_on_one_line() {
    for args in [&[][..], &["h1"], &["-t", "soon", "h1", "true"], &["-x", "h1", "true"]] {
        let out = mnrun(args);
        assert_eq!(out.status.code(), Some(255), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("mnrun: ") && err.lines().count() == 1, "{args:?}: {err}");
    }
}

#[test]
fn missing_node_is_a_clear_failure() {
    let out = mnrun(&["h1", "true"]);
    assert_eq!(out.status.code(), Some(255));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "mnrun: no node named h1 in /nonexistent/lab\n");
}

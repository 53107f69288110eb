//! `make install` puts the tools, mn, the man pages and the completions in
//! DESTDIR/PREFIX; the installed mn finds the installed tools; `make
//! uninstall` removes every file it put there.
use mn_tests::{Cmd, Lab, bin_dir, repo};
use std::path::{Path, PathBuf};

/// Every file and symlink under a directory, relative to it, sorted.
fn files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(path);
            } else {
                out.push(path.strip_prefix(root).unwrap_or(&path).display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn make(target: &str, destdir: &Path) -> Cmd {
    Cmd::new("make")
        .args(["-s", "-C"])
        .arg(repo())
        .arg(target)
        .arg(format!("DESTDIR={}", destdir.display()))
        .arg("PREFIX=/usr/local")
        // The binaries the tests run: no release build needed.
        .arg(format!("BUILD_DIR={}", bin_dir().display()))
}

#[test]
fn make_install_and_uninstall() {
    let lab = Lab::new();
    let destdir: PathBuf = lab.parent().join("destdir");
    make("install", &destdir).ok();
    let prefix = destdir.join("usr/local");
    let installed = files(&prefix);
    for expected in [
        "bin/mn",
        "bin/mnexec",
        "bin/mnlink",
        "bin/mnnode",
        "bin/mnrun",
        "lib/mn-tools/mn",
        "lib/mn-tools/lib/cli.sh",
        "lib/mn-tools/topologies/tworouters.sh",
        "share/man/man1/mn.1",
        "share/man/man1/mnnode-list.1",
        "share/bash-completion/completions/mn",
        "share/bash-completion/completions/mnnode",
        "share/zsh/site-functions/_mnlink",
        "share/fish/vendor_completions.d/mnrun.fish",
    ] {
        assert!(installed.contains(&expected.to_string()), "{expected} not in {installed:?}");
    }
    let link = std::fs::read_link(prefix.join("bin/mn")).expect("bin/mn is a symlink");
    assert_eq!(link, Path::new("../lib/mn-tools/mn"));
    // The installed mn runs from anywhere with the installed tools.
    let version = Cmd::new(prefix.join("bin/mn")).arg("--version").env("PATH", "/usr/bin:/bin").ok();
    assert_eq!(version.stdout, "mn 0.1.0 (mn tools)\n");
    let out = lab
        .cmd(prefix.join("bin/mn"))
        .args(["--topo", "minimal", "--test", "pingall", "-v", "debug"])
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .ok();
    out.check(out.stdout.contains("*** Results: 0% dropped (2/2 received)"), "the installed mn works");
    out.check(out.stderr.contains("*** mnnode add --kind host"), "debug shows the tools' calls");
    let man = Cmd::new("man")
        .args(["-l"])
        .arg(prefix.join("share/man/man1/mnrun.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .ok();
    man.check(man.stdout.contains("SYNOPSIS"), "the installed man page renders");
    make("uninstall", &destdir).ok();
    assert_eq!(files(&destdir), Vec::<String>::new(), "uninstall left files");
    assert!(!prefix.join("lib/mn-tools").exists(), "uninstall left lib/mn-tools");
}

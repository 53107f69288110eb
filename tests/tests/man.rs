//! The checked-in man pages are exactly what the clap definitions generate,
//! and `man` renders each of them. `MN_BLESS=1` rewrites them.
use mn_tests::{Cmd, man, repo};

fn tools() -> Vec<clap::Command> {
    vec![mnexec::cli::command(), mnnode::cli::command(), mnrun::cli::command(), mnlink::cli::command()]
}

#[test]
fn man_pages_match_the_clap_definitions() {
    let dir = repo().join("man");
    let bless = std::env::var_os("MN_BLESS").is_some();
    let mut stale = Vec::new();
    for cmd in tools() {
        for (file, page) in man::pages(cmd) {
            let path = dir.join(&file);
            if bless {
                std::fs::write(&path, &page).expect("write man page");
                continue;
            }
            if std::fs::read(&path).ok().as_deref() != Some(&page[..]) {
                stale.push(file);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "man pages out of date: {stale:?}; run MN_BLESS=1 cargo test -p mn-tests --test man"
    );
}

#[test]
fn every_man_page_renders() {
    let dir = repo().join("man");
    let mut pages: Vec<_> = std::fs::read_dir(&dir)
        .expect("man/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "1"))
        .collect();
    pages.sort();
    assert!(!pages.is_empty(), "no man pages in {}", dir.display());
    for page in pages {
        let out = Cmd::new("man")
            .args(["--warnings", "-E", "UTF-8", "-l"])
            .arg(&page)
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .ok();
        let text = plain(&out.stdout);
        let name = page.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        out.check(
            text.contains("NAME") && text.contains("SYNOPSIS") && text.contains(name),
            "a rendered page with NAME and SYNOPSIS",
        );
        out.check(out.stderr.is_empty(), "no roff warnings");
    }
}

/// Drops the backspace overstrikes man uses for bold and underline.
fn plain(text: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    for c in text.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out.into_iter().collect()
}

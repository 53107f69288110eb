//! A tmux server of a test's own, running scripts/mn in the lab: the CLI
//! driven as a user types it.
use crate::{Cmd, Lab, bin_dir, eventually, repo, unique};
use std::time::Duration;

/// A tmux server of our own, killed with the test.
pub struct Tmux {
    socket: String,
    /// mn's window (`x NODE` opens others, which become the current one).
    window: String,
}

impl Tmux {
    pub fn start(lab: &Lab, mn_args: &str) -> Tmux {
        let socket = unique("mntmux");
        let script = repo().join("scripts/mn");
        let command = format!(
            "env MN_DIR={} MN_BIN={} MN_HISTORY={} TMPDIR={} {} {mn_args}; echo MN-EXITED $?; sleep 600",
            lab.dir.display(),
            bin_dir().display(),
            lab.dir.with_file_name("history").display(),
            lab.dir.with_file_name("").display(),
            script.display()
        );
        // In the lab's parent directory: what Tab completes there is known.
        let cwd = lab.parent().display().to_string();
        Cmd::new("tmux")
            .args(["-L", &socket, "new-session", "-d", "-x", "160", "-y", "50", "-c", &cwd, &command])
            .ok();
        let out = Cmd::new("tmux").args(["-L", &socket, "display-message", "-p", "#{window_id}"]).ok();
        Tmux { window: out.stdout.trim().to_string(), socket }
    }

    pub fn screen(&self) -> String {
        Cmd::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", &self.window, "-S", "-1000"])
            .run()
            .stdout
    }

    pub fn send(&self, keys: &[&str]) {
        Cmd::new("tmux").args(["-L", &self.socket, "send-keys", "-t", &self.window]).args(keys).ok();
    }

    /// Types a line and waits until `expect` has appeared `times` times.
    pub fn line(&self, text: &str, expect: &str) {
        let before = self.screen().matches(expect).count();
        self.send(&[text, "Enter"]);
        self.wait_for(expect, before + 1);
    }

    pub fn wait_for(&self, text: &str, times: usize) {
        let seen = eventually(Duration::from_secs(60), || self.screen().matches(text).count() >= times);
        assert!(seen, "waited for {text:?} ({times}x) in:\n{}", self.screen());
    }

    /// The screen of another window of the session (`x NODE` opens one).
    pub fn window_screen(&self, name: &str) -> String {
        Cmd::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", &format!(":{name}")])
            .run()
            .stdout
    }

    /// Sends keys to another window of the session.
    pub fn send_to(&self, name: &str, keys: &[&str]) {
        Cmd::new("tmux").args(["-L", &self.socket, "send-keys", "-t", &format!(":{name}")]).args(keys).ok();
    }

    /// The names of the session's windows.
    pub fn windows(&self) -> Vec<String> {
        let out = Cmd::new("tmux").args(["-L", &self.socket, "list-windows", "-F", "#{window_name}"]).run();
        out.stdout.lines().map(String::from).collect()
    }

    /// The pid of mn itself (the pane runs a shell that runs mn).
    pub fn mn_pid(&self) -> i32 {
        let out = Cmd::new("tmux")
            .args(["-L", &self.socket, "display-message", "-p", "-t", &self.window, "#{pane_pid}"])
            .ok();
        let pane: i32 = out.stdout.trim().parse().expect("pane pid");
        let children =
            std::fs::read_to_string(format!("/proc/{pane}/task/{pane}/children")).expect("children");
        children.split_whitespace().next().and_then(|p| p.parse().ok()).expect("mn's pid")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Cmd::new("tmux").args(["-L", &self.socket, "kill-server"]).run();
    }
}

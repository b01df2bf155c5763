//! The host's processes as `/proc` shows them: which belong to a sandbox, how much memory they
//! hold, and stopping them all.

use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// One process's owner, session and resident memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcInfo {
    pub pid: u32,
    pub uid: u32,
    pub session: u32,
    pub rss_bytes: u64,
    /// Ended, waiting for its parent to collect it: it holds nothing but its pid.
    pub zombie: bool,
}

/// Every process now running (those that vanish while being read are skipped).
pub fn all() -> Vec<ProcInfo> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(read)
        .collect()
}

fn read(pid: u32) -> Option<ProcInfo> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::trim)
    };
    // Real uid first: it is the one RLIMIT_NPROC counts and kill(2) checks.
    let uid = field("Uid:")?.split_whitespace().next()?.parse().ok()?;
    let rss_kb: u64 = field("VmRSS:")
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name, which may hold spaces and parentheses: state ppid pgrp session.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    let zombie = fields.next()? == "Z";
    let session = fields.nth(2)?.parse().ok()?;
    Some(ProcInfo {
        pid,
        uid,
        session,
        rss_bytes: rss_kb * 1024,
        zombie,
    })
}

/// Resident memory of the given processes together.
pub fn rss(procs: &[ProcInfo]) -> u64 {
    procs.iter().map(|proc| proc.rss_bytes).sum()
}

/// SIGKILLs every process `select` picks, again and again while new ones appear (a fork
/// bomb forks between the scan and the kill), for at most `patience`. Returns how many are
/// left (0 when all are gone).
pub async fn kill_all(select: impl Fn() -> Vec<u32>, patience: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let pids = select();
        if pids.is_empty() {
            return 0;
        }
        for pid in &pids {
            if let Ok(pid) = i32::try_from(*pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return pids.len();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_seen_with_its_owner_and_memory() {
        let me = std::process::id();
        let found = all().into_iter().find(|proc| proc.pid == me);
        let found = found.expect("this process is in /proc");
        assert_eq!(found.uid, nix::unistd::getuid().as_raw());
        assert_eq!(
            Some(found.session),
            nix::unistd::getsid(None)
                .ok()
                .and_then(|sid| u32::try_from(sid.as_raw()).ok())
        );
        assert!(found.rss_bytes > 0);
        assert!(!found.zombie);
    }

    #[tokio::test]
    async fn kill_all_stops_the_chosen_processes() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let alive = move || {
            all()
                .into_iter()
                // A killed child stays a zombie until it is reaped: that counts as gone.
                .filter(|proc| proc.pid == pid && !proc.zombie)
                .map(|proc| proc.pid)
                .collect()
        };
        assert_eq!(kill_all(alive, Duration::from_secs(5)).await, 0);
        assert!(!child.wait().unwrap().success());
    }
}

//! This machine's processes, read from `/proc`.

use std::path::PathBuf;

/// Every process's id.
pub fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
}

fn path(pid: u32, file: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/{file}"))
}

/// A process's resident memory in KiB (0 if it is gone).
pub fn rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmRSS:")
        .and_then(|value| value.trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The value of a line of `/proc/PID/status` (`"Uid:"`, `"State:"`...), trimmed.
pub fn status_field(pid: u32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(path(pid, "status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .map(|value| value.trim().to_owned())
}

/// The id of a process's parent.
pub fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(path(pid, "stat")).ok()?;
    // The name, in parentheses, may hold spaces: the fields after it are what counts.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// A process's name (`comm`).
pub fn name(pid: u32) -> Option<String> {
    let comm = std::fs::read_to_string(path(pid, "comm")).ok()?;
    Some(comm.trim().to_owned())
}

/// A process's command line, its arguments joined by spaces.
pub fn command_line(pid: u32) -> String {
    std::fs::read(path(pid, "cmdline"))
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
        .unwrap_or_default()
}

/// The children of `parent`: how many, and their resident memory together in KiB.
pub fn children_rss_kib(parent_pid: u32) -> (usize, u64) {
    pids()
        .filter(|pid| parent(*pid) == Some(parent_pid))
        .fold((0, 0), |(count, total), pid| {
            (count + 1, total + rss_kib(pid))
        })
}

/// The resident memory in KiB of every process named one of `names`, together.
pub fn rss_of_named(names: &[&str]) -> u64 {
    pids()
        .filter(|pid| name(*pid).is_some_and(|name| names.contains(&name.as_str())))
        .map(rss_kib)
        .sum()
}

/// Every live process (zombies left out): its id, real uid and command line.
pub fn processes() -> Vec<(u32, u32, String)> {
    pids()
        .filter_map(|pid| {
            if status_field(pid, "State:")?.contains("zombie") {
                return None;
            }
            let uid = status_field(pid, "Uid:")
                .and_then(|uids| uids.split_whitespace().next()?.parse().ok())
                .unwrap_or(u32::MAX);
            Some((pid, uid, command_line(pid)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_seen_as_it_is() {
        let me = std::process::id();
        assert!(pids().any(|pid| pid == me));
        assert!(rss_kib(me) > 0);
        assert_eq!(parent(me), Some(std::os::unix::process::parent_id()));
        let (_, uid, command) = processes()
            .into_iter()
            .find(|(pid, _, _)| *pid == me)
            .expect("this process is listed");
        assert_eq!(uid, real_uid());
        assert!(command.contains("choir_test_support"), "{command}");
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let (count, total) = children_rss_kib(me);
        assert!(count >= 1 && total > 0);
        assert!(rss_of_named(&["sleep"]) > 0);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            rss_kib(child.id()),
            0,
            "a process that is gone has no memory"
        );
    }

    /// The owner of this process's /proc entry: its real uid.
    fn real_uid() -> u32 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/proc/{}", std::process::id()))
            .unwrap()
            .uid()
    }
}

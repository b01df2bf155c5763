//! Control groups: each sandbox in its own group, so its memory and process count are bounded
//! as a whole (rlimits only bound each process) and it gets a fair share of the CPU next to
//! other sandboxes. The groups live under the hypervisor's own cgroup, in
//! `choir-<instance>/<user>`, one per controller hierarchy (cgroup v1) or one (v2).
//!
//! Where no usable hierarchy exists (no controllers, no permission, or a v2 parent that cannot
//! delegate), [`Cgroups::set_up`] says why and the sandboxes rely on rlimits alone.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::limits::Limits;

/// The controllers sandboxes are put under.
const WANTED: [&str; 3] = ["memory", "pids", "cpu"];

/// The groups of every sandbox of one hypervisor.
#[derive(Debug, Clone)]
pub struct Cgroups {
    hierarchies: Vec<Hierarchy>,
    limits: Limits,
    /// One sandbox's group is made while no other's is removed: the last one out removes the
    /// shared parent, which the next one in needs.
    parent: Arc<Mutex<()>>,
}

/// One hierarchy: where the sandboxes' groups go and which of [`WANTED`] it carries.
#[derive(Debug, Clone)]
struct Hierarchy {
    parent: PathBuf,
    controllers: Vec<&'static str>,
    v2: bool,
}

impl Cgroups {
    /// Finds the hierarchies of this process's cgroups and creates `choir-<instance>` under
    /// them. `instance` tells hypervisors on one host apart.
    pub fn set_up(instance: &str, limits: Limits) -> Result<Self, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|err| format!("cannot read /proc/self/cgroup: {err}"))?;
        let mounts = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|err| format!("cannot read /proc/self/mountinfo: {err}"))?;
        let mut hierarchies = Vec::new();
        for line in own.lines() {
            let mut fields = line.splitn(3, ':');
            let (Some(_), Some(list), Some(path)) = (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let hierarchy = if list.is_empty() {
                v2_hierarchy(&mounts, path, instance)?
            } else {
                v1_hierarchy(&mounts, list, path, instance)
            };
            hierarchies.extend(hierarchy);
        }
        if hierarchies.is_empty() {
            return Err("no cgroup hierarchy with the memory, pids or cpu controller".into());
        }
        // Can the groups be made? Made once to know, and left only if a sandbox is in it
        // (an earlier run's); `create` makes it again for the first sandbox.
        for hierarchy in &hierarchies {
            hierarchy
                .ensure_parent()
                .map_err(|err| format!("cannot create {}: {err}", hierarchy.parent.display()))?;
            let _ = std::fs::remove_dir(&hierarchy.parent);
        }
        Ok(Self {
            hierarchies,
            limits,
            parent: Arc::new(Mutex::new(())),
        })
    }

    /// `cgroup v1: memory, pids, cpu`.
    pub fn describe(&self) -> String {
        let version = if self.hierarchies.iter().any(|h| h.v2) {
            "v2"
        } else {
            "v1"
        };
        let controllers: Vec<&str> = WANTED
            .into_iter()
            .filter(|wanted| {
                self.hierarchies
                    .iter()
                    .any(|h| h.controllers.contains(wanted))
            })
            .collect();
        format!("cgroup {version}: {}", controllers.join(", "))
    }

    /// Creates (or reuses) the user's groups with the limits set; returns the directories the
    /// sandbox's first process must join.
    pub fn create(&self, user: &str) -> io::Result<Vec<PathBuf>> {
        let _parent = self
            .parent
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?;
        let mut dirs = Vec::new();
        for hierarchy in &self.hierarchies {
            // Removed with the last sandbox, made again with the next.
            hierarchy.ensure_parent().map_err(io::Error::other)?;
            let dir = hierarchy.parent.join(user);
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(err),
            }
            for controller in &hierarchy.controllers {
                self.write_limit(&dir, controller, hierarchy.v2)?;
            }
            dirs.push(dir);
        }
        Ok(dirs)
    }

    fn write_limit(&self, dir: &Path, controller: &str, v2: bool) -> io::Result<()> {
        let write = |file: &str, value: String| std::fs::write(dir.join(file), value);
        match (controller, v2) {
            ("memory", false) => {
                write("memory.limit_in_bytes", self.limits.memory.to_string())?;
                // Memory plus swap, where swap is accounted: swapping out is no way around.
                let _ = write(
                    "memory.memsw.limit_in_bytes",
                    self.limits.memory.to_string(),
                );
                Ok(())
            }
            ("memory", true) => {
                write("memory.max", self.limits.memory.to_string())?;
                let _ = write("memory.swap.max", "0".into());
                Ok(())
            }
            ("pids", _) => write("pids.max", self.limits.procs.to_string()),
            // cpu: a group of its own is the fair share; nothing to write.
            _ => Ok(()),
        }
    }

    /// Memory the user's sandbox uses now, page cache included.
    pub fn memory(&self, user: &str) -> Option<u64> {
        let hierarchy = self
            .hierarchies
            .iter()
            .find(|h| h.controllers.contains(&"memory"))?;
        let file = if hierarchy.v2 {
            "memory.current"
        } else {
            "memory.usage_in_bytes"
        };
        std::fs::read_to_string(hierarchy.parent.join(user).join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Removes the user's groups (they must be empty: kill their processes first), and the
    /// sandboxes' parent group when it was the last.
    pub fn remove(&self, user: &str) {
        let Ok(_parent) = self.parent.lock() else {
            return;
        };
        for hierarchy in &self.hierarchies {
            let dir = hierarchy.parent.join(user);
            match std::fs::remove_dir(&dir) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => tracing::warn!(dir = %dir.display(), %err, "cannot remove a cgroup"),
            }
            // Refused while another sandbox's group is in it: that is fine.
            let _ = std::fs::remove_dir(&hierarchy.parent);
        }
    }
}

impl Hierarchy {
    fn ensure_parent(&self) -> Result<(), String> {
        if self.parent.is_dir() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.parent).map_err(|err| err.to_string())?;
        if self.v2 {
            enable_controllers(&self.parent, &self.controllers)?;
        }
        Ok(())
    }
}

/// A v1 hierarchy for the controllers in `list` (e.g. `cpu,cpuacct`), if it carries any we
/// want and is mounted here.
fn v1_hierarchy(mounts: &str, list: &str, path: &str, instance: &str) -> Option<Hierarchy> {
    let controllers: Vec<&'static str> = WANTED
        .into_iter()
        .filter(|wanted| list.split(',').any(|c| c == *wanted))
        .collect();
    if controllers.is_empty() {
        return None;
    }
    let (mount_root, mount_point) = mounts.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let mut after = after.split_whitespace();
        if after.next()? != "cgroup" {
            return None;
        }
        let options = after.nth(1)?;
        let carries = list.split(',').all(|c| options.split(',').any(|o| o == c));
        let fields: Vec<&str> = before.split_whitespace().collect();
        carries.then(|| (fields.get(3).copied(), fields.get(4).copied()))
    })?;
    let dir = own_dir(mount_root?, mount_point?, path)?;
    Some(Hierarchy {
        parent: dir.join(format!("choir-{instance}")),
        controllers,
        v2: false,
    })
}

/// The v2 hierarchy, if it has memory or pids to delegate.
fn v2_hierarchy(mounts: &str, path: &str, instance: &str) -> Result<Option<Hierarchy>, String> {
    let Some((mount_root, mount_point)) = mounts.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        if after.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let fields: Vec<&str> = before.split_whitespace().collect();
        Some((fields.get(3).copied()?, fields.get(4).copied()?))
    }) else {
        return Ok(None);
    };
    let Some(dir) = own_dir(mount_root, mount_point, path) else {
        return Ok(None);
    };
    let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let controllers: Vec<&'static str> = WANTED
        .into_iter()
        .filter(|wanted| available.split_whitespace().any(|c| c == *wanted))
        .collect();
    if controllers.is_empty() {
        return Ok(None);
    }
    // The sandboxes' parent is a child of this process's group, whose own controllers must be
    // delegated to it; cgroup v2 refuses that while this group holds processes itself, unless
    // it is the root.
    enable_controllers(&dir, &controllers).map_err(|err| {
        format!(
            "{err}; run the hypervisor in a cgroup of its own with delegation (systemd: Delegate=yes)"
        )
    })?;
    Ok(Some(Hierarchy {
        parent: dir.join(format!("choir-{instance}")),
        controllers,
        v2: true,
    }))
}

fn enable_controllers(dir: &Path, controllers: &[&str]) -> Result<(), String> {
    let line: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
    std::fs::write(dir.join("cgroup.subtree_control"), line.join(" ")).map_err(|err| {
        format!(
            "cannot delegate {} under {}: {err}",
            controllers.join(", "),
            dir.display()
        )
    })
}

/// The directory of cgroup `path` in a hierarchy whose `root` is mounted at `point`.
fn own_dir(root: &str, point: &str, path: &str) -> Option<PathBuf> {
    let relative = path.strip_prefix(root)?.trim_start_matches('/');
    Some(Path::new(point).join(relative))
}

/// A short stable name for one hypervisor: a hash of its data directory.
pub fn instance_name(data_dir: &Path) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in data_dir.as_os_str().as_encoded_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", hash >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw";

    #[test]
    fn v1_hierarchies_are_found_under_this_process_s_groups() {
        let memory = v1_hierarchy(MOUNTS, "memory", "/job/7", "abc").unwrap();
        assert_eq!(
            memory.parent,
            PathBuf::from("/sys/fs/cgroup/memory/job/7/choir-abc")
        );
        assert_eq!(memory.controllers, vec!["memory"]);
        let cpu = v1_hierarchy(MOUNTS, "cpu,cpuacct", "/", "abc").unwrap();
        assert_eq!(
            cpu.parent,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/choir-abc")
        );
        assert_eq!(cpu.controllers, vec!["cpu"]);
        assert!(v1_hierarchy(MOUNTS, "devices", "/", "abc").is_none());
        assert!(
            v1_hierarchy(MOUNTS, "blkio", "/", "abc").is_none(),
            "not mounted"
        );
    }

    #[test]
    fn instance_names_are_stable_and_tell_data_dirs_apart() {
        let a = instance_name(Path::new("/var/lib/choir-hypervisor"));
        assert_eq!(a, instance_name(Path::new("/var/lib/choir-hypervisor")));
        assert_ne!(a, instance_name(Path::new("/srv/choir")));
        assert_eq!(a.len(), 8);
    }

    #[test]
    fn a_sandbox_group_is_bounded_and_listed_where_cgroups_are_writable() {
        let limits = Limits {
            memory: 64 << 20,
            procs: 16,
            ..Limits::default()
        };
        let instance = format!("test-{}", std::process::id());
        let cgroups = match Cgroups::set_up(&instance, limits) {
            Ok(cgroups) => cgroups,
            Err(reason) => {
                eprintln!("skipped: no writable cgroups here ({reason})");
                return;
            }
        };
        let dirs = cgroups.create("alice").unwrap();
        assert!(!dirs.is_empty());
        if cgroups
            .hierarchies
            .iter()
            .any(|h| h.controllers.contains(&"memory"))
        {
            assert!(cgroups.memory("alice").is_some());
        }
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        for dir in &dirs {
            std::fs::write(dir.join("cgroup.procs"), child.id().to_string()).unwrap();
        }
        for dir in &dirs {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
            assert_eq!(procs.trim(), child.id().to_string());
        }
        child.kill().unwrap();
        child.wait().unwrap();
        cgroups.remove("alice");
        assert!(dirs.iter().all(|dir| !dir.exists()));
        assert!(
            cgroups.hierarchies.iter().all(|h| !h.parent.exists()),
            "the last one out removes the parent"
        );
        // And the next sandbox gets it back.
        let again = cgroups.create("bob").unwrap();
        assert!(again.iter().all(|dir| dir.is_dir()));
        cgroups.remove("bob");
    }
}

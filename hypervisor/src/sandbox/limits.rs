//! Resource limits of one sandbox. Every process in it gets them as rlimits (hard and soft, so
//! nothing inside can raise them); where cgroups are available the sandbox as a whole is also
//! held to the memory and process limits (see `cgroup.rs`).

use nix::sys::resource::{setrlimit, Resource};

use crate::units::format_size;

/// What one sandbox may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Processes and threads of the sandbox's user (`RLIMIT_NPROC`, per uid) and of its
    /// cgroup (`pids.max`).
    pub procs: u64,
    /// Bytes of memory: each process's data (`RLIMIT_DATA`), and the whole sandbox where a
    /// memory cgroup is available.
    pub memory: u64,
    /// Open files per process (`RLIMIT_NOFILE`).
    pub files: u64,
    /// Largest file a process may write (`RLIMIT_FSIZE`).
    pub file_size: u64,
}

impl Default for Limits {
    /// Enough for a daemon, its agent and a compiler; small enough that a fork bomb or a
    /// memory hog in one sandbox leaves the host and the other sandboxes running.
    fn default() -> Self {
        Self {
            procs: 256,
            memory: 2 << 30,
            files: 4096,
            file_size: 4 << 30,
        }
    }
}

impl Limits {
    /// Applies the limits to the calling process (inherited by everything it starts). Core
    /// dumps are turned off: they would hold the sandbox token.
    pub fn apply(&self) -> nix::Result<()> {
        let both = |resource, value: u64| setrlimit(resource, value, value);
        both(Resource::RLIMIT_NPROC, self.procs)?;
        both(Resource::RLIMIT_DATA, self.memory)?;
        both(Resource::RLIMIT_NOFILE, self.files)?;
        both(Resource::RLIMIT_FSIZE, self.file_size)?;
        both(Resource::RLIMIT_CORE, 0)
    }

    /// `256 processes, 2.0 GiB memory, 4096 open files, 4.0 GiB per file`.
    pub fn describe(&self) -> String {
        format!(
            "{} processes, {} memory, {} open files, {} per file",
            self.procs,
            format_size(self.memory),
            self.files,
            format_size(self.file_size)
        )
    }
}

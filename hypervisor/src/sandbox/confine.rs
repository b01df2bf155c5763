//! Entering a sandbox: what `choir-hypervisor confine` does, as root, between being started by
//! the hypervisor and becoming the sandbox's program (`choir-daemon`, or `choir` for an SSH
//! exec). In order:
//!
//! 1. join the sandbox's cgroups and take its rlimits (hard limits, which only root could
//!    raise again);
//! 2. open the program while its path can still be reached;
//! 3. enter namespaces of its own (`namespaces.rs`): network, IPC and mounts, with `/run`,
//!    `/tmp` and the like of its own and a `/proc` that shows only its processes;
//! 4. build the Landlock ruleset (on what the sandbox now sees);
//! 5. start a session of its own; drop supplementary groups, then become the sandbox's gid and
//!    uid (real, effective and saved);
//! 6. umask 077, create the private tmp, enter the data dir;
//! 7. set `no_new_privs`, enforce the Landlock ruleset (from here on it may write only in
//!    its data dir, read only the system's directories, and neither signal processes nor
//!    reach abstract sockets outside its sandbox) and install the seccomp filter
//!    (`syscalls.rs`: no namespaces, keyrings, BPF, mounts, tracing of others...);
//! 8. execute the program from the descriptor opened in 2 (the path may be unreachable for the
//!    sandbox's user; the descriptor is not).
//!
//! Any failure ends the process with an error before the program runs: nothing runs half
//! confined.

use std::convert::Infallible;
use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use landlock::{
    path_beneath_rules, Access, AccessFs, CompatLevel, Compatible, PathBeneath, Ruleset,
    RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetError, RulesetStatus, Scope, ABI,
};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{Gid, Uid};
use thiserror::Error;

use super::limits::Limits;
use super::namespaces::{self, Lent, NamespaceError, Network};
use super::syscalls::{self, SyscallError};

/// The Landlock ABI whose rights sandboxes are confined with (Linux 6.12: files, network
/// scoping of signals and abstract sockets).
const LANDLOCK_ABI: ABI = ABI::V6;

/// What a shell and the daemon need to read and execute (those that exist here), including
/// where systemd-resolved keeps the `resolv.conf` that `/etc` links to.
pub const SYSTEM_READ_ONLY: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/proc",
    "/run/systemd/resolve",
];

/// Devices a shell reads and writes (terminals included, for shell windows).
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/ptmx",
    "/dev/pts",
];

/// How much likelier than other processes a sandbox's are to be picked by the OOM killer.
const OOM_SCORE_ADJ: &str = "500";

/// The private temporary directory inside a data dir (`TMPDIR`).
pub const TMP_DIR: &str = "tmp";

/// How much of the Landlock ruleset the kernel enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum LandlockLevel {
    /// Not at all: the kernel has no Landlock (or it is disabled).
    None,
    /// Partly: an older Landlock that knows only some of the rights.
    Partial,
    /// Every right of the ruleset.
    Full,
}

impl From<RulesetStatus> for LandlockLevel {
    fn from(status: RulesetStatus) -> Self {
        match status {
            RulesetStatus::FullyEnforced => Self::Full,
            RulesetStatus::PartiallyEnforced => Self::Partial,
            RulesetStatus::NotEnforced => Self::None,
        }
    }
}

impl LandlockLevel {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Full => "Landlock fully enforced",
            Self::Partial => "Landlock partly enforced (an older kernel)",
            Self::None => "no Landlock",
        }
    }
}

/// The arguments of `choir-hypervisor confine`: one sandbox's confinement and the program to
/// run in it.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Confinement {
    /// The sandbox's data directory: the only place it may write
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Become this user (and `--gid`); without it the ids stay as they are
    #[arg(long, requires = "gid")]
    pub uid: Option<u32>,
    #[arg(long, requires = "uid")]
    pub gid: Option<u32>,
    /// A cgroup directory to join (repeatable)
    #[arg(long = "cgroup", value_name = "DIR")]
    pub cgroups: Vec<PathBuf>,
    #[arg(long)]
    pub procs: u64,
    #[arg(long)]
    pub memory: u64,
    #[arg(long)]
    pub files: u64,
    #[arg(long)]
    pub file_size: u64,
    /// A directory or file it may read and execute (repeatable)
    #[arg(long = "read", value_name = "PATH")]
    pub read_only: Vec<PathBuf>,
    /// A host directory it may read and execute at a path of its own under /run/choir
    /// (repeatable; needs namespaces of its own)
    #[arg(long = "lend", value_name = "HOST=SANDBOX", value_parser = Lent::parse)]
    pub lent: Vec<Lent>,
    /// The Landlock enforcement it must get (what the hypervisor's probe found)
    #[arg(long, value_enum)]
    pub landlock: LandlockLevel,
    /// Its network: `host` (no namespaces of its own, when not root), `none` or `outbound`
    #[arg(long, value_enum, default_value = "host")]
    pub network: Network,
    /// An address range it may reach all the same (repeatable), with `--network outbound`
    #[arg(long = "allow-net", value_name = "CIDR")]
    pub allow_net: Vec<String>,
    /// The program and its arguments
    #[arg(last = true, required = true, value_name = "PROGRAM")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Error)]
pub enum ConfineError {
    #[error("cannot join cgroup {path}: {source}")]
    Cgroup {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot set the resource limits: {0}")]
    Limits(nix::Error),
    #[error("cannot open the program {path}: {source}")]
    Program {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build the Landlock ruleset: {0}")]
    Ruleset(#[from] RulesetError),
    #[error("cannot {action}: {source}")]
    Ids {
        action: &'static str,
        source: nix::Error,
    },
    #[error("cannot prepare {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Landlock is enforced at level {got:?}, below the {expected:?} the hypervisor found at start")]
    Weaker {
        got: LandlockLevel,
        expected: LandlockLevel,
    },
    #[error("a directory can be lent only to a sandbox with namespaces of its own (--network none or outbound)")]
    LentWithoutNamespaces,
    #[error("an argument holds a NUL byte")]
    Nul,
    #[error("cannot execute the program: {0}")]
    Exec(nix::Error),
    #[error(transparent)]
    Namespaces(#[from] NamespaceError),
    #[error(transparent)]
    Syscalls(#[from] SyscallError),
}

impl Confinement {
    pub fn limits(&self) -> Limits {
        Limits {
            procs: self.procs,
            memory: self.memory,
            files: self.files,
            file_size: self.file_size,
        }
    }

    /// The command line that parses back into this confinement (after `confine`).
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["--dir".into(), self.dir.clone().into()];
        if let (Some(uid), Some(gid)) = (self.uid, self.gid) {
            args.extend(["--uid".into(), uid.to_string().into()]);
            args.extend(["--gid".into(), gid.to_string().into()]);
        }
        for cgroup in &self.cgroups {
            args.extend(["--cgroup".into(), cgroup.clone().into()]);
        }
        for (flag, value) in [
            ("--procs", self.procs),
            ("--memory", self.memory),
            ("--files", self.files),
            ("--file-size", self.file_size),
        ] {
            args.extend([flag.into(), value.to_string().into()]);
        }
        for path in &self.read_only {
            args.extend(["--read".into(), path.clone().into()]);
        }
        for lent in &self.lent {
            args.extend(["--lend".into(), lent.to_arg()]);
        }
        let level = match self.landlock {
            LandlockLevel::None => "none",
            LandlockLevel::Partial => "partial",
            LandlockLevel::Full => "full",
        };
        args.extend(["--landlock".into(), level.into()]);
        let network = match self.network {
            Network::Host => "host",
            Network::None => "none",
            Network::Outbound => "outbound",
        };
        args.extend(["--network".into(), network.into()]);
        for range in &self.allow_net {
            args.extend(["--allow-net".into(), range.into()]);
        }
        args.push("--".into());
        args.extend(self.command.iter().cloned());
        args
    }

    /// Confines this process and becomes the program; returns only on failure.
    pub fn enter(&self) -> Result<Infallible, ConfineError> {
        for dir in &self.cgroups {
            std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string()).map_err(
                |source| ConfineError::Cgroup {
                    path: dir.clone(),
                    source,
                },
            )?;
        }
        self.limits().apply().map_err(ConfineError::Limits)?;
        // When the host runs out of memory, sandboxes go before anything else.
        let _ = std::fs::write("/proc/self/oom_score_adj", OOM_SCORE_ADJ);
        let program = PathBuf::from(self.command.first().ok_or(ConfineError::Nul)?);
        let executable = std::fs::File::open(&program).map_err(|source| ConfineError::Program {
            path: program.clone(),
            source,
        })?;
        if self.network == Network::Host && !self.lent.is_empty() {
            return Err(ConfineError::LentWithoutNamespaces);
        }
        if self.network != Network::Host {
            let allowed = self
                .allow_net
                .iter()
                .map(|range| namespaces::parse_range(range))
                .collect::<Result<Vec<_>, _>>()?;
            namespaces::enter(&namespaces::Plan {
                network: self.network,
                allowed: &allowed,
                data_dir: &self.dir,
                read_only: &self.read_only,
                lent: &self.lent,
            })?;
        }
        let mut read_only = self.read_only.clone();
        read_only.extend(self.lent.iter().map(|lent| lent.at.clone()));
        // The program by the descriptor opened above: its path may be under a directory the
        // namespaces covered (a build in /tmp).
        let ruleset = ruleset(&self.dir, &read_only, &executable)?;

        // setsid fails only for a group leader, which the hypervisor never starts this as.
        nix::unistd::setsid().map_err(|source| ConfineError::Ids {
            action: "start a session",
            source,
        })?;
        if let (Some(uid), Some(gid)) = (self.uid, self.gid) {
            become_user(uid, gid)?;
        }
        umask(Mode::from_bits_truncate(0o077));
        let tmp = self.dir.join(TMP_DIR);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&tmp)
            .or_else(|err| match err.kind() {
                std::io::ErrorKind::AlreadyExists => Ok(()),
                _ => Err(err),
            })
            .map_err(|source| ConfineError::Dir { path: tmp, source })?;
        std::env::set_current_dir(&self.dir).map_err(|source| ConfineError::Dir {
            path: self.dir.clone(),
            source,
        })?;

        nix::sys::prctl::set_no_new_privs().map_err(|source| ConfineError::Ids {
            action: "set no_new_privs",
            source,
        })?;
        let got = LandlockLevel::from(ruleset.restrict_self()?.ruleset);
        if got < self.landlock {
            return Err(ConfineError::Weaker {
                got,
                expected: self.landlock,
            });
        }
        syscalls::restrict()?;

        let to_c = |arg: &OsString| CString::new(arg.as_bytes()).map_err(|_| ConfineError::Nul);
        let args: Vec<CString> = self.command.iter().map(to_c).collect::<Result<_, _>>()?;
        let env: Vec<CString> = std::env::vars_os()
            .map(|(key, value)| {
                let mut pair = key;
                pair.push("=");
                pair.push(value);
                to_c(&pair)
            })
            .collect::<Result<_, _>>()?;
        nix::unistd::fexecve(&executable, &args, &env).map_err(ConfineError::Exec)
    }
}

fn become_user(uid: u32, gid: u32) -> Result<(), ConfineError> {
    let ids = |action, result: nix::Result<()>| {
        result.map_err(|source| ConfineError::Ids { action, source })
    };
    let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
    ids("clear supplementary groups", nix::unistd::setgroups(&[]))?;
    ids("set the group ids", nix::unistd::setresgid(gid, gid, gid))?;
    ids("set the user ids", nix::unistd::setresuid(uid, uid, uid))?;
    // Root cannot be regained: prove it.
    if nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).is_ok() {
        return Err(ConfineError::Ids {
            action: "drop root for good",
            source: nix::Error::EPERM,
        });
    }
    Ok(())
}

/// What `choir-hypervisor kill-uid` does, as root: becomes `uid` and SIGKILLs every process
/// it may signal (every process of that uid, and no other), until none is left. No pid is
/// named, so none can be reused under it. Returns an error if processes remain after 5 s.
pub fn kill_uid(uid: u32) -> Result<(), ConfineError> {
    if uid == 0 {
        return Err(ConfineError::Ids {
            action: "kill every process of uid 0",
            source: nix::Error::EINVAL,
        });
    }
    become_user(uid, uid)?;
    let me = std::process::id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        // -1: every process this one may signal but itself (and init). Zombies count as
        // signalled too, so whether any live one is left is read from /proc.
        match nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(-1),
            nix::sys::signal::Signal::SIGKILL,
        ) {
            Err(nix::Error::ESRCH) => return Ok(()),
            Err(source) => {
                return Err(ConfineError::Ids {
                    action: "signal the processes",
                    source,
                })
            }
            Ok(()) => {}
        }
        let alive = super::procs::all()
            .into_iter()
            .any(|p| p.uid == uid && p.pid != me && !p.zombie);
        if !alive {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(ConfineError::Ids {
                action: "stop every process within 5 s",
                source: nix::Error::EAGAIN,
            });
        }
        // A fork bomb may have made more meanwhile.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The Landlock ruleset of a sandbox: everything inside `writable`; read and execute in
/// `read_only`; the devices a shell uses; `program` itself.
fn ruleset(
    writable: &Path,
    read_only: &[PathBuf],
    program: &std::fs::File,
) -> Result<RulesetCreated, RulesetError> {
    let all = AccessFs::from_all(LANDLOCK_ABI);
    let read = AccessFs::from_read(LANDLOCK_ABI);
    let device = AccessFs::from_file(LANDLOCK_ABI) & !AccessFs::Execute;
    Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)?
        .scope(Scope::from_all(LANDLOCK_ABI))?
        .create()?
        .add_rules(path_beneath_rules(read_only, read))?
        .add_rules(path_beneath_rules(DEVICES, device))?
        .add_rule(PathBeneath::new(
            program,
            AccessFs::Execute | AccessFs::ReadFile,
        ))?
        .add_rules(path_beneath_rules([writable], all))
}

/// How much of a sandbox's ruleset this kernel enforces, found by enforcing it on a
/// short-lived thread of this process (Landlock confines only the calling thread, and the
/// thread ends here).
pub fn probe_landlock(read_only: &[PathBuf]) -> LandlockLevel {
    let read_only = read_only.to_vec();
    let probe = std::thread::spawn(move || {
        let scratch = std::env::temp_dir();
        let Ok(program) = std::fs::File::open("/bin/sh") else {
            return LandlockLevel::None;
        };
        ruleset(&scratch, &read_only, &program)
            .and_then(RulesetCreated::restrict_self)
            .map(|status| LandlockLevel::from(status.ruleset))
            .unwrap_or(LandlockLevel::None)
    });
    probe.join().unwrap_or(LandlockLevel::None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        confinement: Confinement,
    }

    #[test]
    fn the_arguments_round_trip() {
        let confinement = Confinement {
            dir: "/var/lib/choir-hypervisor/sandboxes/alice".into(),
            uid: Some(800_000),
            gid: Some(800_000),
            cgroups: vec!["/sys/fs/cgroup/memory/choir-1/alice".into()],
            procs: 64,
            memory: 1 << 30,
            files: 1024,
            file_size: 1 << 20,
            read_only: vec!["/usr".into(), "/etc".into()],
            lent: vec![Lent::parse("/root/.rustup/toolchains/a=b=/run/choir/rust").unwrap()],
            landlock: LandlockLevel::Full,
            network: Network::Outbound,
            allow_net: vec!["10.9.0.0/16".into()],
            command: vec![
                "/usr/bin/choir-daemon".into(),
                "--listen".into(),
                "unix:/x".into(),
            ],
        };
        let mut args: Vec<OsString> = vec!["confine".into()];
        args.extend(confinement.to_args());
        let parsed = Wrapper::try_parse_from(args).unwrap();
        assert_eq!(parsed.confinement, confinement);

        let shared = Confinement {
            uid: None,
            gid: None,
            ..confinement
        };
        let mut args: Vec<OsString> = vec!["confine".into()];
        args.extend(shared.to_args());
        assert_eq!(Wrapper::try_parse_from(args).unwrap().confinement, shared);
    }

    #[test]
    fn a_directory_is_lent_only_under_run_choir() {
        let lent = Lent::parse("/opt/rust=/run/choir/rust").unwrap();
        assert_eq!(lent.host, PathBuf::from("/opt/rust"));
        assert_eq!(lent.at, PathBuf::from("/run/choir/rust"));
        for bad in [
            "/opt/rust",
            "relative=/run/choir/rust",
            "/opt/rust=/etc",
            "/opt/rust=/run/choir",
            "/opt/rust=/run/choir/../../etc",
            "/opt/rust=/run/choirx/rust",
            "/opt/rust=run/choir/rust",
        ] {
            assert!(Lent::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn this_kernel_is_probed() {
        let level = probe_landlock(&[PathBuf::from("/usr")]);
        // The probe thread's confinement stays with it: this thread still writes anywhere.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x"), "after the probe").unwrap();
        eprintln!("Landlock here: {level:?}");
    }
}

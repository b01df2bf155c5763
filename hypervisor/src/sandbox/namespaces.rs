//! The namespaces a process sandbox lives in, entered by `confine` as root before it drops
//! root (see `confine.rs`):
//!
//! - **a network of its own**: `none` (loopback only) or `outbound`: loopback, and the
//!   internet through slirp4netns, a user-mode network stack whose packets leave as
//!   connections slirp4netns makes in the host's network (with `--disable-host-loopback`, so
//!   not to the host's 127.0.0.1). Nothing is routed, and no host-wide setting (forwarding,
//!   NAT, firewall) is touched. Inside the namespace, nftables refuses every packet for the
//!   host's own addresses and for loopback, private, shared, link-local (cloud metadata),
//!   multicast and reserved ranges, IPv4 and IPv6, unless the operator allows a range; the
//!   one exception is slirp4netns's DNS forwarder. The sandbox cannot change the rules: it
//!   has no capability in the namespace, and the seccomp filter refuses new namespaces.
//! - **its own IPC namespace**: SysV IPC and POSIX message queues of its own, gone with it.
//! - **its own mount namespace**: `/run`, `/var/run`, `/tmp`, `/var/tmp` and `/dev/shm`
//!   empty and private (but for its data dir and the directories it may read, where they lie
//!   under one of them), so the host's pathname sockets (D-Bus, journald, X11, Docker, other
//!   users' tmux) are not there; `/proc` a new instance that shows only its user's processes
//!   (`hidepid=invisible`); host directories lent to it (the toolchain apps are built with)
//!   mounted read-only under `/run/choir`.
//!
//! Everything ends with the sandbox's last process: the namespaces, and slirp4netns, which
//! waits on a pipe whose writing end only the sandbox's processes hold.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

/// The network a sandbox gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Network {
    /// The host's own (no namespace): only where the hypervisor cannot make one (not root).
    Host,
    /// Loopback only.
    None,
    /// The internet, nothing of the host or the private networks.
    Outbound,
}

/// Host directories a sandbox gets empty ones of its own in place of.
const COVERED: &[&str] = &["/run", "/var/run", "/tmp", "/var/tmp", "/dev/shm"];
/// What slirp4netns calls the sandbox's DNS forwarder (its `10.0.2.0/24` network).
const SLIRP_DNS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 2, 3));
/// How long slirp4netns has to set the network up.
const SLIRP_READY: Duration = Duration::from_secs(10);

/// IPv4 ranges a sandbox may not reach: this network, private, shared (carrier NAT),
/// loopback, link-local (cloud metadata), IETF protocol assignments, benchmarking,
/// multicast, reserved and broadcast.
const BLOCKED_V4: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/3",
];
/// IPv6 likewise: unspecified and loopback, IPv4-mapped and translated, discard, unique
/// local, link-local and multicast.
const BLOCKED_V6: &[&str] = &[
    "::/127",
    "::ffff:0:0/96",
    "64:ff9b::/96",
    "100::/64",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("cannot {action}: {source}")]
    Sys {
        action: &'static str,
        source: nix::Error,
    },
    #[error("cannot {action}: {source}")]
    Io {
        action: String,
        source: std::io::Error,
    },
    #[error("{0} is not installed (the sandbox network needs it; Debian: apt install {1})")]
    Missing(&'static str, &'static str),
    #[error("{program} failed: {message}")]
    Tool { program: String, message: String },
    #[error("`{0}` is not an address range (like 10.1.2.0/24 or fd00:1::/64)")]
    BadRange(String),
    #[error("process {0} is in this host's own network namespace: it is not a container's")]
    HostNamespace(u32),
}

fn sys(action: &'static str) -> impl FnOnce(nix::Error) -> NamespaceError {
    move |source| NamespaceError::Sys { action, source }
}

fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> NamespaceError {
    let action = action.into();
    move |source| NamespaceError::Io { action, source }
}

/// A program the namespaces need, where Debian puts it.
fn program(name: &'static str, package: &'static str) -> Result<PathBuf, NamespaceError> {
    [
        "/usr/sbin",
        "/sbin",
        "/usr/bin",
        "/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
    ]
    .iter()
    .map(|dir| Path::new(dir).join(name))
    .find(|path| path.is_file())
    .ok_or(NamespaceError::Missing(name, package))
}

/// Whether this host has what `network` needs (the hypervisor asks at start).
pub fn check(network: Network) -> Result<(), NamespaceError> {
    match network {
        Network::Host => Ok(()),
        Network::None => program("ip", "iproute2").map(drop),
        Network::Outbound => {
            program("ip", "iproute2")?;
            program("nft", "nftables")?;
            program("slirp4netns", "slirp4netns")?;
            Ok(())
        }
    }
}

/// Checks an address range an operator allows (`--allow-net`).
pub fn parse_range(text: &str) -> Result<String, NamespaceError> {
    let bad = || NamespaceError::BadRange(text.to_owned());
    let (addr, prefix) = text.split_once('/').unwrap_or((text, ""));
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = if prefix.is_empty() {
        max
    } else {
        prefix.parse().map_err(|_| bad())?
    };
    if prefix > max {
        return Err(bad());
    }
    Ok(format!("{addr}/{prefix}"))
}

/// The nftables ruleset of a sandbox's network: `host` are the host's own addresses,
/// `allowed` the ranges the operator lets through (checked by [`parse_range`]), `dns` the
/// resolvers the sandbox may ask (port 53 only). With `answers_from`, the answers of the
/// daemon listening on that TCP port go out to whoever connected (a Swarm task's published
/// port); nothing else to a blocked address does.
pub fn ruleset(
    host: &[IpAddr],
    allowed: &[String],
    dns: &[IpAddr],
    answers_from: Option<u16>,
) -> String {
    let (allowed4, allowed6): (Vec<&String>, Vec<&String>) =
        allowed.iter().partition(|range| !range.contains(':'));
    let blocked4: Vec<String> = BLOCKED_V4
        .iter()
        .map(|range| (*range).to_owned())
        .chain(
            host.iter()
                .filter(|a| a.is_ipv4())
                .map(|a| format!("{a}/32")),
        )
        .collect();
    let blocked6: Vec<String> = BLOCKED_V6
        .iter()
        .map(|range| (*range).to_owned())
        .chain(
            host.iter()
                .filter(|a| a.is_ipv6())
                .map(|a| format!("{a}/128")),
        )
        .collect();
    let set = |name: &str, kind: &str, ranges: &[String]| {
        let mut text = format!("  set {name} {{\n    type {kind}; flags interval; auto-merge;\n");
        if !ranges.is_empty() {
            text.push_str(&format!("    elements = {{ {} }}\n", ranges.join(", ")));
        }
        text.push_str("  }\n");
        text
    };
    let strings = |ranges: Vec<&String>| ranges.into_iter().cloned().collect::<Vec<_>>();
    let mut text = String::from("table inet choir_sandbox {\n");
    text.push_str(&set("allowed4", "ipv4_addr", &strings(allowed4)));
    text.push_str(&set("allowed6", "ipv6_addr", &strings(allowed6)));
    text.push_str(&set("blocked4", "ipv4_addr", &blocked4));
    text.push_str(&set("blocked6", "ipv6_addr", &blocked6));
    let resolvers: String = dns
        .iter()
        .map(|address| {
            let family = if address.is_ipv4() { "ip" } else { "ip6" };
            format!(
                "{family} daddr {address} udp dport 53 accept\n    \
                 {family} daddr {address} tcp dport 53 accept\n    "
            )
        })
        .collect();
    let answers = answers_from
        .map(|port| format!("ct direction reply tcp sport {port} accept\n    "))
        .unwrap_or_default();
    text.push_str(&format!(
        "  chain output {{\n    type filter hook output priority 0; policy accept;\n    \
         oifname \"lo\" accept\n    \
         {answers}{resolvers}ip daddr @allowed4 accept\n    \
         ip6 daddr @allowed6 accept\n    \
         ip daddr @blocked4 reject with icmpx type admin-prohibited\n    \
         ip6 daddr @blocked6 reject with icmpx type admin-prohibited\n  }}\n}}\n"
    ));
    text
}

/// Runs `program` with `args` (and `input` on its stdin) in this process's namespaces.
fn run(program: &Path, args: &[&str], input: Option<&str>) -> Result<(), NamespaceError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io(format!("run {}", program.display())))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(input.as_bytes())
            .map_err(io(format!("write to {}", program.display())))?;
    }
    let output = child
        .wait_with_output()
        .map_err(io(format!("run {}", program.display())))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(NamespaceError::Tool {
            program: program.display().to_string(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// The host's own addresses (read before leaving its network).
fn host_addresses() -> Vec<IpAddr> {
    let Ok(addresses) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut found: Vec<IpAddr> = addresses
        .filter_map(|interface| interface.address)
        .filter_map(|address| {
            if let Some(v4) = address.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// A process of this host, held by its `/proc` directory: a pid reused meanwhile is never
/// mistaken for it.
pub struct HeldProcess {
    pid: u32,
    dir: std::fs::File,
}

impl HeldProcess {
    /// Process `pid`, if it is one of this host's and in the container `container` (its id in
    /// the process's control groups): a Swarm node's pid may be any process here when the
    /// node is another host.
    pub fn of_container(pid: u32, container: &str) -> Option<Self> {
        let held = Self::new(pid).ok()?;
        std::fs::read_to_string(held.path("cgroup"))
            .ok()
            .filter(|groups| groups.contains(container))
            .map(|_| held)
    }

    pub fn new(pid: u32) -> Result<Self, NamespaceError> {
        let dir =
            std::fs::File::open(format!("/proc/{pid}")).map_err(io(format!("open /proc/{pid}")))?;
        Ok(Self { pid, dir })
    }

    /// `name` under the held process's `/proc` directory, as a path other processes can use
    /// while this one holds it.
    fn path(&self, name: &str) -> String {
        use std::os::fd::AsRawFd;
        format!(
            "/proc/{}/fd/{}/{name}",
            std::process::id(),
            self.dir.as_raw_fd()
        )
    }
}

/// Puts the policy of `--sandbox-network outbound` on a container of this host: the same
/// ruleset as a process sandbox's, in the network namespace of its process (the container
/// has no capabilities, so it cannot lift it), with the resolvers its `resolv.conf` names let
/// through on port 53, and the answers of a daemon on `answers_from`. A process in this
/// host's own namespace is refused.
pub fn police_container(
    process: &HeldProcess,
    allowed: &[String],
    answers_from: Option<u16>,
) -> Result<(), NamespaceError> {
    use std::os::unix::fs::MetadataExt;
    let inode = |path: &str| std::fs::metadata(path).map(|meta| (meta.dev(), meta.ino()));
    let theirs = process.path("ns/net");
    if inode(&theirs).map_err(io("read a container's network namespace"))?
        == inode("/proc/self/ns/net").map_err(io("read this host's network namespace"))?
    {
        return Err(NamespaceError::HostNamespace(process.pid));
    }
    let resolv = std::fs::read_to_string(process.path("root/etc/resolv.conf")).unwrap_or_default();
    let dns: Vec<IpAddr> = resolv
        .lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|address| address.trim().parse().ok())
        .collect();
    // Declared, deleted and made again in one transaction: policing a container twice (a
    // launch and the watcher of new tasks, or two hypervisors) leaves one ruleset.
    let rules = format!(
        "table inet choir_sandbox\ndelete table inet choir_sandbox\n{}",
        ruleset(&host_addresses(), allowed, &dns, answers_from)
    );
    let namespace = format!("--net={theirs}");
    let nft = program("nft", "nftables")?;
    let nft = nft.to_string_lossy();
    run(
        &program("nsenter", "util-linux")?,
        &[&namespace, "--", &nft, "-f", "-"],
        Some(&rules),
    )
}

/// Where in a sandbox lent directories may be put.
pub const LENT_UNDER: &str = "/run/choir";

/// A host directory lent to a sandbox, read-only, at a path of its own under [`LENT_UNDER`]:
/// the host's path (and its parents' permissions) stays out of the sandbox's sight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lent {
    pub host: PathBuf,
    pub at: PathBuf,
}

impl Lent {
    /// `HOST=AT` (the last `=` splits them), as `confine --lend` takes it.
    pub fn parse(text: &str) -> Result<Lent, String> {
        let (host, at) = text
            .rsplit_once('=')
            .ok_or_else(|| format!("`{text}` is not HOST=SANDBOX"))?;
        let lent = Lent {
            host: PathBuf::from(host),
            at: PathBuf::from(at),
        };
        let plain = lent.at.components().all(|part| {
            matches!(
                part,
                std::path::Component::RootDir | std::path::Component::Normal(_)
            )
        });
        if !lent.host.is_absolute()
            || !plain
            || !lent.at.starts_with(LENT_UNDER)
            || lent.at == Path::new(LENT_UNDER)
        {
            return Err(format!(
                "`{text}`: the host's path must be absolute and the sandbox's a plain path under {LENT_UNDER}"
            ));
        }
        Ok(lent)
    }

    pub fn to_arg(&self) -> std::ffi::OsString {
        let mut arg = self.host.clone().into_os_string();
        arg.push("=");
        arg.push(&self.at);
        arg
    }
}

/// What a sandbox's namespaces are made of.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    pub network: Network,
    /// Ranges let through (`--allow-net`), checked.
    pub allowed: &'a [String],
    /// The sandbox's data dir: it stays where it is, whatever is covered.
    pub data_dir: &'a Path,
    /// Directories it may read: they stay where they are too (but for those under `/run`).
    pub read_only: &'a [PathBuf],
    /// Host directories lent to it.
    pub lent: &'a [Lent],
}

/// Enters new namespaces for this process as `plan` says. Runs as root, on the only thread.
pub fn enter(plan: &Plan<'_>) -> Result<(), NamespaceError> {
    let own_network = plan.network != Network::Host;
    let host = own_network.then(host_addresses).unwrap_or_default();
    let host_net = File::open("/proc/self/ns/net").map_err(io("open this network namespace"))?;
    let mut flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWIPC;
    if own_network {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    unshare(flags).map_err(sys("make the sandbox's namespaces"))?;
    // Nothing mounted here reaches the host's mounts.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(sys("make the mounts private"))?;
    // Opened in the new mount namespace: a mount can only be made of one of its own.
    let kept = kept_paths(plan)?;
    let lent = plan
        .lent
        .iter()
        .map(|lent| {
            nix::fcntl::open(
                lent.host.as_path(),
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map(|fd| (lent.at.clone(), fd))
            .map_err(|source| NamespaceError::Io {
                action: format!("open {} to lend it", lent.host.display()),
                source: source.into(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if own_network {
        run(
            &program("ip", "iproute2")?,
            &["link", "set", "lo", "up"],
            None,
        )?;
    }
    if plan.network == Network::Outbound {
        // The rules first: not a packet leaves before they hold.
        run(
            &program("nft", "nftables")?,
            &["-f", "-"],
            Some(&ruleset(&host, plan.allowed, &[SLIRP_DNS], None)),
        )?;
        start_slirp(&host_net)?;
    }
    drop(host_net);
    mount_private(&kept, &lent, plan.network == Network::Outbound)?;
    Ok(())
}

/// The data dir and the readable directories that lie under a covered directory, each
/// opened now (the data dir without following a link: its owner could have put one in its
/// path's last step), to be mounted again where they were.
fn kept_paths(plan: &Plan<'_>) -> Result<Vec<(PathBuf, OwnedFd)>, NamespaceError> {
    let covered = |path: &Path| COVERED.iter().any(|dir| path.starts_with(dir));
    let mut kept = Vec::new();
    if covered(plan.data_dir) {
        let fd = nix::fcntl::open(
            plan.data_dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(sys("open the data dir"))?;
        kept.push((plan.data_dir.to_owned(), fd));
    }
    // What lies under /run (systemd-resolved's files and its socket) is not the sandbox's to
    // read here: it has a resolv.conf of its own.
    for path in plan
        .read_only
        .iter()
        .filter(|path| covered(path) && !path.starts_with("/run"))
    {
        if let Ok(fd) = nix::fcntl::open(
            path.as_path(),
            OFlag::O_PATH | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        ) {
            kept.push((path.clone(), fd));
        }
    }
    Ok(kept)
}

/// Starts slirp4netns for this process's (new) network, from the host's, and waits until the
/// network is up. It ends when the last holder of the pipe it waits on is gone: that end
/// is kept open across `exec`, so every process of the sandbox holds it.
fn start_slirp(host_net: &File) -> Result<(), NamespaceError> {
    let slirp = program("slirp4netns", "slirp4netns")?;
    let (ready_read, ready_write) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("make a pipe"))?;
    let (exit_read, exit_write) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("make a pipe"))?;
    // slirp4netns inherits these two ends (and only these).
    for fd in [&ready_write, &exit_read] {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty())).map_err(sys("pass a pipe on"))?;
    }
    let own_net =
        File::open("/proc/self/ns/net").map_err(io("open the sandbox's network namespace"))?;
    setns(host_net, CloneFlags::CLONE_NEWNET).map_err(sys("return to the host's network"))?;
    // The namespace by this process's descriptor of it, not by its pid: slirp4netns looks it
    // up after this process has gone back to the host's network to start it, and by pid it
    // could find that one (and make its device there).
    let namespace = format!("/proc/{}/fd/{}", std::process::id(), own_net.as_raw_fd());
    let ready_fd = format!("--ready-fd={}", ready_write.as_raw_fd());
    let exit_fd = format!("--exit-fd={}", exit_read.as_raw_fd());
    // Through a shell that leaves it running: it is then nobody's child in the sandbox.
    let spawned = Command::new("/bin/sh")
        .arg("-c")
        .arg("\"$@\" &")
        .arg("slirp4netns")
        .args([
            slirp.as_os_str(),
            OsStr::new("--configure"),
            OsStr::new("--mtu=65520"),
            OsStr::new("--disable-host-loopback"),
            OsStr::new("--enable-sandbox"),
            OsStr::new("--enable-seccomp"),
            OsStr::new(&ready_fd),
            OsStr::new(&exit_fd),
            OsStr::new("--netns-type=path"),
            OsStr::new(&namespace),
            OsStr::new("tap0"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // It reports its progress on stderr: that would crowd the sandbox's log, whose last
        // lines a user is shown when the sandbox cannot start.
        .stderr(Stdio::null())
        .status();
    setns(&own_net, CloneFlags::CLONE_NEWNET).map_err(sys("return to the sandbox's network"))?;
    match spawned {
        Ok(status) if status.success() => {}
        Ok(status) => {
            return Err(NamespaceError::Tool {
                program: "slirp4netns".into(),
                message: format!("its shell ended with {status}"),
            })
        }
        Err(err) => return Err(io("start slirp4netns")(err)),
    }
    drop(ready_write);
    drop(exit_read);
    wait_ready(ready_read)?;
    // The writing end of the exit pipe stays open across exec, in every process of the
    // sandbox: this process gives up owning it.
    fcntl(&exit_write, FcntlArg::F_SETFD(FdFlag::empty())).map_err(sys("keep a pipe open"))?;
    let _ = std::os::fd::IntoRawFd::into_raw_fd(exit_write);
    Ok(())
}

/// Waits (at most [`SLIRP_READY`]) for slirp4netns to say the network is up.
fn wait_ready(ready: OwnedFd) -> Result<(), NamespaceError> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let timeout = PollTimeout::try_from(SLIRP_READY).unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(
        std::os::fd::AsFd::as_fd(&ready),
        PollFlags::POLLIN,
    )];
    let ready_now = poll(&mut fds, timeout).map_err(sys("wait for slirp4netns"))?;
    let failed = |message: &str| NamespaceError::Tool {
        program: "slirp4netns".into(),
        message: message.into(),
    };
    if ready_now == 0 {
        return Err(failed("it did not set the network up within 10 s"));
    }
    let mut byte = [0u8; 1];
    match File::from(ready).read(&mut byte) {
        Ok(1) => Ok(()),
        _ => Err(failed("it ended before the network was up")),
    }
}

/// Makes `path` and the directories down to it from `top` (in a tmpfs of ours), each one
/// everyone may walk through (whatever the umask).
fn make_walkable(top: &Path, path: &Path) -> Result<(), NamespaceError> {
    use std::os::unix::fs::PermissionsExt;
    let mut at = top.to_path_buf();
    for part in path.strip_prefix(top).unwrap_or(Path::new("")).components() {
        at.push(part);
        if !at.is_dir() {
            std::fs::create_dir(&at).map_err(io(format!("make {}", at.display())))?;
        }
        std::fs::set_permissions(&at, std::fs::Permissions::from_mode(0o755))
            .map_err(io(format!("open up {}", at.display())))?;
    }
    Ok(())
}

/// The sandbox's own `/run`, `/var/run`, `/tmp`, `/var/tmp` and `/dev/shm` (with `kept`
/// mounted again where they were, and `lent` read-only where they go) and `/proc`; with
/// `dns`, a `resolv.conf` naming slirp4netns's forwarder.
fn mount_private(
    kept: &[(PathBuf, OwnedFd)],
    lent: &[(PathBuf, OwnedFd)],
    dns: bool,
) -> Result<(), NamespaceError> {
    // Where /etc/resolv.conf leads, read before /run is covered (it often leads there).
    let resolv = std::fs::canonicalize("/etc/resolv.conf").ok();
    let nosuid = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    for dir in COVERED {
        let dir = Path::new(dir);
        // A link (/var/run → /run) is covered by what it leads to.
        if !std::fs::symlink_metadata(dir).is_ok_and(|meta| meta.is_dir()) {
            continue;
        }
        mount(
            Some("tmpfs"),
            dir,
            Some("tmpfs"),
            nosuid | MsFlags::MS_NOEXEC,
            Some("mode=0755,size=16m"),
        )
        .map_err(sys("cover a host directory"))?;
        for (path, fd) in kept.iter().filter(|(path, _)| path.starts_with(dir)) {
            let is_dir = std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                .is_ok_and(|meta| meta.is_dir());
            if is_dir {
                make_walkable(dir, path)?;
            } else {
                if let Some(parent) = path.parent() {
                    make_walkable(dir, parent)?;
                }
                File::create(path).map_err(io(format!("make {}", path.display())))?;
            }
            let source = format!("/proc/self/fd/{}", fd.as_raw_fd());
            mount(
                Some(source.as_str()),
                path.as_path(),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(sys("mount a directory it keeps"))?;
        }
        for (at, fd) in lent.iter().filter(|(at, _)| at.starts_with(dir)) {
            make_walkable(dir, at)?;
            let source = format!("/proc/self/fd/{}", fd.as_raw_fd());
            mount(
                Some(source.as_str()),
                at.as_path(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(sys("mount a lent directory"))?;
            // A bind mount takes its flags only when mounted again.
            mount(
                None::<&str>,
                at.as_path(),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | nosuid,
                None::<&str>,
            )
            .map_err(sys("make a lent directory read-only"))?;
        }
    }
    if dns {
        let text = format!("nameserver {SLIRP_DNS}\n");
        match resolv {
            // A file of /etc: a file of ours over it.
            Some(target) if !target.starts_with("/run") => {
                let ours = Path::new("/run/choir-resolv.conf");
                std::fs::write(ours, &text).map_err(io("write resolv.conf"))?;
                mount(
                    Some(ours),
                    "/etc/resolv.conf",
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(sys("mount resolv.conf"))?;
            }
            // A link into /run (systemd-resolved's): where it leads, in our /run.
            Some(target) => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(io("make resolv.conf's directory"))?;
                }
                std::fs::write(&target, &text).map_err(io("write resolv.conf"))?;
            }
            None => {}
        }
    }
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        nosuid | MsFlags::MS_NOEXEC,
        Some("hidepid=invisible"),
    )
    .map_err(sys("mount /proc"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked_and_written_whole() {
        assert_eq!(parse_range("10.1.2.0/24").unwrap(), "10.1.2.0/24");
        assert_eq!(parse_range("192.0.2.7").unwrap(), "192.0.2.7/32");
        assert_eq!(parse_range("fd00:1::/64").unwrap(), "fd00:1::/64");
        for bad in ["10.1.2.0/33", "fd00::/129", "example.com", "10.1.2.0/x", ""] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_ruleset_blocks_the_host_and_private_ranges_and_lets_allowed_ones_through() {
        let host: Vec<IpAddr> = vec!["192.0.2.2".parse().unwrap(), "fd00::2".parse().unwrap()];
        let dns: Vec<IpAddr> = vec!["10.0.2.3".parse().unwrap(), "fd00::53".parse().unwrap()];
        let rules = ruleset(
            &host,
            &["10.9.0.0/16".into(), "fd12::/16".into()],
            &dns,
            None,
        );
        for expected in [
            "169.254.0.0/16",
            "10.0.0.0/8",
            "192.0.2.2/32",
            "fd00::2/128",
            "fc00::/7",
            "elements = { 10.9.0.0/16 }",
            "elements = { fd12::/16 }",
            "ip daddr 10.0.2.3 udp dport 53 accept",
            "ip6 daddr fd00::53 tcp dport 53 accept",
        ] {
            assert!(rules.contains(expected), "{expected} not in:\n{rules}");
        }
        // The allowed ranges are let through before the blocked ones are refused.
        assert!(rules.find("@allowed4 accept") < rules.find("@blocked4 reject"));
        // With nothing allowed, the sets are empty (nft refuses empty element lists).
        assert!(!ruleset(&[], &[], &[], None).contains("elements = {  }"));
        // Only a daemon's answers go out unasked, and only where it listens on a port.
        assert!(!rules.contains("ct direction") && !rules.contains("ct state"));
        let answering = ruleset(&host, &[], &dns, Some(7878));
        let answers = answering
            .find("ct direction reply tcp sport 7878 accept")
            .unwrap();
        assert!(answers < answering.find("@blocked4 reject").unwrap());
        assert_eq!(answering.matches("ct direction").count(), 1);
        assert!(!answering.contains("ct state"));
    }
}

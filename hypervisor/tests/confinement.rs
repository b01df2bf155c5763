//! A process sandbox tries to get out of the namespaces and the seccomp filter it was put in
//! (as root: the hypervisor makes them only then): make namespaces of its own, join a
//! keyring, mount, trace, reach the host's pathname sockets in /run and /tmp, see other
//! processes in /proc, share SysV IPC with the host or another sandbox. Each attempt fails,
//! and the sandbox still works.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;

use common::{bash, needs_root, Hypervisor};

/// System call numbers for a Python `ctypes` probe.
#[cfg(target_arch = "x86_64")]
const SYS: &[(&str, i64)] = &[("keyctl", 250), ("ptrace", 101), ("bpf", 321)];
#[cfg(target_arch = "aarch64")]
const SYS: &[(&str, i64)] = &[("keyctl", 219), ("ptrace", 117), ("bpf", 280)];

/// A Python line that makes system call `number` with `args` and prints `errno=N` (0 when
/// it succeeded).
fn syscall(number: i64, args: &str) -> String {
    format!(
        "python3 -c 'import ctypes; l=ctypes.CDLL(None, use_errno=True); \
         r=l.syscall({number}, {args}); print(\"errno=%d\" % (0 if r >= 0 else ctypes.get_errno()))'"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_cannot_leave_its_namespaces_or_its_filter() {
    if needs_root("a_sandbox_cannot_leave_its_namespaces_or_its_filter") {
        return;
    }
    // Host sockets anyone may connect to, where D-Bus's and X11's are.
    let tag = rand::random::<u32>();
    let paths = [
        format!("/run/choir-test-{tag}.sock"),
        format!("/tmp/choir-test-{tag}.sock"),
    ];
    let _listeners: Vec<UnixListener> = paths
        .iter()
        .map(|path| {
            let listener = UnixListener::bind(path).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).unwrap();
            listener
        })
        .collect();
    let hv = Hypervisor::start(&["alice", "bob"], &[]);
    let alice = hv.connect("alice").await;
    let bob = hv.connect("bob").await;
    let (bob_pid, _) = bash(&bob, "echo $$").await;
    let (_, code) = bash(&alice, "true").await;
    assert_eq!(code, 0);
    let alice_daemon = hv.sandbox("alice")["pid"].as_u64().unwrap();
    let hypervisor = hv.pid();

    let keyctl = SYS.iter().find(|(name, _)| *name == "keyctl").unwrap().1;
    let ptrace = SYS.iter().find(|(name, _)| *name == "ptrace").unwrap().1;
    let bpf = SYS.iter().find(|(name, _)| *name == "bpf").unwrap().1;
    let mut attacks: Vec<(&str, String)> = vec![
        ("make a user namespace", "unshare -U true".into()),
        ("make a mount namespace", "unshare -m true".into()),
        ("make a network namespace", "unshare -n true".into()),
        (
            "mount a filesystem",
            "mkdir -p m && mount -t tmpfs none m".into(),
        ),
        (
            "see the hypervisor's process",
            format!("ls /proc/{hypervisor}/"),
        ),
        (
            "see Bob's processes",
            format!("ls /proc/{}/", bob_pid.trim()),
        ),
    ];
    for path in &paths {
        attacks.push((
            "reach a host socket",
            format!(
                "python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"{path}\")'"
            ),
        ));
    }
    for (what, script) in &attacks {
        let (output, code) = bash(&alice, script).await;
        assert_ne!(code, 0, "{what}: `{script}` succeeded:\n{output}");
    }
    // Refused by the filter with EPERM, where the kernel alone would have let them be: join
    // a new session keyring, trace its own daemon, load a BPF map.
    for (what, script) in [
        ("join a keyring", syscall(keyctl, "1, 0, 0, 0, 0")),
        (
            "trace its daemon",
            syscall(ptrace, &format!("16, {alice_daemon}, 0, 0")),
        ),
        ("use BPF", syscall(bpf, "0, 0, 0")),
    ] {
        let (output, _) = bash(&alice, &script).await;
        assert!(output.contains("errno=1"), "{what}: {output}");
    }
    // Its /proc has its own processes only.
    let (listing, _) = bash(&alice, "ls /proc | grep -c '^[0-9]'").await;
    let visible: usize = listing.trim().parse().unwrap();
    assert!(visible < 20, "Alice sees {visible} processes");

    // SysV IPC of its own: a segment Alice makes is seen neither here nor by Bob.
    let (made, code) = bash(&alice, "ipcmk -M 4096").await;
    assert_eq!(code, 0, "{made}");
    let id: String = made.chars().filter(char::is_ascii_digit).collect();
    let host = std::process::Command::new("ipcs")
        .args(["-m", "-i", &id])
        .output()
        .unwrap();
    assert!(
        !host.status.success() || !String::from_utf8_lossy(&host.stdout).contains("4096"),
        "the host sees Alice's segment {id}"
    );
    let (seen_by_bob, _) = bash(&bob, "ipcs -m").await;
    assert!(!seen_by_bob.contains(&id) || id.is_empty(), "{seen_by_bob}");

    // And it still works: processes, files, Python, its private tmp.
    let (output, code) = bash(
        &alice,
        "echo fine > f && cat f && python3 -c 'print(6*7)' && mktemp -p \"$TMPDIR\" >/dev/null",
    )
    .await;
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("fine") && output.contains("42"), "{output}");
    for path in &paths {
        let _ = std::fs::remove_file(path);
    }
}

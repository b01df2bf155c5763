//! HAProxy (Debian's) in front of several hypervisors, as a TCP load balancer on loopback: one
//! frontend for SSH and one for the web server, each sending a new connection to the first
//! hypervisor that is up (`balance first`, health-checked every 300 ms), so the test knows
//! which one serves a client until that one dies. Stopped by its pid when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Haproxy {
    _dir: tempfile::TempDir,
    child: Child,
    pub ssh: SocketAddr,
    pub web: SocketAddr,
}

/// A loopback port free now (HAProxy is told it: it cannot report a port 0 it was given).
pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn backend(name: &str, servers: &[SocketAddr]) -> String {
    let mut text = format!("backend {name}\n  balance first\n");
    for (n, server) in servers.iter().enumerate() {
        text.push_str(&format!(
            "  server {name}{n} {server} check inter 300ms fall 1 rise 1\n"
        ));
    }
    text
}

impl Haproxy {
    /// Balances `web` (bound beforehand, so the hypervisors could be told the origin) and a new
    /// SSH port over the given servers; `None` (saying why) without haproxy.
    pub fn start(
        test: &str,
        web: SocketAddr,
        ssh_servers: &[SocketAddr],
        web_servers: &[SocketAddr],
    ) -> Option<Self> {
        if Command::new("haproxy").arg("-v").output().is_err() {
            eprintln!("{test}: skipped, no haproxy (scripts/e2e-swarm.sh installs it)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let ssh = free_port();
        let config = format!(
            "global\n  maxconn 512\n\
             defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 1h\n  \
             timeout server 1h\n  retries 3\n  option redispatch\n\
             frontend ssh\n  bind {ssh}\n  default_backend ssh\n\
             frontend web\n  bind {web}\n  default_backend web\n\
             {}{}",
            backend("ssh", ssh_servers),
            backend("web", web_servers)
        );
        let file = dir.path().join("haproxy.cfg");
        std::fs::write(&file, config).unwrap();
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let proxy = Self {
            _dir: dir,
            child,
            ssh,
            web,
        };
        let deadline = Instant::now() + super::WAIT;
        while TcpStream::connect(ssh).is_err() || TcpStream::connect(web).is_err() {
            assert!(Instant::now() < deadline, "HAProxy did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(proxy)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

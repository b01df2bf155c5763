//! Hosts of the test's own for network tests: a network namespace made here, linked to this
//! host by a veth pair, with an HTTP server in it. Its addresses stand for the internet (a
//! TEST-NET-3 address on the link), a private service (10.x) and a link-local one (169.254.x),
//! the last two routed from the host through the veth, so that a packet for any of them can
//! only ever reach this namespace. Everything is removed when it is dropped.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestNet {
    name: String,
    host_link: String,
    routes: Vec<String>,
    server: Option<Child>,
    /// The host's end of the link: an address of this host.
    pub host: Ipv4Addr,
    /// The namespace's end of the link: stands for a host on the internet.
    pub public: Ipv4Addr,
    pub private: Ipv4Addr,
    pub link_local: Ipv4Addr,
    pub port: u16,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestNet {
    /// Makes the namespace and starts its server; `None` where that cannot be done (not
    /// root, no `ip`).
    pub fn new() -> Option<Self> {
        if !super::root() || Command::new("ip").arg("-V").output().is_err() {
            eprintln!("no namespace of the test's own can be made here (needs root and ip)");
            return None;
        }
        let id = rand::random::<u32>();
        let slot = (id % 60) as u8 + 1;
        let name = format!("choirt{:x}", id);
        let host_link = format!("cht{:x}", id % 0xffffff);
        let peer = format!("chp{:x}", id % 0xffffff);
        let host = Ipv4Addr::new(203, 0, 113, slot * 4 + 1);
        let public = Ipv4Addr::new(203, 0, 113, slot * 4 + 2);
        let private = Ipv4Addr::new(10, 213, slot, 2);
        let link_local = Ipv4Addr::new(169, 254, 77, slot);
        ip(&["netns", "add", &name]);
        let mut net = Self {
            name: name.clone(),
            host_link: host_link.clone(),
            routes: Vec::new(),
            server: None,
            host,
            public,
            private,
            link_local,
            port: 20_000 + (id % 20_000) as u16,
        };
        ip(&[
            "link", "add", &host_link, "type", "veth", "peer", "name", &peer,
        ]);
        ip(&["link", "set", &peer, "netns", &name]);
        ip(&["addr", "add", &format!("{host}/30"), "dev", &host_link]);
        ip(&["link", "set", &host_link, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["-n", name.as_str()];
            all.extend_from_slice(args);
            ip(&all);
        };
        inside(&["link", "set", "lo", "up"]);
        inside(&["addr", "add", &format!("{public}/30"), "dev", &peer]);
        inside(&["addr", "add", &format!("{private}/32"), "dev", "lo"]);
        inside(&["addr", "add", &format!("{link_local}/32"), "dev", "lo"]);
        inside(&["link", "set", &peer, "up"]);
        for target in [private, link_local] {
            let route = format!("{target}/32");
            ip(&["route", "add", &route, "via", &public.to_string()]);
            net.routes.push(route);
        }
        let server = Command::new("ip")
            .args(["netns", "exec", &name, "python3", "-m", "http.server"])
            .arg(net.port.to_string())
            .args(["--bind", "0.0.0.0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the namespace's server");
        net.server = Some(server);
        // Up when it answers on the link (traffic into the namespace only).
        let deadline = Instant::now() + super::WAIT;
        let addr = SocketAddr::from((public, net.port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the namespace's server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(net)
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        for route in &self.routes {
            let _ = Command::new("ip").args(["route", "del", route]).output();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A Python one-liner that tries each `host:port` and prints `host:port open` or
/// `host:port closed <why>`.
pub fn probe(targets: &[String]) -> String {
    let script = r"
import socket, sys
for t in sys.argv[1:]:
    h, p = t.rsplit(':', 1)
    try:
        s = socket.create_connection((h, int(p)), timeout=3)
        s.sendall(b'GET / HTTP/1.0\r\n\r\n')
        print(t, 'open', s.recv(12))
    except Exception as e:
        print(t, 'closed', type(e).__name__)
";
    format!("python3 -c \"{script}\" {}", targets.join(" "))
}

/// Which of `targets` the probe found open.
pub fn open(output: &str, target: &str) -> bool {
    output
        .lines()
        .any(|line| line.starts_with(&format!("{target} open")))
}

/// A server of this host on `addr`, answering anything; stands for a host service.
pub fn host_service(addr: &str) -> (TcpListener, String) {
    let listener = TcpListener::bind(addr).unwrap();
    let at = listener.local_addr().unwrap().to_string();
    let serving = listener.try_clone().unwrap();
    std::thread::spawn(move || {
        for mut stream in serving.incoming().flatten() {
            let mut buf = [0u8; 64];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.0 200 OK\r\n\r\nhost secret");
        }
    });
    (listener, at)
}

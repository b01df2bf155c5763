//! Connections that never log in, opened the way a flood would: they hold at most so many
//! places per address and in all, each for at most the login grace time; beyond that they
//! are closed at once, before a byte is sent; refusals are logged once a minute per address;
//! the web server caps each address too and gives a request's headers and body a deadline.
//! Real users get in throughout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{bash, Hypervisor};

/// A TCP connection from `source` (a loopback address) to `to`.
fn connect_from(source: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::new(IpAddr::V4(source), 0).into())
        .unwrap();
    socket.connect(&to.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// What the server sends first: its SSH banner, or nothing (`None`: closed at once).
fn banner(stream: &mut TcpStream) -> Option<String> {
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
    }
}

/// Whether the server closes `stream` within `within` (reading what it sends meanwhile).
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        stream
            .set_read_timeout(Some(
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(10)),
            ))
            .unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(err)
                if err.kind() == std::io::ErrorKind::WouldBlock
                    || err.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
    false
}

const LOCAL: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_connections_that_never_log_in_hold_little_and_not_for_long() {
    let hv = Hypervisor::start(
        &["alice"],
        &[
            "--limit-unauthenticated-per-address",
            "5",
            "--limit-unauthenticated",
            "8",
            "--login-grace",
            "2s",
        ],
    );
    // A logged-in user does not count against the limits, and stays in.
    let alice = hv.connect("alice").await;
    let started = Instant::now();
    let mut idle: Vec<TcpStream> = (0..5).map(|_| connect_from(LOCAL, hv.addr)).collect();
    for stream in &mut idle {
        let said = banner(stream).expect("an idle connection within the limit gets a banner");
        assert!(said.starts_with("SSH-2.0-"), "{said}");
    }
    // The sixth from the same address: closed before a byte is sent.
    let mut refused = connect_from(LOCAL, hv.addr);
    assert_eq!(banner(&mut refused), None);
    // Another address still gets in.
    let other = Ipv4Addr::new(127, 0, 0, 2);
    let mut elsewhere = connect_from(other, hv.addr);
    assert!(banner(&mut elsewhere).is_some());
    // The idle ones are closed when the grace time is over.
    for stream in &mut idle {
        assert!(
            closed_within(stream, Duration::from_secs(10)),
            "an idle connection outlived the grace time"
        );
    }
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "closed before the grace time"
    );
    // Meanwhile the logged-in user kept working, and a new login works.
    let (output, code) = bash(&alice, "echo still here").await;
    assert_eq!((output.as_str(), code), ("still here\n", 0));
    let again = hv.connect("alice").await;
    assert_eq!(bash(&again, "echo in").await.1, 0);
    drop(elsewhere);

    // In all: 8 from several addresses, then the ninth is refused wherever it comes from.
    std::thread::sleep(Duration::from_millis(200));
    let mut held = Vec::new();
    for last in 2..=5u8 {
        for _ in 0..2 {
            let mut stream = connect_from(Ipv4Addr::new(127, 0, 0, last), hv.addr);
            assert!(banner(&mut stream).is_some());
            held.push(stream);
        }
    }
    let mut ninth = connect_from(Ipv4Addr::new(127, 0, 0, 9), hv.addr);
    assert_eq!(banner(&mut ninth), None, "the ninth was let in");
    // Ten more refusals from one address: one line in the log.
    for _ in 0..10 {
        let mut stream = connect_from(LOCAL, hv.addr);
        let _ = banner(&mut stream);
    }
    let output = hv.output();
    let lines = output
        .lines()
        .filter(|line| line.contains("connections refused") && line.contains("127.0.0.1"))
        .count();
    assert!(
        lines <= 1,
        "refusals of one address logged {lines} times:\n{output}"
    );
    assert!(
        output.contains("connections refused"),
        "no refusal was logged:\n{output}"
    );
}

/// Sends `request` and reads what comes back until the server closes or `within` passes.
fn exchange(addr: SocketAddr, request: &[u8], within: Duration) -> (String, bool) {
    let mut stream = connect_from(LOCAL, addr);
    stream.write_all(request).unwrap();
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (String::from_utf8_lossy(&got).into_owned(), false);
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(err)
                if err.kind() == std::io::ErrorKind::WouldBlock
                    || err.kind() == std::io::ErrorKind::TimedOut =>
            {
                return (String::from_utf8_lossy(&got).into_owned(), false)
            }
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), true),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_server_caps_each_address_and_gives_headers_and_bodies_a_deadline() {
    let hv = Hypervisor::start(
        &["alice"],
        &[
            "--http-listen",
            "127.0.0.1:0",
            "--limit-web-connections",
            "3",
            "--web-read-timeout",
            "1s",
        ],
    );
    let (_, addr) = hv.web();
    // Three idle connections from one address; the fourth is closed at once.
    let mut idle: Vec<TcpStream> = (0..3).map(|_| connect_from(LOCAL, addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut fourth = connect_from(LOCAL, addr);
    assert!(
        closed_within(&mut fourth, Duration::from_millis(800)),
        "the fourth was kept"
    );
    // The idle ones never sent their headers: closed after the deadline.
    for stream in &mut idle {
        assert!(
            closed_within(stream, Duration::from_secs(5)),
            "an idle connection was kept"
        );
    }
    // Headers sent a little at a time and never finished.
    let (_, closed) = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\n",
        Duration::from_secs(5),
    );
    assert!(closed, "half a request's headers held the connection");
    // A body that never arrives whole.
    let (answer, closed) = exchange(
        addr,
        b"POST /auth/signin/start HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"us",
        Duration::from_secs(5),
    );
    assert!(
        closed || answer.starts_with("HTTP/1.1 4"),
        "a slow body held the connection: {answer}"
    );
    assert!(!answer.starts_with("HTTP/1.1 2"), "{answer}");
    // Ordinary requests are served all along.
    let (answer, _) = exchange(
        addr,
        b"GET /signin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

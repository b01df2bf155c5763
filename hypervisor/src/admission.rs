//! Limits on connections from the internet, before anyone is known: how many one address
//! (an IPv6 /64 counts as one) and everyone together may hold open, and how long a
//! connection has to authenticate. The SSH server counts connections until they log in; the
//! web server, every connection (it knows who sends a request only per request).
//!
//! Refusals are logged at most once a minute per address, so a flood cannot fill the log.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Connections one address may hold before it authenticates (SSH), unless configured.
pub const DEFAULT_PER_ADDRESS: usize = 10;
/// Unauthenticated connections in all (SSH), unless configured.
pub const DEFAULT_TOTAL: usize = 1000;
/// Time from accept to a successful login (SSH), unless configured.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);
/// Connections one address may hold open to the web server, unless configured.
pub const DEFAULT_WEB_PER_ADDRESS: usize = 64;
/// How often one address's refusals are logged at most.
const LOG_EVERY: Duration = Duration::from_secs(60);
/// When idle TCP connections are probed, how often, and how many probes go unanswered
/// before the connection is dropped.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 3;

/// How many connections are let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub per_address: usize,
    pub total: usize,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its address holds as many as it may.
    Address,
    /// Everyone together holds as many as allowed.
    Total,
}

/// The connections counted by one server; cheap to clone.
#[derive(Clone)]
pub struct Admission {
    inner: Arc<Mutex<Counts>>,
    caps: Caps,
    /// What the log calls these connections ("ssh", "web").
    kind: &'static str,
}

#[derive(Default)]
struct Counts {
    open: HashMap<IpAddr, usize>,
    total: usize,
    last_logged: HashMap<IpAddr, Instant>,
}

/// One connection's place; given back when dropped (or when it authenticates).
pub struct Ticket {
    admission: Admission,
    address: IpAddr,
}

impl Admission {
    pub fn new(kind: &'static str, caps: Caps) -> Self {
        Self {
            inner: Arc::default(),
            caps,
            kind,
        }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A place for a connection from `peer`, unless its address or everyone holds too many
    /// (the refusal is logged, at most once a minute per address).
    pub fn admit(&self, peer: IpAddr) -> Result<Ticket, Refusal> {
        let address = bucket(peer);
        let mut counts = self.counts();
        let refusal = if counts.total >= self.caps.total {
            Some(Refusal::Total)
        } else if counts.open.get(&address).copied().unwrap_or(0) >= self.caps.per_address {
            Some(Refusal::Address)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            let now = Instant::now();
            let due = counts
                .last_logged
                .get(&address)
                .is_none_or(|last| now.duration_since(*last) >= LOG_EVERY);
            if due {
                counts
                    .last_logged
                    .retain(|_, last| now.duration_since(*last) < LOG_EVERY);
                counts.last_logged.insert(address, now);
                match refusal {
                    Refusal::Address => tracing::warn!(
                        kind = self.kind,
                        %address,
                        limit = self.caps.per_address,
                        "connections refused: this address holds as many as it may (logged once a minute)"
                    ),
                    Refusal::Total => tracing::warn!(
                        kind = self.kind,
                        %address,
                        limit = self.caps.total,
                        "connections refused: the server holds as many unauthenticated ones as it may (logged once a minute per address)"
                    ),
                }
            }
            return Err(refusal);
        }
        *counts.open.entry(address).or_default() += 1;
        counts.total += 1;
        Ok(Ticket {
            admission: self.clone(),
            address,
        })
    }

    /// Connections counted now: from `peer`'s address, and in all.
    pub fn open(&self, peer: IpAddr) -> (usize, usize) {
        let counts = self.counts();
        (
            counts.open.get(&bucket(peer)).copied().unwrap_or(0),
            counts.total,
        )
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.admission.counts();
        if let Some(open) = counts.open.get_mut(&self.address) {
            *open -= 1;
            if *open == 0 {
                counts.open.remove(&self.address);
            }
        }
        counts.total = counts.total.saturating_sub(1);
    }
}

/// The address a connection counts against: itself, or its /64 for IPv6 (one host
/// usually holds a whole /64). An IPv4 address mapped into IPv6 is the IPv4 one.
fn bucket(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// Turns on TCP keepalive, so a peer that vanished without a word is noticed.
pub fn keep_alive(stream: &tokio::net::TcpStream) {
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_RETRIES);
    if let Err(err) = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(%err, "cannot turn on TCP keepalive");
    }
}

/// Whether a connection has logged in, shared between the stream and the login handler.
#[derive(Clone, Default)]
pub struct LoggedIn(Arc<AtomicBool>);

impl LoggedIn {
    pub fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// A stream that fails once `grace` has passed without its connection logging in: a peer
/// that connects and then says nothing, or takes its time, holds nothing for long.
pub struct GraceStream<S> {
    inner: S,
    deadline: Pin<Box<tokio::time::Sleep>>,
    logged_in: LoggedIn,
}

impl<S> GraceStream<S> {
    pub fn new(inner: S, grace: Duration, logged_in: LoggedIn) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(grace)),
            logged_in,
        }
    }

    /// An error once the grace time is over and nobody logged in.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<std::io::Error> {
        if self.logged_in.get() {
            return None;
        }
        self.deadline.as_mut().poll(cx).is_ready().then(|| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no login within the grace time",
            )
        })
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for GraceStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(err) = self.expired(cx) {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for GraceStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if let Some(err) = self.expired(cx) {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn an_address_and_everyone_hold_at_most_their_caps_until_places_are_given_back() {
        let admission = Admission::new(
            "test",
            Caps {
                per_address: 2,
                total: 3,
            },
        );
        let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let b = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        let first = admission.admit(a).unwrap();
        let _second = admission.admit(a).unwrap();
        assert_eq!(admission.admit(a).err(), Some(Refusal::Address));
        let _third = admission.admit(b).unwrap();
        assert_eq!(admission.admit(b).err(), Some(Refusal::Total));
        assert_eq!(admission.open(a), (2, 3));
        drop(first);
        assert_eq!(admission.open(a), (1, 2));
        assert!(admission.admit(a).is_ok());
    }

    #[test]
    fn an_ipv6_host_counts_as_its_slash_64_and_a_mapped_ipv4_as_itself() {
        let admission = Admission::new(
            "test",
            Caps {
                per_address: 1,
                total: 10,
            },
        );
        let one: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let other_in_same_64: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let next_64: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        let _held = admission.admit(IpAddr::V6(one)).unwrap();
        assert!(admission.admit(IpAddr::V6(other_in_same_64)).is_err());
        assert!(admission.admit(IpAddr::V6(next_64)).is_ok());
        let v4 = Ipv4Addr::new(198, 51, 100, 7);
        let _v4 = admission.admit(IpAddr::V4(v4)).unwrap();
        assert!(admission.admit(IpAddr::V6(v4.to_ipv6_mapped())).is_err());
    }

    #[tokio::test]
    async fn a_stream_fails_after_the_grace_time_unless_logged_in() {
        let (client, server) = tokio::io::duplex(64);
        let logged_in = LoggedIn::default();
        let mut stream = GraceStream::new(server, Duration::from_millis(50), logged_in.clone());
        let mut buf = [0u8; 8];
        let read = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(&mut stream, &mut buf),
        )
        .await
        .expect("the read ends");
        assert_eq!(read.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
        drop(client);

        let (mut client, server) = tokio::io::duplex(64);
        let logged_in = LoggedIn::default();
        let mut stream = GraceStream::new(server, Duration::from_millis(50), logged_in.clone());
        logged_in.set();
        tokio::time::sleep(Duration::from_millis(100)).await;
        tokio::io::AsyncWriteExt::write_all(&mut client, b"hi")
            .await
            .unwrap();
        let n = tokio::io::AsyncReadExt::read(&mut stream, &mut buf)
            .await
            .unwrap();
        assert_eq!(&buf[..n], b"hi");
    }
}

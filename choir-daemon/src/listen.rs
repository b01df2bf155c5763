//! Where the daemon listens: a TCP address for local use, or a Unix socket (`unix:PATH`) that
//! only its own user (and root) can reach, which is how the hypervisor talks to a sandbox.

use std::fmt;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;

const UNIX_PREFIX: &str = "unix:";

/// A listening address: `127.0.0.1:8080` or `unix:/path/to/daemon.sock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl FromStr for Listen {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(path) = text.strip_prefix(UNIX_PREFIX) {
            if path.is_empty() {
                return Err("unix: needs a socket path, e.g. unix:/run/choir/daemon.sock".into());
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        text.parse().map(Self::Tcp).map_err(|_| {
            format!("`{text}` is neither an address like 127.0.0.1:8080 nor unix:PATH")
        })
    }
}

impl From<SocketAddr> for Listen {
    fn from(addr: SocketAddr) -> Self {
        Self::Tcp(addr)
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(addr) => write!(f, "{addr}"),
            Self::Unix(path) => write!(f, "{UNIX_PREFIX}{}", path.display()),
        }
    }
}

impl Listen {
    /// The base URL clients use: `http://ADDR`, or `unix:PATH`.
    pub fn url(&self) -> String {
        match self {
            Self::Tcp(addr) => format!("http://{addr}"),
            Self::Unix(_) => self.to_string(),
        }
    }
}

/// A bound listener and the address it is bound to (the real port, the absolute path).
pub(crate) enum Bound {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// Binds `listen`. A Unix socket left behind by a daemon that died is replaced; a live one, or
/// anything that is not a socket, is refused. The socket is made 0600.
pub(crate) async fn bind(listen: &Listen) -> std::io::Result<(Bound, Listen)> {
    match listen {
        Listen::Tcp(addr) => {
            let listener = TcpListener::bind(addr).await?;
            let local = listener.local_addr()?;
            Ok((Bound::Tcp(listener), Listen::Tcp(local)))
        }
        Listen::Unix(path) => {
            let path = std::path::absolute(path)?;
            clear_stale_socket(&path)?;
            let listener = UnixListener::bind(&path)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            Ok((Bound::Unix(listener), Listen::Unix(path)))
        }
    }
}

fn clear_stale_socket(path: &Path) -> std::io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    if !meta.file_type().is_socket() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        ));
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("another process is listening on {}", path.display()),
        ));
    }
    std::fs::remove_file(path)
}

/// Removes the socket file of a stopped daemon (nothing for TCP).
pub(crate) fn remove_socket(listen: &Listen) {
    if let Listen::Unix(path) = listen {
        let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
        if is_socket {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Serves `app` on `bound` until `stop` is cancelled.
pub(crate) async fn serve(
    bound: Bound,
    app: Router,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let stopped = async move { stop.cancelled().await };
    match bound {
        Bound::Tcp(listener) => {
            // Acks and events are small frames written one after another: without
            // TCP_NODELAY, Nagle holds each behind the client's delayed ACK (40 ms).
            let listener = listener.tap_io(|stream| {
                if let Err(err) = stream.set_nodelay(true) {
                    tracing::debug!(%err, "cannot set TCP_NODELAY");
                }
            });
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
        }
        Bound::Unix(listener) => {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcp_and_unix_and_says_what_is_wrong() {
        assert_eq!(
            "127.0.0.1:0".parse::<Listen>(),
            Ok(Listen::Tcp("127.0.0.1:0".parse().unwrap()))
        );
        assert_eq!(
            "unix:/run/d.sock".parse::<Listen>(),
            Ok(Listen::Unix("/run/d.sock".into()))
        );
        assert!("unix:".parse::<Listen>().is_err());
        let err = "localhost".parse::<Listen>().unwrap_err();
        assert!(err.contains("unix:PATH"), "{err}");
        assert_eq!(Listen::Unix("/a/b".into()).to_string(), "unix:/a/b");
        assert_eq!(Listen::Unix("/a/b".into()).url(), "unix:/a/b");
    }

    #[tokio::test]
    async fn a_stale_socket_is_replaced_but_a_live_one_or_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let listen = Listen::Unix(path.clone());
        let (live, _) = bind(&listen).await.unwrap();
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
        let err = bind(&listen).await.err().map(|err| err.kind());
        assert_eq!(err, Some(std::io::ErrorKind::AddrInUse));
        drop(live);
        // The listener is gone but its file stays: the next daemon takes the path over.
        assert!(bind(&listen).await.is_ok());

        let file = dir.path().join("not-a-socket");
        std::fs::write(&file, "keep me").unwrap();
        assert!(bind(&Listen::Unix(file.clone())).await.is_err());
        assert_eq!(
            std::fs::read_to_string(&file).ok().as_deref(),
            Some("keep me")
        );
    }
}

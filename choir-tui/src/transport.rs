//! The byte stream to a daemon, over TCP or a Unix socket, and the WebSocket on top of it.
//!
//! A Unix socket is trusted only if the process serving it belongs to the user who controls
//! where the socket lives: the owner of its directory (or, in a sticky directory such as
//! `/tmp`, of the socket entry itself). A socket replaced by a symbolic link to somebody
//! else's daemon is refused before the token is sent.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use choir_proto::Endpoint;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio_tungstenite::WebSocketStream;

/// Anything a daemon connection can be.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A connection to a daemon.
pub type DaemonStream = Box<dyn Io>;

/// Connects to the daemon at `endpoint`.
pub async fn open(endpoint: &Endpoint) -> std::io::Result<DaemonStream> {
    if let Some(path) = endpoint.unix_socket() {
        let path = Path::new(path);
        let stream = UnixStream::connect(path).await?;
        check_peer(&stream, path)?;
        return Ok(Box::new(stream));
    }
    let Some(host) = endpoint.url.strip_prefix("http://") else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!(
                "{}: only http:// and unix: daemons are supported",
                endpoint.url
            ),
        ));
    };
    let host = host.split('/').next().unwrap_or(host);
    let stream = TcpStream::connect(host).await?;
    stream.set_nodelay(true)?;
    Ok(Box::new(stream))
}

/// Opens the protocol WebSocket (without sending `hello`), within `timeout`.
pub async fn websocket(
    endpoint: &Endpoint,
    timeout: Duration,
) -> Result<WebSocketStream<DaemonStream>, String> {
    let connect = async {
        let stream = open(endpoint).await.map_err(|err| err.to_string())?;
        let (ws, _) = tokio_tungstenite::client_async(endpoint.ws_url(), stream)
            .await
            .map_err(|err| err.to_string())?;
        Ok(ws)
    };
    tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| "connection timed out".to_owned())?
}

/// The user who may serve a socket at `path`.
fn expected_owner(path: &Path) -> std::io::Result<u32> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let dir_meta = std::fs::metadata(dir)?;
    const STICKY: u32 = 0o1000;
    if dir_meta.mode() & STICKY != 0 {
        Ok(std::fs::symlink_metadata(path)?.uid())
    } else {
        Ok(dir_meta.uid())
    }
}

fn check_peer(stream: &UnixStream, path: &Path) -> std::io::Result<()> {
    let expected = expected_owner(path)?;
    let peer = stream.peer_cred()?.uid();
    if peer == expected {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} is served by uid {peer}, not by its owner (uid {expected}): not sending the token there",
                path.display()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: String) -> Endpoint {
        Endpoint {
            url,
            token: "t".into(),
            pid: 0,
        }
    }

    #[tokio::test]
    async fn a_unix_socket_served_by_its_owner_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let _listener = tokio::net::UnixListener::bind(&path).unwrap();
        let url = format!("unix:{}", path.display());
        assert!(open(&endpoint(url)).await.is_ok());
    }

    #[tokio::test]
    async fn a_socket_link_in_a_directory_of_another_user_is_refused() {
        // Only root can serve a socket as another user; elsewhere the check is shown by the
        // hypervisor's isolation tests.
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root to own a directory as another user");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let _listener = tokio::net::UnixListener::bind(&path).unwrap();
        let theirs = dir.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let link = theirs.join("d.sock");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let err = open(&endpoint(format!("unix:{}", link.display())))
            .await
            .err()
            .map(|err| err.to_string())
            .unwrap_or_default();
        assert!(err.contains("not sending the token"), "{err}");
    }

    #[tokio::test]
    async fn https_is_refused_with_a_reason() {
        let err = open(&endpoint("https://example.invalid".into()))
            .await
            .err()
            .map(|err| err.to_string())
            .unwrap_or_default();
        assert!(err.contains("only http:// and unix:"), "{err}");
    }
}

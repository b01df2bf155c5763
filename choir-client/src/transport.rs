//! The byte stream to a daemon, over TCP or a Unix socket, and the WebSocket on top of it.
//!
//! A Unix socket is trusted only if the process serving it runs as the owner of the directory
//! the socket is in: a socket replaced by a symbolic link to somebody else's daemon is refused
//! before the token is sent. (So a daemon's socket belongs in its own user's directory, such
//! as its data dir, not in a shared one like `/tmp`.)

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use choir_proto::Endpoint;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
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

/// Limits on what a daemon may send in one message: generous for a welcome with a large
/// world, bounded for a client (the hypervisor's SSH desktops among them) facing a daemon
/// that misbehaves.
fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
        // Read in small steps: a hypervisor holds one of these per browser tab.
        .read_buffer_size(16 << 10)
}

/// Largest message accepted from a daemon.
const MAX_MESSAGE: usize = 32 << 20;

/// Opens the protocol WebSocket (without sending `hello`), within `timeout`. The token goes
/// on the upgrade request too, so a `hello` without one (a browser's, carried by the
/// hypervisor) is accepted.
pub async fn websocket(
    endpoint: &Endpoint,
    timeout: Duration,
) -> Result<WebSocketStream<DaemonStream>, String> {
    connect_websocket(endpoint, "/ws", websocket_config(), timeout).await
}

/// Opens a terminal stream (`GET /term`): a desktop the daemon draws for a terminal of
/// `size` and `term`, bytes both ways (see the daemon's `api/term.rs`).
pub async fn terminal(
    endpoint: &Endpoint,
    size: (u16, u16),
    term: &str,
    timeout: Duration,
) -> Result<WebSocketStream<DaemonStream>, String> {
    // TERM names are short words; anything else is not worth escaping.
    let term = if !term.is_empty()
        && term.len() <= 64
        && term
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.+".contains(&byte))
    {
        term
    } else {
        "xterm"
    };
    let path = format!("/term?cols={}&rows={}&term={term}", size.0, size.1);
    // Screen bytes come in pieces of at most this; anything larger is refused.
    let max = choir_proto::term_stream::MAX_SCREEN_MESSAGE;
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        .read_buffer_size(16 << 10);
    connect_websocket(endpoint, &path, config, timeout).await
}

async fn connect_websocket(
    endpoint: &Endpoint,
    path: &str,
    config: WebSocketConfig,
    timeout: Duration,
) -> Result<WebSocketStream<DaemonStream>, String> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let connect = async {
        let mut request = endpoint
            .ws_url_at(path)
            .into_client_request()
            .map_err(|err| err.to_string())?;
        let bearer = format!("Bearer {}", endpoint.token)
            .parse()
            .map_err(|_| "the token is not a valid header value".to_owned())?;
        request.headers_mut().insert("authorization", bearer);
        if let Some(viewer) = &endpoint.viewer {
            let viewer = viewer
                .parse()
                .map_err(|_| "the viewer is not a valid header value".to_owned())?;
            request.headers_mut().insert("x-choir-viewer", viewer);
        }
        let stream = open(endpoint).await.map_err(|err| err.to_string())?;
        let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .map_err(|err| err.to_string())?;
        Ok(ws)
    };
    tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| "connection timed out".to_owned())?
}

fn check_peer(stream: &UnixStream, path: &Path) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let expected = std::fs::metadata(dir)?.uid();
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
            viewer: None,
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

//! How local clients find a running daemon: the file it writes into its data dir.

use serde::{Deserialize, Serialize};

/// Name of the endpoint file inside a data dir.
pub const ENDPOINT_FILE: &str = "daemon.json";

/// The scheme of a daemon listening on a Unix socket: `unix:/path/to/daemon.sock`.
const UNIX_SCHEME: &str = "unix:";

/// Where a running daemon can be reached, as written to `<data-dir>/daemon.json` (0600).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Base URL, e.g. `http://127.0.0.1:8080`, or `unix:/path/daemon.sock` for a daemon on a
    /// Unix socket.
    pub url: String,
    /// The sandbox token.
    pub token: String,
    /// The daemon's process id.
    pub pid: u32,
    /// Who the hypervisor says is signed in, for a share bound to one user (sent as
    /// `X-Choir-Viewer`); never written to the endpoint file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer: Option<String>,
}

impl Endpoint {
    /// The socket path when the daemon listens on a Unix socket.
    pub fn unix_socket(&self) -> Option<&str> {
        self.url.strip_prefix(UNIX_SCHEME)
    }

    /// The base URL for HTTP requests: over a Unix socket the host name is a placeholder.
    pub fn http_base(&self) -> String {
        if self.unix_socket().is_some() {
            "http://localhost".to_owned()
        } else {
            self.url.trim_end_matches('/').to_owned()
        }
    }

    /// The WebSocket URL of the protocol endpoint.
    pub fn ws_url(&self) -> String {
        self.ws_url_at("/ws")
    }

    /// The WebSocket URL of `path` (with its query, if any) on this daemon.
    pub fn ws_url_at(&self, path: &str) -> String {
        let base = self.http_base();
        let ws = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base
        };
        format!("{ws}{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> Endpoint {
        Endpoint {
            url: url.into(),
            token: "t".into(),
            pid: 1,
            viewer: None,
        }
    }

    #[test]
    fn tcp_urls_map_to_http_and_ws() {
        let tcp = endpoint("http://127.0.0.1:8080/");
        assert_eq!(tcp.unix_socket(), None);
        assert_eq!(tcp.http_base(), "http://127.0.0.1:8080");
        assert_eq!(tcp.ws_url(), "ws://127.0.0.1:8080/ws");
        assert_eq!(endpoint("https://h").ws_url(), "wss://h/ws");
    }

    #[test]
    fn unix_sockets_keep_their_path_and_use_a_placeholder_host() {
        let unix = endpoint("unix:/srv/choir/alice/daemon.sock");
        assert_eq!(unix.unix_socket(), Some("/srv/choir/alice/daemon.sock"));
        assert_eq!(unix.http_base(), "http://localhost");
        assert_eq!(unix.ws_url(), "ws://localhost/ws");
        assert_eq!(
            unix.ws_url_at("/term?cols=80"),
            "ws://localhost/term?cols=80"
        );
    }
}

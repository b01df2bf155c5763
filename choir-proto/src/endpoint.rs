//! How local clients find a running daemon: the file it writes into its data dir.

use serde::{Deserialize, Serialize};

/// Name of the endpoint file inside a data dir.
pub const ENDPOINT_FILE: &str = "daemon.json";

/// Where a running daemon can be reached, as written to `<data-dir>/daemon.json` (0600).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// The sandbox token.
    pub token: String,
    /// The daemon's process id.
    pub pid: u32,
}

impl Endpoint {
    /// The WebSocket URL of the protocol endpoint.
    pub fn ws_url(&self) -> String {
        let base = self.url.trim_end_matches('/');
        let ws = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_owned()
        };
        format!("{ws}/ws")
    }
}

//! Finding a daemon: an explicit URL and token, or the endpoint file in the data dir.

use std::path::{Path, PathBuf};
use std::time::Duration;

use choir_proto::{Endpoint, ENDPOINT_FILE};
use thiserror::Error;

/// Timeout for one HTTP request to the daemon.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why no daemon could be reached.
#[derive(Debug, Error)]
pub enum ConnectError {
    #[error("no daemon is running for data dir {0} (no daemon.json there); start one with `choir-daemon --data-dir {0}`")]
    NotRunning(PathBuf),
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a daemon endpoint file: {source}")]
    Invalid {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no platform data dir is known here: pass --data-dir or set CHOIR_DATA_DIR")]
    NoDataDir,
    #[error("the daemon at {url} does not answer ({source}); if it was killed, start it again")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("the daemon at {url} refused the token (is this the right data dir?)")]
    Unauthorized { url: String },
    #[error("the daemon at {url} answered {status}: {body}")]
    Failed {
        url: String,
        status: u16,
        body: String,
    },
}

/// The data dir clients use when none is given: `$CHOIR_DATA_DIR` is handled by the CLI
/// parser; this is the platform default, e.g. `~/.local/share/choir`.
pub fn default_data_dir() -> Result<PathBuf, ConnectError> {
    dirs::data_dir()
        .map(|dir| dir.join("choir"))
        .ok_or(ConnectError::NoDataDir)
}

/// Reads the endpoint file a running daemon wrote into `data_dir`.
pub fn find_endpoint(data_dir: &Path) -> Result<Endpoint, ConnectError> {
    let path = data_dir.join(ENDPOINT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConnectError::NotRunning(data_dir.to_owned()))
        }
        Err(source) => return Err(ConnectError::Unreadable { path, source }),
    };
    serde_json::from_str(&text).map_err(|source| ConnectError::Invalid { path, source })
}

/// A small HTTP client bound to one daemon.
pub struct DaemonHttp {
    endpoint: Endpoint,
    http: reqwest::Client,
}

impl DaemonHttp {
    pub fn new(endpoint: Endpoint) -> Result<Self, ConnectError> {
        Self::with_timeout(endpoint, HTTP_TIMEOUT)
    }

    /// A client whose requests may take up to `timeout` (tool calls run for minutes).
    pub fn with_timeout(endpoint: Endpoint, timeout: Duration) -> Result<Self, ConnectError> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(3));
        if let Some(path) = endpoint.unix_socket() {
            builder = builder.unix_socket(path);
        }
        let http = builder
            .build()
            .map_err(|source| ConnectError::Unreachable {
                url: endpoint.url.clone(),
                source,
            })?;
        Ok(Self { endpoint, http })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `POST path` with a JSON body and the token; the status and the JSON body, whatever the
    /// status (error bodies are `{"code", "message"}`).
    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<(u16, serde_json::Value), ConnectError> {
        let request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        let (status, text) = self.send(request).await?;
        let body = serde_json::from_str(&text).map_err(|err| ConnectError::Failed {
            url: self.url(path),
            status,
            body: format!("not JSON ({err}): {text}"),
        })?;
        Ok((status, body))
    }

    /// `GET path` with the token; the JSON body of a 2xx answer.
    pub async fn get(&self, path_and_query: &str) -> Result<serde_json::Value, ConnectError> {
        let url = self.url(path_and_query);
        let (status, body) = self.send(self.http.get(&url)).await?;
        if !(200..300).contains(&status) {
            return Err(ConnectError::Failed { url, status, body });
        }
        serde_json::from_str(&body).map_err(|err| ConnectError::Failed {
            url,
            status,
            body: format!("not JSON: {err}"),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint.http_base())
    }

    /// Sends with the token; a refused token is an error, any other status is the caller's.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(u16, String), ConnectError> {
        let unreachable = |source| ConnectError::Unreachable {
            url: self.endpoint.url.clone(),
            source,
        };
        let response = request
            .bearer_auth(&self.endpoint.token)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        if status == 401 {
            return Err(ConnectError::Unauthorized {
                url: self.endpoint.url.clone(),
            });
        }
        let text = response.text().await.map_err(unreachable)?;
        Ok((status, text))
    }
}

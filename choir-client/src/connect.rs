//! Finding a daemon: an explicit URL and token, or the endpoint file in the data dir.

use std::path::{Path, PathBuf};
use std::time::Duration;

use choir_proto::{Endpoint, ENDPOINT_FILE};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::{header, Method, Request};
use hyper_util::rt::TokioIo;
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
    #[error("the daemon at {url} does not answer ({reason}); if it was killed, start it again")]
    Unreachable { url: String, reason: String },
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

/// Largest answer read from a daemon (a page of 10,000 events fits many times over).
pub const MAX_BODY: usize = 64 << 20;
/// Most of an error answer kept for the message.
const MAX_ERROR_TEXT: usize = 500;

/// A small HTTP client bound to one daemon: one connection per request, over TCP or the
/// daemon's Unix socket (whose serving process is checked, see [`crate::transport`]), with a
/// timeout and a cap on the size of the answer.
pub struct DaemonHttp {
    endpoint: Endpoint,
    timeout: Duration,
    max_body: usize,
}

impl DaemonHttp {
    pub fn new(endpoint: Endpoint) -> Result<Self, ConnectError> {
        Self::with_timeout(endpoint, HTTP_TIMEOUT)
    }

    /// A client whose requests may take up to `timeout` (tool calls run for minutes).
    pub fn with_timeout(endpoint: Endpoint, timeout: Duration) -> Result<Self, ConnectError> {
        Ok(Self {
            endpoint,
            timeout,
            max_body: MAX_BODY,
        })
    }

    /// Answers longer than `max_body` bytes are an error (for callers that expect small ones).
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
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
        let (status, text) = self
            .send(Method::POST, path, Some(body.to_string()))
            .await?;
        self.json_answer(path, status, &text)
    }

    /// `DELETE path` with the token; the status and the JSON body, whatever the status.
    pub async fn delete(&self, path: &str) -> Result<(u16, serde_json::Value), ConnectError> {
        let (status, text) = self.send(Method::DELETE, path, None).await?;
        self.json_answer(path, status, &text)
    }

    /// The status and the JSON body of an answer, whatever the status.
    fn json_answer(
        &self,
        path: &str,
        status: u16,
        text: &str,
    ) -> Result<(u16, serde_json::Value), ConnectError> {
        let body = serde_json::from_str(text).map_err(|err| ConnectError::Failed {
            url: self.url(path),
            status,
            body: excerpt(&format!("not JSON ({err}): {text}")),
        })?;
        Ok((status, body))
    }

    /// `GET path` with the token; the JSON body of a 2xx answer.
    pub async fn get(&self, path_and_query: &str) -> Result<serde_json::Value, ConnectError> {
        let (status, body) = self.send(Method::GET, path_and_query, None).await?;
        let url = self.url(path_and_query);
        if !(200..300).contains(&status) {
            let body = excerpt(&body);
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
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(u16, String), ConnectError> {
        let content_type = body
            .is_some()
            .then(|| header::HeaderValue::from_static("application/json"));
        let (status, bytes) = self
            .exchange(
                method,
                path,
                content_type,
                Bytes::from(body.unwrap_or_default()),
            )
            .await?;
        if status == 401 {
            return Err(ConnectError::Unauthorized {
                url: self.endpoint.url.clone(),
            });
        }
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// One request with the token, within the timeout; the status and the body as they are
    /// (up to the size limit), whatever the status. What the hypervisor's web proxy carries.
    pub async fn exchange(
        &self,
        method: Method,
        path: &str,
        content_type: Option<header::HeaderValue>,
        body: Bytes,
    ) -> Result<(u16, Bytes), ConnectError> {
        let unreachable = |reason: String| ConnectError::Unreachable {
            url: self.endpoint.url.clone(),
            reason,
        };
        let exchange = async {
            let stream = crate::transport::open(&self.endpoint)
                .await
                .map_err(|err| unreachable(err.to_string()))?;
            let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|err| unreachable(err.to_string()))?;
            let connection = tokio::spawn(connection);
            let mut request = Request::builder()
                .method(method)
                .uri(path)
                .header(header::HOST, "localhost")
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", self.endpoint.token),
                );
            if let Some(content_type) = content_type {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            if let Some(viewer) = &self.endpoint.viewer {
                request = request.header("x-choir-viewer", viewer.as_str());
            }
            let request = request
                .body(Full::new(body))
                .map_err(|err| unreachable(err.to_string()))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|err| unreachable(err.to_string()))?;
            let status = response.status().as_u16();
            let bytes = Limited::new(response.into_body(), self.max_body)
                .collect()
                .await
                .map_err(|err| {
                    unreachable(format!(
                        "{err} (answers are limited to {} bytes)",
                        self.max_body
                    ))
                })?
                .to_bytes();
            connection.abort();
            Ok((status, bytes))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", self.timeout.as_secs())))?
    }
}

/// The start of a (possibly hostile) answer, safe to print: control characters escaped.
fn excerpt(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_ERROR_TEXT)
        .flat_map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if text.chars().count() > MAX_ERROR_TEXT {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_is_cut_and_defused() {
        assert_eq!(excerpt("plain"), "plain");
        assert_eq!(excerpt("a\x1b]52;c;x\x07b"), "a\\u{1b}]52;c;x\\u{7}b");
        let long = "x".repeat(2 * MAX_ERROR_TEXT);
        assert_eq!(excerpt(&long).chars().count(), MAX_ERROR_TEXT + 1);
    }

    #[tokio::test]
    async fn an_endless_answer_is_cut_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            use tokio::io::AsyncWriteExt;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                .await;
            let chunk = format!("{:x}\r\n{}\r\n", 4096, "a".repeat(4096));
            while socket.write_all(chunk.as_bytes()).await.is_ok() {}
        });
        let endpoint = Endpoint {
            url: format!("http://{addr}"),
            token: "t".into(),
            pid: 0,
            viewer: None,
        };
        let http = DaemonHttp::new(endpoint).unwrap().with_max_body(1 << 20);
        let err = http.get("/api/activity").await.unwrap_err().to_string();
        assert!(err.contains("limited to 1048576 bytes"), "{err}");
    }
}

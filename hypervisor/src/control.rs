//! The control socket: `choir-hypervisor sandbox list|stop|restart` talks to the running
//! server through `<state>/control.sock`, which only root (the hypervisor's user) can reach.
//! One JSON request per connection, one JSON reply.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::revocations::Revocations;
use crate::sandbox::{Isolation, SandboxInfo, Sandboxes};
use crate::units::{format_duration, format_size};
use crate::users::UserStore;

/// Longest request accepted.
const MAX_REQUEST: usize = 4096;
/// A restart waits for the sandbox to stop and start again.
const REPLY_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Every sandbox with its state → `Reply { isolation, sandboxes }`.
    List,
    /// Stop a user's sandbox (reset a failed one) → `Reply { message }`.
    Stop { user: String },
    /// Stop and start again (a failed one too) → `Reply { message }`.
    Restart { user: String },
    /// Remove a user: keys, open connections, running sandbox (their data stays on disk)
    /// → `Reply { message }`.
    RemoveUser { user: String },
    /// Remove one of a user's passkeys (by its id or a prefix of it), ending the web sessions
    /// signed in with it → `Reply { message }`.
    RemovePasskey { user: String, id: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<Isolation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sandboxes: Vec<SandboxInfo>,
}

impl Reply {
    fn message(ok: bool, message: String) -> Self {
        Self {
            ok,
            message: Some(message),
            isolation: None,
            sandboxes: Vec::new(),
        }
    }
}

#[derive(Debug, Error)]
pub enum ControlError {
    #[error("no hypervisor is serving {path} ({source}); is `choir-hypervisor serve` running with this --data-dir?")]
    NotRunning {
        path: String,
        source: std::io::Error,
    },
    #[error("the hypervisor did not answer within {}s", REPLY_TIMEOUT.as_secs())]
    Timeout,
    #[error("talking to the hypervisor: {0}")]
    Io(#[from] std::io::Error),
    #[error("the hypervisor's answer is not readable: {0}")]
    Garbled(#[from] serde_json::Error),
}

/// Serves the control socket at `path` until the task is dropped.
pub async fn serve(
    path: &Path,
    sandboxes: Sandboxes,
    users: UserStore,
    revocations: Revocations,
) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_socket()) {
        if UnixStream::connect(path).await.is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("another hypervisor serves {}", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Out of descriptors, say: the server goes on.
                tracing::warn!(%err, "cannot accept a control connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let server = Server {
            sandboxes: sandboxes.clone(),
            users: users.clone(),
            revocations: revocations.clone(),
        };
        tokio::spawn(async move {
            if let Err(err) = server.answer(stream).await {
                tracing::debug!(%err, "a control connection failed");
            }
        });
    }
}

/// What a control connection acts on.
struct Server {
    sandboxes: Sandboxes,
    users: UserStore,
    revocations: Revocations,
}

impl Server {
    async fn answer(&self, stream: UnixStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        let mut reader = BufReader::new(read).take(MAX_REQUEST as u64);
        tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no request"))??;
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(request) => self.act(request).await,
            Err(err) => Reply::message(false, format!("not a request: {err}")),
        };
        let mut text = serde_json::to_string(&reply).unwrap_or_default();
        text.push('\n');
        write.write_all(text.as_bytes()).await
    }

    async fn act(&self, request: Request) -> Reply {
        let registered: Vec<String> = match self.users.list().await {
            Ok(list) => list.into_iter().map(|user| user.name).collect(),
            Err(err) => return Reply::message(false, err.to_string()),
        };
        let sandboxes = &self.sandboxes;
        match request {
            Request::List => {
                let mut list = sandboxes.list(&registered).await;
                let usage = crate::gateway::today_of(self.users.pool()).await;
                for sandbox in &mut list {
                    if let Some((requests, tokens)) = usage.get(&sandbox.user) {
                        sandbox.model_requests = Some(*requests);
                        sandbox.model_tokens = Some(*tokens);
                    }
                }
                Reply {
                    ok: true,
                    message: None,
                    isolation: Some(sandboxes.isolation()),
                    sandboxes: list,
                }
            }
            Request::Stop { user } => match sandboxes.stop(&user).await {
                Ok(true) => Reply::message(true, format!("{user}: stopped")),
                Ok(false) => Reply::message(true, format!("{user}: was not running")),
                Err(err) => Reply::message(false, err.to_string()),
            },
            Request::Restart { user } => {
                if !registered.contains(&user) {
                    return Reply::message(false, format!("no user named `{user}`"));
                }
                match sandboxes.restart(&user).await {
                    Ok(_) => Reply::message(true, format!("{user}: running")),
                    Err(err) => Reply::message(false, err.to_string()),
                }
            }
            Request::RemoveUser { user } => {
                if let Err(err) = self.users.remove(&user).await {
                    return Reply::message(false, err.to_string());
                }
                // Connections first, so that no desktop of theirs brings the sandbox back.
                self.revocations.user_removed(&user);
                match sandboxes.stop(&user).await {
                    Ok(_) => Reply::message(true, format!("{user}: removed")),
                    Err(err) => Reply::message(false, err.to_string()),
                }
            }
            Request::RemovePasskey { user, id } => {
                match self.users.remove_passkey(&user, &id).await {
                    Ok(id) => {
                        self.revocations.sessions_ended(&user);
                        Reply::message(true, format!("{user}: removed passkey {id}"))
                    }
                    Err(err) => Reply::message(false, err.to_string()),
                }
            }
        }
    }
}

/// Sends `request` to the hypervisor serving `path`.
pub async fn request(path: &Path, request: &Request) -> Result<Reply, ControlError> {
    let stream = UnixStream::connect(path)
        .await
        .map_err(|source| ControlError::NotRunning {
            path: path.display().to_string(),
            source,
        })?;
    let exchange = async {
        let (read, mut write) = stream.into_split();
        let mut text = serde_json::to_string(request)?;
        text.push('\n');
        write.write_all(text.as_bytes()).await?;
        let mut line = String::new();
        BufReader::new(read).read_line(&mut line).await?;
        Ok::<_, ControlError>(serde_json::from_str(&line)?)
    };
    tokio::time::timeout(REPLY_TIMEOUT, exchange)
        .await
        .map_err(|_| ControlError::Timeout)?
}

/// `sandbox list` as a table, with what isolates the sandboxes above it.
pub fn format_list(isolation: Option<&Isolation>, sandboxes: &[SandboxInfo]) -> String {
    let mut out = String::new();
    if let Some(isolation) = isolation {
        out.push_str(&format!("backend: {}\n", isolation.backend));
        for line in &isolation.confined {
            out.push_str(&format!("  isolated: {line}\n"));
        }
        for line in &isolation.warnings {
            out.push_str(&format!("  WARNING: {line}\n"));
        }
        out.push('\n');
    }
    let dash = || "-".to_owned();
    let rows: Vec<[String; 10]> = sandboxes
        .iter()
        .map(|s| {
            [
                s.user.clone(),
                s.state.clone(),
                s.pid.map_or_else(dash, |v| v.to_string()),
                s.uid.map_or_else(dash, |v| v.to_string()),
                s.uptime_secs
                    .map_or_else(dash, |v| format_duration(Duration::from_secs(v))),
                s.memory_bytes.map_or_else(dash, format_size),
                s.processes.map_or_else(dash, |v| v.to_string()),
                s.clients.map_or_else(dash, |v| v.to_string()),
                s.model_tokens.map_or_else(dash, choir_proto::thousands),
                s.note.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = [
        "USER", "STATE", "PID", "UID", "UPTIME", "MEMORY", "PROCS", "CLIENTS", "TOKENS", "NOTE",
    ]
    .map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if sandboxes.is_empty() {
        out.push_str(
            "(no users yet: add one with `choir-hypervisor user add NAME --ssh-key FILE`)\n",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_tagged_json() {
        let stop = Request::Stop {
            user: "alice".into(),
        };
        let text = serde_json::to_string(&stop).unwrap();
        assert_eq!(text, r#"{"op":"stop","user":"alice"}"#);
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), stop);
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"op":"list"}"#).unwrap(),
            Request::List
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"format_disk"}"#).is_err());
    }

    #[test]
    fn the_list_is_a_table_under_the_isolation_summary() {
        let isolation = Isolation {
            backend: "process".into(),
            confined: vec!["own uid and gid per user (800000-899999)".into()],
            warnings: vec!["no cgroups".into()],
        };
        let running = SandboxInfo {
            user: "alice".into(),
            state: "running".into(),
            pid: Some(4242),
            uid: Some(800000),
            uptime_secs: Some(192),
            memory_bytes: Some(45 << 20),
            processes: Some(3),
            clients: Some(1),
            model_requests: Some(12),
            model_tokens: Some(48_210),
            note: None,
        };
        let stopped = SandboxInfo {
            user: "bob".into(),
            state: "failed".into(),
            pid: None,
            uid: Some(800001),
            uptime_secs: None,
            memory_bytes: None,
            processes: None,
            clients: None,
            model_requests: None,
            model_tokens: None,
            note: Some("failed: exit status 1".into()),
        };
        let text = format_list(Some(&isolation), &[running, stopped]);
        let expected = "\
backend: process
  isolated: own uid and gid per user (800000-899999)
  WARNING: no cgroups

USER   STATE    PID   UID     UPTIME  MEMORY    PROCS  CLIENTS  TOKENS  NOTE
alice  running  4242  800000  3m12s   45.0 MiB  3      1        48,210
bob    failed   -     800001  -       -         -      -        -       failed: exit status 1
";
        assert_eq!(text, expected);
    }
}

//! `choir share`: mint a token for someone else to watch (or work in) this sandbox, list the
//! shares, revoke one.

use std::io::Write;

use serde_json::{json, Value};

use choir_client::connect::{ConnectError, DaemonHttp};

/// What `choir share` asks for.
#[derive(Debug, Clone, Default)]
pub struct ShareArgs {
    pub read_only: bool,
    /// Seconds until the share expires.
    pub expires_in: Option<u64>,
    /// The hypervisor user it is for.
    pub viewer: Option<String>,
    pub label: Option<String>,
    /// Sees the whole past, not only what happens from now on.
    pub history: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("the daemon refused: {0}")]
    Refused(String),
}

/// Mints a share and prints how to open it.
pub async fn mint(daemon: &DaemonHttp, args: &ShareArgs) -> Result<(), ShareError> {
    let request = json!({
        "read_only": args.read_only,
        "expires_in": args.expires_in,
        "viewer": args.viewer,
        "label": args.label,
        "history": args.history,
    });
    let (status, body) = daemon.post("/api/shares", &request).await?;
    if status != 200 {
        return Err(refused(&body));
    }
    let token = body["token"].as_str().unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "share {}", describe(&body["share"]));
    let _ = if body["share"]["history"] == true {
        writeln!(
            out,
            "  it sees the whole past: every earlier chat message, tool output and screen"
        )
    } else {
        writeln!(
            out,
            "  it sees what happens from now on, nothing from before"
        )
    };
    let links = &body["links"];
    let endpoint = daemon.endpoint();
    match links["web"].as_str() {
        Some(web) => {
            let _ = writeln!(out, "  web: {web}");
        }
        None if endpoint.url.starts_with("http") => {
            let _ = writeln!(out, "  web: {}/?token={token}", endpoint.url);
        }
        None => {}
    }
    match links["ssh"].as_str() {
        Some(ssh) => {
            let _ = writeln!(out, "  ssh: {ssh}");
        }
        // A daemon of this machine: whoever may log in here opens it over ssh.
        None => {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|name| name.trim().to_owned())
                .ok()
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| "localhost".into());
            // The token in the environment, not in an argument list others can see.
            let _ = writeln!(
                out,
                "  ssh: ssh -t {host} CHOIR_TOKEN={token} choir --url {}",
                endpoint.url
            );
        }
    }
    let _ = writeln!(out, "  token: {token}");
    let _ = writeln!(
        out,
        "revoke it with: choir share revoke {}",
        body["share"]["id"].as_str().unwrap_or_default()
    );
    Ok(())
}

/// Prints every share, one per line (`--json`: the daemon's list as it is).
pub async fn list(daemon: &DaemonHttp, as_json: bool) -> Result<(), ShareError> {
    let body = daemon.get("/api/shares").await?;
    let mut out = std::io::stdout().lock();
    if as_json {
        let _ = writeln!(out, "{}", body["shares"]);
        return Ok(());
    }
    let shares = body["shares"].as_array().cloned().unwrap_or_default();
    if shares.is_empty() {
        let _ = writeln!(out, "no shares");
    }
    for share in &shares {
        let _ = writeln!(out, "{}", describe(share));
    }
    Ok(())
}

/// Revokes one share; its connections close now.
pub async fn revoke(daemon: &DaemonHttp, id: &str) -> Result<(), ShareError> {
    let path = format!("/api/shares/{}", encode(id));
    let (status, body) = daemon.delete(&path).await?;
    if status != 200 {
        return Err(refused(&body));
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "revoked {} (its connections were closed)",
        describe(&body["revoked"])
    );
    if body["token_replaced"] == true {
        let _ = writeln!(
            out,
            "it had full control, so this sandbox's local token was replaced (local clients \
             reconnect with the new one)"
        );
        for also in body["also"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "also revoked {}: made with the local token while it was live",
                describe(also)
            );
        }
    }
    Ok(())
}

/// `a1b2c3 read-only, for alice, expires 2026-11-28 18:00 UTC ("pairing")`.
fn describe(share: &Value) -> String {
    let mut parts = vec![if share["read_only"] == true {
        "read-only".to_owned()
    } else {
        "full control".to_owned()
    }];
    if let Some(viewer) = share["viewer"].as_str() {
        parts.push(format!("for {viewer}"));
    }
    match share["expires"]
        .as_i64()
        .and_then(chrono::DateTime::from_timestamp_millis)
    {
        Some(at) => parts.push(format!("expires {}", at.format("%Y-%m-%d %H:%M UTC"))),
        None => parts.push("never expires".into()),
    }
    let label = share["label"]
        .as_str()
        .map(|label| format!(" ({label:?})"))
        .unwrap_or_default();
    format!(
        "{} {}{label}",
        share["id"].as_str().unwrap_or("?"),
        parts.join(", ")
    )
}

fn refused(body: &Value) -> ShareError {
    ShareError::Refused(
        body["message"]
            .as_str()
            .map_or_else(|| body.to_string(), str::to_owned),
    )
}

/// A share id as a path segment (ids are hex; anything else is sent escaped).
fn encode(id: &str) -> String {
    id.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

//! `choir account`: the mail (and calendar) accounts the sandbox's apps and agent use. The
//! daemon checks an account against its servers before it keeps it, in its data dir
//! (0600), never in the log.

use serde_json::{json, Value};
use thiserror::Error;

use super::print_line;
use choir_client::connect::{ConnectError, DaemonHttp};

/// The settings an account is made of, read from the environment by `--from-env`.
pub const SETTINGS: [&str; 6] = [
    "CHOIR_IMAP_URL",
    "CHOIR_SMTP_URL",
    "CHOIR_MAIL_USER",
    "CHOIR_MAIL_PASSWORD",
    "CHOIR_MAIL_ADDRESS",
    "CHOIR_CALDAV_URL",
];

#[derive(Debug, Error)]
pub enum AccountError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("{0}")]
    Refused(String),
}

/// Reads the account's settings from the environment and has the daemon check and keep it.
pub async fn add_from_env(daemon: &DaemonHttp) -> Result<(), AccountError> {
    let url = &daemon.endpoint().url;
    if !reached_privately(url) {
        return Err(AccountError::Refused(format!(
            "the daemon at {url} is reached without TLS: the password would cross the network in \
             plain text; add the account on the daemon's machine (over SSH: ssh you@host choir \
             account add --from-env)"
        )));
    }
    let mut settings: serde_json::Map<String, Value> = SETTINGS
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), json!(std::env::var(name).ok()?))))
        .collect();
    // A private authority's certificate goes by its content: the daemon may be elsewhere.
    if let Some(path) = std::env::var_os("CHOIR_MAIL_CA").filter(|path| !path.is_empty()) {
        let pem = std::fs::read_to_string(&path).map_err(|err| {
            AccountError::Refused(format!(
                "CHOIR_MAIL_CA: cannot read {}: {err}",
                std::path::Path::new(&path).display()
            ))
        })?;
        settings.insert("CHOIR_MAIL_CA_PEM".into(), json!(pem));
    }
    eprintln!("choir account: checking the login with the account's servers…");
    let (status, body) = daemon
        .post("/api/mail/accounts", &Value::Object(settings))
        .await?;
    if !(200..300).contains(&status) {
        return Err(AccountError::Refused(refusal(&body)));
    }
    let mut out = std::io::stdout().lock();
    print_line(
        &mut out,
        &format!(
            "kept the account {} (the agent's mail tools use it)",
            body["address"].as_str().unwrap_or_default()
        ),
    );
    Ok(())
}

/// Lists the accounts (never their passwords).
pub async fn list(daemon: &DaemonHttp, as_json: bool) -> Result<(), AccountError> {
    let body = daemon.get("/api/mail/accounts").await?;
    let mut out = std::io::stdout().lock();
    if as_json {
        print_line(&mut out, &body.to_string());
        return Ok(());
    }
    let accounts = body["accounts"].as_array().cloned().unwrap_or_default();
    if accounts.is_empty() {
        print_line(
            &mut out,
            "no accounts (choir account add --from-env; see choir account add --help)",
        );
    }
    for account in accounts {
        let server = |key: &str| {
            format!(
                "{}:{}",
                account[key]["host"].as_str().unwrap_or("?"),
                account[key]["port"]
            )
        };
        let line = format!(
            "{}  user {}  imap {}  smtp {}{}",
            account["address"].as_str().unwrap_or_default(),
            account["user"].as_str().unwrap_or_default(),
            server("imap"),
            server("smtp"),
            account["caldav"]
                .as_str()
                .map(|url| format!("  caldav {url}"))
                .unwrap_or_default()
        );
        if !print_line(&mut out, &line) {
            break;
        }
    }
    Ok(())
}

/// Forgets the account for `address`.
pub async fn remove(daemon: &DaemonHttp, address: &str) -> Result<(), AccountError> {
    let path = format!("/api/mail/accounts/{}", percent(address));
    let (status, body) = daemon.delete(&path).await?;
    if !(200..300).contains(&status) {
        return Err(AccountError::Refused(refusal(&body)));
    }
    print_line(&mut std::io::stdout().lock(), &format!("removed {address}"));
    Ok(())
}

/// Whether a daemon at `url` is reached without the password crossing a network in plain
/// text: a Unix socket, HTTPS, or this machine.
fn reached_privately(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return true;
    };
    let host = rest.split('/').next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn refusal(body: &Value) -> String {
    body["message"]
        .as_str()
        .map_or_else(|| body.to_string(), str::to_owned)
}

/// `text` fit for one path segment.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_only_posted_where_it_does_not_cross_a_network_in_plain_text() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:1/",
            "http://[::1]:9/",
            "unix:/run/d.sock",
            "https://host.example",
        ] {
            assert!(reached_privately(url), "{url}");
        }
        for url in [
            "http://10.0.0.5:8080",
            "http://host.example/",
            "http://127.0.0.1.example:80",
        ] {
            assert!(!reached_privately(url), "{url}");
        }
    }
}

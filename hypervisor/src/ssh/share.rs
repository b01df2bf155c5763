//! Logging in with a share: the user name `OWNER.TOKEN` (what a sandbox's `choir share`
//! prints as `ssh -t OWNER.TOKEN@host`) opens OWNER's desktop as far as the share allows. A
//! share for anyone with the link needs no key; a share for one user needs that user's key.
//! The owner's sandbox checks the token and whom it is for (`/api/whoami`), as for a browser.

use choir_client::connect::DaemonHttp;
use choir_proto::Endpoint;
use russh::keys::PublicKey;

use std::net::IpAddr;

use super::Shared;
use crate::users::valid_name;
use crate::web::guard::RateLimiter;

/// Longest share token accepted.
const MAX_TOKEN: usize = 100;
/// Share logins one client address may try per minute (each may start the owner's sandbox
/// to check its token).
const LOGINS_PER_MINUTE: u32 = 60;

static ATTEMPTS: std::sync::LazyLock<RateLimiter> =
    std::sync::LazyLock::new(|| RateLimiter::new(LOGINS_PER_MINUTE));

/// A connection logged in with a share.
#[derive(Debug, Clone)]
pub struct ShareLogin {
    pub owner: String,
    pub token: String,
    /// The registered user whose key was presented, for a share bound to them.
    pub viewer: Option<String>,
}

/// `OWNER.TOKEN`, when the user name has that shape.
pub fn parse(user: &str) -> Option<(&str, &str)> {
    let (owner, token) = user.split_once('.')?;
    let shaped = valid_name(owner)
        && token.starts_with("chs_")
        && token.len() <= MAX_TOKEN
        && token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
    shaped.then_some((owner, token))
}

impl ShareLogin {
    /// The owner's sandbox, reached with the share's token.
    pub async fn endpoint(&self, shared: &Shared) -> Result<Endpoint, String> {
        let mut endpoint = shared
            .sandboxes
            .ensure(&self.owner)
            .await
            .map_err(|err| err.to_string())?;
        endpoint.token = self.token.clone();
        endpoint.viewer = self.viewer.clone();
        Ok(endpoint)
    }
}

/// The login `user` (`OWNER.TOKEN`) gets with `key` (none for the `none` method) from `peer`,
/// if the owner's sandbox accepts the share for whoever holds the key.
pub async fn login(
    shared: &Shared,
    peer: Option<IpAddr>,
    user: &str,
    key: Option<&PublicKey>,
) -> Option<ShareLogin> {
    let (owner, token) = parse(user)?;
    if let Some(peer) = peer {
        if ATTEMPTS.take(peer).is_err() {
            tracing::info!(%peer, "share login refused: too many attempts");
            return None;
        }
    }
    if !matches!(shared.users.exists(owner).await, Ok(true)) {
        return None;
    }
    // The users this key is registered for, each tried as the share's viewer; then nobody.
    let mut viewers: Vec<Option<String>> = match key {
        Some(key) => shared
            .users
            .users_of_key(key)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(Some)
            .collect(),
        None => Vec::new(),
    };
    viewers.push(None);
    for viewer in viewers {
        let login = ShareLogin {
            owner: owner.to_owned(),
            token: token.to_owned(),
            viewer,
        };
        let Ok(endpoint) = login.endpoint(shared).await else {
            return None;
        };
        let Ok(daemon) = DaemonHttp::new(endpoint) else {
            return None;
        };
        if daemon.get("/api/whoami").await.is_ok() {
            return Some(login);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_share_login_is_an_owner_and_a_token() {
        let token = format!("chs_0123456789_{}", "f".repeat(64));
        assert_eq!(
            parse(&format!("bob.{token}")),
            Some(("bob", token.as_str()))
        );
        for user in [
            "bob".to_owned(),
            format!("bob.{}", "x".repeat(20)),
            format!("../bob.{token}"),
            format!("bob.{token}/../x"),
            format!("bob.chs_{}", "a".repeat(200)),
        ] {
            assert_eq!(parse(&user), None, "{user}");
        }
    }
}

//! The sandbox's own tokens (shares are `shares.rs`).
//!
//! - The *host token* is chosen by whoever started the daemon (the hypervisor, through
//!   `CHOIR_DAEMON_TOKEN`): it is how the hypervisor reaches the sandbox. Nothing in the
//!   sandbox can read it: it is never written to a file, its variable is gone from the
//!   environment before anything starts, and the daemon is not dumpable (its memory and
//!   `/proc` files belong to root).
//! - The *local token* is `<data-dir>/token`, also in `daemon.json`: what clients on this
//!   machine and inside the sandbox use (`choir`, `choir --exec`). Whatever runs code in the
//!   sandbox can read it, a full share included. So when a full share ends, the local token is
//!   *rotated*: a new one is written, every connection made with the old one is told to go
//!   (the owner's clients find the new one in `daemon.json` and reconnect), and the shares
//!   minted with it meanwhile end too (see `Shares::end_full`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use choir_proto::{same_secret, Endpoint, ENDPOINT_FILE};
use tokio_util::sync::CancellationToken;

use crate::datadir::{random_token, write_private, DataDirError, TOKEN_FILE};
use crate::store::Redactor;

/// The host token and the local token of one sandbox; cheap to clone.
#[derive(Clone)]
pub struct Tokens {
    inner: Arc<Inner>,
}

struct Inner {
    host: Option<String>,
    local: Mutex<Local>,
    root: PathBuf,
    /// Keeps both tokens (and `also`) out of the log, told of each new local token.
    redactor: Redactor,
    /// Other secrets kept out of the log: the agent's keys.
    also: Vec<String>,
}

struct Local {
    token: String,
    /// Cancelled when this token is replaced: the connections made with it close.
    replaced: CancellationToken,
    /// Where the daemon listens, rewritten into `daemon.json` with a new token.
    endpoint: Option<Endpoint>,
}

/// Which of the sandbox's own tokens a request presented.
#[derive(Debug, Clone)]
pub enum OwnerToken {
    Host,
    /// The local token; the cancellation fires when it is replaced.
    Local(CancellationToken),
}

impl Tokens {
    /// `host`: the host token, if one was given; `local`: the data dir's token, whose file is
    /// in `root`. `redactor` is kept told of both, and of `also` (other secrets).
    pub fn new(
        host: Option<String>,
        local: String,
        root: &Path,
        redactor: Redactor,
        also: Vec<String>,
    ) -> Self {
        let tokens = Self {
            inner: Arc::new(Inner {
                host,
                local: Mutex::new(Local {
                    token: local,
                    replaced: CancellationToken::new(),
                    endpoint: None,
                }),
                root: root.to_owned(),
                redactor,
                also,
            }),
        };
        tokens.inner.redactor.set_secrets(tokens.secrets());
        tokens
    }

    fn local_state(&self) -> MutexGuard<'_, Local> {
        self.inner
            .local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Which token `presented` is, if it is one of them.
    pub fn check(&self, presented: &str) -> Option<OwnerToken> {
        if let Some(host) = &self.inner.host {
            if same_secret(host, presented) {
                return Some(OwnerToken::Host);
            }
        }
        let local = self.local_state();
        same_secret(&local.token, presented).then(|| OwnerToken::Local(local.replaced.clone()))
    }

    /// The local token as it is now.
    pub fn local(&self) -> String {
        self.local_state().token.clone()
    }

    /// The token whoever started the daemon uses: the host token, else the local one.
    pub fn owner(&self) -> String {
        self.inner.host.clone().unwrap_or_else(|| self.local())
    }

    /// The secrets that must never be written to the log.
    fn secrets(&self) -> Vec<String> {
        self.inner
            .host
            .iter()
            .cloned()
            .chain([self.local()])
            .chain(self.inner.also.iter().cloned())
            .collect()
    }

    /// Writes `daemon.json` for `endpoint` with the local token.
    pub fn publish(&self, mut endpoint: Endpoint) -> Result<(), DataDirError> {
        let mut local = self.local_state();
        endpoint.token = local.token.clone();
        write_endpoint(&self.inner.root, &endpoint)?;
        local.endpoint = Some(endpoint);
        Ok(())
    }

    /// Replaces the local token: the new one is written (token file, then `daemon.json`), and
    /// the connections made with the old one are told to go. Blocking (it syncs the files).
    pub fn rotate(&self) -> Result<(), DataDirError> {
        let token = random_token()?;
        let mut local = self.local_state();
        write_private(&self.inner.root.join(TOKEN_FILE), token.as_bytes())?;
        if let Some(endpoint) = &mut local.endpoint {
            endpoint.token = token.clone();
            write_endpoint(&self.inner.root, endpoint)?;
        }
        local.token = token;
        let replaced = std::mem::take(&mut local.replaced);
        drop(local);
        self.inner.redactor.set_secrets(self.secrets());
        replaced.cancel();
        tracing::info!("the sandbox's local token was replaced");
        Ok(())
    }
}

fn write_endpoint(root: &Path, endpoint: &Endpoint) -> Result<(), DataDirError> {
    let text = serde_json::to_string_pretty(endpoint).unwrap_or_default();
    write_private(&root.join(ENDPOINT_FILE), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotating_replaces_the_local_token_everywhere_and_ends_its_connections() {
        let dir = tempfile::tempdir().unwrap();
        let redactor = Redactor::default();
        let tokens = Tokens::new(
            Some("h".repeat(32)),
            "l".repeat(32),
            dir.path(),
            redactor.clone(),
            vec!["k".repeat(20)],
        );
        assert!(redactor.redact(&"k".repeat(20)).is_some());
        assert!(redactor.redact(&"l".repeat(32)).is_some());
        assert!(redactor.redact(&"h".repeat(32)).is_some());
        tokens
            .publish(Endpoint {
                url: "unix:/x".into(),
                token: String::new(),
                pid: 7,
                viewer: None,
            })
            .unwrap();
        let endpoint = crate::datadir::read_endpoint(dir.path()).unwrap();
        assert_eq!(
            endpoint.token,
            "l".repeat(32),
            "daemon.json holds the local token"
        );
        assert!(matches!(
            tokens.check(&"h".repeat(32)),
            Some(OwnerToken::Host)
        ));
        let Some(OwnerToken::Local(replaced)) = tokens.check(&"l".repeat(32)) else {
            panic!("the local token is not accepted");
        };
        assert!(tokens.check("nope").is_none());

        tokens.rotate().unwrap();
        assert!(
            replaced.is_cancelled(),
            "connections of the old token are told to go"
        );
        assert!(tokens.check(&"l".repeat(32)).is_none());
        let new = tokens.local();
        assert!(matches!(tokens.check(&new), Some(OwnerToken::Local(ref r)) if !r.is_cancelled()));
        assert_eq!(
            crate::datadir::read_endpoint(dir.path()).unwrap().token,
            new
        );
        assert!(
            redactor.redact(&new).is_some(),
            "the new token is kept out of the log"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(TOKEN_FILE)).unwrap(),
            new
        );
        // The host token is untouched.
        assert!(matches!(
            tokens.check(&"h".repeat(32)),
            Some(OwnerToken::Host)
        ));
        assert_eq!(tokens.owner(), "h".repeat(32));
    }
}

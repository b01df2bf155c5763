//! WebAuthn ceremonies in progress: the challenge state between a `start` and its `finish`,
//! kept here in memory and never sent to the browser, which holds only a random id. Each is
//! used once and lasts a few minutes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use webauthn_rs::prelude::{PasskeyAuthentication, PasskeyRegistration};

use super::secret::random_token;

/// How long a browser has between `start` and `finish`.
pub const CEREMONY_LIFETIME: Duration = Duration::from_secs(300);
/// Ceremonies open at once, over all clients.
const MAX_OPEN: usize = 10_000;

/// What a `start` began.
pub enum Ceremony {
    /// Registering a passkey for `user`: by invite (the invite's secret, used up at the end)
    /// or from a signed-in session.
    Register {
        user: String,
        invite: Option<String>,
        label: String,
        state: Box<PasskeyRegistration>,
    },
    /// Signing in as `user`; no state when `user` has no passkey here (a decoy, which no
    /// passkey finishes).
    SignIn {
        user: String,
        state: Option<Box<PasskeyAuthentication>>,
    },
}

#[derive(Default)]
pub struct Ceremonies {
    open: Mutex<HashMap<String, (Instant, Ceremony)>>,
}

impl Ceremonies {
    /// Keeps `ceremony`; its id, or `None` when too many are open.
    pub fn begin(&self, ceremony: Ceremony) -> Option<String> {
        let mut open = self.open.lock().ok()?;
        let now = Instant::now();
        open.retain(|_, (started, _)| now.duration_since(*started) < CEREMONY_LIFETIME);
        if open.len() >= MAX_OPEN {
            return None;
        }
        let id = random_token();
        open.insert(id.clone(), (now, ceremony));
        Some(id)
    }

    /// Takes the ceremony `id` out, if it is open and not too old.
    pub fn take(&self, id: &str) -> Option<Ceremony> {
        let (started, ceremony) = self.open.lock().ok()?.remove(id)?;
        (started.elapsed() < CEREMONY_LIFETIME).then_some(ceremony)
    }
}

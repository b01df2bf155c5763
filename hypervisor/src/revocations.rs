//! Who lost access while the server runs, so that their live connections close at once: a
//! removed user's SSH sessions and browser tabs, the tabs of a web session that ended.

use tokio::sync::broadcast;

#[derive(Clone)]
pub struct Revocations {
    users: broadcast::Sender<String>,
    sessions: broadcast::Sender<String>,
}

impl Default for Revocations {
    fn default() -> Self {
        Self {
            users: broadcast::channel(64).0,
            sessions: broadcast::channel(256).0,
        }
    }
}

impl Revocations {
    /// `user` is gone: every connection of theirs closes.
    pub fn user_removed(&self, user: &str) {
        let _ = self.users.send(user.to_owned());
        let _ = self.sessions.send(user.to_owned());
    }

    /// Some web sessions of `user` ended: their tabs check theirs again.
    pub fn sessions_ended(&self, user: &str) {
        let _ = self.sessions.send(user.to_owned());
    }

    /// Names of users removed from now on.
    pub fn removed_users(&self) -> broadcast::Receiver<String> {
        self.users.subscribe()
    }

    /// Names of users some of whose web sessions ended from now on (a lagging receiver
    /// should check its session anyway).
    pub fn ended_sessions(&self) -> broadcast::Receiver<String> {
        self.sessions.subscribe()
    }
}

//! The link to the daemon, as a desktop shows it: the states every client names alike, and the
//! words its taskbar says for each.

/// The state of a client's link to its daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Live,
    /// The link was lost and is being made again (`attempt` counts from 1); why it was lost,
    /// when the client knows.
    Reconnecting {
        attempt: u32,
        reason: Option<String>,
    },
    /// No link and no retry: the daemon refused the client (a wrong or revoked token, an
    /// ended share), or the client stopped. Says why.
    Offline(String),
    /// The client has no token to connect with (a page opened without one).
    NoToken,
}

/// How a taskbar colours the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Ok,
    Warn,
    Error,
}

impl Connection {
    /// The state in one word, for pages and scripts: `connecting`, `live`, `reconnecting` or
    /// `refused`.
    pub fn state(&self) -> &'static str {
        match self {
            Connection::Connecting => "connecting",
            Connection::Live => "live",
            Connection::Reconnecting { .. } => "reconnecting",
            Connection::Offline(_) | Connection::NoToken => "refused",
        }
    }

    /// What the taskbar says, and in which tone; `read_only`: the client watches a read-only
    /// share.
    pub fn label(&self, read_only: bool) -> (String, Tone) {
        match self {
            Connection::Live if read_only => ("◉ watching (read-only)".into(), Tone::Warn),
            Connection::Live => ("● live".into(), Tone::Ok),
            Connection::Connecting => ("○ connecting…".into(), Tone::Warn),
            Connection::Reconnecting { attempt, reason } => (
                match reason {
                    Some(reason) => format!("◌ reconnecting ({attempt}): {reason}"),
                    None => format!("◌ reconnecting ({attempt})"),
                },
                Tone::Warn,
            ),
            Connection::Offline(_) => ("✕ offline".into(), Tone::Error),
            Connection::NoToken => ("✕ no token".into(), Tone::Error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_its_word_and_label() {
        let lost = Connection::Reconnecting {
            attempt: 2,
            reason: Some("the sandbox stopped answering".into()),
        };
        assert_eq!(lost.state(), "reconnecting");
        assert_eq!(
            lost.label(false).0,
            "◌ reconnecting (2): the sandbox stopped answering"
        );
        assert_eq!(Connection::Live.label(false), ("● live".into(), Tone::Ok));
        assert_eq!(
            Connection::Live.label(true).0,
            "◉ watching (read-only)",
            "a read-only share says so"
        );
        for refused in [Connection::Offline("revoked".into()), Connection::NoToken] {
            assert_eq!(refused.state(), "refused");
            assert_eq!(refused.label(false).1, Tone::Error);
        }
    }
}

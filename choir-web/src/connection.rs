//! The state of the page's link to the daemon, as the taskbar and the error page show it.

/// The link to the daemon, as shown in the taskbar.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    Connecting,
    Live,
    Reconnecting {
        attempt: u32,
        reason: String,
    },
    /// The daemon refused this page (a wrong token): no retry.
    Refused(String),
    /// No token to connect with.
    NoToken,
}

impl Connection {
    pub fn state(&self) -> &'static str {
        match self {
            Connection::Connecting => "connecting",
            Connection::Live => "live",
            Connection::Reconnecting { .. } => "reconnecting",
            Connection::Refused(_) | Connection::NoToken => "refused",
        }
    }
}

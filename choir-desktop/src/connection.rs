//! The link to the daemon, as a desktop shows it.

/// The state of a client's link to its daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Live,
    Reconnecting {
        attempt: u32,
    },
    /// The daemon refused the client, or it stopped; says why.
    Offline(String),
}

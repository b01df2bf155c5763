//! What a key did in a window of an app whose keys `choir-desktop` holds (mail, calendar).

use choir_proto::Command;

/// What a key did in an app's window.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// Not the window's key.
    No,
    /// Done here (the selection moved, or nothing to do).
    Yes,
    /// Send this command.
    Send(Command),
    /// Say this to the user.
    Notice(String),
}

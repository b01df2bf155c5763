//! Mail and calendar for ChoirOS: an account ([`Account`], its servers and credentials),
//! its IMAP mailbox ([`Mailbox`]: folders, search, read, drafts), sending over SMTP
//! ([`send`]), messages read from MIME ([`Message`], [`Header`]), and its CalDAV calendar
//! ([`Calendar`]).
//!
//! Passwords go only to the servers they are for, and in plain text only to a server on
//! this machine (a loopback address): anywhere else the connection is TLS
//! (`imaps://`, `smtps://`, or `smtp://` with STARTTLS required).

mod account;
mod calendar;
mod imap;
mod invitation;
mod message;
mod smtp;
mod tls;

use std::time::Duration;

use thiserror::Error;

pub use account::{Account, AccountError, Security, ServerUrl};
pub use calendar::{Calendar, CalendarEvent, MAX_EVENTS};
pub use imap::{Mailbox, Page};
pub use invitation::{Answer, Invitation};
pub use message::{Attachment, Header, Message, MessageId};
pub use smtp::{answer, check_smtp, send, Outgoing};

/// How long a connection, a login or one command may take before it is given up.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Largest message read whole (its text and the list of its attachments); a larger one is
/// refused with its size, and stays on the server as it is.
pub const MAX_READ_BYTES: u32 = 25 << 20;

/// Runs `step` within [`TIMEOUT`], as one step with `server`.
pub(crate) async fn within<T>(
    server: &str,
    step: impl std::future::Future<Output = Result<T, MailError>>,
) -> Result<T, MailError> {
    tokio::time::timeout(TIMEOUT, step)
        .await
        .map_err(|_| MailError::TimedOut {
            server: server.to_owned(),
        })?
}

/// `server` could not be reached, for `reason`.
pub(crate) fn unreachable_at(server: &str, reason: impl std::fmt::Display) -> MailError {
    MailError::Unreachable {
        server: server.to_owned(),
        reason: reason.to_string(),
    }
}

/// Why a mail operation failed. Each says what to do about it.
#[derive(Debug, Error)]
pub enum MailError {
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error("cannot reach {server}: {reason}")]
    Unreachable { server: String, reason: String },
    #[error("{server} refused the user name or password ({reason})")]
    LoginRefused { server: String, reason: String },
    #[error("{server} took longer than {}s to answer", TIMEOUT.as_secs())]
    TimedOut { server: String },
    #[error("the IMAP server said: {0}")]
    Imap(String),
    #[error("the SMTP server said: {0}")]
    Smtp(String),
    #[error("no folder named `{0}` (mail_search without a folder lists them)")]
    NoFolder(String),
    #[error("no message {0}: it was moved or deleted, or the folder was renewed (search again)")]
    NoMessage(String),
    #[error(
        "`{0}` is not a message id (ids look like INBOX/1712345678/42, as mail_search gives them)"
    )]
    BadId(String),
    #[error("message {id} is {size} bytes, more than the {max} read here; it is left on the server as it is")]
    TooLarge { id: String, size: u32, max: u32 },
    #[error("message {0} cannot be read as MIME")]
    Malformed(String),
    #[error("message {id} has no attachment named `{name}` (mail_read lists them)")]
    NoAttachment { id: String, name: String },
    #[error("cannot make the message: {0}")]
    Compose(String),
    #[error("no calendar: {0}")]
    NoCalendar(String),
    #[error("the calendar server: {0}")]
    CalDav(String),
}

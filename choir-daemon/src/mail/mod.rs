//! Mail: the user's accounts ([`MailAccounts`], kept in the data dir), and the daemon's side
//! of mail windows ([`windows`]: what they ask of the servers, and what arrives) and of
//! calendar windows ([`calendars`]).

mod accounts;
pub mod attachments;
pub mod calendars;
pub mod invitations;
mod requests;
mod watch;
pub mod windows;

pub use accounts::{AccountsError, MailAccounts};

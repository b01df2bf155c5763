//! The client side of the protocol, as pure state machines shared by every client (the
//! terminal desktop and the browser mirror): nothing here does I/O, so each client drives
//! them from its own socket and its own clock.
//!
//! - [`Link`]: one connection's bookkeeping: the hello (resuming after the last event
//!   applied), request ids, and which refusals answer which edit or query.
//! - [`Replica`]: the world as this client holds it: the welcome and events folded with the
//!   shared reducer, streaming text, and what it still has to read (documents shown, older
//!   chat pages), each asked for once at a time.
//! - [`Timeline`]: where a time-travelling client is in the log and where it asked to go.
//! - [`DocText`]: a document's text with this client's unconfirmed edits ([`DocSync`] over a
//!   rope).
//!
//! [`DocSync`]: crate::DocSync

mod ahead;
mod doc_text;
mod link;
mod replica;
mod timeline;

pub use doc_text::{DocText, Merged};
pub use link::{Link, Received};
pub use replica::{Applied, Replica, PAGE};
pub use timeline::Timeline;

//! Helpers for tests and benches that more than one crate needs: the processes of this
//! machine as `/proc` shows them ([`procs`]), what a terminal session wrote, read back as its
//! screen ([`Screen`]), waiting for a condition with a deadline ([`wait_until`]), and real
//! mail and calendar servers on loopback ([`MailServers`]).
//!
//! Only tests and benches depend on it; it depends on no ChoirOS crate, so every crate's
//! tests can use it.

mod mail_servers;
pub mod procs;
mod screen;
mod wait;

pub use mail_servers::MailServers;
pub use screen::Screen;
pub use wait::wait_until;

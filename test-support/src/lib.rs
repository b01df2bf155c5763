//! Helpers for tests and benches that more than one crate needs: the processes of this
//! machine as `/proc` shows them ([`procs`]), what a terminal session wrote, read back as its
//! screen ([`Screen`]), and waiting for a condition with a deadline ([`wait_until`]).
//!
//! Only tests and benches depend on it; it depends on no ChoirOS crate, so every crate's
//! tests can use it.

pub mod procs;
mod screen;
mod wait;

pub use screen::Screen;
pub use wait::wait_until;

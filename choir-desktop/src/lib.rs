//! The desktop as every client has it, without a screen: what a key does in each mode,
//! the one table of bindings both help screens show, the launcher, and where windows land
//! and how far a move or a resize may take them.
//!
//! It does no I/O and builds for `wasm32-unknown-unknown`. A front end turns what the user
//! pressed into a [`Key`], hands it to its [`Keymap`] with a [`Screen`] (what the keymap
//! may read of the desktop), and carries out the [`Intent`]s that come back: commands for
//! the daemon, keys for the focused window's app, notices. It also names the states of a
//! client's link to its daemon ([`Connection`]), the keys of a replay ([`replay`]) and the
//! order of a chat's items ([`chat`]). The terminal (`choir-tui`) and
//! the browser (`choir-web`) are such front ends, so the same keys give the same commands
//! in both.

pub mod app_view;
pub mod attention;
pub mod bindings;
pub mod calendar;
pub mod chat;
mod connection;
pub mod copy_mode;
pub mod find;
pub mod geometry;
mod handled;
pub mod held;
mod key;
mod keymap;
pub mod mail;
pub mod prefs;
pub mod replay;

pub use bindings::{Binding, Front, BINDINGS};
pub use connection::{Connection, Tone};
pub use copy_mode::CopyMode;
pub use handled::Handled;
pub use key::{Key, KeyCode, Mods};
pub use keymap::{launcher, Installed, Intent, Keymap, Launch, Mode, Screen, LAUNCHER, PREFIX};

//! ChoirOS terminal client: the desktop (window manager and apps), its input parser, the
//! protocol client, and the `choir` CLI commands.

pub mod apps;
pub mod cli;
pub mod desktop;
pub mod input;
pub mod remote;
pub mod session;
pub mod terminal;
pub mod theme;
pub mod wrap;

/// The client library, re-exported under the paths the desktop and the CLI use.
pub use choir_client::{budget, client, connect, launch, transport};

//! ChoirOS terminal client: the desktop (window manager and apps), its input parser, the
//! protocol client, and the `choir` CLI commands.

pub mod apps;
pub mod budget;
pub mod cli;
pub mod client;
pub mod connect;
pub mod desktop;
pub mod input;
pub mod launch;
pub mod session;
pub mod terminal;
pub mod theme;
pub mod transport;
pub mod wrap;

//! ChoirOS terminal client: the desktop (window manager and apps), its input parser, the
//! protocol client, and the `choir` CLI commands.

pub mod apps;
pub mod cli;
pub mod connect;
pub mod desktop;
pub mod input;
pub mod theme;
pub mod wrap;

//! ChoirOS terminal client: finding the local daemon and the `choir` CLI commands. The
//! desktop (window manager and apps) lands here with the TUI issue.

pub mod cli;
pub mod connect;

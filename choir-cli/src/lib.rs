//! The `choir` command line: the subcommands that print to stdout (events, status,
//! approvals, shares, the web link, `--exec`) and the MCP server (`choir mcp`). The binary
//! (`src/bin/choir.rs`) also opens the terminal desktop (`choir-tui`) when run with no
//! command; everything here reaches the daemon through `choir-client`.

pub mod account;
pub mod app;
mod approve;
mod config;
mod events;
pub mod exec;
mod mcp;
pub mod share;
mod status;
mod web;
pub mod when;

pub use approve::approve;
pub use config::config;
pub use events::{between, events, moment, EventsArgs, EventsError};
pub use mcp::{serve as mcp, McpError};
pub use status::status;
pub use web::{web, WebError};

use std::io::{self, Write};

/// Writes one line to stdout; `false` once stdout is closed (e.g. piped into `head`), so
/// callers stop quietly instead of panicking.
pub(crate) fn print_line(out: &mut impl Write, line: &str) -> bool {
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => true,
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => false,
        Err(_) => false,
    }
}

//! `choir-tui`: the terminal desktop. It lands with the TUI issue; this build only answers
//! `--help` and `--version`.

use clap::Parser;

/// ChoirOS terminal desktop (not part of this build yet: use `choir status` / `choir events`).
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {}

fn main() -> std::process::ExitCode {
    let _cli = Cli::parse();
    eprintln!("choir-tui: the desktop is not part of this build yet; try `choir status` or `choir events`");
    std::process::ExitCode::FAILURE
}

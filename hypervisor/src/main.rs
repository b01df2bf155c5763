//! `choir-hypervisor`: the multi-tenant edge (SSH, web login, sandboxes). Its commands land
//! with the SSH and sandbox issues; this build only answers `--help` and `--version`.

use clap::Parser;

/// ChoirOS hypervisor: serves each user's sandbox over SSH and the web.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    anyhow::bail!(
        "choir-hypervisor has no commands yet: run `choir-daemon` for a single-user sandbox"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

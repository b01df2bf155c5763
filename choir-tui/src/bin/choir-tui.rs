//! `choir-tui`: the ChoirOS desktop in this terminal.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use choir_client::connect::{default_data_dir, find_endpoint, ConnectError};
use choir_proto::Endpoint;
use clap::Parser;

/// The ChoirOS desktop in this terminal: windows, chat and the event log, live with every
/// other client of the same sandbox. C-a ? (or F1) lists every binding; C-a q quits.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// The daemon's URL, e.g. http://127.0.0.1:8080 or unix:/path/daemon.sock (a ?token= in
    /// it is used as the token)
    #[arg(long, env = "CHOIR_URL", value_name = "URL")]
    connect: Option<String>,

    /// The sandbox token for --connect
    #[arg(
        long,
        env = "CHOIR_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,

    /// Find the daemon through this data dir when --connect is not given
    /// [default: the platform data dir, e.g. ~/.local/share/choir]
    #[arg(long, env = "CHOIR_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// Splits `http://host:port/?token=T` into the base URL and the token.
fn endpoint_from(url: &str, token: Option<&str>) -> Result<Endpoint> {
    let (base, query_token) = match url.split_once("?token=") {
        Some((base, token)) => (base.trim_end_matches('/'), Some(token)),
        None => (url.trim_end_matches('/'), None),
    };
    let token = token.or(query_token).context(
        "--connect needs the sandbox token: --token T, CHOIR_TOKEN, or ?token= in the URL",
    )?;
    Ok(Endpoint {
        url: base.to_owned(),
        token: token.to_owned(),
        pid: 0,
        viewer: None,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("choir-tui: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let data_dir = match cli.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    choir_tui::terminal::log_to_file(&data_dir.join("logs"))?;
    // One thread, as `choir`'s: the desktop's loop and its socket share it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match cli.connect {
        Some(url) => {
            let endpoint = endpoint_from(&url, cli.token.as_deref())?;
            runtime.block_on(choir_tui::terminal::run(move || {
                Ok::<_, ConnectError>(endpoint.clone())
            }))
        }
        None => {
            find_endpoint(&data_dir)?;
            runtime.block_on(choir_tui::terminal::run(move || find_endpoint(&data_dir)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_token_may_come_in_the_url() {
        let endpoint = endpoint_from("http://127.0.0.1:9/?token=abc", None).unwrap();
        assert_eq!(
            (endpoint.url.as_str(), endpoint.token.as_str()),
            ("http://127.0.0.1:9", "abc")
        );
        let endpoint = endpoint_from("http://h:1", Some("t")).unwrap();
        assert_eq!(endpoint.token, "t");
        assert!(endpoint_from("http://h:1", None).is_err());
    }
}

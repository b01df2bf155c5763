//! `choir`: the ChoirOS command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use choir_cli::share::ShareArgs;
use choir_cli::when::{parse_duration, parse_point};
use choir_cli::{self as cli, EventsArgs};
use choir_client::connect::{default_data_dir, find_endpoint, ConnectError, DaemonHttp};
use choir_client::launch::LaunchError;
use choir_proto::Endpoint;
use clap::{CommandFactory, Parser, Subcommand};

/// ChoirOS: your sandbox from the shell.
///
/// With no command, opens the desktop, starting the sandbox daemon in the background if none
/// runs for the data dir. The daemon is found through its data dir (`daemon.json` there holds
/// its URL and token), or given explicitly with --url and --token.
#[derive(Debug, Parser)]
#[command(name = "choir", version, about, long_about = None)]
struct Cli {
    /// The daemon's data dir [default: the platform data dir, e.g. ~/.local/share/choir]
    #[arg(long, env = "CHOIR_DATA_DIR", global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Talk to the daemon at this URL (http://HOST:PORT or unix:PATH) instead of looking in
    /// the data dir
    #[arg(
        long,
        env = "CHOIR_URL",
        global = true,
        requires = "token",
        value_name = "URL"
    )]
    url: Option<String>,

    /// Never start the data dir's daemon: only use one that runs (a hypervisor sets this in
    /// its sandboxes, whose daemons its supervisor starts)
    #[arg(
        long,
        env = "CHOIR_NO_START",
        global = true,
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    no_start: bool,

    /// The sandbox token for --url
    #[arg(
        long,
        env = "CHOIR_TOKEN",
        global = true,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,

    /// Run a tool through the daemon and print its result as JSON (exit status: the tool's).
    /// `--exec --list` lists the tools; `--exec -` reads {"tool", "args"} lines from stdin
    #[arg(long, value_name = "TOOL", num_args = 0..=1, default_missing_value = "")]
    exec: Option<String>,

    /// A tool argument, KEY=VALUE (repeatable); VALUE is JSON where the schema wants a non-string
    #[arg(long = "arg", value_name = "KEY=VALUE", requires = "exec")]
    args: Vec<String>,

    /// Tool arguments as one JSON object (--arg values override its keys)
    #[arg(long, value_name = "JSON", requires = "exec")]
    json: Option<String>,

    /// With --exec: list every tool with its JSON schema
    #[arg(long, requires = "exec")]
    list: bool,

    #[command(subcommand)]
    command: Option<Commands>,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Show where the daemon runs and what its log holds, as JSON
    Status,
    /// Print the settings in force as TOML (prefix key, bindings, theme, shell, scrollback,
    /// notifications), where they are read from, and what is wrong with that file
    Config {
        /// Have the daemon read the settings file again first (every client takes the change)
        #[arg(long)]
        reload: bool,
        /// Print the daemon's answer as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print events from the log as JSON lines, or the world as it was at some point
    ///
    /// A POINT is a seq (1234), a time ago (-90s, -10m, -2h, -3d), a time today (14:05), a
    /// local date and time (2026-11-27 14:05) or RFC 3339 (2026-11-27T14:05:00Z).
    Events {
        /// First seq to print
        #[arg(long, default_value_t = 1, value_name = "SEQ", conflicts_with_all = ["at", "between"])]
        from: u64,
        /// Keep printing new events as they are committed (reconnects if the daemon restarts)
        #[arg(long, short = 'f', conflicts_with_all = ["at", "between"])]
        follow: bool,
        /// Print the world as it was right after POINT, as one JSON object ({seq, ts, head, world})
        #[arg(
            long,
            value_name = "POINT",
            conflicts_with = "between",
            allow_hyphen_values = true
        )]
        at: Option<String>,
        /// Print the events from one POINT to another, both included
        #[arg(long, num_args = 2, value_names = ["FROM", "TO"], allow_hyphen_values = true)]
        between: Option<Vec<String>>,
    },
    /// Open the desktop read-only as it was at a point of the log, with a timeline to move
    /// through time (arrows: an event; [ ]: a minute; n p: the next or previous chat message
    /// or tool call; Home End: the start and now; q: quit)
    Replay {
        /// Where to start: a seq or a time, as for `choir events --at` [default: now]
        #[arg(long, value_name = "POINT", allow_hyphen_values = true)]
        at: Option<String>,
    },
    /// Let someone else watch this sandbox (or, with --full, work in it): prints a web link, an
    /// ssh command and the token; `choir share list` and `choir share revoke ID` manage them
    #[command(args_conflicts_with_subcommands = true)]
    Share {
        #[command(subcommand)]
        action: Option<ShareAction>,
        /// Watch only: every change the holder asks for is refused (the default)
        #[arg(long, conflicts_with = "full")]
        read_only: bool,
        /// Full control: the holder can do everything you can here, run commands included,
        /// and revoking it cannot undo what they did (give it --for a user, or --expires)
        #[arg(long)]
        full: bool,
        /// Stop working after this long (90s, 10m, 2h, 7d, 1w) [default: never]
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// Only this user of the hypervisor, signed in, may open it
        #[arg(long = "for", value_name = "USER")]
        viewer: Option<String>,
        /// A note to tell shares apart in `choir share list`
        #[arg(long)]
        label: Option<String>,
        /// Let it see the whole past too (every earlier chat message, tool output and shell
        /// screen); without this it sees only what happens from now on
        #[arg(long)]
        history: bool,
    },
    /// Print the URL of the web mirror (the desktop in a browser) and open it when a browser
    /// is there ($BROWSER, or xdg-open under a display); starts a daemon if none runs
    Web {
        /// Only print the URL
        #[arg(long)]
        print: bool,
    },
    /// Serve the sandbox's tools over MCP on stdin/stdout, for another agent or an editor
    /// (each call is recorded in the log and shows live); over SSH: `ssh you@host choir mcp`
    Mcp,
    /// The mail and calendar accounts the sandbox uses: `choir account add --from-env`,
    /// `choir account list`, `choir account remove ADDRESS`
    Account {
        #[command(subcommand)]
        action: AccountAction,
    },
    /// The apps you or the agent write (WebAssembly components the daemon runs, shown in
    /// every client): `choir app new NAME`, `build NAME`, `open NAME`, `list`, `remove NAME`
    App {
        #[command(subcommand)]
        action: AppAction,
    },
    /// Approve (or --deny) a tool call the agent waits on; without CALL_ID, the only one waiting
    Approve {
        /// The call to answer
        call_id: Option<String>,
        /// Refuse it instead (the model is told)
        #[arg(long)]
        deny: bool,
        /// Why, with --deny
        #[arg(long, requires = "deny")]
        reason: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AccountAction {
    /// Add a mail account (or replace the one with the same address); the daemon checks the
    /// login with its IMAP server and that its SMTP server answers before keeping it (0600,
    /// in the data dir, never in the log)
    Add {
        /// Read it from CHOIR_IMAP_URL (imaps://host, or imap://127.0.0.1:PORT on this
        /// machine), CHOIR_SMTP_URL (smtps://host, smtp://host:587 with STARTTLS),
        /// CHOIR_MAIL_USER, CHOIR_MAIL_PASSWORD, CHOIR_MAIL_ADDRESS, CHOIR_CALDAV_URL (same
        /// user and password; optional) and CHOIR_MAIL_CA (optional: a PEM file of a private
        /// authority the servers' certificates come from, trusted besides the web's)
        #[arg(long, required = true)]
        from_env: bool,
    },
    /// List the accounts (never their passwords)
    List {
        /// As JSON
        #[arg(long)]
        json: bool,
    },
    /// Forget an account
    Remove {
        /// Its address
        address: String,
    },
}

#[derive(Debug, Subcommand)]
enum AppAction {
    /// Make a new app in the workspace's apps/NAME/ (a Rust crate whose view shows its name
    /// and counts presses of a button; the contract is in its wit/app.wit)
    New {
        /// 1 to 32 of a-z, 0-9 and -, starting with a letter
        name: String,
    },
    /// Build an app (cargo, offline, for wasm32-unknown-unknown) and install it: its open
    /// windows run the new version at once, their state kept; a build that fails prints the
    /// compiler's errors
    Build { name: String },
    /// Show an app in a new window
    Open { name: String },
    /// List the installed apps, with what each may do, and the crates not built yet
    List {
        /// As JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove an app: its windows close and what it kept goes; its crate stays
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
enum ShareAction {
    /// List the shares (never their tokens)
    List {
        /// As JSON
        #[arg(long)]
        json: bool,
    },
    /// Revoke a share: it stops working and whoever uses it is disconnected now
    Revoke {
        /// The share's id, as `choir share list` shows it
        id: String,
    },
}

/// How long `choir account add` waits for the daemon to check an account with its servers.
const ACCOUNT_CHECK: Duration = Duration::from_secs(90);

/// How long `choir app` waits for the daemon (a build compiles; the daemon stops one at
/// 10 minutes).
const APP_BUILD: Duration = Duration::from_secs(660);

/// How long `--no-start` waits for a daemon that does not answer: its supervisor starts a
/// crashed one again, and may not have seen the crash yet.
const RESTART_WAIT: Duration = Duration::from_secs(10);

impl Cli {
    fn data_dir(&self) -> Result<PathBuf, ConnectError> {
        match &self.data_dir {
            Some(dir) => Ok(dir.clone()),
            None => default_data_dir(),
        }
    }

    fn locate(&self) -> Result<Endpoint, ConnectError> {
        if let (Some(url), Some(token)) = (&self.url, &self.token) {
            return Ok(Endpoint {
                url: url.clone(),
                token: token.clone(),
                pid: 0,
                viewer: None,
            });
        }
        find_endpoint(&self.data_dir()?)
    }

    /// The daemon to talk to: the one `--url` names, or else the data dir's, started in the
    /// background when none holds the data dir's lock (as the desktop does).
    async fn daemon(&self) -> Result<Endpoint, LaunchError> {
        if self.url.is_some() {
            return Ok(self.locate()?);
        }
        if self.no_start {
            return Ok(self.supervised_daemon().await?);
        }
        let dir = self.data_dir()?;
        tokio::task::spawn_blocking(move || choir_client::launch::ensure_daemon(&dir))
            .await
            .map_err(|err| LaunchError::Io(format!("cannot start the daemon: {err}")))?
    }

    /// The data dir's daemon when something else starts it (a hypervisor's supervisor): one
    /// whose socket refuses is waited for, up to [`RESTART_WAIT`], since it is being started
    /// again; no daemon at all is an error at once.
    async fn supervised_daemon(&self) -> Result<Endpoint, ConnectError> {
        let deadline = tokio::time::Instant::now() + RESTART_WAIT;
        loop {
            let endpoint = self.locate()?;
            match DaemonHttp::new(endpoint.clone())?.get("/api/whoami").await {
                Ok(_) => return Ok(endpoint),
                Err(ConnectError::Unreachable { .. }) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Options such as --data-dir go before or after a command; --exec is a mode of its own.
    if cli.exec.is_some() && cli.command.is_some() {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--exec runs a tool and cannot be combined with a command",
            )
            .exit();
    }
    // One thread: the desktop's loop and its socket share it, so a key and its echo wake no
    // other thread of this process (its input is read on a thread of its own).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("choir: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(tool) = cli.exec.clone() {
        return match runtime.block_on(exec(&cli, &tool)) {
            Ok(code) => ExitCode::from(u8::try_from(code.clamp(0, 255)).unwrap_or(1)),
            Err(err) => {
                eprintln!("choir: {err}");
                ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(1))
            }
        };
    }
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("choir: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `choir --exec ...`; returns the exit status.
async fn exec(cli: &Cli, tool: &str) -> Result<i32, cli::exec::ExecError> {
    let daemon = DaemonHttp::with_timeout(cli.daemon().await?, cli::exec::EXEC_TIMEOUT)?;
    if cli.list {
        cli::exec::list(&daemon).await?;
        return Ok(0);
    }
    match tool {
        "" => Err(cli::exec::ExecError::Usage(
            "--exec needs a tool name, --list, or - for a batch on stdin".into(),
        )),
        "-" => cli::exec::batch(&daemon).await,
        name => cli::exec::one(&daemon, name, cli.json.as_deref(), &cli.args).await,
    }
}

async fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Some(Commands::Status) => {
            let daemon = DaemonHttp::new(cli.daemon().await?)?;
            let data_dir = if cli.url.is_none() {
                cli.data_dir().ok()
            } else {
                None
            };
            cli::status(&daemon, data_dir.as_deref()).await?;
        }
        Some(Commands::Config { reload, json }) => {
            let daemon = DaemonHttp::new(cli.daemon().await?)?;
            cli::config(&daemon, *reload, *json).await?;
        }
        Some(Commands::Events { at: Some(at), .. }) => {
            let point = parse_point(at, chrono::Local::now()).map_err(anyhow::Error::msg)?;
            let daemon = DaemonHttp::new(cli.daemon().await?)?;
            cli::moment(&daemon, point).await?;
        }
        Some(Commands::Events {
            between: Some(ends),
            ..
        }) => {
            let now = chrono::Local::now();
            let from = parse_point(&ends[0], now).map_err(anyhow::Error::msg)?;
            let to = parse_point(&ends[1], now).map_err(anyhow::Error::msg)?;
            let daemon = DaemonHttp::new(cli.daemon().await?)?;
            cli::between(&daemon, from, to).await?;
        }
        Some(Commands::Events { from, follow, .. }) => {
            // Started if none runs; found again after each restart while following.
            cli.daemon().await?;
            let args = EventsArgs {
                from: *from,
                follow: *follow,
            };
            cli::events(|| cli.locate(), args).await?;
        }
        Some(Commands::Replay { at }) => {
            let at = match at {
                Some(at) => parse_point(at, chrono::Local::now())
                    .map_err(anyhow::Error::msg)?
                    .seek(),
                None => choir_proto::Seek::Seq { seq: u64::MAX },
            };
            if cli.url.is_some() {
                let endpoint = cli.locate()?;
                choir_tui::terminal::replay(move || Ok::<_, ConnectError>(endpoint.clone()), at)
                    .await?;
            } else {
                let data_dir = cli.data_dir()?;
                choir_tui::terminal::log_to_file(&data_dir.join("logs"))?;
                cli.daemon().await?;
                choir_tui::terminal::replay(move || find_endpoint(&data_dir), at).await?;
            }
        }
        Some(Commands::Share {
            action: Some(ShareAction::List { json }),
            ..
        }) => {
            let daemon = DaemonHttp::new(cli.daemon().await?)?;
            cli::share::list(&daemon, *json).await?;
        }
        Some(Commands::Share {
            action: Some(ShareAction::Revoke { id }),
            ..
        }) => {
            let daemon = DaemonHttp::new(cli.daemon().await?)?;
            cli::share::revoke(&daemon, id).await?;
        }
        Some(Commands::Share {
            action: None,
            read_only: _,
            full,
            expires,
            viewer,
            label,
            history,
        }) => {
            if *full && expires.is_none() && viewer.is_none() {
                eprintln!(
                    "choir: warning: a full share that never expires and is for anyone with the \
                     link: whoever holds it can do everything you can here"
                );
            }
            let expires_in = expires
                .as_deref()
                .map(|text| parse_duration(text).map(|length| length.as_secs()))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let args = ShareArgs {
                read_only: !*full,
                expires_in,
                viewer: viewer.clone(),
                label: label.clone(),
                history: *history,
            };
            let daemon = DaemonHttp::new(cli.daemon().await?)?;
            cli::share::mint(&daemon, &args).await?;
        }
        Some(Commands::Approve {
            call_id,
            deny,
            reason,
        }) => {
            let daemon = DaemonHttp::new(cli.daemon().await?)?;
            cli::approve(&daemon, call_id.as_deref(), *deny, reason.as_deref()).await?;
        }
        Some(Commands::Account { action }) => {
            // Checking an account waits on its servers (each step within 20 s).
            let daemon = DaemonHttp::with_timeout(cli.daemon().await?, ACCOUNT_CHECK)?;
            match action {
                AccountAction::Add { .. } => cli::account::add_from_env(&daemon).await?,
                AccountAction::List { json } => cli::account::list(&daemon, *json).await?,
                AccountAction::Remove { address } => cli::account::remove(&daemon, address).await?,
            }
        }
        Some(Commands::App { action }) => {
            // A build compiles: the first of a data dir takes a minute or more.
            let daemon = DaemonHttp::with_timeout(cli.daemon().await?, APP_BUILD)?;
            match action {
                AppAction::New { name } => cli::app::new(&daemon, name).await?,
                AppAction::Build { name } => cli::app::build(&daemon, name).await?,
                AppAction::Open { name } => cli::app::open(&daemon, name).await?,
                AppAction::List { json } => cli::app::list(&daemon, *json).await?,
                AppAction::Remove { name } => cli::app::remove(&daemon, name).await?,
            }
        }
        Some(Commands::Mcp) => {
            let daemon = DaemonHttp::with_timeout(cli.daemon().await?, cli::exec::EXEC_TIMEOUT)?;
            cli::mcp(daemon).await?;
        }
        Some(Commands::Web { print }) => {
            let endpoint = cli.daemon().await?;
            if cli::web(&endpoint, *print)? {
                eprintln!("choir: opened in your browser");
            }
        }
        None => open_desktop(&cli).await?,
    }
    Ok(())
}

/// The desktop against `--url`, or against the data dir's daemon (started if none runs).
async fn open_desktop(cli: &Cli) -> Result<()> {
    if cli.url.is_some() {
        let endpoint = cli.locate()?;
        return choir_tui::terminal::run(move || Ok::<_, ConnectError>(endpoint.clone())).await;
    }
    let data_dir = cli.data_dir()?;
    choir_tui::terminal::log_to_file(&data_dir.join("logs"))?;
    cli.daemon().await?;
    choir_tui::terminal::run(move || find_endpoint(&data_dir)).await
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

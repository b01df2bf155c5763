//! `choir-hypervisor`: each user's ChoirOS desktop over SSH, each user's sandbox confined and
//! supervised.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use hypervisor::control::{self, Request};
use hypervisor::layout::Layout;
use hypervisor::sandbox::{
    instance_name, parse_uid_range, Accounts, Confinement, IdPolicy, Limits, ProcessBackend,
    ProcessConfig, Sandboxes, SupervisorConfig, DEFAULT_UID_RANGE,
};
use hypervisor::ssh::{self, Shared};
use hypervisor::units::{parse_duration, parse_size};
use hypervisor::users::UserStore;

/// ChoirOS hypervisor: serves each registered user's live desktop over SSH
/// (`ssh alice@host`), running each user's sandbox confined under its own uid.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Where users, keys, the host key and every sandbox live
    /// [default: /var/lib/choir-hypervisor as root, else ~/.local/share/choir-hypervisor]
    #[arg(long, env = "CHOIR_HYPERVISOR_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Run the SSH server and supervise the sandboxes (SIGTERM or Ctrl-C stops them all)
    Serve(ServeArgs),
    /// Manage users and their SSH keys
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Look at and control the running server's sandboxes
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
    /// Enter a sandbox and run a program in it (used by `serve`)
    #[command(hide = true)]
    Confine(Confinement),
    /// Kill every process of a sandbox's uid (used by `serve`)
    #[command(hide = true)]
    KillUid {
        #[arg(value_parser = clap::value_parser!(u32).range(1..))]
        uid: u32,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address for SSH
    #[arg(long, default_value = "0.0.0.0:2222", value_name = "ADDR")]
    ssh_listen: SocketAddr,
    /// Uids (and gids) given to sandboxes, one per user, kept for good
    #[arg(long, value_name = "FIRST-LAST", default_value_t = format!("{}-{}", DEFAULT_UID_RANGE.start(), DEFAULT_UID_RANGE.end()))]
    uid_range: String,
    /// Stop a sandbox with no client and no work for this long (0: never)
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Processes and threads per sandbox
    #[arg(long, value_name = "N", default_value_t = Limits::default().procs,
          value_parser = clap::value_parser!(u64).range(16..))]
    limit_procs: u64,
    /// Memory per sandbox (and per process), e.g. 2G
    #[arg(long, value_name = "SIZE", default_value = "2G", value_parser = parse_size)]
    limit_memory: u64,
    /// Open files per process
    #[arg(long, value_name = "N", default_value_t = Limits::default().files,
          value_parser = clap::value_parser!(u64).range(64..))]
    limit_files: u64,
    /// Largest file a sandbox may write, e.g. 4G
    #[arg(long, value_name = "SIZE", default_value = "4G", value_parser = parse_size)]
    limit_file_size: u64,
    /// SSH channels (desktops and commands) a user may have open at once
    #[arg(long, value_name = "N", default_value_t = ssh::DEFAULT_CHANNELS_PER_USER,
          value_parser = clap::value_parser!(usize))]
    limit_channels: usize,
    /// Wait this long before restarting a sandbox that crashed soon after starting; doubles
    /// with each further quick crash
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    restart_backoff: Duration,
    /// Mark a sandbox failed after this many quick crashes in a row (until `sandbox restart`)
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    crash_loop: u32,
    /// Another directory sandboxes may read and execute from (repeatable), e.g. /opt/tools
    #[arg(long, value_name = "PATH")]
    sandbox_read: Vec<PathBuf>,
    /// Without root, let several users have sandboxes although they all run under this
    /// process's uid: they can then reach each other's data wherever Landlock does not hold
    #[arg(long)]
    unsafe_shared_uid: bool,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Register a user's public key (the user is created if new)
    Add {
        name: String,
        /// An OpenSSH public key file, e.g. ~/.ssh/id_ed25519.pub
        #[arg(long, value_name = "FILE")]
        ssh_key: PathBuf,
    },
    /// List users and their key fingerprints
    List,
    /// Remove a user and their keys (their sandbox's data stays on disk)
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
enum SandboxCommand {
    /// Every user's sandbox: state, pid, uid, uptime, memory, processes, clients
    List {
        /// Print the server's answer as JSON
        #[arg(long)]
        json: bool,
    },
    /// Stop a user's sandbox (a failed one is reset and starts again on next use)
    Stop { name: String },
    /// Stop a user's sandbox and start it again (a failed one too)
    Restart { name: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Commands::Confine(confinement) = &cli.command {
        // Before any thread exists: the confinement applies to this one process.
        return match confinement.enter() {
            Ok(never) => match never {},
            Err(err) => {
                eprintln!("choir-hypervisor confine: {err}");
                ExitCode::from(71)
            }
        };
    }
    if let Commands::KillUid { uid } = &cli.command {
        return match hypervisor::sandbox::kill_uid(*uid) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("choir-hypervisor kill-uid: {err}");
                ExitCode::FAILURE
            }
        };
    }
    // Everything the hypervisor creates is its own alone.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("choir-hypervisor: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("choir-hypervisor: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// A program installed next to this one, or else on `PATH`, as an absolute path (root runs
/// it: a name looked up in whatever directory the server was started from would not do).
fn sibling(name: &str) -> Result<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)));
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name));
    beside
        .into_iter()
        .chain(on_path)
        .find(|path| path.is_file())
        .with_context(|| format!("cannot find {name} next to choir-hypervisor or on PATH"))
}

async fn users(layout: &Layout) -> Result<UserStore> {
    layout.prepare()?;
    UserStore::open(&layout.users_db())
        .await
        .context("cannot open the user database")
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let dir = match cli.data_dir {
        Some(dir) => dir,
        None => hypervisor::layout::default_root()
            .context("no platform data dir is known here: pass --data-dir")?,
    };
    let layout = Layout::new(&dir);
    match cli.command {
        Commands::User {
            command: UserCommand::Add { name, ssh_key },
        } => {
            let text = std::fs::read_to_string(&ssh_key)
                .with_context(|| format!("cannot read {}", ssh_key.display()))?;
            let fingerprint = users(&layout).await?.add(&name, &text).await?;
            println!("{name}: added key {fingerprint}");
        }
        Commands::User {
            command: UserCommand::List,
        } => {
            for user in users(&layout).await?.list().await? {
                println!("{}\t{}", user.name, user.keys.join(" "));
            }
        }
        Commands::User {
            command: UserCommand::Remove { name },
        } => {
            // A running server removes the user itself: it also closes their connections and
            // stops their sandbox.
            let request = Request::RemoveUser { user: name.clone() };
            match control::request(&layout.control_socket(), &request).await {
                Ok(reply) if reply.ok => {}
                Ok(reply) => anyhow::bail!("{}", reply.message.unwrap_or_default()),
                Err(control::ControlError::NotRunning { .. }) => {
                    users(&layout).await?.remove(&name).await?
                }
                Err(err) => return Err(err.into()),
            }
            println!("{name}: removed");
        }
        Commands::Sandbox { command } => return sandbox_command(&layout, command).await,
        Commands::Serve(args) => serve(&layout, args).await?,
        Commands::Confine(_) | Commands::KillUid { .. } => {
            unreachable!("handled before the runtime starts")
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn sandbox_command(layout: &Layout, command: SandboxCommand) -> Result<ExitCode> {
    let (request, json) = match command {
        SandboxCommand::List { json } => (Request::List, json),
        SandboxCommand::Stop { name } => (Request::Stop { user: name }, false),
        SandboxCommand::Restart { name } => (Request::Restart { user: name }, false),
    };
    let reply = control::request(&layout.control_socket(), &request).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&reply)?);
    } else if let Request::List = request {
        print!(
            "{}",
            control::format_list(reply.isolation.as_ref(), &reply.sandboxes)
        );
    }
    if let Some(message) = &reply.message {
        if reply.ok {
            println!("{message}");
        } else {
            eprintln!("choir-hypervisor: {message}");
        }
    }
    Ok(if reply.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn serve(layout: &Layout, args: ServeArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CHOIR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal: a sandbox's log goes through a pipe into a file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let users = users(layout).await?;
    // Before anything else: starting would stop the sandboxes of a hypervisor already here.
    let _lock = layout.lock()?;
    let root = nix::unistd::geteuid().is_root();
    let policy = if root {
        layout.check_reachable()?;
        IdPolicy::PerUser {
            range: parse_uid_range(&args.uid_range).map_err(anyhow::Error::msg)?,
        }
    } else {
        let registered = users.list().await?.len();
        if registered > 1 && !args.unsafe_shared_uid {
            anyhow::bail!(
                "{registered} users are registered, but without root every sandbox would run under this \
                 process's uid and users could reach each other's data. Run as root, or pass \
                 --unsafe-shared-uid to accept that risk"
            );
        }
        IdPolicy::Shared {
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            several: args.unsafe_shared_uid,
        }
    };
    let accounts = Accounts::new(users.pool().clone(), policy).await?;
    let host_key = hypervisor::hostkey::load_or_create(&layout.host_key())?;
    if args.limit_memory < 64 << 20 || args.limit_file_size < 1 << 20 || args.limit_channels == 0 {
        anyhow::bail!(
            "--limit-memory must be at least 64M, --limit-file-size at least 1M and --limit-channels at least 1"
        );
    }
    let limits = Limits {
        procs: args.limit_procs,
        memory: args.limit_memory,
        files: args.limit_files,
        file_size: args.limit_file_size,
    };
    let backend = ProcessBackend::new(
        ProcessConfig {
            sandboxes: layout.sandboxes(),
            launcher: std::env::current_exe().context("cannot find this program's path")?,
            daemon: sibling("choir-daemon")?,
            choir: sibling("choir")?,
            limits,
            extra_read_only: args.sandbox_read,
            instance: instance_name(layout.root()),
            env: ProcessConfig::passed_env(),
        },
        accounts,
    );
    let mut supervision = SupervisorConfig::new(layout.logs());
    supervision.idle_timeout = (!args.idle_timeout.is_zero()).then_some(args.idle_timeout);
    supervision.idle_check =
        (args.idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    supervision.backoff = args.restart_backoff;
    supervision.crash_loop = args.crash_loop;
    let sandboxes = Sandboxes::start(backend, supervision).await;
    let isolation = sandboxes.isolation();
    for warning in &isolation.warnings {
        eprintln!("choir-hypervisor: WARNING: {warning}");
        tracing::warn!("{warning}");
    }

    let listener = tokio::net::TcpListener::bind(args.ssh_listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.ssh_listen))?;
    announce(&format!(
        "ChoirOS hypervisor: SSH on {}\nsandboxes: {}",
        listener.local_addr()?,
        isolation.confined.join("; ")
    ));
    let shared = Arc::new(Shared {
        users: users.clone(),
        sandboxes: sandboxes.clone(),
        channels: ssh::ChannelCounts::new(args.limit_channels),
        removals: tokio::sync::broadcast::channel(16).0,
    });
    let control_path = layout.control_socket();
    let outcome = tokio::select! {
        result = ssh::serve(listener, host_key, shared.clone()) => result.context("the SSH server failed"),
        result = control::serve(&control_path, sandboxes.clone(), users, shared.removals.clone()) => {
            result.context("the control socket failed")
        }
        signal = shutdown_signal() => signal,
    };
    tracing::info!("stopping every sandbox");
    sandboxes.shutdown().await;
    let _ = std::fs::remove_file(&control_path);
    tracing::info!("hypervisor stopped");
    outcome
}

/// Prints to stdout; a closed stdout (whoever started the server stopped reading) is not a
/// reason to stop serving.
fn announce(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
        tracing::debug!("stdout is closed; not announcing there");
    }
}

async fn shutdown_signal() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot watch SIGINT")?,
        _ = terminate.recv() => {}
    }
    Ok(())
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

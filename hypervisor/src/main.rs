//! `choir-hypervisor`: each user's ChoirOS desktop over SSH and in the browser (passkey
//! sign-in), each user's sandbox confined and supervised.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use hypervisor::control::{self, Request};
use hypervisor::layout::Layout;
use hypervisor::revocations::Revocations;
use hypervisor::sandbox::{
    image_name, instance_name, parse_uid_range, Accounts, AppBuilds, Backend, Confinement,
    DockerBackend, DockerConfig, IdPolicy, Limits, Network, NetworkPolicy, ProcessBackend,
    ProcessConfig, Sandboxes, SupervisorConfig, SwarmBackend, SwarmConfig, DEFAULT_UID_RANGE,
};
use hypervisor::ssh::{self, Shared};
use hypervisor::units::{parse_duration, parse_size};
use hypervisor::users::UserStore;
use hypervisor::web::{self, Invites, WebConfig};

/// ChoirOS hypervisor: serves each registered user's live desktop over SSH
/// (`ssh alice@host`) and in the browser (signed in with a passkey), running each user's
/// sandbox confined under its own uid.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Where users, keys, the host key and every sandbox live
    /// [default: /var/lib/choir-hypervisor as root, else ~/.local/share/choir-hypervisor]
    #[arg(long, env = "CHOIR_HYPERVISOR_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Keep users, keys, passkeys, sessions, sandbox accounts, placement and the SSH host key
    /// in this PostgreSQL database (postgres://…), shared by every hypervisor given it
    /// [default: SQLite, in the data dir]
    #[arg(long, env = "CHOIR_HYPERVISOR_DATABASE", value_name = "URL")]
    database: Option<String>,

    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Run the SSH server (and the web server, with --http-listen) and supervise the
    /// sandboxes (SIGTERM or Ctrl-C stops them all)
    Serve(Box<ServeArgs>),
    /// Manage users, their SSH keys and passkeys
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Look at and control the running server's sandboxes
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
    /// The Docker sandbox image
    Image {
        #[command(subcommand)]
        command: ImageCommand,
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

#[derive(Debug, Subcommand)]
enum ImageCommand {
    /// Build choir-sandbox:<version> from a root filesystem (scripts/build-sandbox-rootfs.sh
    /// makes one) and the choir-daemon and choir next to this program, and import it into
    /// each engine
    Build {
        /// The root filesystem: a directory
        #[arg(long, value_name = "DIR")]
        rootfs: PathBuf,
        /// A Docker engine (repeatable) [default: $DOCKER_HOST, else unix:///var/run/docker.sock]
        #[arg(long, value_name = "URL")]
        docker_host: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BackendKind {
    /// Each sandbox a confined process under its own uid
    Process,
    /// Each sandbox a container (bollard), on one of the --docker-host engines
    Docker,
    /// Each sandbox a Docker Swarm service of one replica, through a manager among the
    /// --docker-host engines (every node's engine named), shared by every hypervisor of the
    /// same --database and --swarm-name
    Swarm,
}

/// The engines given, or the one `DOCKER_HOST` names, or the usual socket.
fn docker_hosts(given: &[String]) -> Vec<String> {
    if !given.is_empty() {
        return given.to_vec();
    }
    vec![std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())]
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// How sandboxes run
    #[arg(long, value_enum, default_value = "process")]
    backend: BackendKind,
    /// A Docker engine for --backend docker (repeatable: new users go to the least-loaded),
    /// or for --backend swarm the engine of each Swarm node, a manager among them
    /// [default: $DOCKER_HOST, else unix:///var/run/docker.sock]
    #[arg(long, value_name = "URL")]
    docker_host: Vec<String>,
    /// Names the services and volumes of --backend swarm (NAME-USER): the same for every
    /// hypervisor that shares the database, another for another deployment on the same Swarm
    #[arg(long, value_name = "NAME", default_value = "choir")]
    swarm_name: String,
    /// What sandboxes may reach: `outbound` (the internet; not this host, its private
    /// networks, cloud metadata addresses or each other) or `none` (nothing)
    #[arg(
        long,
        value_name = "POLICY",
        default_value = "outbound",
        alias = "docker-network"
    )]
    sandbox_network: NetworkPolicy,
    /// An address range sandboxes may reach all the same, e.g. a package mirror on the
    /// private network (repeatable; CIDR)
    #[arg(long = "allow-net", value_name = "CIDR")]
    allow_net: Vec<String>,
    /// CPUs per Docker or Swarm sandbox
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    limit_cpus: f64,
    /// Address for SSH
    #[arg(long, default_value = "0.0.0.0:2222", value_name = "ADDR")]
    ssh_listen: SocketAddr,
    /// Address for the web server (passkey sign-in, then the desktop in the browser); none
    /// without this
    #[arg(long, value_name = "ADDR")]
    http_listen: Option<SocketAddr>,
    /// Where browsers reach the web server, e.g. https://choir.example.com (passkeys are bound
    /// to its host) [default: http://localhost:PORT]
    #[arg(long, value_name = "URL", requires = "http_listen")]
    origin: Option<url::Url>,
    /// Serve https with this PEM certificate chain (for a host without a TLS proxy in front)
    #[arg(long, value_name = "FILE", requires_all = ["tls_key", "http_listen"])]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// End a web session after this long without use
    #[arg(long, value_name = "DURATION", default_value = "12h", value_parser = parse_duration)]
    session_idle: Duration,
    /// End a web session this long after sign-in, however used
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_duration)]
    session_max_age: Duration,
    /// Sign-in and registration attempts per client address per minute
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    limit_signin: u32,
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
    /// What the hypervisor holds at most of one user's sandbox's data on its way to their
    /// browser tabs (and to shares of their desktop); a connection that would pass it is
    /// closed, saying so. (SSH desktops are drawn in the sandbox: the hypervisor carries their
    /// bytes one message at a time.)
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = parse_size)]
    limit_held: u64,
    /// SSH channels (desktops and commands) a user may have open at once
    #[arg(long, value_name = "N", default_value_t = ssh::DEFAULT_CHANNELS_PER_USER,
          value_parser = clap::value_parser!(usize))]
    limit_channels: usize,
    /// Time an SSH connection has, from connecting, to log in; then it is closed
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    login_grace: Duration,
    /// SSH connections not logged in yet that one address (an IPv6 /64 counts as one) may
    /// hold; more are closed at once
    #[arg(long, value_name = "N", default_value_t = hypervisor::admission::DEFAULT_PER_ADDRESS)]
    limit_unauthenticated_per_address: usize,
    /// SSH connections not logged in yet, from everyone together
    #[arg(long, value_name = "N", default_value_t = hypervisor::admission::DEFAULT_TOTAL)]
    limit_unauthenticated: usize,
    /// Connections one address may hold open to the web server; more are closed at once
    #[arg(long, value_name = "N", default_value_t = hypervisor::admission::DEFAULT_WEB_PER_ADDRESS)]
    limit_web_connections: usize,
    /// Time a web client has to send a request's headers, and again its body
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    web_read_timeout: Duration,
    /// Model requests a user's agent may make per minute through the model gateway
    #[arg(long, value_name = "N", default_value_t = hypervisor::gateway::Limits::default().requests_per_minute,
          value_parser = clap::value_parser!(u32).range(1..))]
    limit_model_requests: u32,
    /// Model tokens (prompt and answer) a user may use per UTC day through the gateway
    #[arg(long, value_name = "N", default_value_t = hypervisor::gateway::Limits::default().tokens_per_day,
          value_parser = clap::value_parser!(u64).range(1..))]
    limit_model_tokens: u64,
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
    /// The Rust toolchain sandboxes build apps with, lent to them read-only: its root, as
    /// `rustc --print sysroot` says (it needs the wasm32-unknown-unknown target); default:
    /// the one `rustc` on PATH runs, if it has that target
    #[arg(long, value_name = "DIR")]
    apps_rust: Option<PathBuf>,
    /// Where the copy of the crates apps build with is kept, made once from cargo's cache
    /// (scripts/setup.sh fills that); default: ~/.cache/choir
    #[arg(long, value_name = "DIR")]
    apps_cache: Option<PathBuf>,
    /// Lend sandboxes no toolchain: apps cannot be built in them
    #[arg(long, conflicts_with = "apps_rust")]
    no_app_builds: bool,
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
    /// Print a one-time link where a user registers a passkey for the web (the user is
    /// created if new)
    Invite {
        name: String,
        /// How long the link works
        #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
        expires: Duration,
        /// The web server's origin for the link [default: the one the server last served]
        #[arg(long, value_name = "URL")]
        origin: Option<url::Url>,
    },
    /// List users with their SSH key fingerprints and passkeys
    List,
    /// Remove a user with their keys, passkeys and web sessions (their sandbox's data stays
    /// on disk)
    Remove { name: String },
    /// Remove one of a user's passkeys (its id as `user list` shows it) and end the web
    /// sessions signed in with it
    RemovePasskey { name: String, id: String },
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
    match layout.database() {
        Some(url) => {
            let pool = hypervisor::db::connect(url)
                .await
                .context("cannot connect to the database (--database)")?;
            UserStore::new(pool)
                .await
                .context("cannot prepare the database (--database)")
        }
        None => UserStore::open(&layout.users_db())
            .await
            .context("cannot open the user database"),
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let dir = match cli.data_dir {
        Some(dir) => dir,
        None => hypervisor::layout::default_root()
            .context("no platform data dir is known here: pass --data-dir")?,
    };
    let layout = Layout::new(&dir).with_database(cli.database);
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
            command:
                UserCommand::Invite {
                    name,
                    expires,
                    origin,
                },
        } => {
            let users = users(&layout).await?;
            users.create(&name).await?;
            let secret = Invites::new(users.pool().clone())
                .create(&name, expires)
                .await?;
            let origin = match origin {
                Some(origin) => web::check_origin(&origin)?,
                None => std::fs::read_to_string(layout.web_origin())
                    .map(|origin| origin.trim().to_owned())
                    .context(
                        "no web server has run with this --data-dir yet: pass --origin URL \
                         (the address browsers use)",
                    )?,
            };
            println!("{origin}/invite#{secret}");
            eprintln!(
                "{name}: open this link within {} to register a passkey (it works once)",
                hypervisor::units::format_duration(expires)
            );
        }
        Commands::User {
            command: UserCommand::List,
        } => {
            let users = users(&layout).await?;
            let usage = hypervisor::gateway::today_of(users.pool()).await;
            print!("{}", format_users(&users.list().await?, &usage));
        }
        Commands::User {
            command: UserCommand::RemovePasskey { name, id },
        } => {
            let request = Request::RemovePasskey {
                user: name.clone(),
                id: id.clone(),
            };
            match control::request(&layout.control_socket(), &request).await {
                Ok(reply) if reply.ok => println!("{}", reply.message.unwrap_or_default()),
                Ok(reply) => anyhow::bail!("{}", reply.message.unwrap_or_default()),
                Err(control::ControlError::NotRunning { .. }) => {
                    let id = users(&layout).await?.remove_passkey(&name, &id).await?;
                    println!("{name}: removed passkey {id}");
                }
                Err(err) => return Err(err.into()),
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
        Commands::Image {
            command:
                ImageCommand::Build {
                    rootfs,
                    docker_host,
                },
        } => {
            let name = hypervisor::sandbox::image::build(
                &docker_hosts(&docker_host),
                &rootfs,
                &sibling("choir-daemon")?,
                &sibling("choir")?,
            )
            .await
            .map_err(anyhow::Error::msg)?;
            println!("{name}");
        }
        Commands::Serve(args) => serve(&layout, *args).await?,
        Commands::Confine(_) | Commands::KillUid { .. } => {
            unreachable!("handled before the runtime starts")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `user list`: each user with their keys, passkeys and (from `usage`: requests and tokens by name) use
/// of the model gateway today.
fn format_users(
    users: &[hypervisor::users::UserEntry],
    usage: &std::collections::HashMap<String, (u64, u64)>,
) -> String {
    let mut text = String::new();
    for user in users {
        text.push_str(&format!("{}\n", user.name));
        if let Some((requests, tokens)) = usage.get(&user.name) {
            text.push_str(&format!(
                "  model    today (UTC): {} requests, {} tokens\n",
                choir_proto::thousands(*requests),
                choir_proto::thousands(*tokens)
            ));
        }
        for key in &user.keys {
            text.push_str(&format!("  ssh      {key}\n"));
        }
        for passkey in &user.passkeys {
            let last_used = passkey
                .last_used
                .map(|ms| format!("last used {}", date(ms)))
                .unwrap_or_else(|| "never used".to_owned());
            text.push_str(&format!(
                "  passkey  {}  {:?}  added {}, {last_used}\n",
                passkey.short_id(),
                passkey.label,
                date(passkey.created)
            ));
        }
        if user.keys.is_empty() && user.passkeys.is_empty() {
            text.push_str("  (no SSH key or passkey yet)\n");
        }
    }
    text
}

/// A UTC date and time from milliseconds since the epoch.
fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "?".into())
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
    raise_open_files();
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
    // Shared with the other hypervisors of a shared database: clients see one host.
    let host_key = if hypervisor::db::is_postgres(users.pool()) {
        hypervisor::hostkey::shared(users.pool(), &layout.host_key()).await?
    } else {
        hypervisor::hostkey::load_or_create(&layout.host_key())?
    };
    if args.limit_memory < 64 << 20 || args.limit_file_size < 1 << 20 || args.limit_channels == 0 {
        anyhow::bail!(
            "--limit-memory must be at least 64M, --limit-file-size at least 1M and --limit-channels at least 1"
        );
    }
    if args.limit_held < 16 << 20 {
        anyhow::bail!(
            "--limit-held must be at least 16M: a desktop holds its world, and a tab the message it passes on"
        );
    }
    if args.limit_unauthenticated_per_address == 0
        || args.limit_unauthenticated == 0
        || args.limit_web_connections == 0
        || args.login_grace.is_zero()
        || args.web_read_timeout.is_zero()
    {
        anyhow::bail!(
            "--limit-unauthenticated, --limit-unauthenticated-per-address and --limit-web-connections \
             must be at least 1, --login-grace and --web-read-timeout more than 0"
        );
    }
    // Both listeners first: where shares are opened (told to every sandbox) depends on them.
    let web_listener = match args.http_listen {
        Some(addr) => Some(bind_web(&args, addr).await?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(args.ssh_listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.ssh_listen))?;
    let allow_net = args
        .allow_net
        .iter()
        .map(|range| hypervisor::sandbox::namespaces::parse_range(range))
        .collect::<Result<Vec<_>, _>>()?;
    if root && args.backend == BackendKind::Process {
        let network = match args.sandbox_network {
            NetworkPolicy::Outbound => Network::Outbound,
            NetworkPolicy::None => Network::None,
        };
        hypervisor::sandbox::namespaces::check(network)
            .context("sandboxes cannot have a network of their own here")?;
    }
    let gateway_config = hypervisor::gateway::GatewayConfig::from_env(
        |name| std::env::var(name).ok(),
        hypervisor::gateway::Limits {
            requests_per_minute: args.limit_model_requests,
            tokens_per_day: args.limit_model_tokens,
            ..hypervisor::gateway::Limits::default()
        },
    );
    if let Some(problem) = gateway_config.problem() {
        anyhow::bail!("the model gateway: {problem}");
    }
    let gateway = if gateway_config.enabled() {
        Some(hypervisor::gateway::Gateway::new(gateway_config, users.pool().clone()).await?)
    } else {
        None
    };
    let mut env = ProcessConfig::passed_env();
    env.extend(share_links(
        web_listener.as_ref().map(|web| &web.origin),
        listener.local_addr()?,
    ));
    let limits = Limits {
        procs: args.limit_procs,
        memory: args.limit_memory,
        files: args.limit_files,
        file_size: args.limit_file_size,
    };
    let app_builds = app_builds(layout, &args).await?;
    let backend: Arc<dyn Backend> = match args.backend {
        BackendKind::Process => ProcessBackend::new(
            ProcessConfig {
                sandboxes: layout.sandboxes(),
                launcher: std::env::current_exe().context("cannot find this program's path")?,
                daemon: sibling("choir-daemon")?,
                choir: sibling("choir")?,
                limits,
                extra_read_only: args.sandbox_read.clone(),
                instance: instance_name(layout.root()),
                env: env.clone(),
                gateway: gateway.clone(),
                network: match args.sandbox_network {
                    NetworkPolicy::Outbound => Network::Outbound,
                    NetworkPolicy::None => Network::None,
                },
                allow_net: allow_net.clone(),
                app_builds,
            },
            accounts,
        ),
        BackendKind::Swarm => {
            if !(0.01..=1024.0).contains(&args.limit_cpus) {
                anyhow::bail!("--limit-cpus must be between 0.01 and 1024");
            }
            if args.sandbox_network == NetworkPolicy::None {
                anyhow::bail!(
                    "--backend swarm reaches each daemon on a port its node publishes: \
                     --sandbox-network none cannot be kept there"
                );
            }
            // NAME-USER must name one sandbox only, within Swarm's 63 characters.
            if args.swarm_name.is_empty()
                || args.swarm_name.len() > 30
                || !args
                    .swarm_name
                    .starts_with(|c: char| c.is_ascii_lowercase())
                || !args
                    .swarm_name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                anyhow::bail!(
                    "--swarm-name must be 1 to 30 lower-case letters, digits or `_`, a letter \
                     first (it names Swarm services and volumes, NAME-USER)"
                );
            }
            SwarmBackend::new(
                SwarmConfig {
                    engines: docker_hosts(&args.docker_host),
                    name: args.swarm_name.clone(),
                    image: image_name(),
                    limits,
                    cpus: args.limit_cpus,
                    allowed: allow_net.clone(),
                    env,
                },
                accounts,
                users.pool().clone(),
            )
            .await
            .map_err(anyhow::Error::msg)
            .context("--backend swarm")?
        }
        BackendKind::Docker => {
            if !(0.01..=1024.0).contains(&args.limit_cpus) {
                anyhow::bail!("--limit-cpus must be between 0.01 and 1024");
            }
            DockerBackend::new(
                DockerConfig {
                    engines: docker_hosts(&args.docker_host),
                    image: image_name(),
                    limits,
                    cpus: args.limit_cpus,
                    network: args.sandbox_network,
                    allowed: allow_net.clone(),
                    instance: instance_name(layout.root()),
                    env,
                    gateway: gateway.clone(),
                    app_builds,
                },
                accounts,
                users.pool().clone(),
            )
            .await?
        }
    };
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

    let revocations = Revocations::default();
    let shared = Arc::new(Shared {
        users: users.clone(),
        sandboxes: sandboxes.clone(),
        channels: ssh::ChannelCounts::new(args.limit_channels),
        revocations: revocations.clone(),
    });
    // The web server first: its line comes before the SSH one, which says all is up.
    let web_server = match web_listener {
        Some(bound) => Some(web_server(layout, &args, bound, &shared, gateway.clone())?),
        None => None,
    };
    announce(&format!(
        "ChoirOS hypervisor: SSH on {}\nsandboxes: {}",
        listener.local_addr()?,
        isolation.confined.join("; ")
    ));
    if let Some(gateway) = &gateway {
        let config = gateway.config();
        let limits = format!(
            "{} requests a minute and {} tokens a day per user",
            config.limits.requests_per_minute,
            choir_proto::thousands(config.limits.tokens_per_day),
        );
        announce(&match (&config.provider, &config.model) {
            (Some(provider), Some(model)) => {
                format!("model gateway: {provider} {model} for every sandbox, {limits}")
            }
            _ => format!(
                "model gateway: for agents whose owner names a model (no CHOIR_MODEL: others are offline), {limits}"
            ),
        });
    }
    let control_path = layout.control_socket();
    let web = async {
        match web_server {
            Some(server) => server.await.context("the web server failed"),
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        result = ssh::serve(listener, host_key, shared.clone(), ssh::LoginLimits {
            caps: hypervisor::admission::Caps {
                per_address: args.limit_unauthenticated_per_address,
                total: args.limit_unauthenticated,
            },
            grace: args.login_grace,
        }) => result.context("the SSH server failed"),
        result = web => result,
        result = control::serve(&control_path, sandboxes.clone(), users, revocations) => {
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

/// The web server's socket, bound, and where browsers reach it.
struct WebListener {
    listener: tokio::net::TcpListener,
    tls: Option<web::TlsAcceptor>,
    origin: url::Url,
}

/// Binds the web server's socket.
async fn bind_web(args: &ServeArgs, addr: SocketAddr) -> Result<WebListener> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(web::tls_acceptor(cert, key)?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let origin = match &args.origin {
        Some(origin) => origin.clone(),
        None => url::Url::parse(&format!("{scheme}://localhost:{}", bound.port()))?,
    };
    if tls.is_some() != (origin.scheme() == "https") && args.origin.is_some() {
        tracing::info!(
            "--origin is {origin} while this server speaks {scheme}: a TLS proxy in front is assumed"
        );
    }
    Ok(WebListener {
        listener,
        tls,
        origin,
    })
}

/// What a sandbox's `choir share` prints as the ways in: a web link (with the web server) and
/// an ssh command, with `{user}` for the sandbox's user (each backend fills it in) and
/// `{token}` for the share's (the daemon fills it in).
fn share_links(origin: Option<&url::Url>, ssh: SocketAddr) -> Vec<(String, String)> {
    let mut links = Vec::new();
    if let Some(origin) = origin {
        let base = origin.as_str().trim_end_matches('/');
        links.push(("CHOIR_SHARE_WEB".into(), format!("{base}/share/{{user}}/")));
    }
    let host = match origin.and_then(url::Url::host_str) {
        Some(host) => host.to_owned(),
        None if ssh.ip().is_unspecified() => "localhost".to_owned(),
        None => ssh.ip().to_string(),
    };
    let port = match ssh.port() {
        22 => String::new(),
        port => format!("-p {port} "),
    };
    links.push((
        "CHOIR_SHARE_SSH".into(),
        format!("ssh -t {port}{{user}}.{{token}}@{host}"),
    ));
    links
}

/// Says where the web server is; the returned future serves it.
fn web_server(
    layout: &Layout,
    args: &ServeArgs,
    bound: WebListener,
    shared: &Shared,
    gateway: Option<Arc<hypervisor::gateway::Gateway>>,
) -> Result<impl std::future::Future<Output = std::io::Result<()>>> {
    let WebListener {
        listener,
        tls,
        origin,
    } = bound;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let bound = listener.local_addr()?;
    let config = WebConfig {
        origin,
        session_idle: args.session_idle,
        session_max_age: args.session_max_age,
        signin_per_minute: args.limit_signin,
        gateway,
        budgets: choir_client::budget::Budgets::new(args.limit_held as usize),
        decoy_key: web::load_decoy_key(&layout.state())
            .with_context(|| format!("the sign-in key in {}", layout.state().display()))?,
    };
    let state = web::Web::new(
        &config,
        shared.users.clone(),
        shared.sandboxes.clone(),
        shared.revocations.clone(),
    )?;
    let origin = web::check_origin(&config.origin)?;
    std::fs::write(layout.web_origin(), format!("{origin}\n"))
        .with_context(|| format!("cannot write {}", layout.web_origin().display()))?;
    if !choir_web_assets::embedded() {
        eprintln!(
            "choir-hypervisor: WARNING: this build has no web mirror (run scripts/build-web.sh, \
             then build again): browsers get a page saying so"
        );
    }
    announce(&format!(
        "ChoirOS hypervisor: web on {origin} ({scheme} on {bound})"
    ));
    let limits = web::ConnectionLimits {
        per_address: args.limit_web_connections,
        headers: args.web_read_timeout,
        body: args.web_read_timeout,
    };
    Ok(web::serve(listener, tls, web::router(state), limits))
}

/// Every SSH channel, browser tab and sandbox socket is a descriptor or two: allow as many as
/// the system lets this process have (the soft limit is often 1024).
fn raise_open_files() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            if let Err(err) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::warn!(%err, soft, hard, "cannot raise the open files limit");
            }
        }
    }
}

/// What sandboxes build apps with: none with `--no-app-builds`; the toolchain `--apps-rust`
/// names (an error if it cannot be used); else the one on PATH, if it can be used (said,
/// not an error, if not).
async fn app_builds(layout: &Layout, args: &ServeArgs) -> Result<Option<AppBuilds>> {
    // Swarm sandboxes cannot be lent this host's files (said among the start-up warnings).
    if args.no_app_builds || args.backend == BackendKind::Swarm {
        return Ok(None);
    }
    let cache = args
        .apps_cache
        .clone()
        .or_else(|| dirs::cache_dir().map(|dir| dir.join("choir")))
        .unwrap_or_else(|| layout.root().join("cache"));
    match AppBuilds::prepare(args.apps_rust.clone(), &cache).await {
        Ok(builds) => {
            announce(&builds.describe());
            Ok(Some(builds))
        }
        Err(err) if args.apps_rust.is_none() => {
            eprintln!("choir-hypervisor: apps cannot be built in sandboxes: {err}");
            tracing::warn!(%err, "apps cannot be built in sandboxes");
            Ok(None)
        }
        Err(err) => Err(err).context("--apps-rust"),
    }
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

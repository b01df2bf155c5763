//! The ChoirOS sandbox daemon: the event store, the domain actors and the API, assembled by
//! [`Daemon::start`].

pub mod activity;
pub mod actors;
pub mod agent;
pub mod api;
pub mod apps;
mod atomic_file;
pub mod datadir;
pub mod docfiles;
pub mod listen;
pub mod mail;
pub mod settings;
pub mod shares;
pub mod shell;
pub mod store;
pub mod tokens;
pub mod tools;

use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use activity::Activity;
use actors::{load_world, Snapshots, WorldHandle};
use agent::AgentConfig;
use api::AppState;
use datadir::{DataDir, DataDirError, Endpoint};
pub use listen::Listen;
use store::{EventStore, StoreError, StoreOptions};
use tokens::Tokens;
use tools::{ToolRegistry, ToolRunner, Workspace};

/// What the document files were last written at, in the data dir.
const DOC_FILES_STATE: &str = "docfiles.json";

/// Live signals (streaming text) a slow client may miss without harm.
const EPHEMERAL_CAPACITY: usize = 1024;
/// Queries (past moments, old texts, pages) the daemon answers at once, over every connection.
const QUERIES_AT_ONCE: usize = 8;

/// How to run a daemon.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub data_dir: PathBuf,
    pub listen: Listen,
    /// The host token (see `tokens.rs`), if whoever starts the daemon chooses one; the data
    /// dir's token file (created on first start) is the local token either way.
    pub token: Option<String>,
    pub store: StoreOptions,
    /// The chat agent's model and approval policy (offline unless configured).
    pub agent: AgentConfig,
    /// The user's settings file (see [`settings`]); none: the defaults, or what the log
    /// last recorded.
    pub settings: Option<PathBuf>,
    /// The apps the user or the agent writes.
    pub apps: AppsConfig,
}

/// Where apps are built and what they may use.
#[derive(Debug, Clone)]
pub struct AppsConfig {
    /// Where builds put their files; default the data dir's `apps/target`, or
    /// `$CHOIR_APPS_TARGET_DIR` (to share one between data dirs).
    pub target_dir: Option<PathBuf>,
    /// The crates builds take, copied by the host (`$CHOIR_APPS_CRATES`, see
    /// [`choir_apps::vendor`]); none: cargo's cache.
    pub crates: Option<PathBuf>,
    pub limits: choir_apps::Limits,
}

impl Default for AppsConfig {
    fn default() -> Self {
        AppsConfig {
            target_dir: std::env::var_os("CHOIR_APPS_TARGET_DIR")
                .filter(|dir| !dir.is_empty())
                .map(PathBuf::from),
            crates: std::env::var_os("CHOIR_APPS_CRATES")
                .filter(|dir| !dir.is_empty())
                .map(PathBuf::from),
            limits: choir_apps::Limits::default(),
        }
    }
}

impl DaemonConfig {
    /// A daemon for `data_dir` on a free port of 127.0.0.1, with the data dir's own token,
    /// the default store and the offline agent: what tests, benchmarks and embedders start.
    pub fn local(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen: Listen::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            token: None,
            store: StoreOptions::default(),
            agent: AgentConfig::default(),
            settings: None,
            apps: AppsConfig::default(),
        }
    }
}

/// Why a daemon could not start.
#[derive(Debug, Error)]
pub enum DaemonError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error("event log {path}: {source}")]
    Store { path: PathBuf, source: StoreError },
    #[error("snapshot file {path}: {source}")]
    Snapshot { path: PathBuf, source: sqlx::Error },
    #[error("cannot run apps: {0}")]
    Apps(apps::AppsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: Listen,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// A started daemon. Dropping it does not stop it; call [`RunningDaemon::shutdown`].
pub struct RunningDaemon {
    /// Where it listens (the real port, or the absolute socket path).
    pub addr: Listen,
    /// The token its starter uses: the host token if one was given, else the local token.
    pub token: String,
    /// The store, for in-process callers.
    pub store: EventStore,
    /// Events replayed from the log at start (the tail after the snapshot, or all of them).
    pub replayed: u64,
    /// The apps the user or the agent writes, for in-process callers.
    pub apps: apps::Apps,
    shutdown: CancellationToken,
    server: JoinHandle<Result<(), std::io::Error>>,
    doc_files: JoinHandle<()>,
    world: WorldHandle,
    data_dir: DataDir,
}

/// Entry point of the daemon library.
pub struct Daemon;

impl Daemon {
    /// Locks the data dir, opens the log, starts the actors and the API, and records the
    /// endpoint in the data dir.
    pub async fn start(config: DaemonConfig) -> Result<RunningDaemon, DaemonError> {
        let data_dir = DataDir::open(&config.data_dir)?;
        let tokens = Tokens::new(
            config.token,
            data_dir.token()?,
            data_dir.root(),
            config.store.redactor.clone(),
            config.agent.secrets(),
        );
        let token = tokens.owner();
        let db_path = data_dir.db_path();
        let store_error = |source| DaemonError::Store {
            path: db_path.clone(),
            source,
        };
        let store = EventStore::open(&db_path, config.store.clone())
            .await
            .map_err(store_error)?;
        let snapshot_path = data_dir.snapshot_path();
        let snapshots =
            Snapshots::open(&snapshot_path)
                .await
                .map_err(|source| DaemonError::Snapshot {
                    path: snapshot_path,
                    source,
                })?;
        let loaded = load_world(&store, &snapshots).await.map_err(store_error)?;
        let (world, replayed) = (loaded.world, loaded.replayed);
        tracing::info!(
            head = world.head,
            replayed,
            windows = world.desktop.windows.len(),
            "event log loaded"
        );

        let workspace_dir = data_dir.workspace();
        let workspace = Workspace::new(&workspace_dir).map_err(|source| DataDirError::Io {
            action: "open the workspace",
            path: workspace_dir,
            source,
        })?;
        let shutdown = CancellationToken::new();
        agent::recover(&store, &world).await.map_err(store_error)?;
        shell::recover(&store, &world).await.map_err(store_error)?;
        if let Some(path) = &config.settings {
            let read = tokio::task::spawn_blocking({
                let path = path.clone();
                move || settings::read(&path)
            })
            .await
            .unwrap_or_else(|err| settings::Read {
                settings: world.settings.clone(),
                problem: Some(format!("cannot read the settings: {err}")),
            });
            settings::record(&store, &settings::recorded(&world), read)
                .await
                .map_err(store_error)?;
        }
        let (ephemerals, _) = tokio::sync::broadcast::channel(EPHEMERAL_CAPACITY);
        let shells = shell::Shells::spawn(
            store.clone(),
            shell::ShellConfig::new(workspace.root().to_path_buf()),
            &world,
            shell::SendAhead {
                ephemerals: ephemerals.clone(),
                redactor: config.store.redactor.clone(),
            },
            shutdown.clone(),
        );
        let head = world.head;
        let docs = world
            .docs
            .iter()
            .map(|(id, doc)| (*id, doc.summary()))
            .collect();
        let subagents = world
            .chats
            .values()
            .filter_map(|thread| Some((thread.id, thread.subagent.clone()?)))
            .collect();
        let mail_views = world.mail.clone();
        let world_at_head = world.clone();
        let calendar_views = world.calendars.clone();
        let past = actors::Past::new(store.clone(), snapshots.clone());
        let world = WorldHandle::spawn(store.clone(), snapshots, world, shells);
        let doc_files = docfiles::spawn(
            store.clone(),
            world.clone(),
            workspace.root(),
            data_dir.root().join(DOC_FILES_STATE),
            docs,
            head,
            shutdown.clone(),
        );
        let activity = Activity::default();
        let mail = mail::MailAccounts::open(data_dir.root(), config.store.redactor.clone());
        mail::windows::spawn(
            store.clone(),
            mail.clone(),
            world.clone(),
            workspace.clone(),
            &mail_views,
            head,
            shutdown.clone(),
        );
        mail::calendars::spawn(
            store.clone(),
            mail.clone(),
            &calendar_views,
            head,
            shutdown.clone(),
        );
        let apps = apps::Apps::new(
            data_dir.root(),
            workspace.root(),
            &config.apps,
            store.clone(),
            world.clone(),
        )
        .map_err(DaemonError::Apps)?;
        let tools = ToolRunner::new(
            ToolRegistry::standard()
                .with_accounts(mail.clone())
                .with_apps(apps.clone()),
            store.clone(),
            workspace,
            world.clone(),
        )
        .with_activity(activity.clone());
        apps::windows::spawn(
            apps.clone(),
            tools.clone(),
            store.clone(),
            world.clone(),
            &world_at_head,
            head,
            shutdown.clone(),
        );
        drop(world_at_head);
        let (usage_latest, model_usage) = tokio::sync::watch::channel(None);
        let usage = config
            .agent
            .usage_source()
            .map(|source| agent::gateway::UsageNews::new(source, usage_latest, ephemerals.clone()));
        if let Some(usage) = usage.clone() {
            tokio::spawn(async move { usage.refresh().await });
        }
        agent::spawn(
            store.clone(),
            tools.clone(),
            &config.agent,
            agent::Resume { head, subagents },
            agent::Daemon {
                ephemerals: ephemerals.clone(),
                activity: activity.clone(),
                usage,
                shutdown: shutdown.clone(),
            },
        );
        let shares = shares::Shares::open(data_dir.root(), head);
        tokio::spawn(shares::watch_full_shares(
            shares.clone(),
            tokens.clone(),
            shutdown.clone(),
        ));
        let (listener, addr) =
            listen::bind(&config.listen)
                .await
                .map_err(|source| DaemonError::Bind {
                    addr: config.listen.clone(),
                    source,
                })?;
        let state = AppState {
            own_url: Arc::from(addr.url()),
            activity,
            world: world.clone(),
            tools,
            past,
            shares: shares.clone(),
            queries: Arc::new(tokio::sync::Semaphore::new(QUERIES_AT_ONCE)),
            ephemerals,
            agent: Arc::new(config.agent.describe()),
            store: store.clone(),
            tokens: tokens.clone(),
            model_usage,
            shutdown: shutdown.clone(),
            settings_path: config.settings.clone().map(Arc::from),
            mail,
            apps: apps.clone(),
        };
        // The endpoint file first: whoever sees the daemon answer can also find it. Clients
        // that connect before the server runs wait in the listen backlog.
        tokens.publish(Endpoint {
            url: addr.url(),
            token: String::new(),
            pid: std::process::id(),
            viewer: None,
        })?;
        let server = tokio::spawn(listen::serve(
            listener,
            api::router(state),
            shutdown.clone(),
        ));
        Ok(RunningDaemon {
            addr,
            token,
            store,
            replayed,
            apps,
            shutdown,
            server,
            doc_files,
            world,
            data_dir,
        })
    }
}

impl RunningDaemon {
    /// The world actor, for in-process callers.
    pub fn world(&self) -> &WorldHandle {
        &self.world
    }

    /// The base URL, e.g. `http://127.0.0.1:8080` or `unix:/path/daemon.sock`.
    pub fn url(&self) -> String {
        self.addr.url()
    }

    /// Where to point a client: for TCP the URL to open in a browser, with the token as a
    /// query parameter; for a Unix socket its address (the token is not printed).
    pub fn announce_url(&self) -> String {
        match self.addr {
            Listen::Tcp(_) => format!("{}/?token={}", self.url(), self.token),
            Listen::Unix(_) => self.url(),
        }
    }

    /// Resolves when the server stops on its own (it normally runs until shutdown).
    pub async fn stopped(&mut self) -> Result<(), DaemonError> {
        match (&mut self.server).await {
            Ok(result) => result.map_err(DaemonError::Serve),
            Err(join) => Err(DaemonError::Serve(std::io::Error::other(join))),
        }
    }

    /// Stops accepting, closes client sessions, writes every queued append, releases the lock.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(%err, "the server stopped with an error"),
            Err(err) => tracing::warn!(%err, "the server task failed"),
        }
        if let Err(err) = self.doc_files.await {
            tracing::warn!(%err, "the document files task failed");
        }
        // The snapshot, so that the next start replays nothing.
        self.world.close().await;
        self.store.shutdown().await;
        listen::remove_socket(&self.addr);
        self.data_dir.remove_endpoint();
        tracing::info!(head = self.store.head(), "daemon stopped");
    }
}

/// A fresh correlation id: 16 random hex digits.
pub(crate) fn correlation() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return "unknown".into();
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

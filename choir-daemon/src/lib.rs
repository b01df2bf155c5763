//! The ChoirOS sandbox daemon: the event store, the domain actors and the API, assembled by
//! [`Daemon::start`].

pub mod actors;
pub mod agent;
pub mod api;
pub mod datadir;
pub mod docfiles;
pub mod store;
pub mod tools;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use actors::{load_world, CommandHandle, ProjectionHandle};
use agent::AgentConfig;
use api::AppState;
use datadir::{DataDir, DataDirError, Endpoint};
use store::{EventStore, StoreError, StoreOptions};
use tools::{ToolRegistry, ToolRunner, Workspace};

/// What the document files were last written at, in the data dir.
const DOC_FILES_STATE: &str = "docfiles.json";

/// Live signals (streaming text) a slow client may miss without harm.
const EPHEMERAL_CAPACITY: usize = 1024;

/// How to run a daemon.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub store: StoreOptions,
    /// The chat agent's model and approval policy (offline unless configured).
    pub agent: AgentConfig,
}

/// Why a daemon could not start.
#[derive(Debug, Error)]
pub enum DaemonError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error("event log {path}: {source}")]
    Store { path: PathBuf, source: StoreError },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// A started daemon. Dropping it does not stop it; call [`RunningDaemon::shutdown`].
pub struct RunningDaemon {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The sandbox token.
    pub token: String,
    /// The store, for in-process callers.
    pub store: EventStore,
    shutdown: CancellationToken,
    server: JoinHandle<Result<(), std::io::Error>>,
    doc_files: JoinHandle<()>,
    data_dir: DataDir,
}

/// Entry point of the daemon library.
pub struct Daemon;

impl Daemon {
    /// Locks the data dir, opens the log, starts the actors and the API, and records the
    /// endpoint in the data dir.
    pub async fn start(config: DaemonConfig) -> Result<RunningDaemon, DaemonError> {
        let data_dir = DataDir::open(&config.data_dir)?;
        let token = data_dir.token()?;
        let db_path = data_dir.db_path();
        let store_error = |source| DaemonError::Store {
            path: db_path.clone(),
            source,
        };
        let store = EventStore::open(&db_path, config.store.clone())
            .await
            .map_err(store_error)?;
        let world = load_world(&store).await.map_err(store_error)?;
        tracing::info!(
            head = world.head,
            windows = world.desktop.windows.len(),
            "event log loaded"
        );

        let workspace_dir = data_dir.workspace();
        let workspace = Workspace::new(&workspace_dir).map_err(|source| DataDirError::Io {
            action: "open the workspace",
            path: workspace_dir,
            source,
        })?;
        let commands = CommandHandle::spawn(store.clone(), world.clone());
        let shutdown = CancellationToken::new();
        let doc_files = docfiles::spawn(
            store.clone(),
            commands.clone(),
            workspace.root(),
            data_dir.root().join(DOC_FILES_STATE),
            &world,
            shutdown.clone(),
        );
        let tools = ToolRunner::new(
            ToolRegistry::standard(),
            store.clone(),
            workspace,
            commands.clone(),
        );
        let (ephemerals, _) = tokio::sync::broadcast::channel(EPHEMERAL_CAPACITY);
        agent::spawn(
            store.clone(),
            tools.clone(),
            &config.agent,
            ephemerals.clone(),
            world.clone(),
        );
        let state = AppState {
            commands,
            tools,
            ephemerals,
            agent: Arc::new(config.agent.describe()),
            projection: ProjectionHandle::spawn(store.clone(), world),
            store: store.clone(),
            token: Arc::from(token.as_str()),
            shutdown: shutdown.clone(),
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| DaemonError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(DaemonError::Serve)?;
        let app = api::router(state);
        let stop = shutdown.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });
        data_dir.write_endpoint(&Endpoint {
            url: format!("http://{addr}"),
            token: token.clone(),
            pid: std::process::id(),
        })?;
        Ok(RunningDaemon {
            addr,
            token,
            store,
            shutdown,
            server,
            doc_files,
            data_dir,
        })
    }
}

impl RunningDaemon {
    /// The base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL to open in a browser: the base URL with the token as a query parameter.
    pub fn url_with_token(&self) -> String {
        format!("{}/?token={}", self.url(), self.token)
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
        self.store.shutdown().await;
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

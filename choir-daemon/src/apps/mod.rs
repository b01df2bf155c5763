//! The apps the user or the agent writes (see `choir-apps`): their sources in the
//! workspace's `apps/NAME/`, their built components in the data dir's `apps/NAME/VERSION.wasm`,
//! and the windows that run them ([`windows`]).
//!
//! Making, building and removing an app goes through [`Apps`], for the HTTP API (`choir app
//! …`) and the agent's `app_create` / `app_update` tools alike. One build runs at a time.

mod fetch;
mod host;
pub mod windows;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use choir_apps::{BuildError, Runtime};
use choir_proto::apps::valid_app_name;
use choir_proto::{Command, EventBody, NewEvent};

use crate::actors::WorldHandle;
use crate::store::EventStore;

/// Who records a build.
const ACTOR: &str = "apps";
/// Bytes of a component kept at most.
pub const MAX_COMPONENT: u64 = 16 << 20;

/// Why making, building or removing an app failed.
#[derive(Debug, thiserror::Error)]
pub enum AppsError {
    #[error("`{0}` cannot name an app: 1 to 32 of a-z, 0-9 and -, starting with a letter")]
    BadName(String),
    #[error("an app named `{0}` exists already in {1}")]
    Exists(String, PathBuf),
    #[error("no app named `{0}`: make it first (choir app new {0})")]
    NoSource(String),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("the built app is {0} bytes; at most {MAX_COMPONENT}")]
    TooLarge(u64),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Load(#[from] choir_apps::AppError),
    #[error("cannot record it: {0}")]
    Record(String),
}

/// A build that was installed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Installed {
    pub name: String,
    pub version: String,
    pub bytes: u64,
    /// Whether it differs from the version installed before (if not, nothing was recorded).
    pub changed: bool,
    pub build_ms: u64,
}

/// The sandbox's apps.
#[derive(Clone)]
pub struct Apps {
    runtime: Runtime,
    /// The data dir's `apps/`: components by name and version, and the shared build dir.
    dir: PathBuf,
    /// The workspace's `apps/`: each app's crate.
    sources: PathBuf,
    build: choir_apps::BuildSettings,
    store: EventStore,
    world: WorldHandle,
    building: Arc<tokio::sync::Mutex<()>>,
}

impl Apps {
    pub fn new(
        data_dir: &Path,
        workspace: &Path,
        config: &crate::AppsConfig,
        store: EventStore,
        world: WorldHandle,
    ) -> Result<Self, AppsError> {
        let dir = data_dir.join("apps");
        let runtime = Runtime::new(config.limits)?;
        Ok(Apps {
            runtime,
            build: choir_apps::BuildSettings {
                crates: config.crates.clone(),
                ..choir_apps::BuildSettings::new(
                    config
                        .target_dir
                        .clone()
                        .unwrap_or_else(|| dir.join("target")),
                )
            },
            dir,
            sources: workspace.join("apps"),
            store,
            world,
            building: Arc::default(),
        })
    }

    /// Where app `name`'s crate is.
    pub fn source(&self, name: &str) -> PathBuf {
        self.sources.join(name)
    }

    pub(crate) fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Makes a new app's crate in the workspace (`apps/NAME/`); its view shows its name.
    pub async fn create(&self, name: &str) -> Result<PathBuf, AppsError> {
        check_name(name)?;
        let dir = self.source(name);
        if tokio::fs::try_exists(&dir).await.unwrap_or(true) {
            return Err(AppsError::Exists(name.to_owned(), dir));
        }
        for (path, text) in choir_apps::scaffold::files(name) {
            let path = dir.join(path);
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|source| io("make", parent, source))?;
            }
            tokio::fs::write(&path, text)
                .await
                .map_err(|source| io("write", &path, source))?;
        }
        Ok(dir)
    }

    /// Builds app `name` from its crate, keeps the component and records `app.built` if it
    /// changed: open windows of the app then run the new version, their state kept.
    pub async fn build(&self, name: &str) -> Result<Installed, AppsError> {
        check_name(name)?;
        let source = self.source(name);
        if !tokio::fs::try_exists(source.join("Cargo.toml"))
            .await
            .unwrap_or(false)
        {
            return Err(AppsError::NoSource(name.to_owned()));
        }
        let _one_at_a_time = self.building.lock().await;
        let started = std::time::Instant::now();
        let built = choir_apps::build(&source, name, &self.build).await?;
        let bytes = built.component.len() as u64;
        if bytes > MAX_COMPONENT {
            return Err(AppsError::TooLarge(bytes));
        }
        // Compiled before it is recorded: a component that does not load is not installed.
        let runtime = self.runtime.clone();
        let (version, component) = (built.version.clone(), built.component);
        let component = tokio::task::spawn_blocking(move || {
            runtime.load(&version, &component).map(|()| component)
        })
        .await
        .map_err(|err| AppsError::Record(err.to_string()))??;
        let path = self.component_path(name, &built.version);
        let written = path.clone();
        tokio::task::spawn_blocking(move || crate::atomic_file::write(&written, &component, None))
            .await
            .map_err(|err| AppsError::Record(err.to_string()))?
            .map_err(|source| io("write", &path, source))?;
        let name_owned = name.to_owned();
        let before = self
            .world
            .query(move |world| world.apps.get(&name_owned).map(|app| app.version.clone()))
            .await
            .map_err(|err| AppsError::Record(err.to_string()))?;
        let changed = before.as_deref() != Some(built.version.as_str());
        if let Some(before) = before.filter(|_| changed) {
            // The version it replaces: its windows start again on this one.
            self.runtime.forget(&before);
            let old = self.component_path(name, &before);
            if let Err(err) = tokio::fs::remove_file(&old).await {
                tracing::debug!(%err, file = %old.display(), "no earlier version to remove");
            }
        }
        if changed {
            let body = EventBody::AppBuilt {
                name: name.to_owned(),
                version: built.version.clone(),
                bytes,
            };
            self.store
                .append(vec![NewEvent::new(ACTOR, body)])
                .await
                .map_err(|err| AppsError::Record(err.to_string()))?;
        }
        Ok(Installed {
            name: name.to_owned(),
            version: built.version,
            bytes,
            changed,
            build_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// Removes app `name`: its windows close and its data goes (`app.removed`), then its
    /// components (see [`windows`]). Its crate in the workspace stays.
    pub async fn remove(
        &self,
        name: &str,
        actor: String,
    ) -> Result<(), crate::actors::CommandError> {
        let command = Command::RemoveApp {
            name: name.to_owned(),
        };
        self.world
            .execute(command, actor, Some(crate::correlation()))
            .await?;
        Ok(())
    }

    /// Deletes the components of a removed app, unless it was built again meanwhile. After
    /// a build under way: it may be writing the component it is about to record.
    pub(crate) async fn forget(&self, name: &str) {
        let _after_builds = self.building.lock().await;
        let wanted = name.to_owned();
        let installed = self
            .world
            .query(move |world| world.apps.contains_key(&wanted))
            .await
            .unwrap_or(true);
        if installed {
            return;
        }
        let dir = self.dir.join(name);
        if let Err(err) = tokio::fs::remove_dir_all(&dir).await {
            tracing::debug!(%err, dir = %dir.display(), "no components to remove");
        }
    }

    /// The crates in the workspace's `apps/`, by name.
    pub async fn sources(&self) -> Vec<String> {
        let mut names = Vec::new();
        let Ok(mut entries) = tokio::fs::read_dir(&self.sources).await else {
            return names;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if valid_app_name(&name) && entry.path().join("Cargo.toml").is_file() {
                names.push(name);
            }
        }
        names.sort();
        names
    }

    /// Where version `version` of app `name` is kept.
    fn component_path(&self, name: &str, version: &str) -> PathBuf {
        self.dir.join(name).join(format!("{version}.wasm"))
    }

    /// Compiles version `version` of app `name` unless it is already (blocking).
    pub(crate) fn load(&self, name: &str, version: &str) -> Result<(), AppsError> {
        if self.runtime.is_loaded(version) {
            return Ok(());
        }
        let path = self.component_path(name, version);
        let bytes = std::fs::read(&path).map_err(|source| io("read", &path, source))?;
        self.runtime.load(version, &bytes)?;
        Ok(())
    }
}

fn check_name(name: &str) -> Result<(), AppsError> {
    if valid_app_name(name) {
        Ok(())
    } else {
        Err(AppsError::BadName(name.to_owned()))
    }
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> AppsError {
    AppsError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

//! Running an app: one instance per window, under a fuel budget per call and a memory cap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use choir_proto::apps::{AppInput, ViewTree};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, ResourceLimiter, Store, Trap};

use crate::convert;

wasmtime::component::bindgen!({ world: "app", path: "wit" });

pub(crate) use choir::app::types as wit;

/// What an app's imports reach: each a capability the daemon checks.
pub trait Host: Send {
    fn store_get(&mut self, key: &str) -> Result<Option<String>, String>;
    fn store_set(&mut self, key: &str, value: Option<&str>) -> Result<(), String>;
    fn read_log(&mut self, after: u64, limit: u32) -> Result<Vec<LogEntry>, String>;
    fn http_get(&mut self, url: &str) -> Result<String, String>;
    fn call_tool(&mut self, name: &str, args: &str) -> Result<String, String>;
    /// A call into the app begins (`init`, `update`, `view`): fuel does not count the host's
    /// work, so a host bounds what one call may ask of it.
    fn call_started(&mut self) {}
}

/// How much an app may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory, bytes.
    pub memory: usize,
    /// Fuel per call (about one per instruction).
    pub fuel: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: 32 << 20,
            fuel: 200_000_000,
        }
    }
}

/// Why an app stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the app is not a component of the choir:app world: {0}")]
    Load(String),
    #[error("the app ran out of fuel ({0} instructions in one call): a loop that does not end?")]
    OutOfFuel(u64),
    #[error("the app asked for more than its {} MiB of memory", .0 >> 20)]
    OutOfMemory(usize),
    #[error("the app stopped: {0}")]
    Trap(String),
    #[error("the app's view cannot be shown: {0}")]
    BadView(#[from] choir_proto::apps::ViewError),
}

struct State {
    host: Box<dyn Host>,
    memory: usize,
    refused_memory: bool,
}

impl ResourceLimiter for State {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let fits = desired <= self.memory;
        self.refused_memory |= !fits;
        Ok(fits)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl AppImports for State {
    fn store_get(&mut self, key: String) -> Result<Option<String>, String> {
        self.host.store_get(&key)
    }

    fn store_set(&mut self, key: String, value: Option<String>) -> Result<(), String> {
        self.host.store_set(&key, value.as_deref())
    }

    fn read_log(&mut self, after: u64, limit: u32) -> Result<Vec<LogEntry>, String> {
        self.host.read_log(after, limit.min(100))
    }

    fn http_get(&mut self, url: String) -> Result<String, String> {
        self.host.http_get(&url)
    }

    fn call_tool(&mut self, name: String, args: String) -> Result<String, String> {
        self.host.call_tool(&name, &args)
    }
}

impl wit::Host for State {}

/// Loads components (each compiled once, kept by version) and starts them.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<State>>,
    compiled: Arc<Mutex<HashMap<String, Component>>>,
    limits: Limits,
}

impl Runtime {
    pub fn new(limits: Limits) -> Result<Self, AppError> {
        let mut config = Config::new();
        config.consume_fuel(true);
        let engine = Engine::new(&config).map_err(|e| AppError::Load(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        App::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| state)
            .map_err(|e| AppError::Load(e.to_string()))?;
        Ok(Runtime {
            engine,
            linker: Arc::new(linker),
            compiled: Arc::default(),
            limits,
        })
    }

    /// Compiles `bytes` (a component) as `version`, unless it already was.
    pub fn load(&self, version: &str, bytes: &[u8]) -> Result<(), AppError> {
        if self.is_loaded(version) {
            return Ok(());
        }
        let component =
            Component::new(&self.engine, bytes).map_err(|e| AppError::Load(format!("{e:#}")))?;
        self.compiled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(version.to_owned(), component);
        Ok(())
    }

    /// Lets go of a compiled version (instances running it keep it until they end).
    pub fn forget(&self, version: &str) {
        self.compiled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(version);
    }

    /// Whether `version` was compiled already.
    pub fn is_loaded(&self, version: &str) -> bool {
        self.compiled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(version)
    }

    /// Starts a loaded version and calls its `init`.
    pub fn start(&self, version: &str, host: Box<dyn Host>) -> Result<Running, AppError> {
        let component = self
            .compiled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(version)
            .cloned()
            .ok_or_else(|| AppError::Load(format!("version {version} is not loaded")))?;
        let mut store = Store::new(
            &self.engine,
            State {
                host,
                memory: self.limits.memory,
                refused_memory: false,
            },
        );
        store.limiter(|state| state);
        let mut running = Running {
            app: None,
            store,
            fuel: self.limits.fuel,
            memory: self.limits.memory,
        };
        running.refuel();
        let app = App::instantiate(&mut running.store, &component, &self.linker)
            .map_err(|e| running.stopped(e))?;
        app.call_init(&mut running.store)
            .map_err(|e| running.stopped(e))?;
        running.app = Some(app);
        Ok(running)
    }
}

/// An app instance. After an error it is spent: start a new one.
pub struct Running {
    app: Option<App>,
    store: Store<State>,
    fuel: u64,
    memory: usize,
}

impl Running {
    /// Gives the app an input.
    pub fn update(&mut self, input: &AppInput) -> Result<(), AppError> {
        self.refuel();
        let called = match &self.app {
            Some(app) => app.call_update(&mut self.store, &convert::input(input)),
            None => return Err(spent()),
        };
        called.map_err(|e| self.stopped(e))
    }

    /// What the app shows at `width` × `height` cells.
    pub fn view(&mut self, width: u32, height: u32) -> Result<ViewTree, AppError> {
        self.refuel();
        let called = match &self.app {
            Some(app) => app.call_view(&mut self.store, width, height),
            None => return Err(spent()),
        };
        let view = called.map_err(|e| self.stopped(e))?;
        let view = convert::view(view);
        view.check()?;
        Ok(view)
    }

    fn refuel(&mut self) {
        // Cannot fail: fuel is on in the engine's config.
        let _ = self.store.set_fuel(self.fuel);
        self.store.data_mut().host.call_started();
    }

    /// What a call's error means; the instance is spent.
    fn stopped(&mut self, error: wasmtime::Error) -> AppError {
        self.app = None;
        if error.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) {
            AppError::OutOfFuel(self.fuel)
        } else if self.store.data().refused_memory {
            AppError::OutOfMemory(self.memory)
        } else {
            let trap = error
                .downcast_ref::<Trap>()
                .map_or_else(|| format!("{error:#}"), ToString::to_string);
            AppError::Trap(trap)
        }
    }
}

fn spent() -> AppError {
    AppError::Trap("the app stopped earlier; it starts again with its window's next input".into())
}

//! What an app's imports reach: its store, the log and HTTP, each a capability the user
//! grants. The first call of one not answered asks the user (`app.capability_asked`) and
//! fails saying so; once granted, the app's windows start again with it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use choir_apps::LogEntry;
use choir_proto::apps::Capability;
use choir_proto::{EventBody, NewEvent, MAX_STORE_KEYS, MAX_STORE_VALUE};
use tokio::runtime::Handle;

use crate::actors::WorldHandle;
use crate::store::EventStore;

/// Who records what an app does.
const ACTOR: &str = "app";
/// Bytes of a stored key at most.
const MAX_KEY: usize = 256;
/// Bytes of a fetched body at most.
const MAX_BODY: usize = 1 << 20;
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Store writes one app window may make in a second (each is an event in the log).
const WRITES_PER_SECOND: u32 = 50;

pub(super) struct AppHost {
    pub(super) name: String,
    pub(super) store: EventStore,
    pub(super) world: WorldHandle,
    pub(super) handle: Handle,
    /// While the app catches up on its window's inputs: nothing is recorded, asked or
    /// fetched again.
    pub(super) replaying: Arc<AtomicBool>,
    /// The second the writes are counted in, and how many were made in it.
    pub(super) writes: (Option<std::time::Instant>, u32),
}

impl AppHost {
    /// Counts a store write; refuses it past [`WRITES_PER_SECOND`].
    fn may_write(&mut self) -> Result<(), String> {
        let now = std::time::Instant::now();
        match &mut self.writes {
            (Some(since), count) if now.duration_since(*since) < Duration::from_secs(1) => {
                if *count >= WRITES_PER_SECOND {
                    return Err(format!(
                        "too many writes: at most {WRITES_PER_SECOND} a second"
                    ));
                }
                *count += 1;
            }
            writes => *writes = (Some(now), 1),
        }
        Ok(())
    }

    fn replaying(&self) -> bool {
        self.replaying.load(Ordering::Relaxed)
    }

    fn record(&self, body: EventBody) -> Result<(), String> {
        self.handle
            .block_on(self.store.append(vec![NewEvent::new(ACTOR, body)]))
            .map(drop)
            .map_err(|err| format!("cannot record it: {err}"))
    }

    /// Whether the user granted `capability`; asks if not answered yet.
    fn allowed(&self, capability: Capability) -> Result<(), String> {
        let (name, asked) = (self.name.clone(), capability.clone());
        let answer = self
            .handle
            .block_on(self.world.query(move |world| {
                world
                    .apps
                    .get(&name)
                    .map(|app| (app.answer(&asked), app.asked.contains(&asked)))
            }))
            .map_err(|err| err.to_string())?;
        let what = capability.describe();
        match answer {
            None => Err("the app is not installed".into()),
            Some((Some(true), _)) => Ok(()),
            Some((Some(false), _)) => Err(format!("the user did not allow this app to {what}")),
            Some((None, asked)) => {
                if !asked && !self.replaying() {
                    self.record(EventBody::AppCapabilityAsked {
                        name: self.name.clone(),
                        capability,
                    })?;
                }
                Err(format!("waiting for the user to allow this app to {what}"))
            }
        }
    }
}

impl choir_apps::Host for AppHost {
    fn store_get(&mut self, key: &str) -> Result<Option<String>, String> {
        self.allowed(Capability::Store)?;
        let (name, key) = (self.name.clone(), key.to_owned());
        self.handle
            .block_on(self.world.query(move |world| {
                world
                    .apps
                    .get(&name)
                    .and_then(|app| app.store.get(&key).cloned())
            }))
            .map_err(|err| err.to_string())
    }

    fn store_set(&mut self, key: &str, value: Option<&str>) -> Result<(), String> {
        self.allowed(Capability::Store)?;
        if key.is_empty() || key.len() > MAX_KEY {
            return Err(format!("a key is 1 to {MAX_KEY} bytes"));
        }
        if value.is_some_and(|value| value.len() > MAX_STORE_VALUE) {
            return Err(format!("a value is at most {MAX_STORE_VALUE} bytes"));
        }
        let (name, probe) = (self.name.clone(), key.to_owned());
        let full = self
            .handle
            .block_on(self.world.query(move |world| {
                world.apps.get(&name).is_some_and(|app| {
                    app.store.len() >= MAX_STORE_KEYS && !app.store.contains_key(&probe)
                })
            }))
            .map_err(|err| err.to_string())?;
        if full && value.is_some() {
            return Err(format!("the store holds {MAX_STORE_KEYS} keys at most"));
        }
        // Recorded the first time; an app catching up finds it kept already.
        if self.replaying() {
            return Ok(());
        }
        self.may_write()?;
        self.record(EventBody::AppStored {
            name: self.name.clone(),
            key: key.to_owned(),
            value: value.map(str::to_owned),
        })
    }

    fn read_log(&mut self, after: u64, limit: u32) -> Result<Vec<LogEntry>, String> {
        self.allowed(Capability::ReadLog)?;
        let limit = usize::try_from(limit.clamp(1, 100)).unwrap_or(100);
        let events = self
            .handle
            .block_on(self.store.read(after.saturating_add(1), limit))
            .map_err(|err| err.to_string())?;
        Ok(events
            .into_iter()
            .map(|event| LogEntry {
                seq: event.seq,
                at_ms: u64::try_from(event.ts).unwrap_or(0),
                kind: event.body.type_name().to_owned(),
                data: event.body.data_json().unwrap_or_default(),
            })
            .collect())
    }

    fn http_get(&mut self, url: &str) -> Result<String, String> {
        let parsed = reqwest::Url::parse(url).map_err(|err| format!("`{url}`: {err}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("`{url}` is not an http or https URL"));
        }
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(format!("`{url}` names no host")),
        };
        self.allowed(Capability::Http { host })?;
        if self.replaying() {
            return Err("not fetched again while the app catches up".into());
        }
        self.handle.block_on(fetch(parsed))
    }
}

async fn fetch(url: reqwest::Url) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|err| err.to_string())?;
    let mut response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|err| format!("cannot fetch {url}: {err}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| format!("cannot read {url}: {err}"))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("{url} sent more than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

//! What an app's imports reach: its store, the log and HTTP, each a capability the user
//! grants. The first call of one not answered asks the user (`app.capability_asked`) and
//! fails saying so; once granted, the app's windows start again with it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use choir_apps::LogEntry;
use choir_proto::apps::Capability;
use choir_proto::{CallId, EventBody, NewEvent, MAX_STORE_KEYS, MAX_STORE_VALUE};
use tokio::runtime::Handle;

use super::windows::PastStore;
use crate::actors::WorldHandle;
use crate::store::EventStore;

/// Who records what an app does.
const ACTOR: &str = "app";
/// Bytes of a stored key at most.
const MAX_KEY: usize = 256;
/// Store writes one app window may make in a second (each is an event in the log).
const WRITES_PER_SECOND: u32 = 50;
/// Calls to the daemon one call into the app may make (fuel does not count them), of them
/// HTTP fetches and tool calls.
const HOST_CALLS: u32 = 1000;
const FETCHES: u32 = 5;
const TOOL_CALLS: u32 = 3;
/// Capabilities an app may have asked for and not had answered.
const MAX_ASKED: usize = 8;
/// How long a tool call waits for the user's approval.
const APPROVAL_WAIT: Duration = Duration::from_secs(600);

pub(super) struct AppHost {
    pub(super) name: String,
    pub(super) store: EventStore,
    pub(super) world: WorldHandle,
    pub(super) handle: Handle,
    /// While the app catches up on its window's inputs: its store as it was then; nothing
    /// is recorded, asked, fetched or run again.
    pub(super) replay: Arc<Mutex<Option<PastStore>>>,
    /// The second the writes are counted in, and how many were made in it.
    pub(super) writes: (Option<std::time::Instant>, u32),
    pub(super) tools: crate::tools::ToolRunner,
    /// The window the app runs in (its tool calls' ids begin with it).
    pub(super) window_id: choir_proto::WindowId,
    /// What the current call into the app may still ask: calls, fetches, tool calls.
    pub(super) left: (u32, u32, u32),
}

impl AppHost {
    /// Counts a call to the daemon (and a fetch or a tool call); refuses it past the call's
    /// bounds.
    fn spend(&mut self, fetch: bool, tool: bool) -> Result<(), String> {
        let (calls, fetches, tools) = &mut self.left;
        if *calls == 0 {
            return Err(format!(
                "too many calls: at most {HOST_CALLS} for one input"
            ));
        }
        if fetch && *fetches == 0 {
            return Err(format!("too many fetches: at most {FETCHES} for one input"));
        }
        if tool && *tools == 0 {
            return Err(format!(
                "too many tool calls: at most {TOOL_CALLS} for one input"
            ));
        }
        *calls -= 1;
        *fetches -= u32::from(fetch);
        *tools -= u32::from(tool);
        Ok(())
    }

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

    fn past(&self) -> std::sync::MutexGuard<'_, Option<PastStore>> {
        self.replay.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn replaying(&self) -> bool {
        self.past().is_some()
    }

    fn record(&self, body: EventBody) -> Result<(), String> {
        self.handle
            .block_on(self.store.append(vec![NewEvent::new(ACTOR, body)]))
            .map(drop)
            .map_err(|err| format!("cannot record it: {err}"))
    }

    /// Whether the app may ask for one more capability (it has fewer than [`MAX_ASKED`]
    /// waiting).
    fn asked_room(&self) -> Result<bool, String> {
        let name = self.name.clone();
        self.handle
            .block_on(self.world.query(move |world| {
                world
                    .apps
                    .get(&name)
                    .is_some_and(|app| app.asked.len() < MAX_ASKED)
            }))
            .map_err(|err| err.to_string())
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
                let room = self.asked_room()?;
                if !asked && room && !self.replaying() {
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
    fn call_started(&mut self) {
        self.left = (HOST_CALLS, FETCHES, TOOL_CALLS);
    }

    fn store_get(&mut self, key: &str) -> Result<Option<String>, String> {
        self.spend(false, false)?;
        self.allowed(Capability::Store)?;
        if let Some(past) = self.past().as_ref() {
            return Ok(past.map.get(key).cloned());
        }
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
        self.spend(false, false)?;
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
        if let Some(past) = self.past().as_mut() {
            match value {
                Some(value) => past.map.insert(key.to_owned(), value.to_owned()),
                None => past.map.remove(key),
            };
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
        self.spend(false, false)?;
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
        self.spend(true, false)?;
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
        self.handle.block_on(super::fetch::fetch(parsed))
    }

    fn call_tool(&mut self, name: &str, args: &str) -> Result<String, String> {
        self.spend(false, true)?;
        self.allowed(Capability::CallTools)?;
        if self.replaying() {
            return Err("not called again while the app catches up".into());
        }
        let args: serde_json::Value = serde_json::from_str(args)
            .map_err(|err| format!("the arguments are not JSON: {err}"))?;
        let spec = self
            .tools
            .check(name, &args)
            .map_err(|err| err.to_string())?;
        let call_id = CallId(format!(
            "{}{}",
            choir_proto::apps::call_prefix(self.window_id),
            crate::correlation()
        ));
        let actor = format!("app:{}", self.name);
        self.handle.block_on(async {
            // What changes something waits for the user, whatever the agent's policy.
            if spec.side_effects || spec.always_asks {
                let preview = self.tools.preview(name, &args, &actor).await;
                let asked = self
                    .store
                    .append(vec![NewEvent::new(
                        actor.clone(),
                        EventBody::ToolRequested {
                            call_id: call_id.clone(),
                            tool: name.to_owned(),
                            args: args.clone(),
                            thread_id: None,
                            needs_approval: true,
                            preview,
                        },
                    )])
                    .await
                    .map_err(|err| err.to_string())?;
                let from = asked.first().map_or(0, |event| event.seq + 1);
                self.approval(&call_id, from).await?;
            }
            let call = crate::tools::ToolCall {
                call_id: Some(call_id.clone()),
                tool: name.to_owned(),
                args,
                actor,
                thread_id: None,
                correlation: None,
            };
            let result = self
                .tools
                .call(call, tokio_util::sync::CancellationToken::new())
                .await
                .map_err(|err| err.to_string())?;
            if result.ok {
                Ok(result.output)
            } else {
                Err(result.output)
            }
        })
    }
}

impl AppHost {
    /// Waits for the user's answer to tool call `call_id`: `Ok` approved, `Err` why not.
    async fn approval(&self, call_id: &CallId, from: u64) -> Result<(), String> {
        let mut events = self.store.subscribe(from);
        let answer = async {
            loop {
                match events.next().await {
                    Ok(Some(event)) => match &event.body {
                        EventBody::ToolApproved { call_id: id } if id == call_id => return Ok(()),
                        EventBody::ToolDenied {
                            call_id: id,
                            reason,
                        } if id == call_id => return Err(format!("denied: {reason}")),
                        _ => {}
                    },
                    Ok(None) => return Err("the daemon is stopping".to_owned()),
                    Err(err) => return Err(err.to_string()),
                }
            }
        };
        match tokio::time::timeout(APPROVAL_WAIT, answer).await {
            Ok(answer) => answer,
            Err(_) => {
                let reason = format!("not answered in {} minutes", APPROVAL_WAIT.as_secs() / 60);
                self.store
                    .append(vec![NewEvent::new(
                        ACTOR,
                        EventBody::ToolDenied {
                            call_id: call_id.clone(),
                            reason: reason.clone(),
                        },
                    )])
                    .await
                    .map_err(|err| err.to_string())?;
                Err(format!("denied: {reason}"))
            }
        }
    }
}

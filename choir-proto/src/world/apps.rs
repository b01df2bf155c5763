//! Apps the user or the agent wrote: which are installed, what each was granted and keeps,
//! and what each app window shows, folded from the `app.*` events.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::apps::{Capability, ViewTree};
use crate::event::{Event, EventBody};
use crate::ids::WindowId;
use crate::AppKind;

/// Keys an app's store holds at most.
pub const MAX_STORE_KEYS: usize = 256;
/// Bytes a stored value holds at most.
pub const MAX_STORE_VALUE: usize = 16 * 1024;

/// An installed app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledApp {
    pub name: String,
    /// The digest naming the component its windows run.
    pub version: String,
    pub bytes: u64,
    /// The seq that installed this version.
    pub built_at: u64,
    /// What the user answered for each capability asked (granted or not).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<(Capability, bool)>,
    /// Capabilities asked for and not answered yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub asked: Vec<Capability>,
    /// Its key-value store (left out of what clients are sent).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub store: BTreeMap<String, String>,
}

impl InstalledApp {
    /// What the user answered for `capability`, if asked.
    pub fn answer(&self, capability: &Capability) -> Option<bool> {
        self.answers
            .iter()
            .find(|(asked, _)| asked == capability)
            .map(|(_, granted)| *granted)
    }
}

/// What one app window shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppWindow {
    pub window_id: WindowId,
    pub name: String,
    /// The version that drew the view (empty before the first).
    #[serde(default)]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<ViewTree>,
    /// The seq that showed the view (a share made later does not see it).
    #[serde(default)]
    pub shown_at: u64,
    /// Why the app stopped, until it shows a view again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl AppWindow {
    /// Hides what was shown before seq `since` (a share made then).
    pub(crate) fn since(&mut self, since: u64) {
        if self.shown_at < since {
            self.view = None;
        }
    }
}

/// Folds an `app.*` event (and an app window's opening and closing).
pub(crate) fn apply(
    apps: &mut BTreeMap<String, InstalledApp>,
    windows: &mut BTreeMap<WindowId, AppWindow>,
    event: &Event,
) {
    match &event.body {
        EventBody::WindowOpened {
            window_id,
            app: AppKind::App(name),
            ..
        } => {
            windows.insert(
                *window_id,
                AppWindow {
                    window_id: *window_id,
                    name: name.clone(),
                    version: String::new(),
                    view: None,
                    shown_at: 0,
                    problem: None,
                },
            );
        }
        EventBody::WindowClosed { window_id } => {
            windows.remove(window_id);
        }
        EventBody::AppBuilt {
            name,
            version,
            bytes,
        } => {
            let app = apps.entry(name.clone()).or_insert_with(|| InstalledApp {
                name: name.clone(),
                version: String::new(),
                bytes: 0,
                built_at: 0,
                answers: Vec::new(),
                asked: Vec::new(),
                store: BTreeMap::new(),
            });
            app.version = version.clone();
            app.bytes = *bytes;
            app.built_at = event.seq;
        }
        EventBody::AppRemoved { name } => {
            apps.remove(name);
            windows.retain(|_, window| window.name != *name);
        }
        EventBody::AppViewShown {
            window_id,
            version,
            view,
        } => {
            if let Some(window) = windows.get_mut(window_id) {
                window.version = version.clone();
                window.view = Some(view.clone());
                window.shown_at = event.seq;
                window.problem = None;
            }
        }
        EventBody::AppFailed { window_id, error } => {
            if let Some(window) = windows.get_mut(window_id) {
                window.problem = Some(error.clone());
            }
        }
        EventBody::AppStored { name, key, value } => {
            if let Some(app) = apps.get_mut(name) {
                match value {
                    Some(value) => {
                        app.store.insert(key.clone(), value.clone());
                    }
                    None => {
                        app.store.remove(key);
                    }
                }
            }
        }
        EventBody::AppCapabilityAsked { name, capability } => {
            if let Some(app) = apps.get_mut(name) {
                if app.answer(capability).is_none() && !app.asked.contains(capability) {
                    app.asked.push(capability.clone());
                }
            }
        }
        EventBody::AppCapabilityAnswered {
            name,
            capability,
            granted,
        } => {
            if let Some(app) = apps.get_mut(name) {
                app.asked.retain(|asked| asked != capability);
                app.answers.retain(|(asked, _)| asked != capability);
                app.answers.push((capability.clone(), *granted));
            }
        }
        _ => {}
    }
}

//! A user's settings: the prefix key, bindings, theme, default shell, scrollback and
//! notifications. They live in the sandbox (`$XDG_CONFIG_HOME/choir/config.toml`, read by
//! the daemon) and reach every client as state, through `settings.changed` events, so the
//! terminal, the browser and a replay all use the same.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::terminal::DEFAULT_SCROLLBACK;

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Settings {
    /// The key that starts a desktop command: `C-a` (tmux users may like `C-b`).
    pub prefix: String,
    /// Keys after the prefix for the desktop's commands, by name (`new-shell = "S"`); the
    /// ones not named keep their usual key.
    pub bindings: BTreeMap<String, String>,
    pub theme: ThemeChoice,
    /// The program shell windows start; the daemon's `$SHELL` when not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// Lines of scrollback a shell window keeps.
    pub scrollback: u32,
    /// Whether a window that needs you rings the terminal's bell and shows a notification
    /// (OSC 9 / 777 in terminals that take them, the browser's own).
    pub notifications: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            prefix: "C-a".into(),
            bindings: BTreeMap::new(),
            theme: ThemeChoice::Auto,
            shell: None,
            scrollback: DEFAULT_SCROLLBACK,
            notifications: true,
        }
    }
}

/// Colours: as the terminal or browser prefers, dark, light, or none at all (`NO_COLOR`
/// in the client's environment also means none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThemeChoice {
    #[default]
    Auto,
    Dark,
    Light,
    Mono,
}

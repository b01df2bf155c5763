//! What a window shows.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The app drawn inside a window. Unknown app names from a newer daemon are kept as
/// [`AppKind::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum AppKind {
    Chat,
    Writer,
    EventLog,
    Shell,
    Mail,
    Calendar,
    Other(String),
}

impl AppKind {
    pub fn as_str(&self) -> &str {
        match self {
            AppKind::Chat => "chat",
            AppKind::Writer => "writer",
            AppKind::EventLog => "event_log",
            AppKind::Shell => "shell",
            AppKind::Mail => "mail",
            AppKind::Calendar => "calendar",
            AppKind::Other(name) => name,
        }
    }

    /// The title a new window of this app gets when none is given.
    pub fn default_title(&self) -> String {
        match self {
            AppKind::Chat => "Chat".into(),
            AppKind::Writer => "Writer".into(),
            AppKind::EventLog => "Event log".into(),
            AppKind::Shell => "Shell".into(),
            AppKind::Mail => "Mail".into(),
            AppKind::Calendar => "Calendar".into(),
            AppKind::Other(name) => name.clone(),
        }
    }
}

impl From<String> for AppKind {
    fn from(name: String) -> Self {
        match name.as_str() {
            "chat" => AppKind::Chat,
            "writer" => AppKind::Writer,
            "event_log" => AppKind::EventLog,
            "shell" => AppKind::Shell,
            "mail" => AppKind::Mail,
            "calendar" => AppKind::Calendar,
            _ => AppKind::Other(name),
        }
    }
}

impl From<AppKind> for String {
    fn from(app: AppKind) -> Self {
        app.as_str().to_owned()
    }
}

impl fmt::Display for AppKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

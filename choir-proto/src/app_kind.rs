//! What a window shows.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How an app the user wrote is named on the wire: `app:NAME`.
const APP_PREFIX: &str = "app:";

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
    /// An app the user or the agent wrote, by its name (`app:NAME` on the wire).
    App(String),
    Other(String),
}

impl AppKind {
    fn builtin(&self) -> &str {
        match self {
            AppKind::Chat => "chat",
            AppKind::Writer => "writer",
            AppKind::EventLog => "event_log",
            AppKind::Shell => "shell",
            AppKind::Mail => "mail",
            AppKind::Calendar => "calendar",
            AppKind::App(name) | AppKind::Other(name) => name,
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
            AppKind::App(name) | AppKind::Other(name) => name.clone(),
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
            _ => match name.strip_prefix(APP_PREFIX) {
                Some(app) => AppKind::App(app.to_owned()),
                None => AppKind::Other(name),
            },
        }
    }
}

impl From<AppKind> for String {
    fn from(app: AppKind) -> Self {
        app.to_string()
    }
}

impl fmt::Display for AppKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let AppKind::App(_) = self {
            f.write_str(APP_PREFIX)?;
        }
        f.write_str(self.builtin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for app in [
            AppKind::Chat,
            AppKind::Shell,
            AppKind::Calendar,
            AppKind::App("timer".into()),
            AppKind::Other("paint".into()),
        ] {
            assert_eq!(AppKind::from(String::from(app.clone())), app);
        }
        assert_eq!(AppKind::App("timer".into()).to_string(), "app:timer");
        assert_eq!(
            AppKind::from("app:timer".to_owned()),
            AppKind::App("timer".into())
        );
    }
}

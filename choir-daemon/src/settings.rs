//! The user's settings file, `$XDG_CONFIG_HOME/choir/config.toml` (in a sandbox: its own
//! home's `.config`): read at start and on request, checked (a mistake names its line and
//! key, and that setting keeps its default), and recorded as `settings.changed` when it says
//! something new, so every client and every replay has the same settings.

use std::path::{Path, PathBuf};

use choir_desktop::prefs::{key_label, Prefs};
use choir_proto::terminal::MAX_SCROLLBACK;
use choir_proto::{EventBody, NewEvent, Settings, World};

use crate::store::{EventStore, StoreError};

/// Who records the settings.
const ACTOR: &str = "settings";

/// The settings file the environment points at: `$XDG_CONFIG_HOME/choir/config.toml`, else
/// `$HOME/.config/choir/config.toml`.
pub fn default_path(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let nonempty = |name: &str| env(name).filter(|value| !value.is_empty());
    let config = match nonempty("XDG_CONFIG_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(nonempty("HOME")?).join(".config"),
    };
    Some(config.join("choir").join("config.toml"))
}

/// What a settings file says, and what was wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub settings: Settings,
    pub problem: Option<String>,
}

/// Reads and checks the file at `path`; no file means the defaults.
pub fn read(path: &Path) -> Read {
    let name = path.display();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &name.to_string()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Read {
            settings: Settings::default(),
            problem: None,
        },
        Err(err) => Read {
            settings: Settings::default(),
            problem: Some(format!("cannot read {name}: {err}; the defaults are used")),
        },
    }
}

/// Parses and checks settings written as TOML; `name` says where they came from.
pub fn parse(text: &str, name: &str) -> Read {
    let mut settings: Settings = match toml::from_str(text) {
        Ok(settings) => settings,
        Err(err) => {
            let line = err.span().map(|span| line_of_offset(text, span.start));
            let at = line.map(|line| format!(" line {line}")).unwrap_or_default();
            let message = err.message().trim().replace('\n', " ");
            return Read {
                settings: Settings::default(),
                problem: Some(format!("{name}{at}: {message}; the defaults are used")),
            };
        }
    };
    let mut problems = Vec::new();
    let mut note = |key: &str, problem: String| {
        let at = line_of_key(text, key)
            .map(|line| format!(" line {line}"))
            .unwrap_or_default();
        problems.push(format!("{name}{at}: {problem}"));
    };
    let (prefs, prefs_problems) = Prefs::new(&settings);
    for problem in &prefs_problems {
        let key = problem.split(':').next().unwrap_or_default().to_owned();
        let key = key.rsplit('.').next().unwrap_or(&key).to_owned();
        note(&key, format!("{problem}; it keeps its default"));
    }
    // What is recorded is what is in force: a key that was wrong keeps its default here too.
    if !prefs_problems.is_empty() {
        settings.prefix = key_label(prefs.prefix, true);
        settings.bindings = prefs
            .custom()
            .iter()
            .map(|(name, key)| ((*name).to_owned(), key.to_string()))
            .collect();
    }
    if settings.scrollback > MAX_SCROLLBACK {
        note(
            "scrollback",
            format!(
                "scrollback: at most {MAX_SCROLLBACK} lines, not {}",
                settings.scrollback
            ),
        );
        settings.scrollback = MAX_SCROLLBACK;
    }
    if settings
        .shell
        .as_deref()
        .is_some_and(|shell| shell.trim().is_empty())
    {
        note("shell", "shell: empty; $SHELL is used".into());
        settings.shell = None;
    }
    Read {
        settings,
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

/// What the world holds of the settings.
pub fn recorded(world: &World) -> Read {
    Read {
        settings: world.settings.clone(),
        problem: world.settings_problem.clone(),
    }
}

/// Records what `read` says when it differs from what was recorded last (`was`); true when
/// it did.
pub async fn record(store: &EventStore, was: &Read, read: Read) -> Result<bool, StoreError> {
    if *was == read {
        return Ok(false);
    }
    if let Some(problem) = &read.problem {
        tracing::warn!(%problem, "the settings file has mistakes");
    }
    let changed = EventBody::SettingsChanged {
        settings: read.settings,
        problem: read.problem,
    };
    store.append(vec![NewEvent::new(ACTOR, changed)]).await?;
    Ok(true)
}

/// The settings as TOML, as `choir config` prints them.
pub fn to_toml(settings: &Settings) -> String {
    toml::to_string(settings).unwrap_or_else(|err| format!("# cannot be shown: {err}\n"))
}

/// The 1-based line of byte `offset` in `text`.
fn line_of_offset(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The 1-based line where `key` is set (`key =`, or a `[key]` table).
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let rest = line
                .strip_prefix(key)
                .or_else(|| line.strip_prefix(&format!("\"{key}\"")));
            rest.is_some_and(|rest| rest.trim_start().starts_with('='))
                || line.starts_with(&format!("[{key}]"))
        })
        .map(|index| index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_ones_own_is_read_whole() {
        let text = "prefix = \"C-b\"\ntheme = \"dark\"\nshell = \"/bin/sh\"\nscrollback = 500\nnotifications = false\n\n[bindings]\nnew-shell = \"S\"\n";
        let read = parse(text, "config.toml");
        assert_eq!(read.problem, None);
        assert_eq!(read.settings.prefix, "C-b");
        assert_eq!(read.settings.theme, choir_proto::ThemeChoice::Dark);
        assert_eq!(read.settings.shell.as_deref(), Some("/bin/sh"));
        assert_eq!(read.settings.scrollback, 500);
        assert!(!read.settings.notifications);
        assert_eq!(read.settings.bindings["new-shell"], "S");
        // What `choir config` prints reads back the same.
        assert_eq!(parse(&to_toml(&read.settings), "x").settings, read.settings);
    }

    #[test]
    fn an_unknown_key_or_a_bad_value_names_its_line_and_the_defaults_are_used() {
        let read = parse("theme = \"dark\"\n\nprefx = \"C-b\"\n", "config.toml");
        let problem = read.problem.unwrap();
        assert!(
            problem.starts_with("config.toml line 3: unknown field `prefx`"),
            "{problem}"
        );
        assert!(problem.ends_with("the defaults are used"), "{problem}");
        assert_eq!(read.settings, Settings::default());
        let read = parse("scrollback = \"lots\"\n", "config.toml");
        let problem = read.problem.unwrap();
        assert!(
            problem.starts_with("config.toml line 1: invalid type"),
            "{problem}"
        );
        let read = parse("theme = \"purple\"\n", "config.toml");
        assert!(read
            .problem
            .unwrap()
            .contains("line 1: unknown variant `purple`"));
        // Not TOML at all.
        let read = parse("prefix = \n", "config.toml");
        assert!(read.problem.unwrap().starts_with("config.toml line 1:"));
    }

    #[test]
    fn a_mistake_the_desktop_finds_names_its_line_and_keeps_that_default() {
        let text = "scrollback = 20000000\nprefix = \"M-a\"\n[bindings]\nclose = \"xx\"\n";
        let read = parse(text, "config.toml");
        let problem = read.problem.unwrap();
        assert!(
            problem.contains("config.toml line 2: prefix: \"M-a\" is not a prefix key"),
            "{problem}"
        );
        assert!(
            problem.contains("config.toml line 4: bindings.close: \"xx\" is not one key"),
            "{problem}"
        );
        assert!(
            problem.contains("config.toml line 1: scrollback: at most 1000000 lines"),
            "{problem}"
        );
        assert_eq!(read.settings.scrollback, MAX_SCROLLBACK);
        // What is recorded is what is in force: the defaults where the file was wrong.
        assert_eq!(read.settings.prefix, "C-a");
        assert!(read.settings.bindings.is_empty());
    }

    #[test]
    fn the_path_follows_xdg_then_home() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_string())
            }
        };
        assert_eq!(
            default_path(env(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")])),
            Some(PathBuf::from("/x/choir/config.toml"))
        );
        assert_eq!(
            default_path(env(&[("XDG_CONFIG_HOME", ""), ("HOME", "/h")])),
            Some(PathBuf::from("/h/.config/choir/config.toml"))
        );
        assert_eq!(default_path(env(&[])), None);
    }
}

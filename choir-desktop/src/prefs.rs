//! What the user's [`Settings`] mean for the keys: the prefix key and which key after it
//! runs each desktop command. The daemon checks them with the same code when it reads the
//! file, so a mistake is reported once, naming the key.

use std::collections::BTreeMap;

use choir_proto::{Settings, World};

use crate::key::{Key, KeyCode};

/// The desktop's commands a key after the prefix runs, by the names settings use, with
/// their usual keys.
pub const COMMANDS: &[(&str, char)] = &[
    ("new-chat", 'c'),
    ("new-event-log", 'e'),
    ("new-writer", 'w'),
    ("new-shell", 's'),
    ("new-mail", 'i'),
    ("new-calendar", 'a'),
    ("launcher", 'l'),
    ("next-window", 'n'),
    ("previous-window", 'p'),
    ("move", 'm'),
    ("resize", 'r'),
    ("maximize", 'z'),
    ("minimize", '-'),
    ("tile", 't'),
    ("split-right", '%'),
    ("split-down", '"'),
    ("copy-mode", '['),
    ("close", 'x'),
    ("copy", 'y'),
    ("send-mail", 'M'),
    ("quit", 'q'),
    ("help", '?'),
];

/// The keys as the settings have them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefs {
    pub prefix: Key,
    /// For each key after the prefix that runs a command: the command's usual key.
    by_key: BTreeMap<char, char>,
    /// The commands bound to a key of the user's choosing: name, key.
    custom: Vec<(&'static str, char)>,
}

impl Default for Prefs {
    fn default() -> Self {
        Self {
            prefix: Key::ctrl('a'),
            by_key: COMMANDS.iter().map(|(_, key)| (*key, *key)).collect(),
            custom: Vec::new(),
        }
    }
}

impl Prefs {
    /// The keys `settings` ask for, and what was wrong with them (each mistake falls back to
    /// the usual key).
    pub fn new(settings: &Settings) -> (Prefs, Vec<String>) {
        let mut problems = Vec::new();
        let prefix = parse_prefix(&settings.prefix).unwrap_or_else(|problem| {
            problems.push(format!("prefix: {problem}"));
            Key::ctrl('a')
        });
        let mut custom = Vec::new();
        for (name, key) in &settings.bindings {
            let Some((name, _)) = COMMANDS.iter().find(|(known, _)| known == name) else {
                let names: Vec<&str> = COMMANDS.iter().map(|(name, _)| *name).collect();
                problems.push(format!(
                    "bindings.{name}: no such command (there are {})",
                    names.join(", ")
                ));
                continue;
            };
            match single_key(key) {
                Ok(c) => custom.push((*name, c)),
                Err(problem) => problems.push(format!("bindings.{name}: {problem}")),
            }
        }
        // The commands left with their usual keys first; a chosen key may take one of them.
        let mut by_key: BTreeMap<char, char> = COMMANDS
            .iter()
            .filter(|(name, _)| !custom.iter().any(|(chosen, _)| chosen == name))
            .map(|(_, key)| (*key, *key))
            .collect();
        let mut kept = Vec::new();
        for (name, key) in custom {
            let usual = COMMANDS
                .iter()
                .find(|(known, _)| *known == name)
                .map_or(key, |(_, usual)| *usual);
            if let Some((other, _)) = kept.iter().find(|(_, taken)| *taken == key) {
                problems.push(format!(
                    "bindings.{name}: \"{key}\" is already {other}'s key"
                ));
                by_key.insert(usual, usual);
                continue;
            }
            by_key.insert(key, usual);
            kept.push((name, key));
        }
        (
            Prefs {
                prefix,
                by_key,
                custom: kept,
            },
            problems,
        )
    }

    /// The usual key of the command that `typed` after the prefix runs; `None` when no
    /// command has it. Window numbers (1–9) and Space (the launcher, as `l`) are always
    /// themselves.
    pub fn command(&self, typed: char) -> Option<char> {
        if (typed.is_ascii_digit() && typed != '0') || typed == ' ' {
            return Some(typed);
        }
        self.by_key.get(&typed).copied()
    }

    /// The key after the prefix that runs the command whose usual key is `usual`.
    pub fn key_of(&self, usual: char) -> Option<char> {
        self.by_key
            .iter()
            .find(|(_, command)| **command == usual)
            .map(|(key, _)| *key)
    }

    /// Commands on keys of the user's choosing: name and key.
    pub fn custom(&self) -> &[(&'static str, char)] {
        &self.custom
    }
}

/// What a client saw last of the world's settings, to act only on a change.
#[derive(Debug, Clone, Default)]
pub struct SettingsSeen {
    settings: Option<Settings>,
    problem: Option<String>,
}

impl SettingsSeen {
    /// The world's settings, when they are not those seen last.
    pub fn new_settings(&mut self, world: &World) -> Option<Settings> {
        if self.settings.as_ref() == Some(&world.settings) {
            return None;
        }
        self.settings = Some(world.settings.clone());
        self.settings.clone()
    }

    /// What is wrong with the settings file, when it is news.
    pub fn new_problem(&mut self, world: &World) -> Option<String> {
        if self.problem == world.settings_problem {
            return None;
        }
        self.problem = world.settings_problem.clone();
        self.problem
            .as_ref()
            .map(|problem| format!("settings: {problem}"))
    }
}

/// A prefix key: Ctrl with a letter, written `C-b`, `Ctrl-b` or `^b`.
pub fn parse_prefix(text: &str) -> Result<Key, String> {
    let letter = ["C-", "Ctrl-", "ctrl-", "^"]
        .iter()
        .find_map(|head| text.strip_prefix(head))
        .filter(|rest| rest.chars().count() == 1)
        .and_then(|rest| rest.chars().next())
        .filter(char::is_ascii_alphabetic);
    match letter {
        Some(letter) => Ok(Key::ctrl(letter.to_ascii_lowercase())),
        None => Err(format!(
            "\"{text}\" is not a prefix key: Ctrl with a letter, as \"C-a\" or \"C-b\""
        )),
    }
}

/// A key after the prefix: one printable character that is not a digit (1–9 pick windows).
fn single_key(text: &str) -> Result<char, String> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_digit() => {
            Err(format!("\"{text}\": digits pick windows by number"))
        }
        (Some(c), None) if !c.is_control() && c != ' ' => Ok(c),
        _ => Err(format!(
            "\"{text}\" is not one key (write one character, as \"S\")"
        )),
    }
}

/// How a client writes `key` in its help: `C-b` in a terminal, `Ctrl-b` in a browser.
pub fn key_label(key: Key, terminal: bool) -> String {
    match key.code {
        KeyCode::Char(c) if key.mods.ctrl => {
            if terminal {
                format!("C-{c}")
            } else {
                format!("Ctrl-{c}")
            }
        }
        KeyCode::Char(c) => c.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(prefix: &str, bindings: &[(&str, &str)]) -> Settings {
        Settings {
            prefix: prefix.into(),
            bindings: bindings
                .iter()
                .map(|(name, key)| (name.to_string(), key.to_string()))
                .collect(),
            ..Settings::default()
        }
    }

    #[test]
    fn the_usual_keys_without_settings() {
        let (prefs, problems) = Prefs::new(&Settings::default());
        assert!(problems.is_empty());
        assert_eq!(prefs, Prefs::default());
        assert_eq!(prefs.command('s'), Some('s'));
        assert_eq!(prefs.command('3'), Some('3'));
        assert_eq!(prefs.command('Q'), None);
    }

    #[test]
    fn a_prefix_and_bindings_of_ones_own() {
        let (prefs, problems) = Prefs::new(&settings("C-b", &[("new-shell", "S"), ("close", "k")]));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(prefs.prefix, Key::ctrl('b'));
        assert_eq!(prefs.command('S'), Some('s'));
        assert_eq!(prefs.command('k'), Some('x'));
        // The usual keys of moved commands do nothing now.
        assert_eq!(prefs.command('s'), None);
        assert_eq!(prefs.command('x'), None);
        assert_eq!(parse_prefix("^Q"), Ok(Key::ctrl('q')));
    }

    #[test]
    fn mistakes_name_the_key_and_keep_the_usual() {
        let (prefs, problems) = Prefs::new(&settings(
            "Alt-a",
            &[
                ("new-shel", "S"),
                ("close", "kk"),
                ("tile", "5"),
                ("move", "c"),
                ("resize", "c"),
            ],
        ));
        assert_eq!(prefs.prefix, Key::ctrl('a'));
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems[0].starts_with("prefix: \"Alt-a\" is not a prefix key"));
        assert!(problems
            .iter()
            .any(|p| p.starts_with("bindings.new-shel: no such command")));
        assert!(problems
            .iter()
            .any(|p| p.starts_with("bindings.close: \"kk\" is not one key")));
        assert!(problems
            .iter()
            .any(|p| p.starts_with("bindings.tile: \"5\": digits")));
        assert!(problems
            .iter()
            .any(|p| p == "bindings.resize: \"c\" is already move's key"));
        // `move` took C-a c from new-chat; resize keeps its own key.
        assert_eq!(prefs.command('c'), Some('m'));
        assert_eq!(prefs.command('r'), Some('r'));
        assert_eq!(prefs.command('x'), Some('x'));
    }
}

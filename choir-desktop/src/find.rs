//! Search in a window of items (a chat's messages) with copy mode's keys: `/` and `?` type a
//! search forward (to newer items) or back, Enter runs it, `n` and `N` go to the next and
//! the previous item holding it, `q` or Esc leaves. One client's own, as copy mode is; each
//! client shows the item it is on and marks what matches.

use choir_proto::{thousands, AppKind, Event, ThreadId, WindowId, World};

use crate::copy_mode::Query;
use crate::key::{Key, KeyCode};

/// What a search in window `window_id` looks through, oldest first, as (key, text): a
/// chat's messages held here (by seq), or, for an event log, the lines of the events this
/// client holds (`log`, each as [`log_line`] makes it); `None` for other windows.
pub fn items(
    world: &World,
    window_id: WindowId,
    log: impl Iterator<Item = (u64, String)>,
) -> Option<Vec<(u64, String)>> {
    match world.desktop.window(window_id)?.app {
        AppKind::Chat => {
            let thread = world.chats.get(&ThreadId(window_id.0))?;
            Some(
                thread
                    .messages
                    .iter()
                    .map(|message| (message.seq, message.text.clone()))
                    .collect(),
            )
        }
        AppKind::EventLog => Some(log.collect()),
        _ => None,
    }
}

/// An event as an event log's search reads it: (seq, its line of text: type, actor and its
/// data as JSON text). A client that has the daemon's own text of the data gives it; else
/// it is encoded here.
pub fn log_line(event: &Event, data: Option<&str>) -> (u64, String) {
    let encoded;
    let data = match data {
        Some(data) => data,
        None => {
            encoded = event
                .body
                .data()
                .map(|data| data.to_string())
                .unwrap_or_default();
            &encoded
        }
    };
    let text = format!("{} {} {data}", event.body.type_name(), event.actor);
    (event.seq, text)
}

/// One client's search in one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Find {
    window_id: WindowId,
    /// The last search, and whether it goes back (to older items).
    search: Option<(Query, bool)>,
    /// A search being typed, and its direction.
    prompt: Option<(String, bool)>,
    /// The key (a message's seq) of the item it is on.
    at: Option<u64>,
    said: Option<String>,
}

/// What a key in search mode comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindOutcome {
    Stay,
    Leave,
}

impl Find {
    /// Search in window `window_id`, a search back being typed (most searches look back).
    pub fn new(window_id: WindowId) -> Self {
        Self {
            window_id,
            search: None,
            prompt: Some((String::new(), true)),
            at: None,
            said: None,
        }
    }

    pub fn window_id(&self) -> WindowId {
        self.window_id
    }

    /// The key of the item it is on.
    pub fn at(&self) -> Option<u64> {
        self.at
    }

    /// What to mark: the search being typed, else the last one.
    pub fn query(&self) -> Option<Query> {
        match &self.prompt {
            Some((text, _)) if !text.is_empty() => Some(Query::new(text)),
            Some(_) => None,
            None => self.search.as_ref().map(|(query, _)| query.clone()),
        }
    }

    /// Handles a key; `items` are the window's items, oldest first, as (key, text).
    pub fn on_key(&mut self, key: Key, items: &[(u64, String)]) -> FindOutcome {
        self.said = None;
        if let Some((mut text, back)) = self.prompt.take() {
            match key.code {
                KeyCode::Esc => {}
                KeyCode::Enter => {
                    if !text.is_empty() {
                        self.search = Some((Query::new(&text), back));
                    }
                    self.next(items, false);
                }
                KeyCode::Backspace if text.is_empty() => {}
                KeyCode::Backspace => {
                    text.pop();
                    self.prompt = Some((text, back));
                }
                KeyCode::Char(c) if !key.mods.ctrl && !key.mods.alt => {
                    text.push(c);
                    self.prompt = Some((text, back));
                }
                _ => self.prompt = Some((text, back)),
            }
            return FindOutcome::Stay;
        }
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return FindOutcome::Leave,
            KeyCode::Char('c') if key.mods.ctrl => return FindOutcome::Leave,
            KeyCode::Char('/') => self.prompt = Some((String::new(), false)),
            KeyCode::Char('?') => self.prompt = Some((String::new(), true)),
            KeyCode::Char('n') => self.next(items, false),
            KeyCode::Char('N') => self.next(items, true),
            _ => {}
        }
        FindOutcome::Stay
    }

    /// What the hint line says.
    pub fn hint(&self) -> String {
        if let Some((text, back)) = &self.prompt {
            let sign = if *back { '?' } else { '/' };
            return format!("search: {sign}{text}▏ Enter search · Esc cancel");
        }
        let keys = "search: / ? new search · n/N next/previous · q leave";
        match &self.said {
            Some(said) => format!("{said} · {keys}"),
            None => keys.to_owned(),
        }
    }

    /// To the next item holding the search (`reverse`: the other way), wrapping around.
    fn next(&mut self, items: &[(u64, String)], reverse: bool) {
        let Some((query, back)) = self.search.clone() else {
            self.said = Some("no search yet: / or ?".into());
            return;
        };
        let back = back != reverse;
        let hits: Vec<u64> = items
            .iter()
            .filter(|(_, text)| !query.find_in(text).is_empty())
            .map(|(key, _)| *key)
            .collect();
        let next = match (self.at, back) {
            (Some(at), true) => hits.iter().rev().find(|key| **key < at).or(hits.last()),
            (Some(at), false) => hits.iter().find(|key| **key > at).or(hits.first()),
            // From the newest: back finds the newest match, forward the oldest.
            (None, true) => hits.last(),
            (None, false) => hits.first(),
        };
        match next.copied() {
            Some(key) => {
                self.at = Some(key);
                let index = hits.iter().position(|hit| *hit == key).unwrap_or(0);
                self.said = Some(format!(
                    "match {} of {}",
                    thousands(index as u64 + 1),
                    thousands(hits.len() as u64)
                ));
            }
            None => self.said = Some(format!("“{}” not found", query.text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<(u64, String)> {
        vec![
            (3, "deploy the staging server".into()),
            (5, "the build is green".into()),
            (8, "Deploy to production".into()),
            (9, "done".into()),
        ]
    }

    fn typed(find: &mut Find, text: &str) {
        for c in text.chars() {
            let key = match c {
                '\n' => Key::plain(KeyCode::Enter),
                c => Key::plain(KeyCode::Char(c)),
            };
            find.on_key(key, &items());
        }
    }

    #[test]
    fn a_search_back_finds_the_newest_match_first_and_n_goes_on() {
        let mut find = Find::new(WindowId(1));
        typed(&mut find, "deploy\n");
        assert_eq!(find.at(), Some(8));
        assert!(find.hint().starts_with("match 2 of 2"), "{}", find.hint());
        typed(&mut find, "n");
        assert_eq!(find.at(), Some(3));
        // Past the oldest it wraps; N goes the other way.
        typed(&mut find, "n");
        assert_eq!(find.at(), Some(8));
        typed(&mut find, "N");
        assert_eq!(find.at(), Some(3));
        // A capital matches only itself.
        typed(&mut find, "/Deploy\n");
        assert_eq!(find.at(), Some(8));
        assert!(find.hint().starts_with("match 1 of 1"));
        typed(&mut find, "/nothing here\n");
        assert!(find.hint().starts_with("“nothing here” not found"));
        assert_eq!(
            find.on_key(Key::plain(KeyCode::Char('q')), &items()),
            FindOutcome::Leave
        );
    }

    #[test]
    fn what_matches_is_found_as_byte_ranges() {
        let query = Query::new("é b");
        assert_eq!(
            query.find_in("café bar, CAFÉ B"),
            vec![std::ops::Range { start: 3, end: 7 }]
        );
        assert_eq!(Query::new("ab").find_in("xABxab"), [1..3, 4..6]);
    }
}

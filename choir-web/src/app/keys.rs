//! Keyboard shortcuts: the shared keymap ([`choir_desktop::Keymap`]) decides what a key
//! does, as in the terminal; this carries it out in the page. Keys the keymap leaves to the
//! focused window go to a shell's program, or else stay the page's (text fields, buttons).

use choir_desktop::replay::{replay_key, ReplayKey, Travel};
use choir_desktop::{Intent, KeyCode, Screen, PREFIX};
use choir_proto::{Command, Rect};
use web_sys::KeyboardEvent;

use super::App;
use crate::apps::shell;
use crate::keys::{focused_shell, key_of, select_all};

impl App {
    /// Handles a key pressed anywhere on the page; true when the page must be drawn again.
    pub(super) fn on_key(&mut self, event: &KeyboardEvent) -> bool {
        if self.replica.timeline().is_some() && !self.keymap.help_shown() {
            // A page has nothing to quit: q and Esc stay the page's.
            if let Some(ReplayKey::Travel(to)) = key_of(event).and_then(replay_key) {
                event.prevent_default();
                self.travel(to);
                return true;
            }
        }
        // Cmd with anything is the browser's or the system's.
        if event.meta_key() {
            return false;
        }
        let Some(key) = key_of(event) else {
            return false;
        };
        let shell = focused_shell(self.replica.world());
        let world = self.replica.world();
        let (cols, rows) = self.layout.cols_rows;
        let screen = Screen {
            desktop: &world.desktop,
            area: Rect::new(0, 0, cols, rows),
            focused_takes_every_key: shell.is_some(),
        };
        let intents = self.keymap.on_key(key, &screen);
        if intents == [Intent::ToApp(key)] && key != PREFIX {
            // Not the desktop's: a shell's program's, or the page's.
            if let Some(id) = shell {
                return match shell::key_commands(self.replica.world(), id, event) {
                    Some(commands) => {
                        self.send_all(commands);
                        false
                    }
                    None => true,
                };
            }
            if key.code == KeyCode::Esc && self.notice.is_some() {
                self.notice = None;
                return true;
            }
            return false;
        }
        event.prevent_default();
        for intent in intents {
            match intent {
                Intent::Send(command) => {
                    let focuses = matches!(
                        command,
                        Command::OpenWindow { .. } | Command::FocusWindow { .. }
                    );
                    self.send(command);
                    if focuses {
                        self.request_focus_input();
                    }
                }
                // C-a C-a: a shell's program gets C-a; a text field selects all, as the
                // browser's own Ctrl-a would.
                Intent::ToApp(_) => match shell {
                    Some(window_id) => self.send(Command::ShellInput {
                        window_id,
                        data: "\u{1}".into(),
                    }),
                    None => select_all(),
                },
                Intent::Notice { text, error } => self.notify(text, error),
                // Not bound in the browser (see `choir_desktop::bindings`).
                Intent::Copy(_) | Intent::Quit => {}
            }
        }
        true
    }

    /// Moves through a replay's time and asks for the moment.
    pub(super) fn travel(&mut self, to: Travel) {
        self.replica.travel(|timeline| to.apply(timeline));
        self.flush_queries();
    }
}

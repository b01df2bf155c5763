//! Keyboard handling: the shared keymap ([`choir_desktop::Keymap`]) decides what a key does;
//! this carries it out on the terminal's desktop.

use choir_desktop::{Intent, Keymap, Launch, Screen};
use choir_proto::{AppKind, WindowId};

use super::{Action, Desktop};
use crate::input::Key;

impl Desktop {
    pub(super) fn on_key(&mut self, key: Key, actions: &mut Vec<Action>) {
        let intents = self.with_keymap(|keymap, screen| keymap.on_key(key, screen));
        self.carry_out(intents, actions);
    }

    /// What a launcher entry does, asked by a click.
    pub(super) fn on_launch(&mut self, launch: &Launch, actions: &mut Vec<Action>) {
        let intents = self.with_keymap(|keymap, screen| keymap.launch(launch, screen));
        self.carry_out(intents, actions);
    }

    /// Runs `work` on the keymap with what it reads of this desktop.
    fn with_keymap<R>(&mut self, work: impl FnOnce(&mut Keymap, &Screen<'_>) -> R) -> R {
        let area = self.area_cells();
        let focused_takes_every_key = self.focused_takes_every_key();
        let world = self.replica.world();
        let items = self.keymap.search_items(
            world,
            self.log
                .iter()
                .map(|event| choir_desktop::find::log_line(event, None)),
        );
        let screen = Screen {
            desktop: &world.desktop,
            area,
            focused_takes_every_key,
            focused_terminal: world
                .desktop
                .focused
                .and_then(|id| world.shells.get(&id))
                .map(|shell| &shell.terminal),
            focused_items: items.as_deref(),
            installed: &world.apps,
        };
        work(&mut self.keymap, &screen)
    }

    pub(super) fn carry_out(&mut self, intents: Vec<Intent>, actions: &mut Vec<Action>) {
        for intent in intents {
            match intent {
                Intent::Send(command) => actions.push(Action::Send(command)),
                Intent::ToApp(key) => self.on_app_key(key, actions),
                Intent::Copy(window_id) => self.copy_from(window_id, actions),
                Intent::CopyText(text) => actions.push(Action::Copy(text)),
                Intent::Quit => actions.push(Action::Quit),
                Intent::Notice { text, error } => self.notify(text, error),
            }
        }
    }

    fn copy_from(&mut self, window_id: WindowId, actions: &mut Vec<Action>) {
        let text = self
            .replica
            .world()
            .desktop
            .window(window_id)
            .and_then(|window| {
                let app = self.apps.get(&window_id)?;
                app.copy_text(&self.view(window))
            });
        match text {
            Some(text) => {
                actions.push(Action::Copy(text));
                self.notify("copied to the clipboard", false);
            }
            None => self.notify("nothing to copy here", true),
        }
    }

    /// Whether the focused window's app takes every key (a shell: F1 is for its program).
    fn focused_takes_every_key(&self) -> bool {
        let Some(id) = self.replica.world().desktop.focused else {
            return false;
        };
        match self.apps.get(&id) {
            Some(app) => app.takes_every_key(),
            None => self
                .replica
                .world()
                .desktop
                .window(id)
                .is_some_and(|window| window.app == AppKind::Shell),
        }
    }

    fn on_app_key(&mut self, key: Key, actions: &mut Vec<Action>) {
        let Some(id) = self.replica.world().desktop.focused else {
            return;
        };
        let used = self
            .with_app(id, actions, |app, cx| app.on_key(key, cx))
            .unwrap_or(false);
        if !used {
            self.keymap.unused_by_app(key);
        }
    }
}

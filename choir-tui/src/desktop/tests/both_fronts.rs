//! The desktop model is one for both clients: the same keys, read as the terminal reads them
//! (bytes through the input parser into this desktop) and as the browser reads them (a
//! page's `KeyboardEvent.key` through `Key::from_dom` into a browser keymap), ask the daemon
//! for the same window commands, whatever the sequence.

use choir_desktop::{Front, Intent, Key, Keymap, Screen};
use proptest::prelude::*;

use super::*;

/// One key as each client receives it.
#[derive(Debug, Clone, Copy)]
struct Press {
    /// What a terminal sends.
    bytes: &'static [u8],
    /// `KeyboardEvent.key`, Shift, Ctrl.
    dom: (&'static str, bool, bool),
}

const fn press(bytes: &'static [u8], dom: &'static str, shift: bool, ctrl: bool) -> Press {
    Press {
        bytes,
        dom: (dom, shift, ctrl),
    }
}

/// The keys the sequences are made of: the prefix, every key after it that both clients
/// have, and the keys of the move, resize and help modes.
const PRESSES: &[Press] = &[
    press(b"\x01", "a", false, true),
    press(b"\x01", "A", true, true),
    press(b"c", "c", false, false),
    press(b"e", "e", false, false),
    press(b"w", "w", false, false),
    press(b"s", "s", false, false),
    press(b"t", "t", false, false),
    press(b"n", "n", false, false),
    press(b"p", "p", false, false),
    press(b"x", "x", false, false),
    press(b"z", "z", false, false),
    press(b"-", "-", false, false),
    press(b"m", "m", false, false),
    press(b"r", "r", false, false),
    press(b"1", "1", false, false),
    press(b"2", "2", false, false),
    press(b"j", "j", false, false),
    press(b"q", "q", false, false),
    press(b"\t", "Tab", false, false),
    press(b"\x1b[Z", "Tab", true, false),
    press(b"\r", "Enter", false, false),
    press(b"\x1b", "Escape", false, false),
    press(b"\x1b[D", "ArrowLeft", false, false),
    press(b"\x1b[C", "ArrowRight", false, false),
    press(b"\x1b[A", "ArrowUp", false, false),
    press(b"\x1b[B", "ArrowDown", false, false),
    press(b"\x1b[1;2D", "ArrowLeft", true, false),
    press(b"\x1b[1;2B", "ArrowDown", true, false),
    press(b"\x1bOP", "F1", false, false),
];

/// The commands that manage windows: the desktop's, not an app's (a chat's post, a shell's
/// input), which the browser's text fields make instead of its keymap.
fn window_commands(commands: &[Command]) -> Vec<Command> {
    commands
        .iter()
        .filter(|command| {
            matches!(
                command,
                Command::OpenWindow { .. }
                    | Command::MoveWindow { .. }
                    | Command::ResizeWindow { .. }
                    | Command::FocusWindow { .. }
                    | Command::MinimizeWindow { .. }
                    | Command::RestoreWindow { .. }
                    | Command::ToggleMaximize { .. }
                    | Command::CloseWindow { .. }
                    | Command::TileWindows { .. }
            )
        })
        .cloned()
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn the_same_keys_give_the_same_window_commands_in_both_clients(
        presses in proptest::collection::vec(0..PRESSES.len(), 1..120)
    ) {
        let mut h = Harness::new(100, 30);
        let mut browser = Keymap::new(Front::Browser);
        for (step, index) in presses.into_iter().enumerate() {
            let press = PRESSES[index];
            let (name, shift, ctrl) = press.dom;
            let key = Key::from_dom(name, shift, false, ctrl);
            prop_assert!(key.is_some(), "{name}");
            let Some(key) = key else { continue };
            // On an empty desktop the terminal's Enter opens its launcher; the browser has
            // none (its taskbar has the buttons): not a key this property is about.
            let empty = h.server.desktop.focused.is_none();
            if empty && browser.mode() == choir_desktop::Mode::Normal && name == "Enter" {
                continue;
            }
            // The browser first, on the world as it is before the key.
            let focused = h.server.desktop.focused.and_then(|id| h.server.desktop.window(id));
            let screen = Screen {
                desktop: &h.server.desktop,
                area: h.desktop.area_cells(),
                focused_takes_every_key: focused.is_some_and(|w| w.app == AppKind::Shell),
                focused_terminal: focused
                    .and_then(|w| h.server.shells.get(&w.id))
                    .map(|shell| &shell.terminal),
                focused_items: None,
                installed: &h.server.apps,
            };
            let asked: Vec<Command> = browser
                .on_key(key, &screen)
                .into_iter()
                .filter_map(|intent| match intent {
                    Intent::Send(command) => Some(command),
                    _ => None,
                })
                .collect();
            h.bytes(press.bytes);
            let sent = h.take_sent();
            prop_assert_eq!(
                window_commands(&sent),
                window_commands(&asked),
                "step {}: {:?}", step, name
            );
            prop_assert_eq!(h.desktop.keymap.mode(), browser.mode(), "step {}: {:?}", step, name);
        }
    }
}

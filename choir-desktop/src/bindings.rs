//! Every binding, in one table: both help screens show it, and a test holds the keymap to
//! it (each key after the prefix that a row names does something; every other one says it
//! is not bound).

/// A client of the desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// The terminal desktop: `choir-tui`, or over SSH.
    Terminal,
    /// The web mirror.
    Browser,
}

impl Front {
    /// How this client writes the prefix key in its help and its notices.
    pub fn prefix_name(self) -> &'static str {
        match self {
            Front::Terminal => "C-a",
            Front::Browser => "Ctrl-a",
        }
    }
}

/// Which clients have a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Both,
    Only(Front),
}

/// One row of the help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// The keys, with `C-a` for the prefix (each client writes it its own way).
    pub keys: &'static str,
    pub what: &'static str,
    pub on: On,
    /// The characters that do this after the prefix.
    pub after_prefix: &'static str,
}

const fn row(keys: &'static str, what: &'static str, after_prefix: &'static str) -> Binding {
    Binding {
        keys,
        what,
        on: On::Both,
        after_prefix,
    }
}

const fn only(front: Front, keys: &'static str, what: &'static str) -> Binding {
    Binding {
        keys,
        what,
        on: On::Only(front),
        after_prefix: "",
    }
}

const TERMINAL: Front = Front::Terminal;
const BROWSER: Front = Front::Browser;

/// Every binding, in the order the help shows them.
pub const BINDINGS: &[Binding] = &[
    row(
        "C-a c/e/w/s/i/a",
        "new chat / event log / writer / shell / mail / calendar",
        "cewsia",
    ),
    Binding {
        on: On::Only(TERMINAL),
        ..row("C-a Space/l", "launcher menu", " l")
    },
    row("C-a n, C-a Tab", "focus next window", "n"),
    row("C-a p", "focus previous window", "p"),
    row("C-a 1..9", "focus window by taskbar number", "123456789"),
    row(
        "C-a m",
        "move mode: arrows (Shift: by 5), Enter/Esc done",
        "m",
    ),
    row(
        "C-a r",
        "resize mode: arrows (Shift: by 5), Enter/Esc done",
        "r",
    ),
    row("C-a z", "maximize / restore", "z"),
    row(
        "C-a -",
        "minimize (click it in the taskbar to restore)",
        "-",
    ),
    row("C-a t", "tile all windows", "t"),
    row(
        "C-a % / C-a \"",
        "split: side by side / stacked, a new shell in the half",
        "%\"",
    ),
    row(
        "C-a [",
        "copy mode in a shell, search a chat or log (/ ? n N)",
        "[",
    ),
    row("C-a x", "close window", "x"),
    row("C-a M", "send the mail written in the focused writer", "M"),
    Binding {
        on: On::Only(TERMINAL),
        ..row(
            "C-a y",
            "copy a chat message or a shell's screen (OSC 52)",
            "y",
        )
    },
    Binding {
        on: On::Only(TERMINAL),
        ..row("C-a q", "quit (the sandbox keeps running)", "q")
    },
    row(
        "C-a C-a",
        "C-a for the window (a text field: select all)",
        "",
    ),
    row(
        "F1, C-a ?",
        "this help (in a shell window F1 is the program's)",
        "?",
    ),
    only(
        TERMINAL,
        "mouse",
        "click focuses, drag title moves, drag border resizes",
    ),
    only(
        TERMINAL,
        "",
        "title buttons _ minimize □ maximize × close; wheel scrolls",
    ),
    only(
        BROWSER,
        "mouse / touch",
        "click focuses, drag the title moves, drag the corner resizes",
    ),
    only(
        TERMINAL,
        "chat",
        "Enter send, C-j newline, PgUp/PgDn, Alt-↑/↓ select",
    ),
    only(
        BROWSER,
        "chat",
        "Enter sends, Shift+Enter newline; scroll up for older messages",
    ),
    only(
        TERMINAL,
        "shell",
        "keys go to the program (not C-a); Enter restarts",
    ),
    only(
        BROWSER,
        "shell",
        "keys go to the program (not C-a); Ctrl-Shift-V pastes",
    ),
    only(
        TERMINAL,
        "event log",
        "/ filter by type, f follow/pause, PgUp/PgDn, End",
    ),
    only(
        TERMINAL,
        "writer list",
        "Enter open, n new, r rename, d delete",
    ),
    only(
        TERMINAL,
        "writer",
        "Shift+move selects, C-c/x/v, C-z/y undo/redo",
    ),
    only(TERMINAL, "", "C-o back to the list"),
    only(
        BROWSER,
        "Tab",
        "moves between buttons and fields, as everywhere",
    ),
];

impl Binding {
    /// Whether `front` has this binding.
    pub fn is_on(&self, front: Front) -> bool {
        match self.on {
            On::Both => true,
            On::Only(only) => only == front,
        }
    }
}

/// The help of one client: its rows, keys written with its own prefix name.
pub fn help(front: Front) -> impl Iterator<Item = (String, String)> {
    BINDINGS
        .iter()
        .filter(move |binding| binding.is_on(front))
        .map(move |binding| {
            (
                binding.keys.replace("C-a", front.prefix_name()),
                binding.what.replace("C-a", front.prefix_name()),
            )
        })
}

/// Whether `c` after the prefix does something in `front`.
pub fn is_bound(front: Front, c: char) -> bool {
    BINDINGS
        .iter()
        .any(|binding| binding.is_on(front) && binding.after_prefix.contains(c))
}

//! Every binding, as shown by the help overlay (F1 or C-a ?).

/// (keys, what they do)
pub const BINDINGS: &[(&str, &str)] = &[
    (
        "C-a c/e/w/s",
        "new chat / event log / writer / shell window",
    ),
    ("C-a Space", "launcher menu"),
    ("C-a n, C-a Tab", "focus next window"),
    ("C-a p", "focus previous window"),
    ("C-a 1..9", "focus window by taskbar number"),
    ("C-a m", "move mode: arrows (Shift: by 5), Enter/Esc done"),
    ("C-a r", "resize mode: arrows (Shift: by 5), Enter/Esc done"),
    ("C-a z", "maximize / restore"),
    ("C-a -", "minimize (click it in the taskbar to restore)"),
    ("C-a t", "tile all windows"),
    ("C-a x", "close window"),
    ("C-a y", "copy a chat message or a shell's screen (OSC 52)"),
    ("C-a q", "quit (the sandbox keeps running)"),
    ("C-a C-a", "send a literal C-a to the window"),
    (
        "F1, C-a ?",
        "this help (in a shell window F1 is the program's)",
    ),
    (
        "mouse",
        "click focuses, drag title moves, drag border resizes",
    ),
    (
        "",
        "title buttons _ minimize □ maximize × close; wheel scrolls",
    ),
    ("chat", "Enter send, C-j newline, PgUp/PgDn, Alt-↑/↓ select"),
    ("shell", "keys go to the program (not C-a); Enter restarts"),
    (
        "event log",
        "/ filter by type, f follow/pause, PgUp/PgDn, End",
    ),
    ("writer list", "Enter open, n new, r rename, d delete"),
    ("writer", "Shift+move selects, C-c/x/v, C-z/y undo/redo"),
    ("", "C-a C-a select all, C-o back to the list"),
];

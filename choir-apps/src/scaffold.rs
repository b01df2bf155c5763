//! The files of a new app: a crate whose view shows the app's name and a counter.

use crate::{WIT, WIT_BINDGEN_VERSION};

/// The files of a new app named `name` (a valid app name), as (path in its directory, text).
pub fn files(name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Cargo.toml", cargo_toml(name)),
        ("Cargo.lock", cargo_lock(name)),
        ("src/lib.rs", LIB_RS.replace("{NAME}", name)),
        ("wit/app.wit", WIT.to_owned()),
        (".gitignore", "/target\n".to_owned()),
    ]
}

/// An app crate's manifest: a component's core module, small, with the bindings generator
/// only.
pub fn cargo_toml(name: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"

[lib]
crate-type = ["cdylib"]

[dependencies]
wit-bindgen = {{ version = "={WIT_BINDGEN_VERSION}", default-features = false, features = ["macros", "realloc"] }}

# Its own workspace, wherever it is.
[workspace]

[profile.release]
opt-level = "s"
codegen-units = 1
panic = "abort"
strip = true
"#
    )
}

/// An app crate's lock file: the example timer's, whose crates the set-up puts in cargo's
/// cache, so a new app builds offline with the same versions.
pub fn cargo_lock(name: &str) -> String {
    include_str!("../../apps/timer/Cargo.lock").replacen(
        "name = \"timer\"\nversion = \"0.1.0\"",
        &format!("name = \"{name}\"\nversion = \"0.1.0\""),
        1,
    )
}

const LIB_RS: &str = r#"//! {NAME}: an app for ChoirOS. `choir app build {NAME}` builds it and `choir app open {NAME}`
//! shows it; the contract is in wit/app.wit.

wit_bindgen::generate!({ world: "app", path: "wit" });

use choir::app::types::{ButtonView, Color, Node, Span, Style};
use std::cell::Cell;

thread_local! {
    static PRESSED: Cell<u32> = const { Cell::new(0) };
}

struct App;

impl Guest for App {
    fn init() {}

    fn update(input: Input) {
        if let Input::Click(id) = input {
            if id == "press" {
                PRESSED.set(PRESSED.get() + 1);
            }
        }
    }

    fn view(_width: u32, _height: u32) -> View {
        let title = Style { fg: Color::Cyan, bold: true, dim: false, italic: false, underline: false, reverse: false };
        let plain = Style { fg: Color::Default, bold: false, dim: false, italic: false, underline: false, reverse: false };
        View {
            nodes: vec![
                Node::Column(vec![1, 2, 3]),
                Node::Text(vec![Span { text: "{NAME}".into(), style: title }]),
                Node::Text(vec![Span { text: format!("pressed {} times", PRESSED.get()), style: plain }]),
                Node::Button(ButtonView { id: "press".into(), label: "Press".into() }),
            ],
            tick_after_ms: None,
        }
    }
}

export!(App);
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_hold_the_contract_and_manifest_a_new_app_gets() {
        assert_eq!(include_str!("../../apps/timer/wit/app.wit"), WIT);
        assert_eq!(include_str!("../../apps/tool-dashboard/wit/app.wit"), WIT);
        assert_eq!(
            include_str!("../../apps/timer/Cargo.toml"),
            cargo_toml("timer")
        );
        assert_eq!(
            include_str!("../../apps/tool-dashboard/Cargo.toml"),
            cargo_toml("tool-dashboard")
        );
    }

    #[test]
    fn a_new_app_names_itself() {
        let files = files("pomodoro");
        let manifest = &files[0].1;
        assert!(manifest.contains("name = \"pomodoro\""), "{manifest}");
        assert!(files[1]
            .1
            .contains("name = \"pomodoro\"\nversion = \"0.1.0\""));
        assert!(!files[1].1.contains("\"timer\""));
        assert!(files[2].1.contains("\"pomodoro\".into()"));
        assert_eq!(files[3].1, WIT);
    }
}

//! The ChoirOS web mirror: the live desktop of a sandbox in the browser. It folds the same
//! events with the same reducer as the terminal (`choir-proto`), on the same character-cell
//! grid, and sends the same commands. Built to wasm by `scripts/build-web.sh` and served by
//! `choir-daemon` at `/`.

#[cfg(any(target_arch = "wasm32", test))]
mod log_text;
mod redraw;
mod screen;
mod text;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod apps;
#[cfg(target_arch = "wasm32")]
mod desktop;
#[cfg(target_arch = "wasm32")]
mod dom;
#[cfg(target_arch = "wasm32")]
mod drag;
#[cfg(target_arch = "wasm32")]
mod keys;
#[cfg(target_arch = "wasm32")]
mod msg;
#[cfg(target_arch = "wasm32")]
mod net;
#[cfg(target_arch = "wasm32")]
mod notify;
#[cfg(target_arch = "wasm32")]
mod timeline;

#[cfg(target_arch = "wasm32")]
fn main() {
    if let Some(boot) = dom::by_id("boot") {
        boot.remove();
    }
    match dom::by_id("app") {
        Some(root) => yew::Renderer::<app::App>::with_root(root).render(),
        None => yew::Renderer::<app::App>::new().render(),
    };
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "choir-web runs in a browser: build it with scripts/build-web.sh, then open the URL \
         `choir web` prints"
    );
    std::process::exit(2);
}

//! What the app needs from the page: the token, the socket's URL, timers, storage, measuring
//! the character cell, and listeners on the document.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement};

/// Where the token is kept for the tab's life (a reload keeps it, another tab does not).
const TOKEN_KEY: &str = "choir-token";

pub fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

pub fn document() -> Option<web_sys::Document> {
    window()?.document()
}

/// Shows the page in the settings' theme: `data-theme` on the root element (the style
/// sheet follows the system's light or dark without it).
pub fn set_theme(theme: choir_proto::ThemeChoice) {
    use choir_proto::ThemeChoice;
    let Some(root) = document().and_then(|document| document.document_element()) else {
        return;
    };
    let _ = match theme {
        ThemeChoice::Auto => root.remove_attribute("data-theme"),
        ThemeChoice::Dark => root.set_attribute("data-theme", "dark"),
        ThemeChoice::Light => root.set_attribute("data-theme", "light"),
        ThemeChoice::Mono => root.set_attribute("data-theme", "mono"),
    };
}

/// The sandbox token: taken from the URL's `?token=` into session storage and removed from
/// the address bar (so it is not in history, bookmarks or screenshots), else from storage.
pub fn take_token() -> Option<String> {
    let window = window()?;
    let location = window.location();
    let storage = window.session_storage().ok().flatten();
    let href = location.href().ok()?;
    let url = web_sys::Url::new(&href).ok()?;
    let params = url.search_params();
    if let Some(token) = params.get("token").filter(|token| !token.is_empty()) {
        if let Some(storage) = &storage {
            let _ = storage.set_item(TOKEN_KEY, &token);
        }
        params.delete("token");
        let clean = url.href();
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&clean));
        }
        return Some(token);
    }
    storage?.get_item(TOKEN_KEY).ok().flatten()
}

/// Where a replay starts, when the page's URL asks for one: `?at=SEQ`, or `?replay` for
/// now (the page then shows past moments, read-only).
pub fn replay_point() -> Option<choir_proto::Seek> {
    let href = window()?.location().href().ok()?;
    let params = web_sys::Url::new(&href).ok()?.search_params();
    if let Some(seq) = params.get("at") {
        return Some(choir_proto::Seek::Seq {
            seq: seq.parse().unwrap_or(u64::MAX),
        });
    }
    params
        .has("replay")
        .then_some(choir_proto::Seek::Seq { seq: u64::MAX })
}

/// The content of `<meta name=NAME>`: how a server tells the page what it needs to know.
pub fn meta(name: &str) -> Option<String> {
    document()?
        .query_selector(&format!("meta[name=\"{name}\"]"))
        .ok()??
        .get_attribute("content")
        .filter(|content| !content.is_empty())
}

/// Where a page served by the hypervisor sends its user to sign in again, and who is signed
/// in: the page then needs no token (its cookie is its session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub user: String,
    pub sign_in: String,
    pub account: Option<String>,
}

pub fn signed_in() -> Option<SignedIn> {
    Some(SignedIn {
        user: meta("choir-user")?,
        sign_in: meta("choir-signin")?,
        account: meta("choir-account"),
    })
}

/// Leaves for `url`.
pub fn go_to(url: &str) {
    if let Some(window) = window() {
        let _ = window.location().assign(url);
    }
}

/// The protocol endpoint on the page's own origin: `/ws`, or where the server says
/// (`<meta name=choir-socket>`, a share's socket).
pub fn socket_url() -> Option<String> {
    let location = window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    let path = meta("choir-socket").unwrap_or_else(|| "/ws".into());
    Some(format!("{scheme}://{}{path}", location.host().ok()?))
}

/// The page's host, for messages.
pub fn host() -> String {
    window()
        .and_then(|window| window.location().host().ok())
        .unwrap_or_default()
}

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A random hex string, for edit tags unique to this tab.
pub fn random_tag() -> String {
    format!("{:x}", (js_sys::Math::random() * 1e15) as u64)
}

pub fn by_id(id: &str) -> Option<Element> {
    document()?.get_element_by_id(id)
}

/// The size of one character cell in CSS pixels, measured on the probe element the page
/// lays out in the desktop's font.
pub fn cell_size() -> Option<(f64, f64)> {
    let probe = by_id("cell-probe")?;
    let rect = probe.get_bounding_client_rect();
    let chars = probe
        .text_content()
        .unwrap_or_default()
        .chars()
        .count()
        .max(1) as f64;
    (rect.width() > 0.0 && rect.height() > 0.0).then(|| (rect.width() / chars, rect.height()))
}

/// The desktop area's size in pixels.
pub fn desktop_px() -> Option<(f64, f64)> {
    let desktop = by_id("desktop")?;
    let rect = desktop.get_bounding_client_rect();
    Some((rect.width(), rect.height()))
}

/// Marks the page as showing live state (tests and benchmarks wait for it).
pub fn set_ready() {
    if let Some(body) = document().and_then(|document| document.body()) {
        let _ = body.set_attribute("data-ready", "true");
    }
}

/// Calls `handler` on every `event` of the window (or of the document with `on_document`),
/// for the page's life.
pub fn listen(on_document: bool, event: &str, handler: impl FnMut(web_sys::Event) + 'static) {
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(handler);
    let target: Option<web_sys::EventTarget> = if on_document {
        document().map(Into::into)
    } else {
        window().map(Into::into)
    };
    if let Some(target) = target {
        let _ = target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    }
    // The listener lives as long as the page.
    closure.forget();
}

/// Focuses the first element matching `selector` inside `root`; false if there is none.
pub fn focus_in(root: &Element, selector: &str) -> bool {
    let Ok(Some(element)) = root.query_selector(selector) else {
        return false;
    };
    element
        .dyn_into::<HtmlElement>()
        .is_ok_and(|element| element.focus().is_ok())
}

/// Calls `then` before the next repaint, or within a quarter second when the page is hidden
/// (a background tab gets no animation frames, but its socket must still be read). False
/// when it cannot be scheduled.
pub fn on_next_frame(then: impl FnOnce() + 'static) -> bool {
    let Some(window) = window() else {
        return false;
    };
    let callback = Closure::once_into_js(then);
    if is_visible() {
        window
            .request_animation_frame(callback.unchecked_ref())
            .is_ok()
    } else {
        window
            .set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), 250)
            .is_ok()
    }
}

/// Whether the page is visible (not a background tab).
pub fn is_visible() -> bool {
    document()
        .is_some_and(|document| document.visibility_state() == web_sys::VisibilityState::Visible)
}

/// GETs a JSON document of the daemon's API, with the token when the page has one (else the
/// hypervisor adds it, for the session its cookie names).
pub async fn get_json<T: serde::de::DeserializeOwned>(
    path: &str,
    token: Option<&str>,
) -> Result<T, String> {
    use wasm_bindgen_futures::JsFuture;
    let window = window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_method("GET");
    // A share's page reads its owner's API under the share's path.
    let path = format!("{}{path}", meta("choir-api").unwrap_or_default());
    let request =
        web_sys::Request::new_with_str_and_init(&path, &init).map_err(|err| format!("{err:?}"))?;
    if let Some(token) = token {
        request
            .headers()
            .set("Authorization", &format!("Bearer {token}"))
            .map_err(|err| format!("{err:?}"))?;
    }
    let response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|err| format!("{err:?}"))?;
    let response: web_sys::Response = response.dyn_into().map_err(|err| format!("{err:?}"))?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let text = JsFuture::from(response.text().map_err(|err| format!("{err:?}"))?)
        .await
        .map_err(|err| format!("{err:?}"))?;
    serde_json::from_str(&text.as_string().unwrap_or_default()).map_err(|err| err.to_string())
}

//! The browser's side of attention (`choir_desktop::attention`): whether the user looks at
//! this tab, a system notification for each alert (permission asked once, on a key press),
//! and the count of windows that need the user in the tab's title.

use choir_desktop::attention::Alert;
use web_sys::{Notification, NotificationOptions, NotificationPermission};

use crate::dom::document;

/// The tab's own title, without a count.
const TITLE: &str = "ChoirOS";
/// Remembers, for this browser, that permission was asked: asking again would nag.
const ASKED_KEY: &str = "choir-notifications-asked";

/// Whether the user looks at this tab: it is shown and has the keyboard.
pub fn looking() -> bool {
    document().is_some_and(|document| {
        document.visibility_state() == web_sys::VisibilityState::Visible
            && document.has_focus().unwrap_or(false)
    })
}

/// Asks for permission to show notifications, once per browser (a key press is the user
/// gesture browsers want for it).
pub fn ask_once() {
    if Notification::permission() != NotificationPermission::Default {
        return;
    }
    let storage = web_sys::window().and_then(|window| window.local_storage().ok().flatten());
    if let Some(storage) = &storage {
        if storage.get_item(ASKED_KEY).ok().flatten().is_some() {
            return;
        }
        let _ = storage.set_item(ASKED_KEY, "1");
    }
    // The promise settles with the user's answer; `permission()` tells it from then on.
    let _ = Notification::request_permission();
}

/// Shows `alert` as a system notification, if the user allowed them; one per window at a
/// time (a newer one replaces it).
pub fn show(alert: &Alert) {
    if Notification::permission() != NotificationPermission::Granted {
        return;
    }
    let options = NotificationOptions::new();
    options.set_body(&alert.body);
    options.set_tag(&format!("choir-window-{}", alert.window_id.0));
    let _ = Notification::new_with_options(&alert.title, &options);
}

/// Puts the count of windows that need the user in the tab's title: `(2) ChoirOS`.
pub fn title_count(count: usize) {
    let Some(document) = document() else {
        return;
    };
    let title = match count {
        0 => TITLE.to_owned(),
        n => format!("({n}) {TITLE}"),
    };
    if document.title() != title {
        document.set_title(&title);
    }
}

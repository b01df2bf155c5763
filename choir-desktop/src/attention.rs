//! What needs the user, seen from one client: a chat whose agent waits for an approval, a
//! chat whose turn ended while the user looked elsewhere (another window, another tab,
//! another program), and a mail window whose folder got new mail meanwhile. The taskbars mark such windows; an [`Alert`] is what a client rings or
//! notifies with as it happens. Both clients keep one [`Attention`] and feed it every event.

use std::collections::BTreeSet;

use choir_proto::{AppKind, Event, EventBody, ThreadId, WindowId, World};

use crate::chat::waits_for_approval;

/// Why a window is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Its agent waits for an approval.
    Approval,
    /// Its turn ended while it was not looked at.
    Finished,
    /// New mail came into the folder it shows while it was not looked at.
    Mail,
}

impl Need {
    /// The mark after the window's name in the taskbar.
    pub fn mark(self) -> &'static str {
        match self {
            Need::Approval => " !",
            Need::Finished => " •",
            Need::Mail => " *",
        }
    }

    /// The mark's tooltip.
    pub fn describe(self) -> &'static str {
        match self {
            Need::Approval => "a tool call waits for your approval",
            Need::Finished => "the agent finished while you were elsewhere",
            Need::Mail => "new mail came while you were elsewhere",
        }
    }
}

/// Something to ring or notify about, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub window_id: WindowId,
    pub title: String,
    pub body: String,
}

/// Events older than this when they arrive (a catch-up after a reconnect) mark windows but
/// ring nothing.
pub const ALERT_WITHIN_MS: i64 = 60_000;

/// One client's view of what needs the user.
#[derive(Debug, Clone, Default)]
pub struct Attention {
    /// Chat windows whose turn ended while not looked at.
    finished: BTreeSet<WindowId>,
    /// Mail windows whose folder got new mail while not looked at.
    new_mail: BTreeSet<WindowId>,
}

impl Attention {
    /// Takes in an event, already applied to `world`. `looking_at` is the window the user
    /// looks at now: the focused one while this client is in front, else none. Returns the
    /// alert the event calls for, unless the event is old news (see [`ALERT_WITHIN_MS`]).
    pub fn on_event(
        &mut self,
        world: &World,
        event: &Event,
        looking_at: Option<WindowId>,
        now_ms: i64,
    ) -> Option<Alert> {
        let alert = self.take_in(world, event, looking_at);
        alert.filter(|_| now_ms.saturating_sub(event.ts) <= ALERT_WITHIN_MS)
    }

    fn take_in(
        &mut self,
        world: &World,
        event: &Event,
        looking_at: Option<WindowId>,
    ) -> Option<Alert> {
        let chat_window = |thread_id: &ThreadId| {
            let id = WindowId(thread_id.0);
            world
                .desktop
                .window(id)
                .filter(|window| window.app == AppKind::Chat)
                .map(|window| (id, window.title.clone()))
        };
        match &event.body {
            EventBody::ToolRequested {
                tool,
                thread_id: Some(thread_id),
                needs_approval: true,
                ..
            } => {
                let (window_id, title) = chat_window(thread_id)?;
                Some(Alert {
                    window_id,
                    title: format!("{title}: approval needed"),
                    body: format!("the agent asks to run {tool}"),
                })
            }
            EventBody::ChatTurnCompleted { thread_id }
            | EventBody::ChatTurnFailed { thread_id, .. } => {
                let (window_id, title) = chat_window(thread_id)?;
                if looking_at == Some(window_id) {
                    return None;
                }
                self.finished.insert(window_id);
                let body = match &event.body {
                    EventBody::ChatTurnFailed { error, .. } => format!("the turn failed: {error}"),
                    _ => "the agent finished its turn".to_owned(),
                };
                Some(Alert {
                    window_id,
                    title: format!("{title}: done"),
                    body,
                })
            }
            EventBody::MailArrived {
                account,
                folder,
                headers,
                ..
            } => {
                let newest = headers.iter().max_by_key(|header| header.uid)?;
                let shown: Vec<WindowId> = world
                    .mail
                    .values()
                    .filter(|view| {
                        view.account == *account && view.folder == *folder && view.query.is_empty()
                    })
                    .map(|view| view.window_id)
                    .filter(|id| looking_at != Some(*id))
                    .collect();
                let window_id = *shown.first()?;
                self.new_mail.extend(shown);
                let body = match headers.len() {
                    1 => newest.subject.clone(),
                    n => format!("{n} new messages, the newest: {}", newest.subject),
                };
                Some(Alert {
                    window_id,
                    title: format!("Mail from {}", newest.from),
                    body,
                })
            }
            EventBody::WindowClosed { window_id } => {
                self.finished.remove(window_id);
                self.new_mail.remove(window_id);
                None
            }
            _ => None,
        }
    }

    /// The user looks at `window` now: its mark goes.
    pub fn seen(&mut self, window: Option<WindowId>) {
        if let Some(id) = window {
            self.finished.remove(&id);
            self.new_mail.remove(&id);
        }
    }

    /// Why `window_id` is marked, if it is.
    pub fn need(&self, world: &World, window_id: WindowId) -> Option<Need> {
        let window = world.desktop.window(window_id)?;
        if waits_for_approval(world, window) {
            Some(Need::Approval)
        } else if self.finished.contains(&window_id) {
            Some(Need::Finished)
        } else if self.new_mail.contains(&window_id) {
            Some(Need::Mail)
        } else {
            None
        }
    }

    /// How many windows are marked (the browser puts it in the tab's title).
    pub fn count(&self, world: &World) -> usize {
        world
            .desktop
            .windows
            .keys()
            .filter(|id| self.need(world, **id).is_some())
            .count()
    }
}

/// The escape sequences that ring a terminal for `alert`: BEL, and a desktop notification
/// for terminals that show them (OSC 9: iTerm2, kitty, WezTerm, foot; OSC 777: urxvt,
/// Konsole, VTE). Terminals that know neither ignore them.
pub fn terminal_bell(alert: &Alert) -> String {
    let clean = |text: &str| -> String {
        text.chars()
            .filter(|c| !c.is_control() && *c != ';')
            .take(200)
            .collect()
    };
    let (title, body) = (clean(&alert.title), clean(&alert.body));
    format!("\x07\x1b]9;{title}: {body}\x1b\\\x1b]777;notify;{title};{body}\x1b\\")
}

#[cfg(test)]
mod tests;

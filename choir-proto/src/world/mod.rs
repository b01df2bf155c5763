//! The state every client computes: a pure, infallible fold over [`Event`]s.

mod apps;
mod calendar;
mod chat;
mod desktop;
mod docs;
mod keyed;
mod layout;
mod mail;
mod shells;
mod tools;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::app_kind::AppKind;
use crate::event::{Event, EventBody};
use crate::ids::{CallId, DocId, ThreadId, WindowId};
use crate::settings::Settings;

pub use apps::{AppWindow, InstalledApp, MAX_STORE_KEYS, MAX_STORE_VALUE};
pub use calendar::CalendarView;
pub use chat::{
    ChatMessage, ChatThread, Subagent, ThreadPage, ToolCard, ToolCardStatus, CARD_OUTPUT_CHARS,
};
pub use desktop::{Desktop, Window};
pub use docs::{apply as apply_doc_event, Doc, DocEdit, DOC_HISTORY};
pub use layout::{Layout, Pane};
pub use mail::MailView;
pub(crate) use shells::byte_count;
pub use shells::{PasteTooLarge, Shell};
pub use tools::{PendingToolCall, ToolCallStatus};

/// Everything a sandbox shows: the desktop, chat threads, documents and tool calls that
/// have not finished yet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct World {
    /// The seq of the last event applied (0 for an empty log).
    pub head: u64,
    pub desktop: Desktop,
    #[serde(with = "keyed")]
    pub chats: BTreeMap<ThreadId, ChatThread>,
    #[serde(with = "keyed")]
    pub docs: BTreeMap<DocId, Doc>,
    /// One past the highest document id so far (ids are never reused within one log; the
    /// first is 1).
    #[serde(default)]
    pub next_doc_id: u64,
    #[serde(with = "keyed")]
    pub pending_tools: BTreeMap<CallId, PendingToolCall>,
    /// Which chat thread each tool call with a thread belongs to.
    #[serde(default)]
    pub tool_threads: BTreeMap<CallId, ThreadId>,
    /// The shell of each shell window that has had one, with its screen.
    #[serde(default, with = "keyed")]
    pub shells: BTreeMap<WindowId, Shell>,
    /// The user's settings, and what was wrong with their file, if anything.
    #[serde(default)]
    pub settings: Settings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings_problem: Option<String>,
    /// What each mail window shows (a page of headers and one message: bounded).
    #[serde(default, with = "keyed")]
    pub mail: BTreeMap<WindowId, MailView>,
    /// What each calendar window shows (a range of days: bounded).
    #[serde(default, with = "keyed")]
    pub calendars: BTreeMap<WindowId, CalendarView>,
    /// The apps the user or the agent wrote, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub apps: BTreeMap<String, InstalledApp>,
    /// What each app window shows (one view: bounded).
    #[serde(default, with = "keyed")]
    pub app_windows: BTreeMap<WindowId, AppWindow>,
}

/// Messages of each shown thread a welcome carries at most (older ones come in pages).
pub const WELCOME_MESSAGES: usize = 20;
/// Bytes of message text and tool-call cards a welcome carries at most, over all threads.
pub const WELCOME_CHAT_BYTES: usize = 24 * 1024;

impl World {
    /// The world without what can be read back: the desktop, pending tool calls, each thread
    /// with its latest `messages` messages, each document's metadata without its text or
    /// edits. Its size does not grow with the history, only with the number of threads and
    /// documents. A [`welcome`](Self::welcome) starts from it.
    pub fn summary(&self, messages: usize) -> World {
        let mut summary = World {
            head: self.head,
            desktop: self.desktop.clone(),
            chats: BTreeMap::new(),
            docs: self
                .docs
                .iter()
                .map(|(id, doc)| (*id, doc.summary()))
                .collect(),
            next_doc_id: self.next_doc_id,
            pending_tools: self.pending_tools.clone(),
            tool_threads: BTreeMap::new(),
            shells: self.shells.clone(),
            settings: self.settings.clone(),
            settings_problem: self.settings_problem.clone(),
            mail: self.mail.clone(),
            calendars: self.calendars.clone(),
            // Without their stores: what an app keeps is for the app.
            apps: self
                .apps
                .iter()
                .map(|(name, app)| {
                    let mut app = app.clone();
                    app.store.clear();
                    (name.clone(), app)
                })
                .collect(),
            app_windows: self.app_windows.clone(),
        };
        for (id, thread) in &self.chats {
            summary.chats.insert(*id, thread.trimmed(messages));
        }
        summary.tool_threads = self.held_tool_threads(&summary.chats);
        summary
    }

    /// What a new client is sent: a [`summary`](Self::summary) whose size depends on neither
    /// the history nor the length of messages. Only the threads shown in chat windows carry
    /// messages, the top window's first: each its latest ones, up to [`WELCOME_MESSAGES`],
    /// while they fit in [`WELCOME_CHAT_BYTES`] in all. Every other thread comes with its
    /// title, its count and its calls under way; the client asks for pages as it shows them.
    pub fn welcome(&self) -> World {
        let mut welcome = self.summary(0);
        let mut budget = WELCOME_CHAT_BYTES;
        let shown = self
            .desktop
            .z_order
            .iter()
            .rev()
            .filter_map(|id| self.desktop.windows.get(id))
            .filter(|window| window.app == AppKind::Chat)
            .map(|window| ThreadId(window.id.0));
        for thread_id in shown {
            let Some(thread) = self.chats.get(&thread_id) else {
                continue;
            };
            let (keep, bytes) = thread.latest_within(WELCOME_MESSAGES, budget);
            budget -= bytes;
            welcome.chats.insert(thread_id, thread.trimmed(keep));
        }
        welcome.tool_threads = self.held_tool_threads(&welcome.chats);
        welcome
    }

    /// What someone who may see only from seq `since` on is shown of this world (a share
    /// made at that point): the desktop, documents and shell screens as they are, but no chat
    /// message or finished tool call from before it (see [`ChatThread::since`]).
    pub fn since(mut self, since: u64) -> World {
        if since <= 1 {
            return self;
        }
        for thread in self.chats.values_mut() {
            thread.since(since);
        }
        for view in self.mail.values_mut() {
            view.since(since);
        }
        for view in self.calendars.values_mut() {
            view.since(since);
        }
        for window in self.app_windows.values_mut() {
            window.since(since);
        }
        self.tool_threads = self.held_tool_threads(&self.chats);
        self
    }

    /// Keeps each thread's latest `keep` messages (what a daemon holds; pages come from its
    /// log).
    pub fn trim_chats(&mut self, keep: usize) {
        let mut trimmed = false;
        for thread in self.chats.values_mut() {
            if thread.messages.len() > keep || thread.tools.len() > 2 * keep {
                thread.trim(keep);
                trimmed = true;
            }
        }
        if trimmed {
            self.tool_threads = self.held_tool_threads(&self.chats);
        }
    }

    /// The thread index entries of the tool calls `chats` hold.
    fn held_tool_threads(
        &self,
        chats: &BTreeMap<ThreadId, ChatThread>,
    ) -> BTreeMap<CallId, ThreadId> {
        self.tool_threads
            .iter()
            .filter(|(call_id, thread_id)| {
                chats
                    .get(thread_id)
                    .is_some_and(|thread| thread.tools.iter().any(|card| &card.call_id == *call_id))
            })
            .map(|(call_id, thread_id)| (call_id.clone(), *thread_id))
            .collect()
    }

    /// Takes in an older page of a thread (see [`ChatThread::prepend`]).
    pub fn prepend_page(&mut self, page: ThreadPage) {
        let Some(thread) = self.chats.get_mut(&page.thread_id) else {
            return;
        };
        for card in page.tools.iter().filter(|card| !card.is_finished()) {
            self.tool_threads
                .insert(card.call_id.clone(), page.thread_id);
        }
        thread.prepend(page);
    }

    /// Takes in a loaded copy of a document (see [`Doc::load`]).
    pub fn load_doc(&mut self, doc: Doc) -> bool {
        self.docs
            .get_mut(&doc.id)
            .is_some_and(|held| held.load(doc))
    }

    /// Folds events from an empty world.
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut world = World::default();
        for event in events {
            world.apply(event);
        }
        world
    }

    /// Applies one event. Never fails and has no side effects: an event that refers to
    /// something that does not exist changes nothing but `head`.
    pub fn apply(&mut self, event: &Event) {
        self.head = self.head.max(event.seq);
        match &event.body {
            EventBody::WindowMoved { .. }
            | EventBody::WindowResized { .. }
            | EventBody::WindowFocused { .. }
            | EventBody::WindowMinimized { .. }
            | EventBody::WindowRestored { .. }
            | EventBody::WindowMaximized { .. }
            | EventBody::WindowUnmaximized { .. }
            | EventBody::LayoutChanged { .. } => self.desktop.apply(&event.body),
            EventBody::WindowOpened { .. } => {
                self.desktop.apply(&event.body);
                mail::apply(&mut self.mail, event);
                calendar::apply(&mut self.calendars, event);
                apps::apply(&mut self.apps, &mut self.app_windows, event);
            }
            EventBody::WindowClosed { .. } => {
                self.desktop.apply(&event.body);
                shells::apply(&mut self.shells, &event.body);
                mail::apply(&mut self.mail, event);
                calendar::apply(&mut self.calendars, event);
                apps::apply(&mut self.apps, &mut self.app_windows, event);
            }
            EventBody::AppBuilt { .. }
            | EventBody::AppRemoved { .. }
            | EventBody::AppViewShown { .. }
            | EventBody::AppStored { .. }
            | EventBody::AppFailed { .. }
            | EventBody::AppCapabilityAsked { .. }
            | EventBody::AppCapabilityAnswered { .. } => {
                apps::apply(&mut self.apps, &mut self.app_windows, event)
            }
            EventBody::AppReceived { .. } => {}
            EventBody::CalendarRangeOpened { .. }
            | EventBody::CalendarRangeShown { .. }
            | EventBody::CalendarAddRequested { .. }
            | EventBody::CalendarMoveRequested { .. }
            | EventBody::CalendarDeleteRequested { .. }
            | EventBody::CalendarFailed { .. } => calendar::apply(&mut self.calendars, event),
            EventBody::MailFolderOpened { .. }
            | EventBody::MailPageShown { .. }
            | EventBody::MailMessageOpened { .. }
            | EventBody::MailMessageShown { .. }
            | EventBody::MailArrived { .. }
            | EventBody::MailFailed { .. }
            | EventBody::MailInvitationAnswered { .. }
            | EventBody::MailAttachmentsSaving { .. } => mail::apply(&mut self.mail, event),
            EventBody::MailSendRequested { .. }
            | EventBody::MailDone { .. }
            | EventBody::MailSendFailed { .. }
            | EventBody::MailSent { .. } => {}
            // Only a shell window has a shell.
            EventBody::ShellStarted { window_id, .. }
                if self
                    .desktop
                    .window(*window_id)
                    .is_none_or(|window| window.app != AppKind::Shell) => {}
            EventBody::ShellStarted { .. }
            | EventBody::ShellOutput { .. }
            | EventBody::ShellResized { .. }
            | EventBody::ShellScreen { .. }
            | EventBody::ShellEnded { .. } => shells::apply(&mut self.shells, &event.body),
            EventBody::SettingsChanged { settings, problem } => {
                self.settings = settings.clone();
                self.settings_problem = problem.clone();
            }
            EventBody::ChatThreadCreated { .. }
            | EventBody::ChatSubagentStarted { .. }
            | EventBody::ChatUserMessage { .. }
            | EventBody::ChatAssistantMessage { .. }
            | EventBody::ChatTurnStarted { .. }
            | EventBody::ChatTurnCompleted { .. }
            | EventBody::ChatCancelRequested { .. }
            | EventBody::ChatTurnCancelled { .. }
            | EventBody::ChatTurnFailed { .. } => chat::apply(&mut self.chats, event),
            EventBody::DocCreated { doc_id, .. } => {
                self.next_doc_id = self.next_doc_id.max(doc_id.0.saturating_add(1));
                docs::apply(&mut self.docs, event);
            }
            EventBody::DocEdited { .. } | EventBody::DocRenamed { .. } => {
                docs::apply(&mut self.docs, event)
            }
            EventBody::DocDeleted { doc_id } => {
                docs::apply(&mut self.docs, event);
                self.desktop.forget_doc(*doc_id);
            }
            EventBody::WriterDocShown { window_id, doc_id } => {
                self.desktop.show_doc(*window_id, *doc_id)
            }
            EventBody::ToolRequested { .. }
            | EventBody::ToolApproved { .. }
            | EventBody::ToolDenied { .. }
            | EventBody::ToolStarted { .. }
            | EventBody::ToolFinished { .. } => {
                tools::apply(&mut self.pending_tools, event);
                chat::apply_tool(&mut self.chats, &mut self.tool_threads, event);
            }
            EventBody::Unknown { .. } => {}
        }
    }
}

impl keyed::Keyed for ChatThread {
    type Key = ThreadId;
    fn key(&self) -> ThreadId {
        self.id
    }
}

impl keyed::Keyed for Doc {
    type Key = DocId;
    fn key(&self) -> DocId {
        self.id
    }
}

impl keyed::Keyed for PendingToolCall {
    type Key = CallId;
    fn key(&self) -> CallId {
        self.call_id.clone()
    }
}

impl keyed::Keyed for Shell {
    type Key = WindowId;
    fn key(&self) -> WindowId {
        self.window_id
    }
}

impl keyed::Keyed for CalendarView {
    type Key = WindowId;
    fn key(&self) -> WindowId {
        self.window_id
    }
}

impl keyed::Keyed for AppWindow {
    type Key = WindowId;
    fn key(&self) -> WindowId {
        self.window_id
    }
}

impl keyed::Keyed for MailView {
    type Key = WindowId;
    fn key(&self) -> WindowId {
        self.window_id
    }
}

impl keyed::Keyed for Window {
    type Key = WindowId;
    fn key(&self) -> WindowId {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Rect;

    fn world(bodies: Vec<EventBody>) -> World {
        let events: Vec<Event> = bodies
            .into_iter()
            .zip(1..)
            .map(|(body, seq)| Event {
                seq,
                ts: 0,
                actor: "test".into(),
                correlation: None,
                v: 1,
                body,
            })
            .collect();
        World::replay(&events)
    }

    fn chat_window(id: u64) -> Vec<EventBody> {
        vec![
            EventBody::WindowOpened {
                window_id: WindowId(id),
                app: AppKind::Chat,
                title: format!("chat {id}"),
                rect: Rect::new(0, 0, 40, 10),
            },
            EventBody::ChatThreadCreated {
                thread_id: ThreadId(id),
                title: format!("chat {id}"),
            },
        ]
    }

    fn posts(thread: u64, count: usize, len: usize) -> Vec<EventBody> {
        (0..count)
            .map(|n| EventBody::ChatUserMessage {
                thread_id: ThreadId(thread),
                text: format!("{n:>len$}"),
            })
            .collect()
    }

    #[test]
    fn a_welcome_gives_shown_threads_their_latest_messages_top_window_first() {
        let mut bodies = Vec::new();
        for id in 1..=3 {
            bodies.extend(chat_window(id));
            bodies.extend(posts(id, 30, 1000));
        }
        // Thread 3's window is closed: its thread comes with its count only.
        bodies.push(EventBody::WindowClosed {
            window_id: WindowId(3),
        });
        // Thread 1's window is on top: it is served first.
        bodies.push(EventBody::WindowFocused {
            window_id: WindowId(1),
        });
        let welcome = world(bodies).welcome();
        let held = |id: u64| welcome.chats[&ThreadId(id)].messages.len();
        assert_eq!(held(1), WELCOME_MESSAGES);
        assert_eq!(
            held(2),
            (WELCOME_CHAT_BYTES - WELCOME_MESSAGES * 1000) / 1000
        );
        assert_eq!(held(3), 0);
        assert!(welcome.chats.values().all(|thread| thread.total == 30));
        assert_eq!(
            welcome.chats[&ThreadId(1)]
                .messages
                .last()
                .unwrap()
                .text
                .trim(),
            "29"
        );
    }

    #[test]
    fn a_shell_lives_in_its_window_and_survives_a_round_trip() {
        let open = |id: u64, app: AppKind| EventBody::WindowOpened {
            window_id: WindowId(id),
            app,
            title: "w".into(),
            rect: Rect::new(0, 0, 42, 12),
        };
        let started = |id: u64| EventBody::ShellStarted {
            window_id: WindowId(id),
            program: "sh".into(),
            rows: 10,
            cols: 40,
            scrollback: 50,
        };
        let world = world(vec![
            open(1, AppKind::Shell),
            open(2, AppKind::Chat),
            started(1),
            started(2),
            started(3),
            EventBody::ShellOutput {
                window_id: WindowId(1),
                data: "$ \x1b[1;31mls\x1b[0m\r\nfile\r\n$ \x1b[?1049hvim".into(),
                chunk: 1,
            },
        ]);
        // Only the shell window has a shell.
        assert_eq!(
            world.shells.keys().copied().collect::<Vec<_>>(),
            [WindowId(1)]
        );
        let json = serde_json::to_string(&world.welcome()).unwrap();
        let back: World = serde_json::from_str(&json).unwrap();
        assert_eq!(back.shells, world.shells);
        assert!(back.shells[&WindowId(1)]
            .terminal
            .screen()
            .alternate_screen());
        let mut closed = world.clone();
        closed.apply(&Event {
            seq: 99,
            ts: 0,
            actor: "test".into(),
            correlation: None,
            v: 1,
            body: EventBody::WindowClosed {
                window_id: WindowId(1),
            },
        });
        assert!(closed.shells.is_empty());
    }

    #[test]
    fn a_world_since_a_seq_holds_nothing_of_the_chat_before_it_but_calls_under_way() {
        let call = |id: &str| CallId(id.into());
        let mut bodies = chat_window(1);
        bodies.extend(posts(1, 3, 5));
        let requested = |id: &str| EventBody::ToolRequested {
            call_id: call(id),
            tool: "bash".into(),
            args: serde_json::json!({ "cmd": "env" }),
            thread_id: Some(ThreadId(1)),
            needs_approval: false,
            preview: None,
        };
        let finished = |id: &str, output: &str| EventBody::ToolFinished {
            call_id: call(id),
            ok: true,
            exit_code: Some(0),
            output: output.into(),
            duration_ms: 1,
        };
        bodies.push(requested("old"));
        bodies.push(finished("old", "SECRET=before"));
        bodies.push(requested("running"));
        let cut = bodies.len() as u64 + 1;
        bodies.extend(posts(1, 2, 5));
        bodies.push(requested("new"));
        bodies.push(finished("new", "after"));
        let full = world(bodies);
        let shown = full.clone().since(cut);
        let thread = &shown.chats[&ThreadId(1)];
        assert_eq!(thread.messages.len(), 2);
        assert!(thread.messages.iter().all(|message| message.seq >= cut));
        assert_eq!(thread.total, 2);
        assert_eq!(thread.older(), 0, "nothing older is paged in");
        let calls: Vec<&str> = thread
            .tools
            .iter()
            .map(|card| card.call_id.0.as_str())
            .collect();
        assert_eq!(calls, ["running", "new"]);
        assert!(!serde_json::to_string(&shown).unwrap().contains("SECRET"));
        assert!(shown.tool_threads.keys().all(|id| id.0 != "old"));
        // The rest of the world is the present one.
        assert_eq!(shown.desktop, full.desktop);
        assert_eq!(shown.head, full.head);
        // From the start, nothing is left out.
        assert_eq!(full.clone().since(1), full);
    }

    #[test]
    fn a_message_longer_than_the_budget_is_left_for_a_page() {
        let mut bodies = chat_window(1);
        bodies.extend(posts(1, 3, 10));
        bodies.extend(posts(1, 1, WELCOME_CHAT_BYTES + 1));
        let welcome = world(bodies).welcome();
        let thread = &welcome.chats[&ThreadId(1)];
        assert!(thread.messages.is_empty());
        assert_eq!(thread.older(), 4);
    }
}

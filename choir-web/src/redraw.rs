//! Which windows' contents a change may have changed, so that the page draws again only
//! those. A window's content is drawn from its revision: a frame that changes one window
//! (a chat's message or streamed text, a shell's output) moves that window's revision, and
//! the event log windows' when it is an event (they show every event); anything else (a
//! key, a drag, a welcome, a window moved, a reply) moves every window's. A window whose
//! revision did not move is not drawn again, nor compared with what the page shows.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::collections::HashMap;

use choir_proto::{EphemeralBody, EventBody, ServerFrame, WindowId};

/// What a frame may change among the windows' contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// No window's content (an ack, a pong, the model's usage in the taskbar).
    Nothing,
    /// Window `window`'s content; `logged`: the frame is an event, which the event log
    /// windows show too.
    Window { window: WindowId, logged: bool },
    /// Any window's.
    Everything,
}

impl Touch {
    /// What `frame` may change once taken in.
    pub fn of(frame: &ServerFrame) -> Touch {
        match frame {
            ServerFrame::Event { event } => match one_window(&event.body) {
                Some(window) => Touch::Window {
                    window,
                    logged: true,
                },
                None => Touch::Everything,
            },
            ServerFrame::Ephemeral { body } => match body {
                // A chat window shows the thread of its own id.
                EphemeralBody::ChatDelta { thread_id, .. } => Touch::Window {
                    window: WindowId(thread_id.0),
                    logged: false,
                },
                EphemeralBody::ShellOutput { window_id, .. } => Touch::Window {
                    window: *window_id,
                    logged: false,
                },
                EphemeralBody::Typing { .. }
                | EphemeralBody::ModelUsage(_)
                | EphemeralBody::Unknown => Touch::Nothing,
            },
            ServerFrame::Ack { .. } | ServerFrame::Pong { .. } => Touch::Nothing,
            ServerFrame::Welcome { .. } | ServerFrame::Reply { .. } | ServerFrame::Error { .. } => {
                Touch::Everything
            }
        }
    }
}

/// The one window whose content an event changes (besides the event logs'), when there is
/// one: a chat's messages and turns change the chat window of that thread only, a shell's
/// output its window only. Everything else may show anywhere (a tool call in a parent's
/// chat, a document in several writers, a window's place): none.
fn one_window(body: &EventBody) -> Option<WindowId> {
    match body {
        EventBody::ChatUserMessage { thread_id, .. }
        | EventBody::ChatAssistantMessage { thread_id, .. }
        | EventBody::ChatTurnStarted { thread_id }
        | EventBody::ChatTurnCompleted { thread_id }
        | EventBody::ChatCancelRequested { thread_id }
        | EventBody::ChatTurnCancelled { thread_id }
        | EventBody::ChatTurnFailed { thread_id, .. } => Some(WindowId(thread_id.0)),
        EventBody::ShellOutput { window_id, .. }
        | EventBody::MailFolderOpened { window_id, .. }
        | EventBody::MailPageShown { window_id, .. }
        | EventBody::MailMessageOpened { window_id, .. }
        | EventBody::MailMessageShown { window_id, .. }
        | EventBody::MailFailed { window_id, .. }
        | EventBody::CalendarRangeOpened { window_id, .. }
        | EventBody::CalendarRangeShown { window_id, .. }
        | EventBody::CalendarAddRequested { window_id, .. }
        | EventBody::CalendarMoveRequested { window_id, .. }
        | EventBody::CalendarDeleteRequested { window_id, .. }
        | EventBody::CalendarFailed { window_id, .. }
        | EventBody::AppReceived { window_id, .. }
        | EventBody::AppViewShown { window_id, .. }
        | EventBody::AppFailed { window_id, .. } => Some(*window_id),
        _ => None,
    }
}

/// The windows' revisions: each is the latest of the last change to every window and the
/// last change to it alone, so revisions only grow and a change is never missed.
#[derive(Debug, Default)]
pub struct Revisions {
    last: u64,
    everything: u64,
    windows: HashMap<WindowId, u64>,
}

impl Revisions {
    /// Every window's content may have changed.
    pub fn everything(&mut self) {
        self.last += 1;
        self.everything = self.last;
        // Older than `everything`: no longer needed.
        self.windows.clear();
    }

    /// Window `window`'s content may have changed.
    pub fn window(&mut self, window: WindowId) {
        self.last += 1;
        self.windows.insert(window, self.last);
    }

    /// Takes in what a frame touched; `event_logs` are the event log windows.
    pub fn touch(&mut self, touch: Touch, event_logs: impl IntoIterator<Item = WindowId>) {
        match touch {
            Touch::Nothing => {}
            Touch::Window { window, logged } => {
                self.window(window);
                if logged {
                    for log in event_logs {
                        self.window(log);
                    }
                }
            }
            Touch::Everything => self.everything(),
        }
    }

    /// Window `window`'s revision: what its content is drawn from.
    pub fn of(&self, window: WindowId) -> u64 {
        self.windows
            .get(&window)
            .copied()
            .unwrap_or(0)
            .max(self.everything)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use choir_proto::{Event, ThreadId, PROTOCOL_VERSION};

    fn event(body: EventBody) -> ServerFrame {
        ServerFrame::Event {
            event: Event {
                seq: 1,
                ts: 0,
                actor: "test".into(),
                correlation: None,
                v: 1,
                body,
            },
        }
    }

    #[test]
    fn a_chat_message_touches_its_thread_window_and_the_event_logs() {
        let frame = event(EventBody::ChatUserMessage {
            thread_id: ThreadId(3),
            text: "hi".into(),
        });
        assert_eq!(
            Touch::of(&frame),
            Touch::Window {
                window: WindowId(3),
                logged: true
            }
        );
        let mut revisions = Revisions::default();
        let before: Vec<u64> = (1..=5).map(|id| revisions.of(WindowId(id))).collect();
        revisions.touch(Touch::of(&frame), [WindowId(5)]);
        let after: Vec<u64> = (1..=5).map(|id| revisions.of(WindowId(id))).collect();
        let moved: Vec<bool> = before.iter().zip(&after).map(|(b, a)| a > b).collect();
        assert_eq!(moved, [false, false, true, false, true]);
    }

    #[test]
    fn streamed_text_and_shell_output_touch_their_window_only() {
        let delta = ServerFrame::Ephemeral {
            body: EphemeralBody::ChatDelta {
                thread_id: ThreadId(2),
                text: "…".into(),
            },
        };
        assert_eq!(
            Touch::of(&delta),
            Touch::Window {
                window: WindowId(2),
                logged: false
            }
        );
        let output = event(EventBody::ShellOutput {
            window_id: WindowId(4),
            data: "x".into(),
            chunk: 1,
        });
        assert_eq!(
            Touch::of(&output),
            Touch::Window {
                window: WindowId(4),
                logged: true
            }
        );
        assert_eq!(Touch::of(&ServerFrame::Pong { nonce: 1 }), Touch::Nothing);
    }

    #[test]
    fn anything_that_may_show_elsewhere_touches_everything() {
        for body in [
            EventBody::WindowFocused {
                window_id: WindowId(1),
            },
            EventBody::DocRenamed {
                doc_id: choir_proto::DocId(1),
                title: "t".into(),
            },
            EventBody::ToolApproved {
                call_id: choir_proto::CallId("c".into()),
            },
        ] {
            assert_eq!(Touch::of(&event(body)), Touch::Everything);
        }
        let welcome = ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            head: 0,
            snapshot: None,
            read_only: false,
        };
        assert_eq!(Touch::of(&welcome), Touch::Everything);
        let mut revisions = Revisions::default();
        revisions.window(WindowId(1));
        let one = revisions.of(WindowId(1));
        let two = revisions.of(WindowId(2));
        revisions.everything();
        assert!(revisions.of(WindowId(1)) > one && revisions.of(WindowId(2)) > two);
        // A later change to one window moves it past everything's.
        revisions.window(WindowId(2));
        assert!(revisions.of(WindowId(2)) > revisions.of(WindowId(1)));
    }
}

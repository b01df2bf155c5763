//! What the root component is told: by the socket, the page and the views. The views send
//! these through a [`Callback<Msg>`] and never see the root itself.

use choir_desktop::replay::Travel;
use choir_proto::terminal::TermMouse;
use choir_proto::{Command, Event, WindowId};
use web_sys::KeyboardEvent;
use yew::Callback;

use crate::drag::DragKind;
use crate::keys::KeyBarInput;
use crate::net::NetEvent;
use crate::redraw::Touch;

pub enum Msg {
    Net(u64, NetEvent),
    /// Take in the frames that arrived (once per animation frame).
    TakeFrames,
    Retry,
    Tick,
    /// A second of a replay's clock: a move that waits long is asked again.
    TimelineTick,
    /// The tab became visible, came back from the back/forward cache, or went online.
    Wake,
    Resized,
    Send(Command),
    Key(KeyboardEvent),
    DragStart {
        window: WindowId,
        kind: DragKind,
        x: f64,
        y: f64,
    },
    DragMove {
        x: f64,
        y: f64,
    },
    DragEnd,
    ChatInput(WindowId, String),
    ChatSend(WindowId),
    ChatScrolled {
        window: WindowId,
        at_top: bool,
        at_bottom: bool,
    },
    WriterInput(WindowId),
    ShellPaste(WindowId, String),
    ShellMouse(WindowId, TermMouse, u16, u16, (bool, bool, bool)),
    /// The phone's key bar of a shell window.
    KeyBar(WindowId, KeyBarInput),
    LogFilter(WindowId, String),
    LogFollow(WindowId, bool),
    /// Events of the log before this page's, each with its data as the daemon wrote it.
    LogHistory(Vec<(Event, String)>),
    /// A message of a mail window's list was clicked: select and open it.
    MailOpen(WindowId, u32),
    /// Open or close a mail window's account form.
    MailForm(WindowId, bool),
    /// The account form was sent: add the account it names.
    MailAddAccount(WindowId),
    /// Search a mail window's folder for these words (none: show it as it is).
    MailSearch(WindowId, String),
    /// An event of a calendar window was clicked: select it.
    CalendarSelect(WindowId, String),
    /// Open or close a calendar window's event form.
    CalendarForm(WindowId, bool),
    /// The event form was sent: add the event it names.
    CalendarAdd(WindowId),
    /// A node of an app window was clicked (item `2` of a list): it takes the focus, a
    /// button is pressed, an item selected.
    AppClick(WindowId, u32, Option<u32>),
    /// Text typed into an app window's field.
    AppDraft(WindowId, String, String),
    /// Enter in an app window's field: send its text.
    AppSubmit(WindowId, String),
    /// An answer to what an app window asks (`true`: allow or approve).
    AppAnswer(WindowId, bool),
    /// Move through time (a replay).
    Travel(Travel),
    ToggleHelp,
    Dismiss,
}

impl Msg {
    /// What this message may change among the windows' contents, besides what the frames it
    /// takes in change (each says so itself: [`Touch::of`]).
    pub fn touch(&self) -> Touch {
        match self {
            Msg::Net(_, NetEvent::Text(_))
            | Msg::TakeFrames
            | Msg::Tick
            | Msg::TimelineTick
            | Msg::Retry => Touch::Nothing,
            // One window's state in this tab (a chat scrolled or typed into, a filter).
            Msg::ChatInput(window, _)
            | Msg::ChatSend(window)
            | Msg::ChatScrolled { window, .. }
            | Msg::WriterInput(window)
            | Msg::LogFilter(window, _)
            | Msg::LogFollow(window, _)
            | Msg::MailOpen(window, _)
            | Msg::MailForm(window, _)
            | Msg::MailAddAccount(window)
            | Msg::MailSearch(window, _)
            | Msg::CalendarSelect(window, _)
            | Msg::CalendarForm(window, _)
            | Msg::CalendarAdd(window)
            | Msg::AppClick(window, ..)
            | Msg::AppDraft(window, ..)
            | Msg::AppSubmit(window, _)
            | Msg::AppAnswer(window, _) => Touch::Window {
                window: *window,
                logged: false,
            },
            _ => Touch::Everything,
        }
    }
}

/// A callback that sends the message `make` returns for an event, if any.
pub fn when<E: 'static>(
    send: &Callback<Msg>,
    make: impl Fn(E) -> Option<Msg> + 'static,
) -> Callback<E> {
    let send = send.clone();
    Callback::from(move |event: E| {
        if let Some(msg) = make(event) {
            send.emit(msg);
        }
    })
}

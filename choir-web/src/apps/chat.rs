//! A chat window: the thread's messages and tool-call cards in order, the answer streaming
//! in, approve or deny a call, cancel a turn, and older messages paged in on scrolling up.

use std::collections::HashMap;
use std::ops::Range;

use choir_desktop::chat::{self, ChatItem};
use choir_desktop::find::Find;
use choir_proto::client::Replica;
use choir_proto::{
    ChatMessage, ChatRole, Command, ThreadId, ToolCard, ToolCardStatus, Window, WindowId,
};
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, HtmlTextAreaElement, KeyboardEvent};
use yew::prelude::*;

use super::Item;
use crate::dom;
use crate::msg::{when, Msg};

/// Messages and cards drawn while following the end, and added at a time when the reader
/// scrolls up: a long thread costs the page what it shows, not what it holds.
const TAIL: usize = 100;

/// A chat window's state in this tab.
#[derive(Debug, Clone)]
pub struct ChatView {
    pub input: String,
    /// Stay at the newest message (the reader has not scrolled up).
    pub stick: bool,
    /// Where the drawn items begin (a seq) while the reader is scrolled up; following the
    /// end, the last [`TAIL`] are drawn.
    pub from_seq: Option<u64>,
    /// The scroll height before older items were added above: the reader's place is kept
    /// once they are drawn.
    pub height_before: Option<i32>,
}

impl Default for ChatView {
    fn default() -> Self {
        Self {
            input: String::new(),
            stick: true,
            from_seq: None,
            height_before: None,
        }
    }
}

/// The thread's items in order, with their seqs.
fn items(thread: &choir_proto::ChatThread) -> Vec<ChatItem<'_>> {
    chat::items(thread).collect()
}

/// Where the drawn items of `items` begin.
fn first_drawn(items: &[ChatItem], view: Option<&ChatView>) -> usize {
    match view.and_then(|view| view.from_seq) {
        Some(from) => items.partition_point(|item| item.seq() < from),
        None => items.len().saturating_sub(TAIL),
    }
}

/// The reader scrolled a chat: at the end it follows again; scrolled up it holds its place;
/// at the top, older items are drawn, or read from the daemon when all held are drawn.
/// Returns whether to draw again.
pub fn scrolled(
    replica: &mut Replica,
    view: &mut ChatView,
    window: WindowId,
    at_top: bool,
    at_bottom: bool,
) -> bool {
    let thread_id = ThreadId(window.0);
    let Some(thread) = replica.world().chats.get(&thread_id) else {
        return false;
    };
    let items = items(thread);
    let was_following = view.stick;
    view.stick = at_bottom;
    if at_bottom {
        let redraw = view.from_seq.is_some();
        view.from_seq = None;
        return redraw;
    }
    let first = first_drawn(&items, Some(view));
    if was_following {
        view.from_seq = items.get(first).map(ChatItem::seq);
    }
    if !at_top || view.height_before.is_some() {
        return false;
    }
    let height = dom::by_id(&format!("chat-{}", window.0)).map(|element| element.scroll_height());
    if first > 0 {
        view.from_seq = Some(items[first.saturating_sub(TAIL)].seq());
        view.height_before = height;
        return true;
    }
    if replica.is_paging(thread_id) {
        return false;
    }
    replica.request_page(thread_id);
    if replica.is_paging(thread_id) {
        view.height_before = height;
        // The page goes in front of what is drawn.
        view.from_seq = Some(0);
        return true;
    }
    false
}

pub fn view(
    send: &Callback<Msg>,
    replica: &Replica,
    view: Option<&ChatView>,
    utc_offset_min: i32,
    find: Option<&Find>,
    window: &Window,
) -> Html {
    let id = window.id;
    let thread_id = ThreadId(id.0);
    let Some(thread) = replica.world().chats.get(&thread_id) else {
        return html! { <p class="muted">{ "no such thread" }</p> };
    };
    let items = items(thread);
    // A search's message is drawn, however far back it is.
    let found = find.and_then(Find::at).and_then(|seq| {
        items
            .iter()
            .position(|item| matches!(item, ChatItem::Message(message) if message.seq == seq))
    });
    let first = first_drawn(&items, view).min(found.unwrap_or(usize::MAX));
    let query = find.and_then(Find::query);
    let at = find.and_then(Find::at);
    let onscroll = when(send, move |event: Event| {
        let element: HtmlElement = event.target()?.dyn_into().ok()?;
        let top = element.scroll_top();
        let bottom = element.scroll_height() - element.client_height() - top;
        Some(Msg::ChatScrolled {
            window: id,
            at_top: top < 24,
            at_bottom: bottom < 8,
        })
    });
    let input = view.map(|view| view.input.clone()).unwrap_or_default();
    let oninput = when(send, move |event: InputEvent| {
        let area: HtmlTextAreaElement = event.target()?.dyn_into().ok()?;
        Some(Msg::ChatInput(id, area.value()))
    });
    let onkeydown = when(send, move |event: KeyboardEvent| {
        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
            event.prevent_default();
            return Some(Msg::ChatSend(id));
        }
        None
    });
    let cancel = send.reform(move |_: MouseEvent| Msg::Send(Command::CancelTurn { thread_id }));
    let older = thread.older() + first as u64;
    html! {
        <div class="chat">
            <div class="chat-messages" id={ format!("chat-{}", id.0) } role="log" aria-live="polite"
                aria-label="messages" tabindex="0" onscroll={ onscroll }>
                if older > 0 {
                    <p class="older muted">{
                        if replica.is_paging(thread_id) { format!("loading older messages… ({older} more)") }
                        else { format!("{older} older messages: scroll up to load") }
                    }</p>
                }
                // A list of its own, matched by key (see the desktop's windows): a new message
                // is added, the others stay as they are.
                { items[first..].iter().map(|item| match item {
                    ChatItem::Message(message) => {
                        // A search's matches are marked; the message it is on, more.
                        let marks = query.as_ref().map(|query| query.find_in(&message.text)).unwrap_or_default();
                        let item = Item::Message {
                            message: (*message).clone(),
                            utc_offset_min,
                            marks,
                            current: at == Some(message.seq),
                        };
                        item.view(format!("m{}", message.seq))
                    }
                    ChatItem::Card(card) => {
                        let item = Item::Card { card: (*card).clone(), send: send.clone() };
                        item.view(format!("t{}", card.call_id.0))
                    }
                }).collect::<Html>() }
                if let Some(text) = replica.streaming(thread_id) {
                    <div class="message streaming" data-role="assistant" aria-busy="true">
                        <span class="who">{ "assistant · …" }</span>
                        <div class="text">{ text.to_owned() }</div>
                    </div>
                }
            </div>
            <div class="chat-bar">
                <textarea class="chat-input" rows="2" aria-label="message" placeholder="Message (Enter sends, Shift+Enter newline)"
                    value={ input } oninput={ oninput } onkeydown={ onkeydown } />
                if thread.busy {
                    <button data-action="cancel" aria-label="cancel the turn" onclick={ cancel }>{ "Cancel" }</button>
                }
            </div>
        </div>
    }
}

/// One message: drawn when it comes in (or a search marks it), not again for the messages
/// after it (see [`super::Item`]).
pub(super) fn message(
    message: &ChatMessage,
    utc_offset_min: i32,
    ranges: &[Range<usize>],
    current: bool,
) -> Html {
    let role = match message.role {
        ChatRole::User => "user",
        ChatRole::Assistant => "assistant",
        ChatRole::System => "system",
    };
    let mut header = format!(
        "{} · {}",
        chat::who(message.role),
        crate::text::clock(message.ts, utc_offset_min)
    );
    if let Some(ending) = message.ending {
        header.push_str(&format!(" · {}", ending.label()));
    }
    let class = classes!(
        "message",
        (!ranges.is_empty()).then_some("found"),
        current.then_some("found-current")
    );
    let text = if ranges.is_empty() {
        html! { { message.text.clone() } }
    } else {
        let mut parts = Vec::new();
        let mut from = 0;
        for range in ranges.iter().cloned() {
            parts.push(html! { { message.text[from..range.start].to_owned() } });
            parts.push(html! { <mark>{ message.text[range.clone()].to_owned() }</mark> });
            from = range.end;
        }
        parts.push(html! { { message.text[from..].to_owned() } });
        html! { { for parts } }
    };
    html! {
        <div class={ class } data-role={ role } data-seq={ message.seq.to_string() } data-ts={ message.ts.to_string() } data-ending={ message.ending.map(|ending| format!("{ending:?}")) }>
            <span class="who">{ header }</span>
            <div class="text">{ text }</div>
        </div>
    }
}

/// One tool call's card: drawn again when its call moves on.
pub(super) fn tool_card(send: &Callback<Msg>, card: &ToolCard) -> Html {
    let call_id = card.call_id.clone();
    let (status, actions) = match &card.status {
        ToolCardStatus::AwaitingApproval => ("awaiting approval".to_owned(), true),
        ToolCardStatus::Running => ("running…".to_owned(), false),
        ToolCardStatus::Done { ok: true, .. } => ("done".to_owned(), false),
        ToolCardStatus::Done {
            ok: false,
            exit_code,
        } => (
            match exit_code {
                Some(code) => format!("failed (exit {code})"),
                None => "failed".to_owned(),
            },
            false,
        ),
        ToolCardStatus::Denied { reason } => (format!("denied: {reason}"), false),
    };
    let approve = {
        let call_id = call_id.clone();
        send.reform(move |_: MouseEvent| {
            Msg::Send(Command::ApproveTool {
                call_id: call_id.clone(),
            })
        })
    };
    let deny = send.reform(move |_: MouseEvent| {
        Msg::Send(Command::DenyTool {
            call_id: call_id.clone(),
            reason: Some("denied in the browser".into()),
        })
    });
    html! {
        <div class="tool-card" data-seq={ card.seq.to_string() } role="group" aria-label={ format!("tool call {}", card.tool) }>
            <div class="tool-head"><b>{ card.tool.clone() }</b>{ " · " }<span class="status">{ status }</span></div>
            <pre class="args">{ card.args.to_string() }</pre>
            if let (Some(preview), true) = (&card.preview, actions) {
                <pre class="preview" aria-label="what the call would change">
                    { for preview.lines().map(|line| html! { <span class={ diff_class(line) }>{ format!("{line}\n") }</span> }) }
                </pre>
            }
            if !card.output.is_empty() { <pre class="output">{ card.output.clone() }</pre> }
            if actions {
                <div class="tool-actions">
                    <button data-action="approve" onclick={ approve }>{ "Approve" }</button>
                    <button data-action="deny" onclick={ deny }>{ "Deny" }</button>
                </div>
            }
        </div>
    }
}

/// The class of a line of a unified diff: added, removed or context.
fn diff_class(line: &str) -> &'static str {
    if line.starts_with("+++") || line.starts_with("---") || line.starts_with("@@") {
        "diff-head"
    } else if line.starts_with('+') {
        "diff-add"
    } else if line.starts_with('-') {
        "diff-del"
    } else {
        "diff-ctx"
    }
}

/// Chats kept at their bottom, or at the message the reader was on while older ones came in.
pub fn after_render(replica: &Replica, chats: &mut HashMap<WindowId, ChatView>) {
    for id in super::windows_of(replica.world(), &choir_proto::AppKind::Chat) {
        let Some(element) = dom::by_id(&format!("chat-{}", id.0)) else {
            continue;
        };
        let paging = replica.is_paging(ThreadId(id.0));
        let view = chats.entry(id).or_default();
        match view.height_before {
            // Older items went in above: keep the reader on what they were reading.
            Some(before) => {
                let height = element.scroll_height();
                if height > before {
                    element.set_scroll_top(element.scroll_top() + height - before);
                    view.height_before = None;
                } else if !paging {
                    view.height_before = None;
                }
            }
            // At the end (the browser clamps it): no layout is read here.
            None if view.stick => element.set_scroll_top(i32::MAX),
            None => {}
        }
    }
}

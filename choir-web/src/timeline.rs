//! Time travel in the browser (`/?at=SEQ`, or `/?replay` for now): the desktop read-only at
//! a past moment, with a slider over the whole log and buttons and keys that move by event,
//! by minute and to the next or previous chat message or tool call. The moves and their
//! queries are `choir_proto`'s `Timeline`, the terminal's too.

use choir_proto::client::Timeline;
use web_sys::{HtmlInputElement, KeyboardEvent};
use yew::prelude::*;

use crate::app::{App, Msg};

/// A move through time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Travel {
    Step(i64),
    Minutes(i64),
    Mark { forward: bool },
    Go(u64),
    Start,
    Now,
}

impl Travel {
    fn apply(self, timeline: &mut Timeline) {
        match self {
            Travel::Step(events) => timeline.step(events),
            Travel::Minutes(minutes) => timeline.minutes(minutes),
            Travel::Mark { forward } => timeline.mark(forward),
            Travel::Go(seq) => timeline.go(seq),
            Travel::Start => timeline.go(0),
            Travel::Now => timeline.live(),
        }
    }
}

/// Moves and asks for the moment.
pub fn travel(app: &mut App, to: Travel) {
    app.replica.travel(|timeline| to.apply(timeline));
    app.flush_queries();
}

/// The keys of a replay; `true` when the key was one (the page draws again).
pub fn on_key(app: &mut App, event: &KeyboardEvent) -> bool {
    let step = if event.shift_key() { 100 } else { 1 };
    let to = match event.key().as_str() {
        "ArrowLeft" => Travel::Step(-step),
        "ArrowRight" => Travel::Step(step),
        "[" | "PageUp" => Travel::Minutes(-1),
        "]" | "PageDown" => Travel::Minutes(1),
        "p" => Travel::Mark { forward: false },
        "n" => Travel::Mark { forward: true },
        "Home" => Travel::Start,
        "End" => Travel::Now,
        _ => return false,
    };
    event.prevent_default();
    travel(app, to);
    true
}

/// The bar in place of the taskbar's launcher and window list.
pub fn bar(app: &App, ctx: &Context<App>, timeline: &Timeline) -> Html {
    let button = |label: &'static str, title: &'static str, to: Travel| {
        let onclick = ctx.link().callback(move |_: MouseEvent| Msg::Travel(to));
        html! { <button class="travel" title={ title } aria-label={ title } onclick={ onclick }>{ label }</button> }
    };
    let slide = ctx.link().callback(|event: InputEvent| {
        let seq = event
            .target_dyn_into::<HtmlInputElement>()
            .and_then(|input| input.value().parse::<u64>().ok())
            .unwrap_or(0);
        Msg::Travel(Travel::Go(seq))
    });
    let shown = timeline.shown();
    let label = match shown {
        Some((seq, ts)) => format!(
            "seq {seq} of {} · {}",
            timeline.head(),
            if ts == 0 {
                "the start".to_owned()
            } else {
                crate::text::date_time(ts, app.utc_offset_min)
            }
        ),
        None => "loading…".into(),
    };
    html! {
        <span id="timeline" class="timeline" role="group" aria-label="timeline"
            data-seq={ shown.map(|(seq, _)| seq.to_string()) }
            data-head={ timeline.head().to_string() }
            data-moving={ timeline.is_moving().to_string() }>
            <span class="replay-badge" title="a past moment, read-only">{ "◀◀ replay" }</span>
            { button("start", "the start (Home)", Travel::Start) }
            { button("‹msg", "previous chat message or tool call (p)", Travel::Mark { forward: false }) }
            { button("−1m", "a minute earlier ([)", Travel::Minutes(-1)) }
            { button("◀", "an event earlier (←)", Travel::Step(-1)) }
            <input id="timeline-slider" type="range" min="0" max={ timeline.head().to_string() }
                value={ timeline.target().to_string() } aria-label="moment" oninput={ slide } />
            { button("▶", "an event later (→)", Travel::Step(1)) }
            { button("+1m", "a minute later (])", Travel::Minutes(1)) }
            { button("msg›", "next chat message or tool call (n)", Travel::Mark { forward: true }) }
            { button("now", "now (End)", Travel::Now) }
            <span id="timeline-label" class="timeline-label">{ label }</span>
            if timeline.is_waiting() {
                <span id="timeline-loading" class="timeline-loading" role="status">{ "loading…" }</span>
            }
        </span>
    }
}

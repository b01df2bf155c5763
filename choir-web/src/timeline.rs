//! Time travel in the browser (`/?at=SEQ`, or `/?replay` for now): the desktop read-only at
//! a past moment, with a slider over the whole log and buttons and keys that move by event,
//! by minute and to the next or previous chat message or tool call. The moves and their
//! queries are `choir_proto`'s `Timeline`, the terminal's too.

use choir_desktop::replay::Travel;
use choir_proto::client::Timeline;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::msg::Msg;

/// The bar in place of the taskbar's launcher and window list.
pub fn bar(send: &Callback<Msg>, timeline: &Timeline, utc_offset_min: i32) -> Html {
    let button = |label: &'static str, title: &'static str, to: Travel| {
        let onclick = send.reform(move |_: MouseEvent| Msg::Travel(to));
        html! { <button class="travel" title={ title } aria-label={ title } onclick={ onclick }>{ label }</button> }
    };
    let slide = send.reform(|event: InputEvent| {
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
                crate::text::date_time(ts, utc_offset_min)
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

//! A calendar window: the account and the range, buttons for the weeks and the views, the
//! days as an agenda or a week of columns, and the form that adds an event. The days and what
//! a key does are `choir_desktop::calendar`'s, as in the terminal; clicks send the same
//! commands.

use choir_desktop::calendar::{self, CalendarCursor};
use choir_proto::calendar::CalendarItem;
use choir_proto::dates::{format_day, parse_day};
use choir_proto::{CalendarView, Command, Window, WindowId, World};
use yew::prelude::*;

use crate::msg::Msg;

/// The id of the event form's input `index` in window `id`.
pub fn form_input_id(id: WindowId, index: usize) -> String {
    format!("calendar-{}-{index}", id.0)
}

pub fn view(
    send: &Callback<Msg>,
    world: &World,
    cursor: Option<&CalendarCursor>,
    utc_offset_min: i32,
    window: &Window,
) -> Html {
    let id = window.id;
    let Some(view) = world.calendars.get(&id) else {
        return html! { <p class="muted">{ "this calendar window is not known here" }</p> };
    };
    let default_cursor = CalendarCursor::default();
    let cursor = cursor.unwrap_or(&default_cursor);
    let utc_offset = utc_offset_min * 60;
    let head = if view.account.is_empty() {
        "Calendar".to_owned()
    } else {
        format!("{} · {}", view.account, calendar::range_label(view))
    };
    let first = parse_day(&view.from);
    let range = |step: i64, week: bool| {
        let send = send.clone();
        let command = first.map(|first| Command::OpenCalendarRange {
            window_id: id,
            from: format_day(first + step),
            days: view.days.max(1),
            week,
        });
        Callback::from(move |_: MouseEvent| {
            if let Some(command) = command.clone() {
                send.emit(Msg::Send(command));
            }
        })
    };
    let days = calendar::days(view, utc_offset);
    let order: Vec<&CalendarItem> = days.iter().flat_map(|day| day.events.clone()).collect();
    let selected = cursor.current(&order).map(|item| item.uid.clone());
    let event = |item: &CalendarItem| {
        let uid = item.uid.clone();
        let onclick = send.reform(move |_: MouseEvent| Msg::CalendarSelect(id, uid.clone()));
        let class = classes!(
            "calendar-event",
            (selected.as_deref() == Some(item.uid.as_str())).then_some("selected"),
            item.all_day().then_some("all-day"),
        );
        html! {
            <div key={ item.uid.clone() } { class } data-uid={ item.uid.clone() } role="option" { onclick }>
                <span class="calendar-time">{ calendar::time_span(item, utc_offset) }</span>
                <span class="calendar-title">{ item.title.clone() }</span>
                if !item.location.is_empty() {
                    <span class="calendar-location muted">{ format!(" ({})", item.location) }</span>
                }
            </div>
        }
    };
    let body = if cursor.form {
        form(send, id, &form_day(view, utc_offset_min))
    } else if let Some(problem) = &view.problem {
        html! { <p class="calendar-problem" role="alert">{ problem.clone() }</p> }
    } else if view.week {
        html! {
            <div class="calendar-week">
                { for days.iter().map(|day| html! {
                    <section class="calendar-day" data-day={ format_day(day.day) }>
                        <h4>{ day.label.clone() }</h4>
                        { for day.events.iter().map(|item| event(item)) }
                    </section>
                }) }
            </div>
        }
    } else {
        html! {
            <div class="calendar-agenda" role="listbox" aria-label="events">
                { for days.iter().map(|day| html! {
                    <section class="calendar-day" data-day={ format_day(day.day) }>
                        <h4>{ day.label.clone() }</h4>
                        { for day.events.iter().map(|item| event(item)) }
                    </section>
                }) }
            </div>
        }
    };
    let new_event = send.reform(move |_: MouseEvent| Msg::CalendarForm(id, true));
    let delete = selected.clone().map(|uid| {
        send.reform(move |_: MouseEvent| {
            Msg::Send(Command::DeleteCalendarEvent {
                window_id: id,
                uid: uid.clone(),
            })
        })
    });
    html! {
        <div class="calendar" data-loading={ view.loading.to_string() } data-week={ view.week.to_string() }>
            <div class="mail-bar">
                <span class="mail-head">{ head }</span>
                <span class="mail-actions">
                    <button data-action="previous-week" onclick={ range(-7, view.week) }>{ "◂" }</button>
                    <button data-action="next-week" onclick={ range(7, view.week) }>{ "▸" }</button>
                    <button data-action="toggle-view" onclick={ range(0, !view.week) }>
                        { if view.week { "Agenda" } else { "Week" } }
                    </button>
                    <button data-action="new-event" onclick={ new_event }>{ "New" }</button>
                    <button data-action="delete-event" disabled={ delete.is_none() }
                        onclick={ delete.unwrap_or_default() }>{ "Delete" }</button>
                </span>
            </div>
            { body }
        </div>
    }
}

fn form(send: &Callback<Msg>, id: WindowId, default_day: &str) -> Html {
    let onsubmit = send.reform(move |event: SubmitEvent| {
        event.prevent_default();
        Msg::CalendarAdd(id)
    });
    let cancel = send.reform(move |_: MouseEvent| Msg::CalendarForm(id, false));
    html! {
        <form class="mail-form" { onsubmit } aria-label="add an event" autocomplete="off">
            <p class="muted">{ "A new event, in your time." }</p>
            { for calendar::EVENT_FIELDS.iter().enumerate().map(|(index, (label, example))| html! {
                <label class="mail-field">
                    <span>{ *label }</span>
                    <input id={ form_input_id(id, index) } name={ label.to_ascii_lowercase() } spellcheck="false"
                        placeholder={ if index == 1 { default_day.to_owned() } else { (*example).to_owned() } } />
                </label>
            }) }
            <span class="mail-form-actions">
                <button type="submit" data-action="add-event-submit">{ "Add event" }</button>
                <button type="button" onclick={ cancel }>{ "Cancel" }</button>
            </span>
        </form>
    }
}

/// The viewer's day, days since 1970-01-01.
pub fn today(utc_offset_min: i32) -> i64 {
    (crate::dom::now_ms() as i64 + i64::from(utc_offset_min) * 60_000)
        .div_euclid(choir_proto::dates::DAY_MS)
}

/// The form's day when none is typed: today if the range shows it, else its first day.
pub fn form_day(view: &CalendarView, utc_offset_min: i32) -> String {
    let today = today(utc_offset_min);
    let first = parse_day(&view.from).unwrap_or(today);
    let day = if (first..first + i64::from(view.days)).contains(&today) {
        today
    } else {
        first
    };
    format_day(day)
}

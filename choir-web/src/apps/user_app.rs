//! A window of an app the user or the agent wrote: its view tree as HTML elements (text as
//! paragraphs, lists as list boxes, tables as tables, buttons as buttons, fields as inputs),
//! so the mouse, touch and screen readers work. What a key does and which node has the focus
//! are `choir_desktop::app_view`'s, as in the terminal; a click sends the same inputs. A
//! capability the app waits for, or a tool call it made that changes something, is asked above
//! it with two buttons (Allow and Refuse, Approve and Deny).

use choir_desktop::app_view::{AppView, Ask};
use choir_proto::apps::{Color, Span, SpanStyle, ViewNode, ViewTree};
use choir_proto::{Window, World};
use yew::prelude::*;

use crate::msg::Msg;

pub fn view(send: &Callback<Msg>, world: &World, state: Option<&AppView>, window: &Window) -> Html {
    let id = window.id;
    let Some(shown) = world.app_windows.get(&id) else {
        return html! { <p class="muted">{ "this app window is not known here" }</p> };
    };
    let default_state = AppView::default();
    let state = state.unwrap_or(&default_state);
    let ask = Ask::of(world, id).map(|ask| {
        state.showing(&ask, crate::dom::now_ms() as i64);
        let answer = |yes: bool| send.reform(move |_: MouseEvent| Msg::AppAnswer(id, yes));
        let (yes, no) = match ask {
            Ask::Capability { .. } => ("Allow", "Refuse"),
            Ask::Call { .. } => ("Approve", "Deny"),
        };
        html! {
            <div class="app-ask" role="alertdialog" aria-label="the app asks">
                <span>{ ask.question() }</span>
                <button data-action="allow" onclick={ answer(true) }>{ yes }</button>
                <button data-action="refuse" onclick={ answer(false) }>{ no }</button>
            </div>
        }
    });
    let body = if let Some(problem) = &shown.problem {
        html! {
            <div class="app-problem" role="alert">
                <p>{ problem.clone() }</p>
                <p class="muted">{ "the next key or click starts it again" }</p>
            </div>
        }
    } else if let Some(tree) = &shown.view {
        let focus = state.focused(tree);
        node(send, window, tree, state, focus, 0, 0)
    } else {
        html! { <p class="muted">{ format!("starting {}…", shown.name) }</p> }
    };
    html! {
        <div class="user-app" data-app={ shown.name.clone() } data-version={ shown.version.clone() }>
            { for ask }
            { body }
        </div>
    }
}

/// Nesting drawn at most (a checked tree is never deeper than its nodes; this bounds what
/// a client draws of anything it is sent).
const MAX_DEPTH: usize = 64;

fn node(
    send: &Callback<Msg>,
    window: &Window,
    tree: &ViewTree,
    state: &AppView,
    focus: Option<u32>,
    index: u32,
    depth: usize,
) -> Html {
    let Some(view) = tree.node(index).filter(|_| depth <= MAX_DEPTH) else {
        return Html::default();
    };
    let id = window.id;
    let focused = (focus == Some(index)).then_some("focused");
    let children = |children: &[u32]| -> Html {
        children
            .iter()
            .filter(|child| **child > index)
            .map(|child| node(send, window, tree, state, focus, *child, depth + 1))
            .collect()
    };
    match view {
        ViewNode::Text { spans } => {
            html! { <p class="app-text">{ for spans.iter().map(span) }</p> }
        }
        ViewNode::Column { children: kids } => {
            html! { <div class="app-column">{ children(kids) }</div> }
        }
        ViewNode::Row { children: kids } => html! { <div class="app-row">{ children(kids) }</div> },
        ViewNode::Scroll { child } => {
            html! { <div class="app-scroll">{ children(std::slice::from_ref(child)) }</div> }
        }
        ViewNode::List {
            id: list,
            items,
            selected,
        } => html! {
            <ul class={ classes!("app-list", focused) } role="listbox" data-app-id={ list.clone() }>
                { for items.iter().enumerate().map(|(item, spans)| {
                    let item = item as u32;
                    let chosen = *selected == Some(item);
                    let onclick = send.reform(move |_: MouseEvent| Msg::AppClick(id, index, Some(item)));
                    html! {
                        <li role="option" aria-selected={ chosen.to_string() } { onclick }>
                            { for spans.iter().map(span) }
                        </li>
                    }
                }) }
            </ul>
        },
        ViewNode::Table { header, rows } => html! {
            <table class="app-table">
                <thead><tr>{ for header.iter().map(|cell| html! { <th>{ cell.clone() }</th> }) }</tr></thead>
                <tbody>
                    { for rows.iter().map(|row| html! {
                        <tr>{ for row.iter().map(|cell| html! { <td>{ cell.clone() }</td> }) }</tr>
                    }) }
                </tbody>
            </table>
        },
        ViewNode::Button { id: button, label } => {
            let onclick = send.reform(move |_: MouseEvent| Msg::AppClick(id, index, None));
            html! {
                <button class={ classes!("app-button", focused) } data-app-id={ button.clone() } { onclick }>
                    { label.clone() }
                </button>
            }
        }
        ViewNode::Input {
            id: field,
            value,
            placeholder,
        } => {
            let typed = state.field_text(field, value).to_owned();
            let oninput = {
                let field = field.clone();
                send.reform(move |event: InputEvent| {
                    let text = event
                        .target_dyn_into::<web_sys::HtmlInputElement>()
                        .map(|input| input.value())
                        .unwrap_or_default();
                    Msg::AppDraft(id, field.clone(), text)
                })
            };
            let onkeydown = {
                let field = field.clone();
                crate::msg::when(send, move |event: KeyboardEvent| {
                    (event.key() == "Enter").then(|| {
                        event.prevent_default();
                        event.stop_propagation();
                        Msg::AppSubmit(id, field.clone())
                    })
                })
            };
            let onfocus = send.reform(move |_: FocusEvent| Msg::AppClick(id, index, None));
            html! {
                <input class={ classes!("app-input", focused) } type="text" data-app-id={ field.clone() }
                    value={ typed } placeholder={ placeholder.clone() } aria-label={ placeholder.clone() }
                    { oninput } { onkeydown } { onfocus } />
            }
        }
    }
}

fn span(span: &Span) -> Html {
    html! { <span class={ classes(span.style) }>{ span.text.clone() }</span> }
}

/// A span's style as classes of the page's sheet.
fn classes(style: SpanStyle) -> Classes {
    let color = match style.fg {
        Color::Default => None,
        Color::Red => Some("fg-red"),
        Color::Green => Some("fg-green"),
        Color::Yellow => Some("fg-yellow"),
        Color::Blue => Some("fg-blue"),
        Color::Magenta => Some("fg-magenta"),
        Color::Cyan => Some("fg-cyan"),
        Color::Gray => Some("fg-gray"),
    };
    classes!(
        color,
        style.bold.then_some("bold"),
        style.dim.then_some("dim"),
        style.italic.then_some("italic"),
        style.underline.then_some("underline"),
        style.reverse.then_some("reverse"),
    )
}

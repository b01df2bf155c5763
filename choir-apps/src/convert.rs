//! Between the contract's types (`wit/app.wit`) and the protocol's (`choir_proto::apps`).

use choir_proto::apps::{AppInput, Color, Span, SpanStyle, ViewNode, ViewTree};

use crate::runtime::wit;

pub(crate) fn input(input: &AppInput) -> wit::Input {
    match input {
        AppInput::Click { id } => wit::Input::Click(id.clone()),
        AppInput::Submit { id, value } => wit::Input::Submit(wit::Submitted {
            id: id.clone(),
            value: value.clone(),
        }),
        AppInput::Select { id, index } => wit::Input::Select(wit::Selected {
            id: id.clone(),
            index: *index,
        }),
        AppInput::Key { key } => wit::Input::Key(key.clone()),
        AppInput::Tick { at_ms } => wit::Input::Tick(*at_ms),
    }
}

pub(crate) fn view(view: wit::View) -> ViewTree {
    ViewTree {
        nodes: view.nodes.into_iter().map(node).collect(),
        tick_after_ms: view
            .tick_after_ms
            .map(|ms| ms.max(choir_proto::apps::MIN_TICK_MS)),
    }
}

fn node(node: wit::Node) -> ViewNode {
    match node {
        wit::Node::Text(text) => ViewNode::Text { spans: spans(text) },
        wit::Node::Column(children) => ViewNode::Column { children },
        wit::Node::Row(children) => ViewNode::Row { children },
        wit::Node::List(list) => ViewNode::List {
            id: list.id,
            items: list.items.into_iter().map(spans).collect(),
            selected: list.selected,
        },
        wit::Node::Table(table) => ViewNode::Table {
            header: table.header,
            rows: table.rows,
        },
        wit::Node::Button(button) => ViewNode::Button {
            id: button.id,
            label: button.label,
        },
        wit::Node::Input(input) => ViewNode::Input {
            id: input.id,
            value: input.value,
            placeholder: input.placeholder,
        },
        wit::Node::Scroll(child) => ViewNode::Scroll { child },
    }
}

fn spans(spans: Vec<wit::Span>) -> Vec<Span> {
    spans
        .into_iter()
        .map(|span| Span {
            text: span.text,
            style: style(span.style),
        })
        .collect()
}

fn style(style: wit::Style) -> SpanStyle {
    SpanStyle {
        fg: match style.fg {
            wit::Color::Default => Color::Default,
            wit::Color::Red => Color::Red,
            wit::Color::Green => Color::Green,
            wit::Color::Yellow => Color::Yellow,
            wit::Color::Blue => Color::Blue,
            wit::Color::Magenta => Color::Magenta,
            wit::Color::Cyan => Color::Cyan,
            wit::Color::Gray => Color::Gray,
        },
        bold: style.bold,
        dim: style.dim,
        italic: style.italic,
        underline: style.underline,
        reverse: style.reverse,
    }
}

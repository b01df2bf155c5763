//! Apps the user or the agent writes: what one shows (a view tree both clients draw), what
//! it receives (inputs), and the names and capabilities that go with it.
//!
//! An app is a WebAssembly component the daemon runs (the `choir:app` world in
//! `choir-apps/wit/app.wit`). The log records what each app window received
//! (`app.input`) and the view it showed after (`app.view_shown`), so a client, a replay or a
//! share shows an app without running it.

use serde::{Deserialize, Serialize};

/// Nodes a view holds at most.
pub const MAX_VIEW_NODES: usize = 4096;
/// Bytes of text a view holds at most, over all its nodes.
pub const MAX_VIEW_TEXT: usize = 256 * 1024;
/// Bytes an input's text (a submitted value, a key) holds at most.
pub const MAX_INPUT_TEXT: usize = 4096;
/// Characters an app's name holds at most.
pub const MAX_APP_NAME: usize = 32;
/// The shortest tick an app may ask for (each tick is an event in the log).
pub const MIN_TICK_MS: u32 = 1000;
/// Elements a view holds at most: its nodes, spans, list items and table cells.
pub const MAX_VIEW_ELEMENTS: usize = 20_000;

/// The colors a span may have; the clients map them onto their theme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Color {
    #[default]
    Default,
    Red,
    Green,
    Yellow,
    Blue,
    Magenta,
    Cyan,
    Gray,
}

/// How a span is drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SpanStyle {
    #[serde(default, skip_serializing_if = "is_default")]
    pub fg: Color,
    #[serde(default, skip_serializing_if = "is_false")]
    pub bold: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dim: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub italic: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub underline: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub reverse: bool,
}

fn is_false(value: &bool) -> bool {
    !value
}

fn is_default(color: &Color) -> bool {
    *color == Color::Default
}

/// A run of text in one style.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub text: String,
    #[serde(default)]
    pub style: SpanStyle,
}

impl Span {
    pub fn plain(text: impl Into<String>) -> Self {
        Span {
            text: text.into(),
            style: SpanStyle::default(),
        }
    }
}

/// One node of a view tree. Children are indices into the view's nodes, each after its
/// parent, so a tree has no cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewNode {
    /// A paragraph, wrapped to the width.
    Text { spans: Vec<Span> },
    /// Children stacked, top to bottom.
    Column { children: Vec<u32> },
    /// Children side by side, sharing the width (a split).
    Row { children: Vec<u32> },
    /// A list of one-line items; one may be selected (↑/↓ or a click: `select`).
    List {
        id: String,
        items: Vec<Vec<Span>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        selected: Option<u32>,
    },
    /// A table with a header row.
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A button (Enter or a click: `click`).
    Button { id: String, label: String },
    /// A one-line text field (Enter: `submit` with its text).
    Input {
        id: String,
        #[serde(default)]
        value: String,
        #[serde(default)]
        placeholder: String,
    },
    /// One child that may be taller than its space; the client scrolls it.
    Scroll { child: u32 },
}

/// What an app shows: its nodes (the first is the root) and, if it wants one, when to tick.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewTree {
    pub nodes: Vec<ViewNode>,
    /// Send a `tick` after this many milliseconds (at least [`MIN_TICK_MS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick_after_ms: Option<u32>,
}

/// Why a view tree cannot be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    #[error("a view has {0} nodes; at most {MAX_VIEW_NODES}")]
    TooManyNodes(usize),
    #[error("a view holds {0} bytes of text; at most {MAX_VIEW_TEXT}")]
    TooMuchText(usize),
    #[error("a view holds {0} nodes, spans, items and cells; at most {MAX_VIEW_ELEMENTS}")]
    TooManyElements(usize),
    #[error("node {node} names child {child}, which is not a node after it")]
    BadChild { node: usize, child: u32 },
    #[error("node {node} is the child of more than one node")]
    SharedChild { node: usize },
}

impl ViewTree {
    /// A view of one paragraph.
    pub fn text(text: impl Into<String>) -> Self {
        ViewTree {
            nodes: vec![ViewNode::Text {
                spans: vec![Span::plain(text)],
            }],
            tick_after_ms: None,
        }
    }

    /// Checks the bounds and that the nodes form one tree from the first.
    pub fn check(&self) -> Result<(), ViewError> {
        if self.nodes.len() > MAX_VIEW_NODES {
            return Err(ViewError::TooManyNodes(self.nodes.len()));
        }
        let text: usize = self.nodes.iter().map(ViewNode::text_len).sum();
        if text > MAX_VIEW_TEXT {
            return Err(ViewError::TooMuchText(text));
        }
        let elements: usize = self.nodes.iter().map(ViewNode::elements).sum();
        if elements > MAX_VIEW_ELEMENTS {
            return Err(ViewError::TooManyElements(elements));
        }
        let mut parented = vec![false; self.nodes.len()];
        for (node, view) in self.nodes.iter().enumerate() {
            for &child in view.children() {
                let index = child as usize;
                if index <= node || index >= self.nodes.len() {
                    return Err(ViewError::BadChild { node, child });
                }
                if std::mem::replace(&mut parented[index], true) {
                    return Err(ViewError::SharedChild { node: index });
                }
            }
        }
        Ok(())
    }

    /// The root node, if any.
    pub fn root(&self) -> Option<&ViewNode> {
        self.nodes.first()
    }

    /// Node `index`, if it exists.
    pub fn node(&self, index: u32) -> Option<&ViewNode> {
        self.nodes.get(index as usize)
    }
}

impl ViewNode {
    /// The nodes under this one.
    pub fn children(&self) -> &[u32] {
        match self {
            ViewNode::Column { children } | ViewNode::Row { children } => children,
            ViewNode::Scroll { child } => std::slice::from_ref(child),
            _ => &[],
        }
    }

    /// The node and what it holds: spans, items, cells.
    fn elements(&self) -> usize {
        1 + match self {
            ViewNode::Text { spans } => spans.len(),
            ViewNode::List { items, .. } => items.iter().map(|item| 1 + item.len()).sum(),
            ViewNode::Table { header, rows } => {
                header.len() + rows.iter().map(|row| 1 + row.len()).sum::<usize>()
            }
            ViewNode::Column { children } | ViewNode::Row { children } => children.len(),
            ViewNode::Button { .. } | ViewNode::Input { .. } | ViewNode::Scroll { .. } => 0,
        }
    }

    fn text_len(&self) -> usize {
        let spans = |spans: &[Span]| spans.iter().map(|span| span.text.len()).sum::<usize>();
        match self {
            ViewNode::Text { spans: s } => spans(s),
            ViewNode::List { id, items, .. } => {
                id.len() + items.iter().map(|item| spans(item)).sum::<usize>()
            }
            ViewNode::Table { header, rows } => {
                header.iter().map(String::len).sum::<usize>()
                    + rows.iter().flatten().map(String::len).sum::<usize>()
            }
            ViewNode::Button { id, label } => id.len() + label.len(),
            ViewNode::Input {
                id,
                value,
                placeholder,
            } => id.len() + value.len() + placeholder.len(),
            ViewNode::Column { .. } | ViewNode::Row { .. } | ViewNode::Scroll { .. } => 0,
        }
    }
}

/// What an app window receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppInput {
    /// A button was pressed.
    Click { id: String },
    /// A text field's text was sent (Enter).
    Submit { id: String, value: String },
    /// A list's item was selected.
    Select { id: String, index: u32 },
    /// A key the window's widgets did not take (`a`, `Enter`, `Up`, `C-x`…).
    Key { key: String },
    /// The time the app asked to be told of (milliseconds since the epoch).
    Tick { at_ms: u64 },
}

impl AppInput {
    /// Bytes of text it carries.
    pub fn text_len(&self) -> usize {
        match self {
            AppInput::Click { id } => id.len(),
            AppInput::Submit { id, value } => id.len() + value.len(),
            AppInput::Select { id, .. } => id.len(),
            AppInput::Key { key } => key.len(),
            AppInput::Tick { .. } => 0,
        }
    }
}

/// What an app may be granted; each is denied until the user grants it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Its own key-value store (kept in the log).
    Store,
    /// Reading the event log.
    ReadLog,
    /// Calling the agent's tools (each call still asks as the agent's do).
    CallTools,
    /// HTTP GET to one host.
    Http { host: String },
}

impl Capability {
    /// How the user is asked about it.
    pub fn describe(&self) -> String {
        match self {
            Capability::Store => "keep its own data".into(),
            Capability::ReadLog => "read the event log (everything this sandbox recorded)".into(),
            Capability::CallTools => "call the agent's tools".into(),
            Capability::Http { host } => format!("fetch pages from {host}"),
        }
    }
}

/// How the call ids of the tool calls an app window makes begin: a client finds the calls
/// its app window waits on by it.
pub fn call_prefix(window_id: crate::WindowId) -> String {
    format!("app-{}-", window_id.0)
}

/// Whether `name` may name an app: 1 to [`MAX_APP_NAME`] of `a-z`, `0-9` and `-`, starting
/// with a letter (it names a directory and a Rust crate).
pub fn valid_app_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= MAX_APP_NAME
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(children: Vec<u32>) -> ViewNode {
        ViewNode::Column { children }
    }

    fn text(t: &str) -> ViewNode {
        ViewNode::Text {
            spans: vec![Span::plain(t)],
        }
    }

    #[test]
    fn a_tree_checks_and_round_trips() {
        let tree = ViewTree {
            nodes: vec![
                column(vec![1, 2]),
                text("hello"),
                ViewNode::Button {
                    id: "go".into(),
                    label: "Go".into(),
                },
            ],
            tick_after_ms: Some(1000),
        };
        assert_eq!(tree.check(), Ok(()));
        let json = serde_json::to_string(&tree).unwrap();
        assert_eq!(serde_json::from_str::<ViewTree>(&json).unwrap(), tree);
    }

    #[test]
    fn cycles_shared_children_and_dangling_children_are_refused() {
        let back = ViewTree {
            nodes: vec![column(vec![1]), column(vec![0])],
            tick_after_ms: None,
        };
        assert_eq!(back.check(), Err(ViewError::BadChild { node: 1, child: 0 }));
        let own = ViewTree {
            nodes: vec![column(vec![0])],
            tick_after_ms: None,
        };
        assert!(own.check().is_err());
        let shared = ViewTree {
            nodes: vec![column(vec![1, 2]), column(vec![2]), text("x")],
            tick_after_ms: None,
        };
        assert_eq!(shared.check(), Err(ViewError::SharedChild { node: 2 }));
        let dangling = ViewTree {
            nodes: vec![column(vec![5])],
            tick_after_ms: None,
        };
        assert!(dangling.check().is_err());
    }

    #[test]
    fn big_views_are_refused() {
        let many = ViewTree {
            nodes: vec![text("x"); MAX_VIEW_NODES + 1],
            tick_after_ms: None,
        };
        assert_eq!(
            many.check(),
            Err(ViewError::TooManyNodes(MAX_VIEW_NODES + 1))
        );
        let long = ViewTree::text("y".repeat(MAX_VIEW_TEXT + 1));
        assert!(matches!(long.check(), Err(ViewError::TooMuchText(_))));
        let empty_items = ViewTree {
            nodes: vec![ViewNode::List {
                id: String::new(),
                items: vec![Vec::new(); MAX_VIEW_ELEMENTS],
                selected: None,
            }],
            tick_after_ms: None,
        };
        assert!(matches!(
            empty_items.check(),
            Err(ViewError::TooManyElements(_))
        ));
    }

    #[test]
    fn app_names() {
        for good in ["timer", "tool-dashboard", "a1"] {
            assert!(valid_app_name(good), "{good}");
        }
        let long = "a".repeat(MAX_APP_NAME + 1);
        for bad in [
            "",
            "Timer",
            "1app",
            "a_b",
            "../x",
            "a-",
            "a b",
            long.as_str(),
        ] {
            assert!(!valid_app_name(bad), "{bad}");
        }
    }
}

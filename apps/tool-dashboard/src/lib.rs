//! tool-dashboard: the agent's tool calls per hour, read from the event log (the `read-log`
//! capability), with each tool's count. It reads what is new every few seconds.

wit_bindgen::generate!({ world: "app", path: "wit" });

use choir::app::types::{ButtonView, Color, Node, Span, Style, TableView};
use std::cell::RefCell;
use std::collections::BTreeMap;

const HOUR_MS: u64 = 3_600_000;
/// Hours shown, the latest first.
const HOURS: usize = 12;

#[derive(Default)]
struct Dashboard {
    /// The last seq read.
    read_to: u64,
    /// Calls started per hour (hours since the epoch).
    per_hour: BTreeMap<u64, u32>,
    per_tool: BTreeMap<String, u32>,
    problem: Option<String>,
}

thread_local! {
    static DASHBOARD: RefCell<Dashboard> = RefCell::new(Dashboard::default());
}

impl Dashboard {
    /// Reads what the log holds after what was read, up to 20 pages.
    fn catch_up(&mut self) {
        for _ in 0..20 {
            let page = match read_log(self.read_to, 100) {
                Ok(page) => page,
                Err(why) => {
                    self.problem = Some(why);
                    return;
                }
            };
            self.problem = None;
            let Some(last) = page.last() else { return };
            self.read_to = last.seq;
            for entry in &page {
                if entry.kind == "tool.started" {
                    *self.per_hour.entry(entry.at_ms / HOUR_MS).or_default() += 1;
                    *self.per_tool.entry(tool_name(&entry.data)).or_default() += 1;
                }
            }
        }
    }
}

/// The `tool` member of an event's data (JSON), without a JSON parser.
fn tool_name(data: &str) -> String {
    let Some(at) = data.find("\"tool\":\"") else { return "?".into() };
    let rest = &data[at + 8..];
    rest.split('"').next().unwrap_or("?").to_owned()
}

/// The date of a day counted from 1970-01-01 (the proleptic Gregorian calendar).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn plain() -> Style {
    Style { fg: Color::Default, bold: false, dim: false, italic: false, underline: false, reverse: false }
}

struct App;

impl Guest for App {
    fn init() {
        DASHBOARD.with_borrow_mut(Dashboard::catch_up);
    }

    fn update(input: Input) {
        match input {
            Input::Tick(_) => DASHBOARD.with_borrow_mut(Dashboard::catch_up),
            Input::Click(id) if id == "refresh" => DASHBOARD.with_borrow_mut(Dashboard::catch_up),
            Input::Key(key) if key == "r" => DASHBOARD.with_borrow_mut(Dashboard::catch_up),
            _ => {}
        }
    }

    fn view(_width: u32, _height: u32) -> View {
        DASHBOARD.with_borrow(|dashboard| {
            let total: u32 = dashboard.per_tool.values().sum();
            let heading = Style { fg: Color::Cyan, bold: true, ..plain() };
            let mut nodes = vec![
                Node::Column(vec![1, 2, 3, 4, 5]),
                Node::Text(vec![
                    Span { text: "Tool calls".into(), style: heading },
                    Span { text: format!("  {total} in all, read to #{}", dashboard.read_to), style: Style { fg: Color::Gray, ..plain() } },
                ]),
                Node::Table(TableView {
                    header: vec!["hour (UTC)".into(), "calls".into()],
                    rows: dashboard
                        .per_hour
                        .iter()
                        .rev()
                        .take(HOURS)
                        .map(|(hour, calls)| {
                            let (year, month, day) = civil((hour / 24) as i64);
                            let label = format!("{year}-{month:02}-{day:02} {:02}:00", hour % 24);
                            vec![label, calls.to_string()]
                        })
                        .collect(),
                }),
                Node::Table(TableView {
                    header: vec!["tool".into(), "calls".into()],
                    rows: dashboard
                        .per_tool
                        .iter()
                        .map(|(tool, calls)| vec![tool.clone(), calls.to_string()])
                        .collect(),
                }),
                Node::Text(vec![Span {
                    text: dashboard.problem.clone().unwrap_or_default(),
                    style: Style { fg: Color::Red, ..plain() },
                }]),
                Node::Button(ButtonView { id: "refresh".into(), label: "Refresh".into() }),
            ];
            nodes.shrink_to_fit();
            View { nodes, tick_after_ms: Some(5000) }
        })
    }
}

export!(App);

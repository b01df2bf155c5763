// A test app: each button does one thing an app may do, good or bad, and the view says
// what came of it. Built by the tests with cargo, as any app is.

wit_bindgen::generate!({ world: "app", path: "wit" });

use choir::app::types::{ButtonView, Color, InputView, Node, Span, Style};
use std::cell::RefCell;

#[derive(Default)]
struct Probe {
    pressed: u32,
    said: String,
    grown: Vec<Vec<u8>>,
}

thread_local! {
    static PROBE: RefCell<Probe> = RefCell::new(Probe::default());
}

fn span(text: String) -> Vec<Span> {
    let style = Style { fg: Color::Default, bold: false, dim: false, italic: false, underline: false, reverse: false };
    vec![Span { text, style }]
}

struct App;

impl Guest for App {
    fn init() {}

    fn update(input: Input) {
        PROBE.with_borrow_mut(|probe| match input {
            Input::Click(id) => match id.as_str() {
                "press" => probe.pressed += 1,
                "spin" => {
                    let mut n: u64 = 0;
                    loop {
                        n = std::hint::black_box(n.wrapping_add(1));
                    }
                }
                "grow" => loop {
                    probe.grown.push(vec![7u8; 1 << 20]);
                },
                "crash" => panic!("the probe crashed on purpose"),
                "save" => probe.said = format!("save: {:?}", store_set("colour", Some("teal"))),
                "load" => probe.said = format!("load: {:?}", store_get("colour")),
                "inc" => {
                    let n = store_get("count").ok().flatten().and_then(|v| v.parse::<u32>().ok()).unwrap_or(0) + 1;
                    let kept = store_set("count", Some(&n.to_string()));
                    probe.said = format!("inc: {n} {kept:?}");
                }
                "flood" => {
                    let kept = (0..200).filter(|n| store_set("n", Some(&n.to_string())).is_ok()).count();
                    probe.said = format!("flood: {kept} kept");
                }
                "log" => {
                    probe.said = match read_log(0, 5) {
                        Ok(entries) => format!("log: {} entries, first {}", entries.len(), entries.first().map(|e| e.kind.clone()).unwrap_or_default()),
                        Err(why) => format!("log: Err({why})"),
                    }
                }
                _ => {}
            },
            Input::Submit(submitted) if submitted.id == "tool" => {
                let (name, args) = submitted.value.split_once(' ').unwrap_or((&submitted.value, "{}"));
                probe.said = format!("tool: {:?}", call_tool(name, args));
            }
            Input::Submit(submitted) if submitted.id == "url" => {
                probe.said = match http_get(&submitted.value) {
                    Ok(body) => format!("fetched: {body}"),
                    Err(why) => format!("fetch: Err({why})"),
                }
            }
            Input::Key(key) => probe.said = format!("key {key}"),
            _ => {}
        });
    }

    fn view(width: u32, height: u32) -> View {
        PROBE.with_borrow(|probe| View {
            nodes: vec![
                Node::Column(vec![1, 2, 3, 4, 5]),
                Node::Text(span(format!("MARK pressed {} times at {width}x{height}", probe.pressed))),
                Node::Text(span(probe.said.clone())),
                Node::Button(ButtonView { id: "press".into(), label: "Press".into() }),
                Node::Button(ButtonView { id: "spin".into(), label: "Spin".into() }),
                Node::Input(InputView { id: "url".into(), value: String::new(), placeholder: "a URL".into() }),
            ],
            tick_after_ms: None,
        })
    }
}

export!(App);

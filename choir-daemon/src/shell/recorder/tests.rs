use choir_proto::{Event, World};
use proptest::prelude::*;

use super::*;

const W: WindowId = WindowId(7);

fn size() -> TermSize {
    TermSize::new(10, 40)
}

/// A world with shell window 7 started, and a way to fold recorded bodies into it.
struct Fold {
    world: World,
    seq: u64,
    /// What was applied after the start.
    recorded: Vec<EventBody>,
}

impl Fold {
    fn new() -> Self {
        let mut fold = Fold {
            world: World::default(),
            seq: 0,
            recorded: Vec::new(),
        };
        fold.apply(vec![
            EventBody::WindowOpened {
                window_id: W,
                app: choir_proto::AppKind::Shell,
                title: "Shell".into(),
                rect: choir_proto::Rect::new(0, 0, size().cols + 2, size().rows + 2),
            },
            EventBody::ShellStarted {
                window_id: W,
                program: "sh".into(),
                rows: size().rows,
                cols: size().cols,
                scrollback: 0,
            },
        ]);
        fold.seq = 0;
        fold.recorded.clear();
        fold
    }

    fn apply(&mut self, bodies: Vec<EventBody>) {
        for body in bodies {
            self.recorded.push(body.clone());
            self.seq += 1;
            self.world.apply(&Event {
                seq: self.world.head + 1,
                ts: 0,
                actor: "shell".into(),
                correlation: None,
                v: 1,
                body,
            });
        }
    }

    fn terminal(&self) -> &Terminal {
        &self.world.shells[&W].terminal
    }
}

/// What a terminal shows: its size and its screen (a fold's scrollback is its own: the
/// recorder keeps none).
fn shown(terminal: &Terminal) -> (TermSize, String) {
    (terminal.size(), terminal.image())
}

fn bytes_of(bodies: &[EventBody]) -> usize {
    bodies
        .iter()
        .map(|body| body.data_json().map(|json| json.len()).unwrap_or(0))
        .sum()
}

#[test]
fn output_is_coalesced_into_one_event_per_frame() {
    let start = Instant::now();
    let mut recorder = Recorder::new(W, size(), Limits::default(), start);
    for _ in 0..50 {
        recorder.output(b"ab");
    }
    let events = recorder.flush(start + Duration::from_millis(25));
    assert_eq!(events.len(), 1);
    assert!(matches!(&events[0], EventBody::ShellOutput { data, .. } if data.len() == 100));
    assert!(!recorder.busy());
}

#[test]
fn a_character_cut_between_reads_is_recorded_whole() {
    let start = Instant::now();
    let mut recorder = Recorder::new(W, size(), Limits::default(), start);
    let text = "é✓".as_bytes();
    recorder.output(&text[..1]);
    let first = recorder.flush(start);
    recorder.output(&text[1..4]);
    let second = recorder.flush(start);
    recorder.output(&text[4..]);
    let third = recorder.flush(start);
    let data: Vec<String> = [first, second, third]
        .into_iter()
        .flatten()
        .map(|body| match body {
            EventBody::ShellOutput { data, .. } => data,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(data, ["é", "✓"]);
}

#[test]
fn a_share_token_cut_between_reads_is_recorded_whole() {
    let start = Instant::now();
    let mut recorder = Recorder::new(W, size(), Limits::default(), start);
    let token = format!("chs_0123456789_{}", "ab".repeat(32));
    recorder.output(format!("$ echo {}", &token[..30]).as_bytes());
    let first = recorder.flush(start);
    recorder.output(format!("{}\r\n$ ", &token[30..]).as_bytes());
    let second = recorder.flush(start + Duration::from_millis(25));
    let data = |bodies: Vec<EventBody>| match bodies.as_slice() {
        [EventBody::ShellOutput { data, .. }] => data.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(data(first), "$ echo ");
    assert_eq!(data(second), format!("{token}\r\n$ "));
}

#[test]
fn a_flood_is_replaced_by_a_few_images_and_the_last_screen_arrives() {
    let limits = Limits::default();
    let start = Instant::now();
    let mut recorder = Recorder::new(W, size(), limits, start);
    let mut fold = Fold::new();
    let mut recorded = Vec::new();
    // 100 MB of `yes`-like lines over 10 seconds, read 64 KiB at a time.
    let line = b"y\r\n".repeat(64 * 1024 / 3);
    let total = 100 * 1024 * 1024;
    let reads = total / line.len();
    let mut now = start;
    for read in 0..reads {
        recorder.output(&line);
        now = start + Duration::from_millis((read as u64 * 10_000) / reads as u64);
        if read % 16 == 0 {
            recorded.extend(recorder.flush(now));
        }
    }
    recorder.output(b"done\r\n$ ");
    // Quiet afterwards: the frames that follow bring the screen up to date.
    for frame in 1..=20 {
        recorded.extend(recorder.flush(now + limits.frame * frame));
    }
    assert!(!recorder.busy());
    let seconds = 10.5;
    let bound = limits.burst as f64 + seconds * limits.rate as f64 * 1.4;
    let logged = bytes_of(&recorded);
    assert!(
        (logged as f64) < bound,
        "{logged} bytes logged for a 100 MB flood (bound {bound})"
    );
    let skipped: u64 = recorded
        .iter()
        .map(|body| match body {
            EventBody::ShellScreen { skipped, .. } => *skipped,
            _ => 0,
        })
        .sum();
    assert!(skipped > (total as u64) * 9 / 10, "{skipped}");
    fold.apply(recorded);
    assert_eq!(shown(fold.terminal()), shown(recorder.terminal()));
    assert!(fold.terminal().text().ends_with("done\n$"));
    assert_eq!(fold.world.shells[&W].skipped, skipped);
}

#[test]
fn leaving_a_full_screen_program_sends_the_screen_under_it() {
    let start = Instant::now();
    let mut recorder = Recorder::new(W, size(), Limits::default(), start);
    recorder.output(b"$ vim\r\n\x1b[?1049h\x1b[Hediting");
    let events = recorder.flush(start);
    // A client that starts now holds an image of the alternate screen only.
    let mut late = Fold::new();
    late.apply(vec![EventBody::ShellScreen {
        window_id: W,
        rows: 10,
        cols: 40,
        image: recorder.terminal().image(),
        skipped: 0,
    }]);
    let mut early = Fold::new();
    early.apply(events);
    recorder.output(b"\x1b[?1049l$ ");
    let events = recorder.flush(start + Duration::from_millis(25));
    assert!(events
        .iter()
        .any(|body| matches!(body, EventBody::ShellScreen { .. })));
    early.apply(events.clone());
    late.apply(events);
    assert_eq!(late.terminal(), early.terminal());
    assert!(late.terminal().text().starts_with("$ vim\n$"));
}

#[test]
fn an_event_never_ends_inside_an_escape_sequence() {
    let start = Instant::now();
    let mut recorder = Recorder::new(W, size(), Limits::default(), start);
    recorder.output(b"ab\x1b[3");
    let first = recorder.flush(start);
    recorder.output(b"1mred");
    let second = recorder.flush(start + Duration::from_millis(1));
    let data = |events: Vec<EventBody>| match &events[..] {
        [EventBody::ShellOutput { data, .. }] => data.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(data(first), "ab");
    assert_eq!(data(second), "\x1b[31mred");
}

#[test]
fn an_unfinished_sequence_does_not_hold_the_screen_back_for_good() {
    let limits = Limits::default();
    let start = Instant::now();
    let mut recorder = Recorder::new(W, size(), limits, start);
    recorder.output(b"x\x1b]0;a title that never ends");
    assert!(
        matches!(&recorder.flush(start)[..], [EventBody::ShellOutput { data, .. }] if data == "x")
    );
    assert!(recorder.busy());
    let mut later = Vec::new();
    for frame in 1..=5 {
        later.extend(recorder.flush(start + limits.frame * frame));
    }
    assert!(
        matches!(&later[..], [EventBody::ShellOutput { data, .. }] if data.starts_with("\x1b]0;")),
        "{later:?}"
    );
    assert!(!recorder.busy());
}

#[test]
fn the_end_is_recorded_whatever_was_cut() {
    let start = Instant::now();
    let mut recorder = Recorder::new(W, size(), Limits::default(), start);
    // A flood that ends inside an escape sequence.
    recorder.output(&b"y\r\n".repeat(200_000));
    recorder.output(b"\x1b]0;unterminated");
    let _ = recorder.flush(start);
    let last = recorder.finish();
    assert!(
        last.iter()
            .any(|body| matches!(body, EventBody::ShellScreen { skipped, .. } if *skipped > 0)),
        "{last:?}"
    );
    assert!(!recorder.busy());
}

#[test]
fn a_resize_comes_after_the_output_before_it() {
    let start = Instant::now();
    let mut recorder = Recorder::new(W, size(), Limits::default(), start);
    recorder.output(b"0123456789");
    let events = recorder.resize(TermSize::new(5, 5), start);
    assert!(matches!(events[0], EventBody::ShellOutput { .. }));
    assert!(matches!(
        events[1],
        EventBody::ShellResized {
            rows: 5,
            cols: 5,
            ..
        }
    ));
    assert!(matches!(events[2], EventBody::ShellScreen { .. }));
    let mut fold = Fold::new();
    fold.apply(events);
    assert_eq!(shown(fold.terminal()), shown(recorder.terminal()));
}

proptest! {
    /// Folding what the recorder records draws the screen its emulator, fed every byte live,
    /// shows: whatever the reads, the frames, the resizes and the floods.
    #[test]
    fn folding_the_recorded_events_equals_the_live_screen(
        steps in proptest::collection::vec(
            prop_oneof![
                4 => proptest::collection::vec(
                    prop_oneof![
                        Just("ls -l\r\n".to_owned()),
                        Just("é✓漢".to_owned()),
                        Just("\x1b[1;32mgreen\x1b[0m".to_owned()),
                        Just("\x1b[?1049h\x1b[H\x1b[2J".to_owned()),
                        Just("\x1b[?1049l".to_owned()),
                        Just("\x1b[5;3H".to_owned()),
                        Just("\x1b[K\x1b[2A".to_owned()),
                        "[a-z]{1,30}".prop_map(String::from),
                    ],
                    1..20,
                ).prop_map(Step::Read),
                1 => (0usize..200_000).prop_map(Step::Flood),
                2 => (0u64..300).prop_map(Step::Wait),
                1 => (2u16..30, 2u16..60).prop_map(|(r, c)| Step::Resize(r, c)),
            ],
            1..60,
        ),
        cut in any::<prop::sample::Index>(),
    ) {
        let start = Instant::now();
        let mut now = start;
        let mut recorder = Recorder::new(W, size(), Limits::default(), start);
        let mut fold = Fold::new();
        // A client that connects at some point: it starts from an image of the screen then.
        let mut late: Option<Fold> = None;
        let joins = cut.index(steps.len() + 1);
        let mut alternate = false;
        for (n, step) in steps.into_iter().enumerate() {
            if n == joins {
                let mut client = Fold::new();
                let terminal = fold.terminal();
                client.apply(vec![EventBody::ShellScreen {
                    window_id: W,
                    rows: terminal.size().rows,
                    cols: terminal.size().cols,
                    image: terminal.image(),
                    skipped: 0,
                }]);
                late = Some(client);
            }
            let before = fold.seq;
            match step {
                Step::Read(pieces) => {
                    // Programs enter and leave the alternate screen in pairs (leaving it
                    // restores the cursor saved on entering, which images do not carry).
                    let bytes = balanced(&mut alternate, pieces).into_bytes();
                    // Cut each read somewhere, as the PTY may.
                    let at = cut.index(bytes.len() + 1);
                    recorder.output(&bytes[..at]);
                    fold.apply(recorder.flush(now));
                    recorder.output(&bytes[at..]);
                }
                Step::Flood(len) => recorder.output(&b"x".repeat(len)),
                Step::Wait(ms) => {
                    now += Duration::from_millis(ms);
                    fold.apply(recorder.flush(now));
                }
                Step::Resize(rows, cols) => {
                    fold.apply(recorder.resize(TermSize::new(rows, cols), now));
                }
            }
            if let Some(client) = &mut late {
                client.apply(fold.recorded[before as usize..].to_vec());
            }
        }
        for _ in 0..40 {
            now += Duration::from_millis(100);
            let before = fold.seq;
            fold.apply(recorder.flush(now));
            if let Some(client) = &mut late {
                client.apply(fold.recorded[before as usize..].to_vec());
            }
        }
        prop_assert!(!recorder.busy());
        prop_assert_eq!(shown(fold.terminal()), shown(recorder.terminal()));
        if let Some(client) = &late {
            prop_assert_eq!(shown(client.terminal()), shown(recorder.terminal()));
        }
    }
}

fn balanced(alternate: &mut bool, pieces: Vec<String>) -> String {
    let mut text = String::new();
    for piece in pieces {
        let enters = piece.starts_with("\x1b[?1049h");
        let leaves = piece.starts_with("\x1b[?1049l");
        if (enters && *alternate) || (leaves && !*alternate) {
            continue;
        }
        *alternate = (*alternate || enters) && !leaves;
        text.push_str(&piece);
    }
    text
}

#[derive(Debug, Clone)]
enum Step {
    Read(Vec<String>),
    Flood(usize),
    Wait(u64),
    Resize(u16, u16),
}

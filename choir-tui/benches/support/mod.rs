//! What the history and time-travel benchmarks share: a deterministic mixed history written
//! straight into a log, a real `choir-daemon` process, and a screen read back by vt100.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use choir_client::client::ProtocolClient;
use choir_client::connect::find_endpoint;
use choir_daemon::store::{EventStore, StoreOptions};
use choir_proto::{AppKind, CallId, DocId, EventBody, NewEvent, Rect, TextOp, ThreadId, WindowId};
use choir_tui::desktop::Desktop;
use choir_tui::input::InputEvent;
use choir_tui::session;
use ratatui::backend::CrosstermBackend;
use ratatui::{Terminal, TerminalOptions, Viewport};

pub const WAIT: Duration = Duration::from_secs(120);
pub const THREADS: u64 = 16;
pub const MAX_DOCS: u64 = 200;
/// The shown document's first line, which no generated edit touches.
pub const HEADER: &str = "Notes of the history benchmark\n";
pub const SCREEN: (u16, u16) = (120, 40);
/// Starts (and desktop sessions) measured per figure; the median is reported.
pub const RUNS: usize = 3;

/// A deterministic mixed history.
pub struct History {
    rng: u64,
    emitted: u64,
    /// Each document's length in characters and version.
    docs: Vec<(usize, u64)>,
    calls: u64,
}

impl History {
    pub fn new() -> Self {
        Self {
            rng: 0x9e37_79b9_7f4a_7c15,
            emitted: 0,
            docs: Vec::new(),
            calls: 0,
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn words(&mut self, len: usize) -> String {
        const WORDS: [&str; 12] = [
            "the", "log", "sandbox", "window", "agent", "draft", "merge", "commit", "page",
            "terminal", "snapshot", "history",
        ];
        let mut text = String::with_capacity(len + 10);
        while text.len() < len {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(WORDS[self.below(WORDS.len() as u64) as usize]);
        }
        text
    }

    /// The first events: 16 threads (two shown in chat windows), a writer window showing a
    /// document, an event log window.
    fn setup(&mut self) -> Vec<EventBody> {
        let mut bodies = Vec::new();
        for id in 1..=THREADS {
            bodies.push(EventBody::WindowOpened {
                window_id: WindowId(id),
                app: AppKind::Chat,
                title: format!("Thread {id}"),
                rect: Rect::new(2, 1, 60, 18),
            });
            bodies.push(EventBody::ChatThreadCreated {
                thread_id: ThreadId(id),
                title: format!("Thread {id}"),
            });
        }
        for id in 3..=THREADS {
            bodies.push(EventBody::WindowClosed {
                window_id: WindowId(id),
            });
        }
        let writer = WindowId(THREADS + 1);
        bodies.push(EventBody::WindowOpened {
            window_id: writer,
            app: AppKind::Writer,
            title: "Writer".into(),
            rect: Rect::new(0, 19, 60, 19),
        });
        bodies.push(self.create_doc("Notes", HEADER.to_owned()));
        bodies.push(EventBody::WriterDocShown {
            window_id: writer,
            doc_id: Some(DocId(1)),
        });
        bodies.push(EventBody::WindowOpened {
            window_id: WindowId(THREADS + 2),
            app: AppKind::EventLog,
            title: "Event log".into(),
            rect: Rect::new(60, 19, 60, 19),
        });
        bodies
    }

    fn create_doc(&mut self, title: &str, content: String) -> EventBody {
        self.docs.push((content.chars().count(), 0));
        EventBody::DocCreated {
            doc_id: DocId(self.docs.len() as u64),
            title: title.to_owned(),
            content,
        }
    }

    fn open_windows() -> [WindowId; 4] {
        [
            WindowId(1),
            WindowId(2),
            WindowId(THREADS + 1),
            WindowId(THREADS + 2),
        ]
    }

    /// The next few events of everyday traffic.
    fn traffic(&mut self) -> Vec<EventBody> {
        let roll = self.below(100);
        match roll {
            0..45 => {
                // Most talk is in the two shown threads.
                let thread_id = ThreadId(if roll.is_multiple_of(3) {
                    1 + self.below(THREADS)
                } else {
                    1 + self.below(2)
                });
                let len = 20 + self.below(380) as usize;
                let text = self.words(len);
                vec![if self.below(2) == 0 {
                    EventBody::ChatUserMessage { thread_id, text }
                } else {
                    EventBody::ChatAssistantMessage {
                        thread_id,
                        text,
                        ending: None,
                        tool_calls: Vec::new(),
                    }
                }]
            }
            45..75 => vec![self.edit()],
            75..87 => {
                let windows = Self::open_windows();
                let window_id = windows[self.below(4) as usize];
                vec![match self.below(3) {
                    0 => EventBody::WindowMoved {
                        window_id,
                        x: self.below(60) as u16,
                        y: self.below(20) as u16,
                    },
                    1 => EventBody::WindowResized {
                        window_id,
                        w: 30 + self.below(60) as u16,
                        h: 8 + self.below(20) as u16,
                    },
                    _ => EventBody::WindowFocused { window_id },
                }]
            }
            87..93 => {
                self.calls += 1;
                let call_id = CallId(format!("call_{}", self.calls));
                let len = 100 + self.below(500) as usize;
                let output = self.words(len);
                vec![
                    EventBody::ToolStarted {
                        call_id: call_id.clone(),
                        tool: "bash".into(),
                        args: serde_json::json!({ "cmd": "ls -la docs" }),
                        thread_id: Some(ThreadId(1 + self.below(2))),
                    },
                    EventBody::ToolFinished {
                        call_id,
                        ok: true,
                        exit_code: Some(0),
                        output,
                        duration_ms: 12,
                    },
                ]
            }
            93..97 => {
                let thread_id = ThreadId(1 + self.below(2));
                vec![
                    EventBody::ChatTurnStarted { thread_id },
                    EventBody::ChatTurnCompleted { thread_id },
                ]
            }
            97..99 if (self.docs.len() as u64) < MAX_DOCS => {
                let len = 50 + self.below(400) as usize;
                let content = self.words(len);
                let title = format!("Draft {}", self.docs.len() + 1);
                vec![self.create_doc(&title, content)]
            }
            97..99 => {
                let doc_id = DocId(1 + self.below(self.docs.len() as u64));
                vec![EventBody::DocRenamed {
                    doc_id,
                    title: format!("Renamed {}", self.below(1000)),
                }]
            }
            _ => {
                let window_id = WindowId(THREADS + 2);
                vec![
                    EventBody::WindowMinimized { window_id },
                    EventBody::WindowRestored { window_id },
                ]
            }
        }
    }

    /// An edit of some document: a fifth of them to the shown one, never in its first line.
    fn edit(&mut self) -> EventBody {
        let index = if self.below(5) == 0 {
            0
        } else {
            self.below(self.docs.len() as u64) as usize
        };
        let floor = if index == 0 { HEADER.len() } else { 0 };
        let (len, version) = self.docs[index];
        let grow = self.below(10) < if len < 2000 { 7 } else { 3 };
        let op = if grow || len <= floor + 8 {
            let at = floor + self.below((len - floor + 1) as u64) as usize;
            let n = 1 + self.below(12) as usize;
            let text = self.words(n);
            let inserted = text.chars().count();
            self.docs[index].0 = len + inserted;
            TextOp::new().retain(at).insert(&text).retain(len - at)
        } else {
            let n = 1 + self.below(8) as usize;
            let at = floor + self.below((len - floor - n + 1) as u64) as usize;
            self.docs[index].0 = len - n;
            TextOp::new().retain(at).delete(n).retain(len - at - n)
        };
        self.docs[index].1 = version + 1;
        EventBody::DocEdited {
            doc_id: DocId(index as u64 + 1),
            version: version + 1,
            op,
            edit_id: None,
        }
    }

    /// The last events of a history: the four windows laid out side by side, as the user
    /// left them.
    fn layout() -> Vec<EventBody> {
        let rects = [
            Rect::new(0, 1, 60, 18),
            Rect::new(60, 1, 60, 18),
            Rect::new(0, 19, 60, 19),
            Rect::new(60, 19, 60, 19),
        ];
        Self::open_windows()
            .into_iter()
            .zip(rects)
            .flat_map(|(window_id, rect)| {
                [
                    EventBody::WindowMoved {
                        window_id,
                        x: rect.x,
                        y: rect.y,
                    },
                    EventBody::WindowResized {
                        window_id,
                        w: rect.w,
                        h: rect.h,
                    },
                ]
            })
            .collect()
    }

    /// The next `count` events.
    pub fn take(&mut self, count: u64) -> Vec<EventBody> {
        let mut bodies = Vec::with_capacity(count as usize);
        if self.emitted == 0 {
            bodies.extend(self.setup());
        }
        let tail = Self::layout();
        while (bodies.len() + tail.len()) < count as usize {
            bodies.extend(self.traffic());
        }
        bodies.truncate(count as usize - tail.len());
        bodies.extend(tail);
        self.emitted += bodies.len() as u64;
        bodies
    }
}

/// Appends `count` more events of `history` to the log in `dir`, in large batches.
pub async fn fill(dir: &Path, history: &mut History, count: u64) {
    let store = EventStore::open(
        &dir.join("events.db"),
        StoreOptions {
            durable: false,
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    let mut left = count;
    while left > 0 {
        let chunk = left.min(100_000);
        let bodies = history.take(chunk);
        for batch in bodies.chunks(4096) {
            let events = batch
                .iter()
                .map(|body| NewEvent::new("bench", body.clone()))
                .collect();
            store.append(events).await.unwrap();
        }
        left -= chunk;
    }
    store.shutdown().await;
}

/// The daemon to measure: `CHOIR_DAEMON_BIN` (as the script sets it), or the release build
/// beside this bench, if there is one.
pub fn daemon_bin() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHOIR_DAEMON_BIN") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("choir-daemon");
    path.exists().then_some(path)
}

/// A `choir-daemon` process.
pub struct Daemon {
    pub child: Child,
    /// From spawn to the line saying where it listens.
    pub ready_after: Duration,
}

impl Daemon {
    pub fn start(dir: &Path) -> Daemon {
        let started = Instant::now();
        let program = daemon_bin().expect("checked in main");
        let mut child = Command::new(&program)
            .arg("--data-dir")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .env("CHOIR_LOG", "warn")
            .env_remove("CHOIR_MODEL")
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .env_remove("ANTHROPIC_API_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", program.display()));
        let stdout = child.stdout.take().unwrap();
        let (ready, listening) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("listening on") {
                    let _ = ready.send(());
                }
            }
        });
        if listening.recv_timeout(WAIT).is_err() {
            let _ = child.kill();
            panic!("choir-daemon did not get ready within {WAIT:?}");
        }
        Daemon {
            ready_after: started.elapsed(),
            child,
        }
    }

    /// Resident and peak resident memory, in MiB.
    pub fn memory(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| -> f64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Stops it as a service manager would (SIGTERM; it stores its snapshot), by its id.
    pub fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("choir-daemon did not stop within {WAIT:?} of SIGTERM");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub use choir_test_support::Screen;

/// A desktop session drawing into a [`Screen`]; `keys` types into it.
pub struct Session {
    pub screen: Screen,
    pub keys: tokio::sync::mpsc::UnboundedSender<InputEvent>,
    task: tokio::task::JoinHandle<()>,
    pub started: Instant,
}

impl Session {
    pub fn spawn(dir: &Path, desktop: Desktop) -> Session {
        let started = Instant::now();
        let data_dir = dir.to_owned();
        let (client, updates) = ProtocolClient::spawn(move || find_endpoint(&data_dir), "bench");
        let screen = Screen::new(SCREEN.0, SCREEN.1);
        let options = TerminalOptions {
            viewport: Viewport::Fixed(ratatui::layout::Rect::new(0, 0, SCREEN.0, SCREEN.1)),
        };
        let mut terminal =
            Terminal::with_options(CrosstermBackend::new(screen.clone()), options).unwrap();
        let (keys, input) = tokio::sync::mpsc::unbounded_channel::<InputEvent>();
        let input = Box::pin(futures_util::stream::unfold(input, |mut rx| async move {
            rx.recv().await.map(|event| (event, rx))
        }));
        let task = tokio::spawn(async move {
            let mut desktop = desktop;
            let _ = session::run(
                &mut terminal,
                SCREEN,
                &mut desktop,
                input,
                client,
                updates,
                || "09:41".into(),
            )
            .await;
        });
        Session {
            screen,
            keys,
            task,
            started,
        }
    }

    /// Waits until the screen shows every needle; the time since `since`.
    pub async fn shows(&self, needles: &[&str], since: Instant) -> Duration {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.screen.text();
            if needles.iter().all(|needle| text.contains(needle)) {
                return since.elapsed();
            }
            assert!(
                Instant::now() < deadline,
                "the desktop never showed {needles:?}:\n{text}"
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }

    pub async fn close(self) {
        drop(self.keys);
        let _ = tokio::time::timeout(WAIT, self.task).await;
    }
}

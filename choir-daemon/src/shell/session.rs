//! One running shell: its PTY and process, and four threads that block on them, never on
//! the async runtime (a flood in one shell stalls nothing else): one reads the output and
//! records it (see [`Recorder`]), one makes the records that fall due later and applies
//! resizes, one writes what users type, one waits for the shell to exit.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use choir_proto::terminal::TermSize;
use choir_proto::{EventBody, WindowId};
use nix::sys::signal::{killpg, Signal as Unix};
use nix::unistd::Pid;
use portable_pty::{native_pty_system, Child, ChildKiller, CommandBuilder, MasterPty, PtySize};
use tokio::sync::mpsc;

use super::inputs::Typed;
use super::recorder::{Limits, Recorder};
use super::SendAhead;

/// Signals queued for the recorder thread (a resize or the reader's wake is dropped when
/// it is full: the thread is awake anyway).
const QUEUED_SIGNALS: usize = 16;
const READ_BYTES: usize = 64 * 1024;
/// Records of output one frame may hold (see `Limits::frame`).
const FLUSHES_PER_FRAME: usize = 4;
/// After the shell exited, how long its last output may still come (a background job that
/// keeps the terminal open does not keep the window's shell "running").
const EXIT_GRACE: Duration = Duration::from_millis(200);

/// What the recorder thread is told.
enum Signal {
    /// Every end of the PTY's other side is closed.
    Closed,
    /// The shell exited: why, and its status.
    Exited(String, Option<i32>),
    /// Look at the resize asked for, or whether the session was dropped.
    Wake,
}

/// A handle to a running shell. Dropping it ends the shell.
pub struct Session {
    signals: std_mpsc::SyncSender<Signal>,
    /// The latest size asked for, taken by the recorder (a send could block on a full queue).
    resize: Arc<Mutex<Option<TermSize>>>,
    killer: Box<dyn ChildKiller + Send + Sync>,
    pid: Option<u32>,
    /// Set when the session is dropped: nothing more is recorded.
    closed: Arc<AtomicBool>,
    /// Set when the recorder has recorded the shell's end.
    ended: Arc<AtomicBool>,
}

/// How to start a shell.
pub struct Launch<'a> {
    pub program: &'a str,
    pub cwd: &'a Path,
    pub window_id: WindowId,
    pub size: TermSize,
    pub limits: Limits,
}

impl Session {
    /// Starts the shell, writing what comes in `typed` to it. Its events (output, resizes, its
    /// end) go to `events`, in order, and its output to the clients through `ahead` first.
    pub fn start(
        launch: Launch<'_>,
        typed: Typed,
        events: mpsc::UnboundedSender<Vec<EventBody>>,
        ahead: SendAhead,
    ) -> anyhow::Result<Session> {
        let pty = native_pty_system().openpty(pty_size(launch.size))?;
        let mut command = CommandBuilder::new(launch.program);
        command.cwd(launch.cwd);
        command.env("TERM", "xterm-256color");
        command.env("COLORTERM", "truecolor");
        command.env("CHOIR_WINDOW", launch.window_id.0.to_string());
        let child = pty.slave.spawn_command(command)?;
        // The parent keeps no end of the slave: the reader sees the end once the shell and
        // whatever it started have let go of it.
        drop(pty.slave);
        let mut killer = child.clone_killer();
        let pid = child.process_id();
        let started = Self::run(launch, pty.master, child, typed, events, ahead, pid);
        if started.is_err() {
            // Whatever did start stops with the shell.
            let _ = killer.kill();
        }
        let (signals, resize, closed, ended) = started?;
        Ok(Session {
            signals,
            resize,
            killer,
            pid,
            closed,
            ended,
        })
    }

    #[allow(clippy::type_complexity)]
    fn run(
        launch: Launch<'_>,
        master: Box<dyn MasterPty + Send>,
        child: Box<dyn Child + Send + Sync>,
        typed: Typed,
        events: mpsc::UnboundedSender<Vec<EventBody>>,
        ahead: SendAhead,
        pid: Option<u32>,
    ) -> anyhow::Result<(
        std_mpsc::SyncSender<Signal>,
        Arc<Mutex<Option<TermSize>>>,
        Arc<AtomicBool>,
        Arc<AtomicBool>,
    )> {
        let reader = master.try_clone_reader()?;
        let writer = master.take_writer()?;
        let (signals, signals_rx) = std_mpsc::sync_channel(QUEUED_SIGNALS);
        let resize = Arc::new(Mutex::new(None));
        let closed = Arc::new(AtomicBool::new(false));
        let closed_flag = closed.clone();
        let ended = typed.ended.clone();
        let window = launch.window_id;
        let recorder = Recorder::new(window, launch.size, launch.limits, Instant::now());
        let recording = Arc::new(Mutex::new(Recording {
            recorder,
            due: None,
            flushed: VecDeque::with_capacity(FLUSHES_PER_FRAME),
            finished: false,
            events: Events {
                sink: events,
                ahead,
                closed: closed.clone(),
                ended: ended.clone(),
            },
        }));
        spawn_named(format!("shell-{window}-record"), {
            let (resize, recording) = (resize.clone(), recording.clone());
            move || record(&recording, master, signals_rx, resize, closed_flag, pid)
        })?;
        spawn_named(format!("shell-{window}-read"), {
            let signals = signals.clone();
            move || read_output(reader, &recording, signals)
        })?;
        spawn_named(format!("shell-{window}-write"), move || {
            write_input(writer, typed.queue)
        })?;
        spawn_named(format!("shell-{window}-wait"), {
            let signals = signals.clone();
            move || wait_exit(child, signals)
        })?;
        Ok((signals, resize, closed, ended))
    }

    /// Resizes the terminal (in order with the output, by the recorder). Never blocks.
    pub fn resize(&self, size: TermSize) {
        if let Ok(mut wanted) = self.resize.lock() {
            *wanted = Some(size);
        }
        let _ = self.signals.try_send(Signal::Wake);
    }

    /// Whether the shell's end has been recorded.
    pub fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }
}

impl Drop for Session {
    /// Hangs up the shell's process group (its foreground programs get SIGHUP) and kills
    /// the shell. (A later SIGKILL of the group could hit a new group that reused its
    /// number, so there is none: a program that ignores SIGHUP outlives the window.)
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Release);
        // Wakes the recorder (when its queue is full it is awake anyway).
        let _ = self.signals.try_send(Signal::Wake);
        let group = self
            .pid
            .and_then(|pid| i32::try_from(pid).ok())
            .map(Pid::from_raw);
        if let Some(group) = group {
            let _ = killpg(group, Unix::SIGHUP);
        }
        let _ = self.killer.kill();
    }
}

fn pty_size(size: TermSize) -> PtySize {
    PtySize {
        rows: size.rows,
        cols: size.cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

fn spawn_named(name: String, body: impl FnOnce() + Send + 'static) -> anyhow::Result<()> {
    thread::Builder::new().name(name).spawn(body)?;
    Ok(())
}

/// The reader thread: records what the shell writes as it is read (after a quiet spell it
/// goes to the clients from here, with no hand-off to another thread), and wakes the
/// recorder thread when a record falls due later.
fn read_output(
    mut reader: Box<dyn Read + Send>,
    recording: &Mutex<Recording>,
    signals: std_mpsc::SyncSender<Signal>,
) {
    let mut buf = vec![0u8; READ_BYTES];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let Ok(mut recording) = recording.lock() else {
                    return;
                };
                if recording.finished {
                    return;
                }
                let later = recording.output(&buf[..n], Instant::now());
                drop(recording);
                if later {
                    // Full means the recorder thread is awake anyway.
                    let _ = signals.try_send(Signal::Wake);
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            // EIO: every slave end is closed.
            Err(_) => break,
        }
    }
    let _ = signals.send(Signal::Closed);
}

fn write_input(mut writer: Box<dyn Write + Send>, input: std_mpsc::Receiver<String>) {
    for typed in input {
        if writer
            .write_all(typed.as_bytes())
            .and_then(|()| writer.flush())
            .is_err()
        {
            return;
        }
    }
}

fn wait_exit(mut child: Box<dyn Child + Send + Sync>, signals: std_mpsc::SyncSender<Signal>) {
    let (reason, code) = match child.wait() {
        Ok(status) => match status.signal() {
            Some(signal) => (format!("the shell was ended by {signal}"), None),
            None => {
                let code = i32::try_from(status.exit_code()).unwrap_or(i32::MAX);
                (format!("the shell exited with status {code}"), Some(code))
            }
        },
        Err(err) => (format!("the shell ended ({err})"), None),
    };
    let _ = signals.send(Signal::Exited(reason, code));
}

/// Where a shell's events go, until its window is closed: its output to the clients at
/// once, ahead of the commit, and every event to the log.
struct Events {
    sink: mpsc::UnboundedSender<Vec<EventBody>>,
    ahead: SendAhead,
    closed: Arc<AtomicBool>,
    ended: Arc<AtomicBool>,
}

impl Events {
    fn send(&self, batch: Vec<EventBody>) {
        if !batch.is_empty() && !self.closed.load(Ordering::Acquire) {
            self.ahead.send(&batch);
            let _ = self.sink.send(batch);
        }
    }
}

/// A shell's recorder and when its next record is due, shared by the reader thread (output)
/// and the recorder thread (records that fall due later, resizes, the end); what they send
/// is sent under its lock, so in order.
struct Recording {
    recorder: Recorder,
    due: Option<Instant>,
    /// When the last records were made (at most FLUSHES_PER_FRAME a frame).
    flushed: VecDeque<Instant>,
    /// The shell's end is recorded: nothing more is.
    finished: bool,
    events: Events,
}

impl Recording {
    /// Takes output in: recorded at once after a quiet spell (up to FLUSHES_PER_FRAME records
    /// a frame, then at the frame's end). Whether a record is now due at another time than
    /// before (the recorder thread must look again).
    fn output(&mut self, bytes: &[u8], now: Instant) -> bool {
        let before = self.due;
        self.recorder.output(bytes);
        let frame = self.recorder.limits().frame;
        while self.flushed.front().is_some_and(|at| *at + frame <= now) {
            self.flushed.pop_front();
        }
        let next = match self.flushed.front() {
            Some(oldest) if self.flushed.len() >= FLUSHES_PER_FRAME => *oldest + frame,
            _ => now,
        };
        self.due.get_or_insert(next);
        self.flush_if_due(now);
        self.due.is_some() && self.due != before
    }

    /// Records the output taken in, if its record is due.
    fn flush_if_due(&mut self, now: Instant) {
        if self.due.is_some_and(|at| at <= now) {
            self.events.send(self.recorder.flush(now));
            if self.flushed.len() == FLUSHES_PER_FRAME {
                self.flushed.pop_front();
            }
            self.flushed.push_back(now);
            self.due = self
                .recorder
                .busy()
                .then(|| now + self.recorder.limits().frame);
        }
    }
}

/// The recorder thread: makes the records that fall due later, applies resizes in order with
/// the output, and records how the shell ended.
fn record(
    recording: &Mutex<Recording>,
    master: Box<dyn MasterPty + Send>,
    signals: std_mpsc::Receiver<Signal>,
    resize: Arc<Mutex<Option<TermSize>>>,
    closed: Arc<AtomicBool>,
    pid: Option<u32>,
) {
    let Ok(window_id) = recording.lock().map(|r| r.recorder.window_id()) else {
        return;
    };
    let mut exit: Option<(String, Option<i32>, Instant)> = None;
    let mut pty_closed = false;
    loop {
        if closed.load(Ordering::Acquire) {
            // The window closed: nothing more to record; dropping the master hangs up.
            if let Ok(mut recording) = recording.lock() {
                recording.finished = true;
            }
            return;
        }
        let due = recording.lock().ok().and_then(|recording| recording.due);
        // Asleep until a signal (a drop, a resize or the reader sends one), the next record
        // due, or the end of the grace after the shell's exit.
        let wake = [due, exit.as_ref().map(|(_, _, at)| *at + EXIT_GRACE)]
            .into_iter()
            .flatten()
            .min();
        let signal = match wake {
            Some(at) => match signals.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(signal) => Some(signal),
                Err(std_mpsc::RecvTimeoutError::Timeout) => None,
                Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
            },
            None => match signals.recv() {
                Ok(signal) => Some(signal),
                Err(_) => break,
            },
        };
        let now = Instant::now();
        match signal {
            Some(Signal::Closed) => pty_closed = true,
            Some(Signal::Exited(reason, code)) => exit = Some((reason, code, now)),
            Some(Signal::Wake) | None => {}
        }
        let Ok(mut state) = recording.lock() else {
            break;
        };
        let wanted = resize.lock().ok().and_then(|mut wanted| wanted.take());
        if let Some(size) = wanted {
            if let Err(err) = master.resize(pty_size(size)) {
                tracing::warn!(%err, %window_id, "cannot resize the shell's terminal");
            }
            let resized = state.recorder.resize(size, now);
            state.events.send(resized);
        }
        state.flush_if_due(now);
        drop(state);
        // The end: the shell exited and its output is in (or a background job holds the
        // terminal open past the grace).
        if let Some((_, _, at)) = &exit {
            if pty_closed || now >= *at + EXIT_GRACE {
                break;
            }
        }
    }
    let (reason, exit_code) = match exit {
        Some((reason, code, _)) => (reason, code),
        None => ("the shell's terminal closed".to_owned(), None),
    };
    if let Ok(mut state) = recording.lock() {
        let mut last = state.recorder.finish();
        last.push(EventBody::ShellEnded {
            window_id,
            reason,
            exit_code,
        });
        state.finished = true;
        state.events.ended.store(true, Ordering::Release);
        state.events.send(last);
    }
    // Whatever the shell left running on its terminal is hung up with it.
    if let Some(group) = pid.and_then(|pid| i32::try_from(pid).ok()) {
        let _ = killpg(Pid::from_raw(group), Unix::SIGHUP);
    }
    drop(master);
}

//! One running shell: its PTY and process, a thread that reads its output, one that records
//! it (see [`Recorder`]) and one that writes what users type. The threads block on the PTY,
//! never on the async runtime: a flood in one shell stalls nothing else.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use choir_proto::terminal::TermSize;
use choir_proto::{EventBody, WindowId};
use portable_pty::{native_pty_system, Child, ChildKiller, CommandBuilder, MasterPty, PtySize};
use tokio::sync::mpsc;

use super::recorder::{Limits, Recorder};

/// Reads from the PTY queued before the reader waits (back-pressure on the program).
const QUEUED_READS: usize = 16;
const READ_BYTES: usize = 64 * 1024;
/// Records of output one frame may hold (see `Limits::frame`).
const FLUSHES_PER_FRAME: usize = 4;

/// What the recorder thread is told.
enum Signal {
    Output(Vec<u8>),
    /// The PTY is closed: the shell and everything it started are gone.
    Closed,
    Resize(TermSize),
}

/// A handle to a running shell. Dropping it ends the shell.
pub struct Session {
    signals: std_mpsc::SyncSender<Signal>,
    input: std_mpsc::Sender<Vec<u8>>,
    killer: Box<dyn ChildKiller + Send + Sync>,
    pid: Option<u32>,
    /// Set when the session is dropped: nothing more is recorded.
    closed: Arc<AtomicBool>,
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
    /// Starts the shell. Its events (output, resizes, its end) go to `events`, in order.
    pub fn start(
        launch: Launch<'_>,
        events: mpsc::UnboundedSender<Vec<EventBody>>,
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
        let reader = pty.master.try_clone_reader()?;
        let writer = pty.master.take_writer()?;
        let killer = child.clone_killer();
        let pid = child.process_id();

        let (signals, signals_rx) = std_mpsc::sync_channel(QUEUED_READS);
        let (input, input_rx) = std_mpsc::channel::<Vec<u8>>();
        let window = launch.window_id;
        spawn_named(format!("shell-{window}-read"), {
            let signals = signals.clone();
            move || read_output(reader, signals)
        })?;
        spawn_named(format!("shell-{window}-write"), move || {
            write_input(writer, input_rx)
        })?;
        let recorder = Recorder::new(window, launch.size, launch.limits, Instant::now());
        let closed = Arc::new(AtomicBool::new(false));
        let events = Events {
            sink: events,
            closed: closed.clone(),
        };
        spawn_named(format!("shell-{window}-record"), move || {
            record(recorder, pty.master, child, signals_rx, events)
        })?;
        Ok(Session {
            signals,
            input,
            killer,
            pid,
            closed,
        })
    }

    /// Sends what a user typed to the program.
    pub fn input(&self, bytes: Vec<u8>) {
        let _ = self.input.send(bytes);
    }

    pub fn resize(&self, size: TermSize) {
        let _ = self.signals.send(Signal::Resize(size));
    }
}

impl Drop for Session {
    /// Hangs up the shell's terminal (its foreground programs get SIGHUP), then kills it.
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Relaxed);
        if let Some(pid) = self.pid.and_then(|pid| i32::try_from(pid).ok()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGHUP,
            );
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

fn read_output(mut reader: Box<dyn Read + Send>, signals: std_mpsc::SyncSender<Signal>) {
    let mut buf = vec![0u8; READ_BYTES];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if signals.send(Signal::Output(buf[..n].to_vec())).is_err() {
                    return;
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            // EIO: every slave end is closed.
            Err(_) => break,
        }
    }
    let _ = signals.send(Signal::Closed);
}

fn write_input(mut writer: Box<dyn Write + Send>, input: std_mpsc::Receiver<Vec<u8>>) {
    for bytes in input {
        if writer
            .write_all(&bytes)
            .and_then(|()| writer.flush())
            .is_err()
        {
            return;
        }
    }
}

/// The recorder thread: takes output in, records a frame's worth at a time, applies resizes
/// in order with the output, and says how the shell ended.
fn record(
    mut recorder: Recorder,
    master: Box<dyn MasterPty + Send>,
    mut child: Box<dyn Child + Send + Sync>,
    signals: std_mpsc::Receiver<Signal>,
    events: Events,
) {
    let frame = recorder.limits().frame;
    let mut due: Option<Instant> = None;
    // Output is recorded at once while fewer than FLUSHES_PER_FRAME records were made in
    // the last frame (an echo is never held back); more waits until the oldest of those is
    // a frame old, and goes with whatever else came.
    let mut flushed: VecDeque<Instant> = VecDeque::with_capacity(FLUSHES_PER_FRAME);
    let window_id = recorder.window_id();
    loop {
        let signal = match due {
            Some(at) => match signals.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(signal) => Some(signal),
                Err(std_mpsc::RecvTimeoutError::Timeout) => None,
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
            },
            None => match signals.recv() {
                Ok(signal) => Some(signal),
                Err(_) => return,
            },
        };
        let now = Instant::now();
        match signal {
            Some(Signal::Output(bytes)) => {
                recorder.output(&bytes);
                while flushed.front().is_some_and(|at| *at + frame <= now) {
                    flushed.pop_front();
                }
                let next = match flushed.front() {
                    Some(oldest) if flushed.len() >= FLUSHES_PER_FRAME => *oldest + frame,
                    _ => now,
                };
                due.get_or_insert(next);
            }
            Some(Signal::Resize(size)) => {
                if let Err(err) = master.resize(pty_size(size)) {
                    tracing::warn!(%err, %window_id, "cannot resize the shell's terminal");
                }
                events.send(recorder.resize(size, now));
            }
            Some(Signal::Closed) => break,
            None => {}
        }
        if due.is_some_and(|at| at <= now) {
            events.send(recorder.flush(now));
            if flushed.len() == FLUSHES_PER_FRAME {
                flushed.pop_front();
            }
            flushed.push_back(now);
            due = recorder.busy().then(|| now + frame);
        }
    }
    // The end: whatever is left (a last image if output was being skipped), then why.
    let mut now = Instant::now();
    let mut last = recorder.flush(now);
    while recorder.busy() {
        now += frame;
        last.extend(recorder.flush(now));
    }
    let (reason, exit_code) = match child.wait() {
        Ok(status) => match status.signal() {
            Some(signal) => (format!("the shell was ended by {signal}"), None),
            None => {
                let code = i32::try_from(status.exit_code()).unwrap_or(i32::MAX);
                (format!("the shell exited with status {code}"), Some(code))
            }
        },
        Err(err) => (format!("the shell ended ({err})"), None),
    };
    last.push(EventBody::ShellEnded {
        window_id,
        reason,
        exit_code,
    });
    events.send(last);
}

/// Where a shell's events go, until its window is closed.
struct Events {
    sink: mpsc::UnboundedSender<Vec<EventBody>>,
    closed: Arc<AtomicBool>,
}

impl Events {
    fn send(&self, batch: Vec<EventBody>) {
        if !batch.is_empty() && !self.closed.load(Ordering::Relaxed) {
            let _ = self.sink.send(batch);
        }
    }
}

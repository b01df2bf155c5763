//! A sandbox's log: everything its daemon prints goes to a file only the hypervisor can read,
//! and the last lines stay in memory to show the user when the sandbox cannot start.
//!
//! What a sandbox prints is untrusted: lines are cut at [`MAX_LINE`] bytes however long the
//! sender makes them, bytes that are not UTF-8 are replaced, control characters are escaped
//! (the lines reach administrators' terminals), and a sandbox printing faster than
//! [`LINES_PER_SECOND`] has the rest counted instead of kept.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};

/// Lines kept in memory.
const KEEP_LINES: usize = 40;
/// A longer line is cut.
const MAX_LINE: usize = 2000;
/// The file is rotated (to `.1`) beyond this size.
const MAX_FILE: u64 = 8 << 20;
/// Lines kept per second; the rest are counted and reported.
const LINES_PER_SECOND: u32 = 200;

/// One sandbox's log; cheap to clone.
#[derive(Clone)]
pub struct LogTail(Arc<Mutex<Inner>>);

struct Inner {
    path: PathBuf,
    file: Option<File>,
    written: u64,
    lines: VecDeque<String>,
    window: Instant,
    in_window: u32,
    dropped: u64,
}

impl LogTail {
    /// A log written to `path` (created 0600 by the hypervisor's umask).
    pub fn new(path: &Path) -> Self {
        Self(Arc::new(Mutex::new(Inner {
            path: path.to_owned(),
            file: None,
            written: 0,
            lines: VecDeque::new(),
            window: Instant::now(),
            in_window: 0,
            dropped: 0,
        })))
    }

    /// Records one line (in memory and in the file), defused and cut to size.
    pub fn push(&self, line: &str) {
        let line = defuse(line.trim_end());
        let Ok(mut inner) = self.0.lock() else {
            return;
        };
        if inner.window.elapsed() >= Duration::from_secs(1) {
            if inner.dropped > 0 {
                let note = format!(
                    "({} lines dropped: the sandbox printed too fast)",
                    inner.dropped
                );
                inner.keep(note);
                inner.dropped = 0;
            }
            inner.window = Instant::now();
            inner.in_window = 0;
        }
        if inner.in_window >= LINES_PER_SECOND {
            inner.dropped += 1;
            return;
        }
        inner.in_window += 1;
        inner.keep(line);
    }

    /// The last `n` lines, oldest first.
    pub fn last(&self, n: usize) -> Vec<String> {
        let Ok(inner) = self.0.lock() else {
            return Vec::new();
        };
        let skip = inner.lines.len().saturating_sub(n);
        inner.lines.iter().skip(skip).cloned().collect()
    }

    /// Copies `stream` into the log, line by line, until it ends; never holds more than one
    /// cut line of it.
    pub fn follow(&self, mut stream: impl AsyncRead + Unpin + Send + 'static) {
        let log = self.clone();
        tokio::spawn(async move {
            let mut chunk = vec![0u8; 8192];
            let mut line: Vec<u8> = Vec::with_capacity(256);
            while let Ok(n) = stream.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                for &byte in &chunk[..n] {
                    if byte == b'\n' {
                        log.push(&String::from_utf8_lossy(&line));
                        line.clear();
                    } else if line.len() < MAX_LINE + 4 {
                        line.push(byte);
                    }
                }
            }
            if !line.is_empty() {
                log.push(&String::from_utf8_lossy(&line));
            }
        });
    }
}

impl Inner {
    fn keep(&mut self, line: String) {
        self.append_to_file(&line);
        if self.lines.len() == KEEP_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    fn append_to_file(&mut self, line: &str) {
        if self.written > MAX_FILE {
            self.file = None;
            let _ = std::fs::rename(&self.path, self.path.with_extension("log.1"));
        }
        if self.file.is_none() {
            self.file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .ok();
            self.written = self
                .file
                .as_ref()
                .and_then(|file| file.metadata().ok())
                .map_or(0, |meta| meta.len());
        }
        if let Some(file) = self.file.as_mut() {
            if writeln!(file, "{line}").is_ok() {
                self.written += line.len() as u64 + 1;
            }
        }
    }
}

/// `line` cut to [`MAX_LINE`] bytes, its control characters (but tabs) escaped.
pub fn defuse(line: &str) -> String {
    let mut out = String::with_capacity(line.len().min(MAX_LINE));
    for c in line.chars() {
        if out.len() >= MAX_LINE {
            out.push('…');
            break;
        }
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_the_last_lines_and_writes_them_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alice.log");
        let log = LogTail::new(&path);
        for i in 0..100 {
            log.push(&format!("line {i}\n"));
        }
        assert_eq!(log.last(2), vec!["line 98", "line 99"]);
        assert_eq!(log.last(1000).len(), KEEP_LINES);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 100);
    }

    #[test]
    fn hostile_lines_are_cut_and_defused() {
        assert_eq!(defuse("plain\tline"), "plain\tline");
        assert_eq!(defuse("\x1b]52;c;aGk=\x07"), "\\u{1b}]52;c;aGk=\\u{7}");
        let long = defuse(&"é".repeat(MAX_LINE));
        assert!(long.ends_with('…') && long.len() <= MAX_LINE + 4);
    }

    #[tokio::test]
    async fn an_endless_line_or_a_flood_costs_bounded_memory() {
        let dir = tempfile::tempdir().unwrap();
        let log = LogTail::new(&dir.path().join("mallory.log"));
        let (mut writer, reader) = tokio::io::duplex(1 << 16);
        log.follow(reader);
        use tokio::io::AsyncWriteExt;
        // 64 MiB without a newline, then a flood of short lines, then an invalid byte.
        let block = vec![b'a'; 1 << 20];
        for _ in 0..64 {
            writer.write_all(&block).await.unwrap();
        }
        writer.write_all(b"\n").await.unwrap();
        for i in 0..5000 {
            writer
                .write_all(format!("flood {i}\n").as_bytes())
                .await
                .unwrap();
        }
        writer.write_all(b"bad \xff byte\n").await.unwrap();
        drop(writer);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = log.last(KEEP_LINES);
            if lines.first().is_some_and(|l| l.starts_with("flood")) && lines.len() == KEEP_LINES {
                break;
            }
            assert!(Instant::now() < deadline, "{lines:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let text = std::fs::read_to_string(dir.path().join("mallory.log")).unwrap();
        let first = text.lines().next().unwrap();
        assert!(first.len() <= MAX_LINE + 4, "the endless line was cut");
        assert!(
            text.lines().count() <= LINES_PER_SECOND as usize + 2,
            "the flood was capped"
        );
        // The next second reports what was dropped.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        log.push("later");
        assert!(
            log.last(2)[0].contains("lines dropped"),
            "{:?}",
            log.last(2)
        );
    }
}

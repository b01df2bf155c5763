//! A sandbox's log: everything its daemon prints goes to a file only the hypervisor can read,
//! and the last lines stay in memory to show the user when the sandbox cannot start.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Lines kept in memory.
const KEEP_LINES: usize = 40;
/// A longer line is cut (a runaway process must not fill the hypervisor's memory).
const MAX_LINE: usize = 2000;
/// The file is rotated (to `.1`) beyond this size.
const MAX_FILE: u64 = 8 << 20;

/// One sandbox's log; cheap to clone.
#[derive(Clone)]
pub struct LogTail(Arc<Mutex<Inner>>);

struct Inner {
    path: PathBuf,
    lines: VecDeque<String>,
}

impl LogTail {
    /// A log written to `path` (created 0600 by the hypervisor's umask).
    pub fn new(path: &Path) -> Self {
        Self(Arc::new(Mutex::new(Inner {
            path: path.to_owned(),
            lines: VecDeque::new(),
        })))
    }

    /// Records one line (in memory and in the file).
    pub fn push(&self, line: &str) {
        let mut line = line.trim_end().to_owned();
        if line.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        let Ok(mut inner) = self.0.lock() else {
            return;
        };
        inner.append_to_file(&line);
        if inner.lines.len() == KEEP_LINES {
            inner.lines.pop_front();
        }
        inner.lines.push_back(line);
    }

    /// The last `n` lines, oldest first.
    pub fn last(&self, n: usize) -> Vec<String> {
        let Ok(inner) = self.0.lock() else {
            return Vec::new();
        };
        let skip = inner.lines.len().saturating_sub(n);
        inner.lines.iter().skip(skip).cloned().collect()
    }

    /// Copies `stream` into the log, line by line, until it ends.
    pub fn follow(&self, stream: impl AsyncRead + Unpin + Send + 'static) {
        let log = self.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                log.push(&line);
            }
        });
    }
}

impl Inner {
    fn append_to_file(&mut self, line: &str) {
        if std::fs::metadata(&self.path).is_ok_and(|meta| meta.len() > MAX_FILE) {
            let _ = std::fs::rename(&self.path, self.path.with_extension("log.1"));
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path);
        if let Ok(mut file) = file {
            let _ = writeln!(file, "{line}");
        }
    }
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

        log.push(&"é".repeat(MAX_LINE));
        assert!(log.last(1)[0].ends_with('…'));

        let (mut writer, reader) = tokio::io::duplex(64);
        log.follow(reader);
        tokio::io::AsyncWriteExt::write_all(&mut writer, b"from a pipe\nand more\n")
            .await
            .unwrap();
        drop(writer);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while log.last(1) != vec!["and more"] {
            assert!(tokio::time::Instant::now() < deadline, "{:?}", log.last(3));
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

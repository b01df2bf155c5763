//! What a terminal session wrote, read back as the screen it draws.

use std::io::Write;
use std::num::NonZeroU16;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything a session writes to its terminal, shared with the test that reads it. Clones
/// share one buffer.
#[derive(Clone)]
pub struct Screen {
    bytes: Arc<Mutex<Vec<u8>>>,
    /// Columns and rows it is read back at.
    size: (u16, u16),
    /// How long a wait for what it shows may take.
    timeout: Duration,
}

impl Default for Screen {
    /// 80 × 24, waits of 10 s.
    fn default() -> Self {
        Self::new(80, 24)
    }
}

impl Screen {
    pub fn new(cols: u16, rows: u16) -> Self {
        Self {
            bytes: Arc::default(),
            size: (cols.max(1), rows.max(1)),
            timeout: Duration::from_secs(10),
        }
    }

    /// Waits take at most `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The screen as the bytes written so far draw it, row by row.
    pub fn text(&self) -> String {
        let (cols, rows) = self.size;
        let rows = NonZeroU16::new(rows).unwrap_or(NonZeroU16::MIN);
        let cols = NonZeroU16::new(cols).unwrap_or(NonZeroU16::MIN);
        let mut parser = vt100::Parser::new(rows, cols, 0);
        parser.process(&self.bytes.lock().unwrap_or_else(|e| e.into_inner()));
        parser.screen().contents()
    }

    /// The bytes written so far, as text (escape sequences and all).
    pub fn raw(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// Waits until the screen shows `needle`; panics with the screen after its timeout.
    pub async fn wait_for(&self, needle: &str) {
        self.wait_for_all(&[needle]).await;
    }

    /// Waits until the screen shows every one of `needles` at once; panics with the screen
    /// after its timeout.
    pub async fn wait_for_all(&self, needles: &[&str]) {
        crate::wait_until(
            self.timeout,
            &format!("the screen show {needles:?}"),
            || {
                let text = self.text();
                needles
                    .iter()
                    .all(|needle| text.contains(needle))
                    .then_some(())
                    .ok_or(text)
            },
        )
        .await;
    }
}

impl Write for Screen {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.bytes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_is_written_is_read_back_as_a_screen() {
        let screen = Screen::new(20, 3);
        let mut writer = screen.clone();
        write!(writer, "\x1b[2;3Hhello\x1b[3;1Hworld").unwrap();
        assert_eq!(screen.text(), "\n  hello\nworld");
        screen.wait_for_all(&["hello", "world"]).await;
        assert!(screen.raw().starts_with("\x1b[2;3Hhello"));
    }

    #[tokio::test]
    #[should_panic(expected = "never")]
    async fn a_wait_that_never_comes_true_says_what_it_saw() {
        Screen::new(20, 3)
            .with_timeout(Duration::from_millis(50))
            .wait_for("absent")
            .await;
    }
}

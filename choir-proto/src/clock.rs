//! The wall clock as the log counts it: milliseconds since the Unix epoch.

/// Now, in milliseconds since the Unix epoch (0 for a clock set before it). Not on wasm32,
/// which has no clock of its own: a page asks `Date.now()`.
#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    #[test]
    fn now_is_after_this_was_written_and_moves_on() {
        // 2026-01-01T00:00:00Z.
        let written = 1_767_225_600_000;
        let first = super::now_ms();
        assert!(first > written, "{first}");
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(super::now_ms() >= first + 5);
    }
}

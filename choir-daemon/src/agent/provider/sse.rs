//! Server-sent events from a byte stream: `event:` and `data:` lines, blank line ends an event.

use std::time::Duration;

use futures_util::StreamExt;

use super::ProviderError;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Reads events from a response, calling `on_event` for each; stops when it returns false,
/// the stream ends, or no byte arrives within `read_timeout`.
pub async fn read_events(
    response: reqwest::Response,
    read_timeout: Duration,
    mut on_event: impl FnMut(SseEvent) -> Result<bool, ProviderError>,
) -> Result<(), ProviderError> {
    let mut stream = response.bytes_stream();
    let mut buffer = Vec::new();
    let mut current = SseEvent::default();
    loop {
        let chunk = match tokio::time::timeout(read_timeout, stream.next()).await {
            Err(_) => return Err(ProviderError::Stalled(read_timeout.as_secs())),
            Ok(None) => return Ok(()),
            Ok(Some(Err(err))) => return Err(ProviderError::Broken(super::with_causes(&err))),
            Ok(Some(Ok(chunk))) => chunk,
        };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !current.data.is_empty() || current.event.is_some() {
                    let event = std::mem::take(&mut current);
                    if !on_event(event)? {
                        return Ok(());
                    }
                }
                continue;
            }
            if let Some(value) = line.strip_prefix("data:") {
                if !current.data.is_empty() {
                    current.data.push('\n');
                }
                current
                    .data
                    .push_str(value.strip_prefix(' ').unwrap_or(value));
            } else if let Some(value) = line.strip_prefix("event:") {
                current.event = Some(value.trim().to_owned());
            }
            // Comments (":") and other fields are ignored.
        }
    }
}

//! The desktop in an SSH channel: drawn by the user's sandbox (its daemon's `GET /term`),
//! carried here as bytes. The hypervisor holds no desktop and parses no keys: it passes what
//! the client types to the sandbox and what the sandbox draws to the client, one message at a
//! time (a client that stops reading stops the reading from the sandbox), and reconnects when
//! the sandbox is restarted under it.

use std::time::Duration;

use choir_client::connect::ConnectError;
use choir_client::transport;
pub use choir_proto::term_stream::clamp_size;
use choir_proto::term_stream::TermControl;
use choir_proto::term_stream::TermInput;
use choir_proto::Endpoint;
use futures_util::{SinkExt, StreamExt};
use russh::server::Handle;
use russh::ChannelId;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// How long opening the sandbox's terminal stream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts to reach the sandbox again after the stream was cut, before giving up.
const RECONNECTS: u32 = 8;
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A stream up this long was a good one: the count of failures starts again.
const STEADY: Duration = Duration::from_secs(5);

/// How one terminal stream ended.
enum Ended {
    /// The desktop ended, with this exit status.
    Exit(u32),
    /// The SSH client left.
    ClientGone,
    /// The stream was cut (the sandbox stopped or crashed): open another.
    Cut,
}

/// Carries the desktop until the user quits, the channel closes or the sandbox cannot be
/// reached; then closes the channel with the desktop's exit status.
pub async fn run(
    handle: Handle,
    channel: ChannelId,
    locate: impl Fn() -> Result<Endpoint, ConnectError> + Send + 'static,
    mut size: (u16, u16),
    term: String,
    mut input: mpsc::Receiver<TermInput>,
) {
    let mut failures = 0u32;
    let mut last_error = String::from("its streams were cut");
    let status = loop {
        let stream = match locate() {
            Ok(endpoint) => transport::terminal(&endpoint, size, &term, CONNECT_TIMEOUT).await,
            Err(err) => Err(err.to_string()),
        };
        let ended = match stream {
            Ok(stream) => {
                let opened = tokio::time::Instant::now();
                let ended = carry(stream, &handle, channel, &mut size, &mut input).await;
                // A stream that was up a while was a good one; one cut at once counts as a
                // failure, so a sandbox that cuts every stream is given up on.
                if opened.elapsed() >= STEADY {
                    failures = 0;
                } else {
                    failures += 1;
                }
                ended
            }
            Err(err) => {
                tracing::debug!(%err, "cannot open the sandbox's terminal stream");
                failures += 1;
                last_error = err;
                Ended::Cut
            }
        };
        match ended {
            Ended::Exit(status) => break status,
            Ended::ClientGone => return,
            Ended::Cut if failures > RECONNECTS => {
                let message = format!("\r\nchoir: cannot reach your sandbox: {last_error}\r\n");
                let _ = handle.data(channel, message.into_bytes()).await;
                break 1;
            }
            Ended::Cut => {}
        }
        // Say so on the bottom line, and wait, reading (and dropping) keys, keeping sizes.
        let notice = format!(
            "\x1b7\x1b[{};1H\x1b[0;7m\x1b[2K reconnecting to your sandbox…\x1b[0m\x1b8",
            size.1
        );
        if handle.data(channel, notice.into_bytes()).await.is_err() {
            return;
        }
        let backoff = Duration::from_millis(200u64.saturating_mul(1 << failures.min(5)));
        let wait = tokio::time::sleep(backoff.min(MAX_BACKOFF));
        tokio::pin!(wait);
        loop {
            tokio::select! {
                () = &mut wait => break,
                typed = input.recv() => match typed {
                    Some(TermInput::Resize(cols, rows)) => size = (cols, rows),
                    Some(TermInput::Bytes(_)) => {}
                    None => return,
                },
            }
        }
    };
    let _ = handle.exit_status_request(channel, status).await;
    let _ = handle.eof(channel).await;
    let _ = handle.close(channel).await;
}

/// Carries one terminal stream both ways until it ends.
async fn carry<S>(
    stream: tokio_tungstenite::WebSocketStream<S>,
    handle: &Handle,
    channel: ChannelId,
    size: &mut (u16, u16),
    input: &mut mpsc::Receiver<TermInput>,
) -> Ended
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = stream.split();
    let mut status = None;
    loop {
        tokio::select! {
            message = stream.next() => match message {
                // Waiting for the client's window here stops reading from the sandbox: a
                // client that does not read holds one message, and the sandbox's desktop ends
                // when its own queue is full.
                Some(Ok(Message::Binary(bytes))) => {
                    if handle.data(channel, bytes).await.is_err() {
                        return Ended::ClientGone;
                    }
                }
                Some(Ok(Message::Text(text))) => {
                    if let Ok(TermControl::Exit(exit)) = serde_json::from_str(&text) {
                        status = Some(exit);
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    return status.map_or(Ended::Cut, Ended::Exit);
                }
                Some(Ok(_)) => {}
            },
            typed = input.recv() => {
                let sent = match typed {
                    Some(TermInput::Bytes(bytes)) => sink.send(Message::Binary(bytes.into())).await,
                    Some(TermInput::Resize(cols, rows)) => {
                        *size = (cols, rows);
                        let resize = TermControl::Resize(cols.into(), rows.into());
                        let text = serde_json::to_string(&resize).unwrap_or_default();
                        sink.send(Message::text(text)).await
                    }
                    None => {
                        let _ = sink.close().await;
                        return Ended::ClientGone;
                    }
                };
                if sent.is_err() {
                    return status.map_or(Ended::Cut, Ended::Exit);
                }
            }
        }
    }
}

//! `ssh alice@host choir ...`: the non-interactive `choir` commands, run against that user's
//! sandbox with stdin, stdout, stderr and the exit status carried over the channel.

use russh::server::Handle;
use russh::ChannelId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::sandbox::Execution;

/// Chunks of a command's input waiting for it.
const STDIN_QUEUE: usize = 32;

/// Flags that would point `choir` at another sandbox.
const FORBIDDEN: &[&str] = &["--data-dir", "--url", "--token", "--connect"];

/// Why a command line is refused: the message for stderr and the exit status.
pub fn check(words: &[String]) -> Result<(), (String, u32)> {
    match words.first().map(String::as_str) {
        Some("choir") => {}
        Some(other) => {
            return Err((
                format!("only `choir` commands run here, not `{other}`\n"),
                127,
            ))
        }
        None => return Err(("no command given\n".into(), 127)),
    }
    if let Some(flag) = words.iter().find(|word| {
        FORBIDDEN
            .iter()
            .any(|f| word == f || word.starts_with(&format!("{f}=")))
    }) {
        return Err((
            format!("`{flag}` is not allowed over SSH: your own sandbox is used\n"),
            2,
        ));
    }
    Ok(())
}

/// Carries a running `choir` command's stdin, stdout, stderr and exit status over the
/// channel; returns the stdin feeder.
pub fn pump(handle: Handle, channel: ChannelId, run: Execution) -> mpsc::Sender<Vec<u8>> {
    // Bounded: a command that does not read its input makes the client wait, not the
    // hypervisor hold it.
    let (stdin_tx, mut stdin_rx) = mpsc::channel::<Vec<u8>>(STDIN_QUEUE);
    let Execution {
        mut stdin,
        stdout,
        stderr,
        status,
    } = run;
    tokio::spawn(async move {
        while let Some(bytes) = stdin_rx.recv().await {
            if stdin.write_all(&bytes).await.is_err() || stdin.flush().await.is_err() {
                break;
            }
        }
        // Channel EOF: the command sees the end of its input.
        let _ = stdin.shutdown().await;
    });
    let mut stdout = Some(stdout);
    let mut stderr = Some(stderr);
    tokio::spawn(async move {
        let out_handle = handle.clone();
        let out = async move {
            let mut buf = vec![0u8; 16 * 1024];
            while let Some(pipe) = stdout.as_mut() {
                match pipe.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if out_handle.data(channel, buf[..n].to_vec()).await.is_err() {
                            break;
                        }
                    }
                }
            }
        };
        let err_handle = handle.clone();
        let err = async move {
            let mut buf = vec![0u8; 16 * 1024];
            while let Some(pipe) = stderr.as_mut() {
                match pipe.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if err_handle
                            .extended_data(channel, 1, buf[..n].to_vec())
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                }
            }
        };
        tokio::join!(out, err);
        let status = status.await;
        let _ = handle
            .exit_status_request(channel, u32::try_from(status).unwrap_or(1))
            .await;
        let _ = handle.eof(channel).await;
        let _ = handle.close(channel).await;
    });
    stdin_tx
}

/// Refuses on the channel: the message on stderr, the status, close.
pub async fn refuse(handle: Handle, channel: ChannelId, message: String, status: u32) {
    let _ = handle.extended_data(channel, 1, message.into_bytes()).await;
    let _ = handle.exit_status_request(channel, status).await;
    let _ = handle.eof(channel).await;
    let _ = handle.close(channel).await;
}

//! A `choir` command running in a sandbox, whatever runs it (a confined process, a container
//! exec): its input, its two outputs, and its exit status.

use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};

use super::BoxFuture;

pub struct Execution {
    pub stdin: Pin<Box<dyn AsyncWrite + Send>>,
    pub stdout: Pin<Box<dyn AsyncRead + Send>>,
    pub stderr: Pin<Box<dyn AsyncRead + Send>>,
    /// Resolves to the exit status (1 when it cannot be known) once the command has ended.
    pub status: BoxFuture<'static, i32>,
}

impl Execution {
    /// A child process started with piped stdio.
    pub fn from_child(mut child: tokio::process::Child) -> Self {
        let stdin: Pin<Box<dyn AsyncWrite + Send>> = match child.stdin.take() {
            Some(pipe) => Box::pin(pipe),
            None => Box::pin(tokio::io::sink()),
        };
        let stdout: Pin<Box<dyn AsyncRead + Send>> = match child.stdout.take() {
            Some(pipe) => Box::pin(pipe),
            None => Box::pin(tokio::io::empty()),
        };
        let stderr: Pin<Box<dyn AsyncRead + Send>> = match child.stderr.take() {
            Some(pipe) => Box::pin(pipe),
            None => Box::pin(tokio::io::empty()),
        };
        Self {
            stdin,
            stdout,
            stderr,
            status: Box::pin(async move {
                child
                    .wait()
                    .await
                    .ok()
                    .and_then(|status| status.code())
                    .unwrap_or(1)
            }),
        }
    }
}

//! `bash`: a shell command in the workspace, with a timeout and an output cap; its whole
//! process group is killed on timeout, cancel, or when the call is dropped.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use super::{capped_text, Tool, ToolContext, ToolError, ToolOutcome, MAX_OUTPUT_BYTES};

const DEFAULT_TIMEOUT_SECS: u64 = 60;
const MAX_TIMEOUT_SECS: u64 = 3600;
/// How long output may keep arriving after the shell exited (from its background children).
const DRAIN_GRACE: Duration = Duration::from_millis(200);

pub struct Bash;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// the command line, run by bash -c
    cmd: String,
    /// seconds before the command is killed (default 60, at most 3600)
    timeout_secs: Option<u64>,
}

/// Kills a process group when dropped.
struct GroupGuard(Option<i32>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // ESRCH (already gone) is fine.
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

enum End {
    Exited(std::process::ExitStatus),
    TimedOut,
    Cancelled,
}

impl Tool for Bash {
    type Args = Args;
    const NAME: &'static str = "bash";
    const DESCRIPTION: &'static str = "Run a bash command in the workspace. stdout and stderr are returned together (capped at 64 KiB); the exit code is returned. Runs with a timeout (default 60 s); on timeout or cancel the whole process group is killed.";
    const SIDE_EFFECTS: bool = true;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let timeout = Duration::from_secs(
            args.timeout_secs
                .unwrap_or(DEFAULT_TIMEOUT_SECS)
                .clamp(1, MAX_TIMEOUT_SECS),
        );
        let mut child = tokio::process::Command::new("bash")
            .arg("-c")
            // stderr joins stdout, so the output reads in the order it was written.
            .arg(format!("exec 2>&1\n{}", args.cmd))
            .current_dir(ctx.workspace.root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| ToolError::Io(format!("cannot start bash: {err}")))?;
        let mut group = GroupGuard(child.id().and_then(|pid| i32::try_from(pid).ok()));
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| ToolError::Io("no stdout pipe".into()))?;

        let mut kept = Vec::new();
        let mut total = 0usize;
        let mut chunk = vec![0u8; 8192];
        let mut exited = None;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let end = loop {
            tokio::select! {
                read = stdout.read(&mut chunk) => match read {
                    Ok(0) | Err(_) => {
                        // Pipe closed: everyone holding it is gone.
                        let status = match exited.take() {
                            Some(status) => status,
                            None => child.wait().await.map_err(|err| ToolError::Io(err.to_string()))?,
                        };
                        break End::Exited(status);
                    }
                    Ok(n) => {
                        total += n;
                        let room = MAX_OUTPUT_BYTES.saturating_sub(kept.len());
                        kept.extend_from_slice(&chunk[..n.min(room)]);
                    }
                },
                status = child.wait(), if exited.is_none() => {
                    let status = status.map_err(|err| ToolError::Io(err.to_string()))?;
                    exited = Some(status);
                    // Background children may hold the pipe open: give them a moment.
                    deadline.as_mut().reset(tokio::time::Instant::now() + DRAIN_GRACE);
                }
                () = &mut deadline => match exited.take() {
                    Some(status) => break End::Exited(status),
                    None => break End::TimedOut,
                },
                () = ctx.cancel.cancelled() => break End::Cancelled,
            }
        };
        group.kill();
        let mut output = capped_text(&kept, total);
        Ok(match end {
            End::Exited(status) => ToolOutcome {
                ok: status.success(),
                exit_code: status.code(),
                output,
            },
            End::TimedOut => {
                output.push_str(&format!(
                    "\n[timed out after {} s; process group killed]",
                    timeout.as_secs()
                ));
                ToolOutcome::failed(output)
            }
            End::Cancelled => {
                output.push_str("\n[cancelled; process group killed]");
                ToolOutcome::failed(output)
            }
        })
    }
}

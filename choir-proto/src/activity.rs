//! What a daemon is doing, as `GET /api/activity` reports it: the hypervisor stops a sandbox
//! that has had no client and no work for its idle timeout.

use serde::{Deserialize, Serialize};

/// The body of `GET /api/activity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityReport {
    /// WebSocket sessions open now.
    pub clients: usize,
    /// Agent turns and tool calls running now.
    pub work: usize,
    /// Milliseconds since the last client left, work ended or request arrived; `None` while
    /// a client is connected or work runs.
    pub idle_ms: Option<u64>,
}

//! Runs tools and records every call as `tool.started` / `tool.finished`.

use std::sync::Arc;
use std::time::Instant;

use choir_proto::{CallId, EventBody, NewEvent, ThreadId};
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{ToolContext, ToolError, ToolOutcome, ToolRegistry, ToolSpec, Workspace};
use crate::activity::Activity;
use crate::actors::WorldHandle;
use crate::store::EventStore;

/// One call to make.
#[derive(Debug, Clone)]
pub struct ToolCall {
    pub tool: String,
    pub args: Value,
    /// The caller's id for the call (an LLM's tool-call id); one is made up if absent.
    pub call_id: Option<CallId>,
    /// The chat thread whose turn asked for it.
    pub thread_id: Option<ThreadId>,
    pub actor: String,
    pub correlation: Option<String>,
}

/// The result of a call, as `choir --exec` prints it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ToolResult {
    pub call_id: CallId,
    pub tool: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    pub output: String,
    pub duration_ms: u64,
}

/// Runs tools from the registry in the workspace; cheap to clone.
#[derive(Clone)]
pub struct ToolRunner {
    registry: Arc<ToolRegistry>,
    store: EventStore,
    workspace: Workspace,
    world: WorldHandle,
    activity: Activity,
}

impl ToolRunner {
    pub fn new(
        registry: ToolRegistry,
        store: EventStore,
        workspace: Workspace,
        world: WorldHandle,
    ) -> Self {
        Self {
            registry: Arc::new(registry),
            store,
            workspace,
            world,
            activity: Activity::default(),
        }
    }

    /// Counts every call as work in `activity` while it runs.
    pub fn with_activity(mut self, activity: Activity) -> Self {
        self.activity = activity;
        self
    }

    pub fn specs(&self) -> Vec<ToolSpec> {
        self.registry.specs()
    }

    pub fn workspace(&self) -> &Workspace {
        &self.workspace
    }

    pub fn world(&self) -> &WorldHandle {
        &self.world
    }

    /// The tool's spec if `args` fit its schema: the checks [`call`](Self::call) makes first.
    pub fn check(&self, tool: &str, args: &Value) -> Result<ToolSpec, ToolError> {
        let tool = self
            .registry
            .get(tool)
            .ok_or_else(|| ToolError::UnknownTool(tool.to_owned()))?;
        tool.check(args)?;
        Ok(tool.spec().clone())
    }

    /// What the call would change, for an approval prompt (a diff for edits).
    pub async fn preview(&self, tool: &str, args: &Value, actor: &str) -> Option<String> {
        let tool = self.registry.get(tool)?;
        let ctx = ToolContext {
            workspace: self.workspace.clone(),
            cancel: CancellationToken::new(),
            world: self.world.clone(),
            actor: actor.to_owned(),
        };
        tool.preview(&ctx, args).await
    }

    /// Checks the call, records `tool.started`, runs the tool, records `tool.finished`. A tool
    /// that runs and fails (non-zero exit, a path outside the workspace) is a result with
    /// `ok: false`; an unknown tool or arguments that do not fit its schema are an error and
    /// record nothing.
    pub async fn call(
        &self,
        call: ToolCall,
        cancel: CancellationToken,
    ) -> Result<ToolResult, ToolError> {
        let tool = self
            .registry
            .get(&call.tool)
            .ok_or_else(|| ToolError::UnknownTool(call.tool.clone()))?;
        tool.check(&call.args)?;
        let _busy = self.activity.work();
        let call_id = call
            .call_id
            .unwrap_or_else(|| CallId(format!("call-{}", crate::correlation())));
        let record = |body| {
            let mut event = NewEvent::new(call.actor.clone(), body);
            event.correlation = call.correlation.clone();
            event
        };
        let started = EventBody::ToolStarted {
            call_id: call_id.clone(),
            tool: call.tool.clone(),
            args: call.args.clone(),
            thread_id: call.thread_id,
        };
        self.store
            .append(vec![record(started)])
            .await
            .map_err(|err| ToolError::Io(err.to_string()))?;

        let ctx = ToolContext {
            workspace: self.workspace.clone(),
            cancel,
            world: self.world.clone(),
            actor: call.actor.clone(),
        };
        let clock = Instant::now();
        let outcome = match tool.run(&ctx, call.args.clone()).await {
            Ok(outcome) => outcome,
            Err(err) => ToolOutcome::failed(err.to_string()),
        };
        let duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        let finished = EventBody::ToolFinished {
            call_id: call_id.clone(),
            ok: outcome.ok,
            exit_code: outcome.exit_code,
            output: outcome.output.clone(),
            duration_ms,
        };
        self.store
            .append(vec![record(finished)])
            .await
            .map_err(|err| ToolError::Io(err.to_string()))?;
        Ok(ToolResult {
            call_id,
            tool: call.tool,
            ok: outcome.ok,
            exit_code: outcome.exit_code,
            output: outcome.output,
            duration_ms,
        })
    }
}

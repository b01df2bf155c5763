//! `choir mcp`: the sandbox's tools as an MCP server over stdio, so another agent (a coding
//! CLI, an editor) can use them. Each call goes through the daemon like `choir --exec`: it is
//! recorded in the log (actor `mcp`) and shows live in every client. Over SSH it is
//! `ssh alice@host choir mcp`.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;

use choir_client::connect::{ConnectError, DaemonHttp};

/// Why the MCP server stopped.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("the MCP session could not start: {0}")]
    Start(String),
    #[error("the MCP session ended with an error: {0}")]
    Session(String),
}

/// The MCP server: the daemon's tool registry, called through its HTTP API.
struct ChoirTools {
    daemon: Arc<DaemonHttp>,
}

const INSTRUCTIONS: &str = "ChoirOS sandbox tools. They run in the user's ChoirOS workspace; every call is recorded in the sandbox's event log and shows live on the user's desktop.";

fn internal(err: impl std::fmt::Display) -> ErrorData {
    ErrorData::internal_error(format!("the ChoirOS daemon: {err}"), None)
}

impl ServerHandler for ChoirTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("choir", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let listing = self.daemon.get("/api/tools").await.map_err(internal)?;
        let tools = listing["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|tool| {
                let name = tool["name"].as_str()?.to_owned();
                let description = tool["description"].as_str().unwrap_or_default().to_owned();
                let schema = match &tool["schema"] {
                    Value::Object(schema) => schema.clone(),
                    _ => JsonObject::new(),
                };
                Some(Tool::new(name, description, Arc::new(schema)))
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = Value::Object(request.arguments.unwrap_or_default());
        let path = format!("/api/tools/{}?actor=mcp", path_segment(&request.name));
        let (status, body) = self.daemon.post(&path, &args).await.map_err(internal)?;
        let message = || {
            body["message"]
                .as_str()
                .unwrap_or("the daemon refused the call")
                .to_owned()
        };
        match status {
            200..=299 => {}
            404 => return Err(ErrorData::invalid_params(message(), None)),
            400..=499 => return Err(ErrorData::invalid_params(message(), None)),
            _ => return Err(ErrorData::internal_error(message(), None)),
        }
        let output = body["output"].as_str().unwrap_or_default();
        let text = match body["exit_code"].as_i64() {
            Some(code) => format!("exit code {code}\n{output}"),
            None => output.to_owned(),
        };
        let content = vec![ContentBlock::text(text)];
        let result = if body["ok"].as_bool().unwrap_or(false) {
            CallToolResult::success(content)
        } else {
            CallToolResult::error(content)
        };
        Ok(result.into())
    }
}

/// `name` as one URL path segment: anything but letters, digits, `-` and `_` percent-encoded,
/// so a name cannot reach another route or change the query.
fn path_segment(name: &str) -> String {
    name.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Serves MCP on stdin/stdout until the client closes its end.
pub async fn serve(daemon: DaemonHttp) -> Result<(), McpError> {
    // Fail now, with the reason, rather than at the client's first request.
    daemon.get("/api/tools").await?;
    let server = ChoirTools {
        daemon: Arc::new(daemon),
    };
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|err| McpError::Start(err.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|err| McpError::Session(err.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_tool_name_stays_one_path_segment() {
        assert_eq!(super::path_segment("edit_file"), "edit_file");
        assert_eq!(
            super::path_segment("../state?actor=exec#"),
            "%2E%2E%2Fstate%3Factor%3Dexec%23"
        );
    }
}

//! OpenAI-compatible chat completions with streaming and tool calls. The base URL is
//! configurable, so the same code serves OpenAI, Ollama, vLLM, llama.cpp's server, OpenRouter.

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::sse::read_events;
use super::{
    client, parse_arguments, send_with_retries, ChatRequest, HttpSettings, Message, Provider,
    ProviderError, StreamEvent, ToolCallRequest,
};

pub struct OpenAi {
    base_url: String,
    api_key: Option<String>,
    model: String,
    settings: HttpSettings,
    http: reqwest::Client,
}

impl OpenAi {
    pub fn new(
        base_url: &str,
        api_key: Option<String>,
        model: &str,
        settings: HttpSettings,
    ) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            model: model.to_owned(),
            http: client(&settings),
            settings,
        }
    }

    fn body(&self, request: &ChatRequest) -> Value {
        let mut messages = vec![json!({"role": "system", "content": request.system})];
        for message in &request.messages {
            messages.push(match message {
                Message::User(text) => json!({"role": "user", "content": text}),
                Message::Assistant { text, tool_calls } => {
                    let mut value = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
                    if !tool_calls.is_empty() {
                        value["tool_calls"] = tool_calls
                            .iter()
                            .map(|call| json!({"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments.to_string()}}))
                            .collect();
                    }
                    value
                }
                Message::ToolResult { call_id, output } => json!({"role": "tool", "tool_call_id": call_id, "content": output}),
            });
        }
        let mut body = json!({
            "model": self.model,
            "stream": true,
            "stream_options": {"include_usage": true},
            "messages": messages,
        });
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|tool| json!({"type": "function", "function": {"name": tool.name, "description": tool.description, "parameters": tool.schema}}))
                .collect();
        }
        body
    }
}

/// A tool call being assembled from deltas.
#[derive(Default)]
struct Partial {
    id: String,
    name: String,
    arguments: String,
}

impl Provider for OpenAi {
    fn describe(&self) -> String {
        format!("openai-compatible {} at {}", self.model, self.base_url)
    }

    fn stream<'a>(
        &'a self,
        request: &'a ChatRequest,
        events: mpsc::UnboundedSender<StreamEvent>,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let url = format!("{}/chat/completions", self.base_url);
            let body = self.body(request);
            let response = send_with_retries(&self.settings, &url, || {
                let builder = self.http.post(&url).json(&body);
                match &self.api_key {
                    Some(key) => builder.bearer_auth(key),
                    None => builder,
                }
            })
            .await?;
            let mut calls: BTreeMap<u64, Partial> = BTreeMap::new();
            read_events(response, self.settings.read_timeout, |event| {
                if event.data.trim() == "[DONE]" {
                    return Ok(false);
                }
                let chunk: Value = serde_json::from_str(&event.data)
                    .map_err(|err| ProviderError::Malformed(format!("{err}: {}", event.data)))?;
                if let Some(message) = chunk["error"]["message"].as_str() {
                    return Err(ProviderError::Status {
                        status: 200,
                        message: message.to_owned(),
                    });
                }
                let Some(delta) = chunk["choices"].get(0).map(|choice| &choice["delta"]) else {
                    // Usage-only chunks have no choices.
                    return Ok(true);
                };
                if let Some(text) = delta["content"].as_str() {
                    if !text.is_empty() {
                        let _ = events.send(StreamEvent::Text(text.to_owned()));
                    }
                }
                for call in delta["tool_calls"].as_array().into_iter().flatten() {
                    let index = call["index"].as_u64().unwrap_or(0);
                    let partial = calls.entry(index).or_default();
                    if let Some(id) = call["id"].as_str() {
                        partial.id = id.to_owned();
                    }
                    if let Some(name) = call["function"]["name"].as_str() {
                        partial.name.push_str(name);
                    }
                    if let Some(arguments) = call["function"]["arguments"].as_str() {
                        partial.arguments.push_str(arguments);
                    }
                }
                Ok(true)
            })
            .await?;
            for partial in calls.into_values() {
                let arguments = parse_arguments(partial.arguments);
                let call = ToolCallRequest {
                    id: partial.id,
                    name: partial.name,
                    arguments,
                };
                let _ = events.send(StreamEvent::ToolCall(call));
            }
            Ok(())
        })
    }
}

//! Anthropic Messages with streaming and tool use.

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::sse::read_events;
use super::{
    client, parse_arguments, send_with_retries, ChatRequest, Finish, HttpSettings, Message,
    Provider, ProviderError, StreamEvent, ToolCallRequest,
};

const API_VERSION: &str = "2023-06-01";

pub struct Anthropic {
    base_url: String,
    api_key: String,
    model: String,
    settings: HttpSettings,
    http: reqwest::Client,
}

impl Anthropic {
    pub fn new(base_url: &str, api_key: String, model: &str, settings: HttpSettings) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            model: model.to_owned(),
            http: client(&settings),
            settings,
        }
    }

    pub(crate) fn body(&self, request: &ChatRequest) -> Value {
        let mut messages: Vec<Value> = Vec::new();
        for message in &request.messages {
            let (role, block) = match message {
                Message::User(text) => ("user", text_block(text).into_iter().collect()),
                Message::Assistant { text, tool_calls } => {
                    let mut blocks: Vec<Value> = text_block(text).into_iter().collect();
                    for call in tool_calls {
                        // `input` must be an object: arguments that were not one go as text.
                        let input = match &call.arguments {
                            Value::Object(_) => call.arguments.clone(),
                            other => json!({"arguments_text": other}),
                        };
                        blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
                    }
                    ("assistant", blocks)
                }
                Message::ToolResult { call_id, output } => {
                    let output = if output.trim().is_empty() {
                        "(no output)"
                    } else {
                        output
                    };
                    (
                        "user",
                        vec![
                            json!({"type": "tool_result", "tool_use_id": call_id, "content": output}),
                        ],
                    )
                }
            };
            if block.is_empty() {
                continue;
            }
            // Consecutive messages of one role (tool results) go into one message.
            match messages.last_mut() {
                Some(last) if last["role"] == role => {
                    if let Some(content) = last["content"].as_array_mut() {
                        content.extend(block);
                    }
                }
                _ => messages.push(json!({"role": role, "content": block})),
            }
        }
        let mut body = json!({
            "model": self.model,
            "max_tokens": request.max_tokens,
            "stream": true,
            "system": request.system,
            "messages": messages,
        });
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|tool| json!({"name": tool.name, "description": tool.description, "input_schema": tool.schema}))
                .collect();
        }
        body
    }
}

#[derive(Default)]
struct ToolUse {
    id: String,
    name: String,
    input: String,
}

impl Provider for Anthropic {
    fn describe(&self) -> String {
        format!("anthropic {} at {}", self.model, self.base_url)
    }

    fn stream<'a>(
        &'a self,
        request: &'a ChatRequest,
        events: mpsc::UnboundedSender<StreamEvent>,
    ) -> BoxFuture<'a, Result<Finish, ProviderError>> {
        Box::pin(async move {
            let url = format!("{}/v1/messages", self.base_url);
            let body = self.body(request);
            let response = send_with_retries(&self.settings, &url, || {
                self.http
                    .post(&url)
                    .header("x-api-key", &self.api_key)
                    .header("anthropic-version", API_VERSION)
                    .json(&body)
            })
            .await?;
            let mut tools: BTreeMap<u64, ToolUse> = BTreeMap::new();
            let mut stopped = false;
            let mut finish = Finish::Done;
            read_events(response, self.settings.read_timeout, |event| {
                let data: Value = serde_json::from_str(&event.data)
                    .map_err(|err| ProviderError::Malformed(format!("{err}: {}", event.data)))?;
                let kind = event
                    .event
                    .as_deref()
                    .or(data["type"].as_str())
                    .unwrap_or("");
                let index = data["index"].as_u64().unwrap_or(0);
                match kind {
                    "content_block_start" if data["content_block"]["type"] == "tool_use" => {
                        let block = &data["content_block"];
                        tools.insert(
                            index,
                            ToolUse {
                                id: block["id"].as_str().unwrap_or_default().to_owned(),
                                name: block["name"].as_str().unwrap_or_default().to_owned(),
                                input: String::new(),
                            },
                        );
                    }
                    "content_block_delta" => match data["delta"]["type"].as_str() {
                        Some("text_delta") => {
                            let text = data["delta"]["text"].as_str().unwrap_or_default();
                            if !text.is_empty() {
                                let _ = events.send(StreamEvent::Text(text.to_owned()));
                            }
                        }
                        Some("input_json_delta") => {
                            if let Some(tool) = tools.get_mut(&index) {
                                tool.input.push_str(
                                    data["delta"]["partial_json"].as_str().unwrap_or_default(),
                                );
                            }
                        }
                        _ => {}
                    },
                    "error" => {
                        let message = data["error"]["message"]
                            .as_str()
                            .unwrap_or("stream error")
                            .to_owned();
                        return Err(ProviderError::Status {
                            status: 200,
                            message,
                        });
                    }
                    "message_delta" if data["delta"]["stop_reason"] == "max_tokens" => {
                        finish = Finish::Length;
                    }
                    "message_stop" => {
                        stopped = true;
                        return Ok(false);
                    }
                    _ => {}
                }
                Ok(true)
            })
            .await?;
            if !stopped {
                return Err(ProviderError::Malformed(
                    "the stream ended before message_stop".into(),
                ));
            }
            for tool in tools.into_values() {
                let arguments = parse_arguments(tool.input);
                let _ = events.send(StreamEvent::ToolCall(ToolCallRequest {
                    id: tool.id,
                    name: tool.name,
                    arguments,
                }));
            }
            Ok(finish)
        })
    }
}

/// A text block, or none for text that is empty or only whitespace (which the API refuses).
fn text_block(text: &str) -> Option<Value> {
    (!text.trim().is_empty()).then(|| json!({"type": "text", "text": text}))
}

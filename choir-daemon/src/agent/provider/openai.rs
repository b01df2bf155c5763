//! OpenAI-compatible chat completions with streaming and tool calls. The base URL is
//! configurable, so the same code serves OpenAI, Ollama, vLLM, llama.cpp's server, OpenRouter.

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::sse::read_events;
use super::{
    client, parse_arguments, send_with_retries, ChatRequest, Finish, HttpSettings, Message,
    Provider, ProviderError, StreamEvent, ToolCallRequest,
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

    pub(crate) fn body(&self, request: &ChatRequest) -> Value {
        let mut messages = vec![json!({"role": "system", "content": request.system})];
        for message in &request.messages {
            messages.push(match message {
                Message::User(text) => json!({"role": "user", "content": text}),
                Message::Assistant { text, tool_calls } => {
                    let content = if text.trim().is_empty() {
                        Value::Null
                    } else {
                        json!(text)
                    };
                    let mut value = json!({"role": "assistant", "content": content});
                    if !tool_calls.is_empty() {
                        value["tool_calls"] = tool_calls
                            .iter()
                            .map(|call| {
                                // Arguments that were not JSON go back as the model wrote them.
                                let arguments = match &call.arguments {
                                    Value::String(raw) => raw.clone(),
                                    other => other.to_string(),
                                };
                                json!({"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}})
                            })
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
        // OpenAI's own API refuses `max_tokens` for its reasoning models and takes
        // `max_completion_tokens` for all; other servers (llama.cpp, vLLM, Ollama) know
        // `max_tokens`.
        let limit = if self.base_url.contains("api.openai.com") {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body[limit] = json!(request.max_tokens);
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
    ) -> BoxFuture<'a, Result<Finish, ProviderError>> {
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
            let mut calls = Calls::default();
            let mut finish = Finish::Done;
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
                let Some(choice) = chunk["choices"].get(0) else {
                    // Usage-only chunks have no choices.
                    return Ok(true);
                };
                if choice["finish_reason"] == "length" {
                    finish = Finish::Length;
                }
                let delta = &choice["delta"];
                if let Some(text) = delta["content"].as_str() {
                    if !text.is_empty() {
                        let _ = events.send(StreamEvent::Text(text.to_owned()));
                    }
                }
                for call in delta["tool_calls"].as_array().into_iter().flatten() {
                    calls.add(call);
                }
                Ok(true)
            })
            .await?;
            for partial in calls.done() {
                let arguments = parse_arguments(partial.arguments);
                let call = ToolCallRequest {
                    id: partial.id,
                    name: partial.name,
                    arguments,
                };
                let _ = events.send(StreamEvent::ToolCall(call));
            }
            Ok(finish)
        })
    }
}

/// Tool calls being assembled from deltas. A delta names its call by `index`; servers that
/// leave `index` out start a new call with each new `id` and continue the last one otherwise.
#[derive(Default)]
struct Calls {
    by_index: BTreeMap<u64, usize>,
    partials: Vec<Partial>,
}

impl Calls {
    fn add(&mut self, delta: &Value) {
        let id = delta["id"].as_str().filter(|id| !id.is_empty());
        let position = match delta["index"].as_u64() {
            Some(index) => match self.by_index.get(&index) {
                Some(position) => *position,
                None => {
                    self.partials.push(Partial::default());
                    self.by_index.insert(index, self.partials.len() - 1);
                    self.partials.len() - 1
                }
            },
            None => {
                let continues = match (self.partials.last(), id) {
                    (Some(last), Some(id)) => last.id.is_empty() || last.id == id,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if !continues {
                    self.partials.push(Partial::default());
                }
                self.partials.len() - 1
            }
        };
        let Some(partial) = self.partials.get_mut(position) else {
            return;
        };
        if let Some(id) = id {
            partial.id = id.to_owned();
        }
        if let Some(name) = delta["function"]["name"].as_str() {
            partial.name.push_str(name);
        }
        if let Some(arguments) = delta["function"]["arguments"].as_str() {
            partial.arguments.push_str(arguments);
        }
    }

    fn done(self) -> impl Iterator<Item = Partial> {
        self.partials
            .into_iter()
            .filter(|partial| !partial.name.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_limit_goes_by_the_name_each_server_knows() {
        let request = ChatRequest {
            system: "s".into(),
            messages: vec![Message::User("hi".into())],
            tools: Vec::new(),
            max_tokens: 321,
        };
        let openai = OpenAi::new(
            "https://api.openai.com/v1",
            None,
            "o3",
            HttpSettings::default(),
        );
        let body = openai.body(&request);
        assert_eq!(
            (
                body["max_completion_tokens"].as_u64(),
                body.get("max_tokens")
            ),
            (Some(321), None)
        );
        let local = OpenAi::new(
            "http://127.0.0.1:8080/v1",
            None,
            "smollm2",
            HttpSettings::default(),
        );
        let body = local.body(&request);
        assert_eq!(
            (
                body["max_tokens"].as_u64(),
                body.get("max_completion_tokens")
            ),
            (Some(321), None)
        );
    }
}

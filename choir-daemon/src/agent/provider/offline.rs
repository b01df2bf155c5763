//! The provider used when no model is configured: it answers honestly, without pretending.

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::{ChatRequest, Finish, Provider, ProviderError, StreamEvent};

pub const NO_MODEL: &str = "No model is configured, so I cannot answer that. Set CHOIR_MODEL with OPENAI_API_KEY (or OPENAI_BASE_URL for Ollama, vLLM, llama.cpp) or ANTHROPIC_API_KEY, then restart the daemon. Slash commands work without a model: /help lists them.";

pub struct Offline;

impl Provider for Offline {
    fn describe(&self) -> String {
        "offline (no model configured)".into()
    }

    fn stream<'a>(
        &'a self,
        _request: &'a ChatRequest,
        events: mpsc::UnboundedSender<StreamEvent>,
    ) -> BoxFuture<'a, Result<Finish, ProviderError>> {
        Box::pin(async move {
            let _ = events.send(StreamEvent::Text(NO_MODEL.into()));
            Ok(Finish::Done)
        })
    }
}

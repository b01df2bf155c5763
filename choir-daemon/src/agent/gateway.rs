//! The hypervisor's model gateway as the agent sees it: besides forwarding the model's
//! requests (the providers reach it over its socket, see `config.rs`), it says how much of
//! the day's allowance the user has used, which every client shows.

use std::time::Duration;

use choir_proto::ModelUsage;
use serde_json::Value;

/// Asks the gateway for the user's figures; `None` when there is no gateway or it does not
/// answer.
#[derive(Clone)]
pub struct UsageSource {
    client: reqwest::Client,
    token: String,
}

impl UsageSource {
    /// The gateway at `socket`, reached with `token`.
    pub fn new(socket: &std::path::Path, token: &str) -> Self {
        let client = reqwest::Client::builder()
            .unix_socket(socket)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            client,
            token: token.to_owned(),
        }
    }

    pub async fn fetch(&self) -> Option<ModelUsage> {
        let answer = self
            .client
            .get("http://gateway/usage")
            .bearer_auth(&self.token)
            .send()
            .await
            .ok()?;
        if !answer.status().is_success() {
            return None;
        }
        let report: Value = answer.json().await.ok()?;
        Some(ModelUsage {
            requests_today: report["requests_today"].as_u64()?,
            tokens_today: report["tokens_today"].as_u64()?,
            tokens_per_day: report["limits"]["tokens_per_day"].as_u64()?,
        })
    }
}

/// Tells every client the user's figures: after each turn, and (through `latest`) each client
/// as it connects.
#[derive(Clone)]
pub struct UsageNews {
    source: UsageSource,
    latest: tokio::sync::watch::Sender<Option<ModelUsage>>,
    ephemerals: tokio::sync::broadcast::Sender<choir_proto::EphemeralBody>,
}

impl UsageNews {
    pub fn new(
        source: UsageSource,
        latest: tokio::sync::watch::Sender<Option<ModelUsage>>,
        ephemerals: tokio::sync::broadcast::Sender<choir_proto::EphemeralBody>,
    ) -> Self {
        Self {
            source,
            latest,
            ephemerals,
        }
    }

    /// Asks the gateway again and tells whoever is connected.
    pub async fn refresh(&self) {
        if let Some(usage) = self.source.fetch().await {
            self.latest.send_replace(Some(usage));
            let _ = self
                .ephemerals
                .send(choir_proto::EphemeralBody::ModelUsage(usage));
        }
    }
}

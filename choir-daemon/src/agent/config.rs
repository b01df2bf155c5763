//! Which model the agent uses and when tools need approval: from `<data-dir>/config.json`,
//! overridden by the environment (`CHOIR_PROVIDER`, `CHOIR_MODEL`, `OPENAI_API_KEY`,
//! `OPENAI_BASE_URL`, `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`, `CHOIR_APPROVAL`,
//! `CHOIR_CONTEXT_TOKENS`, `CHOIR_MAX_TOKENS`).
//!
//! Under a hypervisor with a model gateway (`CHOIR_GATEWAY`, the socket, and
//! `CHOIR_GATEWAY_TOKEN`), the agent reaches the operator's provider through the gateway,
//! and the environment's provider and model are only the operator's defaults: `config.json`
//! overrides them, and a key or base URL of its own there means the user's own provider,
//! reached directly.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use thiserror::Error;

use super::budget::Budget;
use super::provider::{Anthropic, HttpSettings, Offline, OpenAi, Provider};

pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
pub const DEFAULT_ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
/// Where the gateway's APIs are, over its socket (the host name is not looked up).
const GATEWAY_OPENAI_URL: &str = "http://gateway/openai/v1";
const GATEWAY_ANTHROPIC_URL: &str = "http://gateway/anthropic";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

/// When a side-effecting tool may run without asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalPolicy {
    /// Every side-effecting tool waits for approve/deny.
    Ask,
    /// These tools run at once; other side-effecting tools ask.
    AutoFor(Vec<String>),
    /// Nothing asks.
    AutoAll,
}

impl ApprovalPolicy {
    pub fn needs_approval(&self, tool: &str, side_effects: bool) -> bool {
        side_effects
            && match self {
                ApprovalPolicy::Ask => true,
                ApprovalPolicy::AutoFor(tools) => !tools.iter().any(|t| t == tool),
                ApprovalPolicy::AutoAll => false,
            }
    }

    /// `ask`, `auto`, or a comma-separated list of tools that run without asking.
    fn parse(text: &str) -> Self {
        match text.trim() {
            "" | "ask" => ApprovalPolicy::Ask,
            "auto" | "all" => ApprovalPolicy::AutoAll,
            list => ApprovalPolicy::AutoFor(
                list.split(',')
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect(),
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    Offline,
    OpenAi,
    Anthropic,
}

/// The agent's configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub provider: ProviderKind,
    pub model: Option<String>,
    pub openai_base_url: String,
    pub openai_api_key: Option<String>,
    pub anthropic_base_url: String,
    pub anthropic_api_key: Option<String>,
    pub approval: ApprovalPolicy,
    pub http: HttpSettings,
    /// Most model calls in one turn.
    pub max_steps: usize,
    /// The model's context window in tokens [default: by model name, else 8,192].
    pub context_tokens: Option<u32>,
    /// Most tokens an answer may take [default: a quarter of the context, at most 4,096].
    pub max_tokens: Option<u32>,
    /// How deep sub-agents may go (0: no `delegate` tool).
    pub max_depth: u32,
    /// Most model calls in one sub-agent turn.
    pub subagent_steps: usize,
    /// Most sub-agents working at once.
    pub max_subagents: usize,
    /// Longest a sub-agent may work on a task.
    pub subagent_timeout: Duration,
    /// The model is reached through the hypervisor's gateway.
    pub gateway: bool,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            provider: ProviderKind::Offline,
            model: None,
            openai_base_url: DEFAULT_OPENAI_BASE_URL.into(),
            openai_api_key: None,
            anthropic_base_url: DEFAULT_ANTHROPIC_BASE_URL.into(),
            anthropic_api_key: None,
            approval: ApprovalPolicy::Ask,
            http: HttpSettings::default(),
            max_steps: 8,
            context_tokens: None,
            max_tokens: None,
            max_depth: 1,
            subagent_steps: 6,
            max_subagents: 4,
            subagent_timeout: Duration::from_secs(600),
            gateway: false,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    provider: Option<String>,
    model: Option<String>,
    openai_base_url: Option<String>,
    openai_api_key: Option<String>,
    anthropic_base_url: Option<String>,
    anthropic_api_key: Option<String>,
    approval: Option<Value>,
    max_steps: Option<usize>,
    context_tokens: Option<u32>,
    max_tokens: Option<u32>,
    /// Seconds to wait for a response's headers.
    response_timeout: Option<u64>,
    /// Seconds of silence mid-answer before giving up.
    stream_timeout: Option<u64>,
    max_subagent_depth: Option<u32>,
    max_subagents: Option<usize>,
}

impl AgentConfig {
    /// Reads `file` (if it exists), then applies the environment through `env`.
    pub fn load(file: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file_config: FileConfig = match std::fs::read_to_string(file) {
            Ok(text) => serde_json::from_str(&text).map_err(|err| ConfigError::File {
                path: file.display().to_string(),
                reason: err.to_string(),
            })?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => FileConfig::default(),
            Err(err) => {
                return Err(ConfigError::File {
                    path: file.display().to_string(),
                    reason: err.to_string(),
                })
            }
        };
        let gateway = match (env("CHOIR_GATEWAY"), env("CHOIR_GATEWAY_TOKEN")) {
            (Some(socket), Some(token)) if !socket.is_empty() && !token.is_empty() => {
                Some((socket, token))
            }
            _ => None,
        };
        let own_provider = file_config.openai_api_key.is_some()
            || file_config.openai_base_url.is_some()
            || file_config.anthropic_api_key.is_some()
            || file_config.anthropic_base_url.is_some();
        // With a gateway, the environment holds the operator's defaults: the file wins.
        let file_first = gateway.is_some();
        let pick = |name: &str, from_file: Option<String>| {
            let from_env = env(name).filter(|v| !v.is_empty());
            if file_first {
                from_file.or(from_env)
            } else {
                from_env.or(from_file)
            }
        };
        let mut config = AgentConfig {
            model: pick("CHOIR_MODEL", file_config.model),
            openai_api_key: pick("OPENAI_API_KEY", file_config.openai_api_key),
            anthropic_api_key: pick("ANTHROPIC_API_KEY", file_config.anthropic_api_key),
            ..AgentConfig::default()
        };
        let openai_base = pick("OPENAI_BASE_URL", file_config.openai_base_url);
        if let Some(url) = &openai_base {
            config.openai_base_url = url.clone();
        }
        if let Some(url) = pick("ANTHROPIC_BASE_URL", file_config.anthropic_base_url) {
            config.anthropic_base_url = url;
        }
        let openai_base = match (&gateway, own_provider) {
            (Some((socket, token)), false) => {
                config.http.unix_socket = Some(socket.into());
                config.openai_base_url = GATEWAY_OPENAI_URL.into();
                config.anthropic_base_url = GATEWAY_ANTHROPIC_URL.into();
                config.openai_api_key = Some(token.clone());
                config.anthropic_api_key = Some(token.clone());
                config.gateway = true;
                Some(GATEWAY_OPENAI_URL.to_owned())
            }
            _ => openai_base,
        };
        if let Some(steps) = file_config.max_steps {
            config.max_steps = steps.max(1);
        }
        let number = |name: &str, from_file: Option<u32>| -> Result<Option<u32>, ConfigError> {
            match env(name).filter(|v| !v.is_empty()) {
                Some(text) => text.trim().parse::<u32>().map(Some).map_err(|_| {
                    ConfigError::Invalid(format!("{name} must be a number of tokens, not `{text}`"))
                }),
                None => Ok(from_file),
            }
        };
        config.context_tokens = number("CHOIR_CONTEXT_TOKENS", file_config.context_tokens)?;
        config.max_tokens = number("CHOIR_MAX_TOKENS", file_config.max_tokens)?;
        if config.context_tokens.is_some_and(|tokens| tokens < 512) {
            return Err(ConfigError::Invalid(
                "context_tokens must be at least 512".into(),
            ));
        }
        if let Some(secs) = file_config.response_timeout {
            config.http.response_timeout = Duration::from_secs(secs.max(1));
        }
        if let Some(secs) = file_config.stream_timeout {
            config.http.read_timeout = Duration::from_secs(secs.max(1));
        }
        if let Some(depth) = file_config.max_subagent_depth {
            config.max_depth = depth.min(4);
        }
        if let Some(count) = file_config.max_subagents {
            config.max_subagents = count;
        }
        config.approval = match (env("CHOIR_APPROVAL"), file_config.approval) {
            (Some(text), _) => ApprovalPolicy::parse(&text),
            (None, Some(Value::String(text))) => ApprovalPolicy::parse(&text),
            (None, Some(Value::Array(tools))) => ApprovalPolicy::AutoFor(
                tools
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect(),
            ),
            (None, Some(other)) => {
                return Err(ConfigError::Invalid(format!(
                    "approval must be \"ask\", \"auto\" or a list of tools, not {other}"
                )))
            }
            (None, None) => ApprovalPolicy::Ask,
        };
        config.provider = match pick("CHOIR_PROVIDER", file_config.provider).as_deref() {
            Some("openai") => ProviderKind::OpenAi,
            Some("anthropic") => ProviderKind::Anthropic,
            Some("offline") => ProviderKind::Offline,
            Some(other) => {
                return Err(ConfigError::Invalid(format!(
                    "unknown provider `{other}` (openai, anthropic, offline)"
                )))
            }
            None if config.model.is_none() => ProviderKind::Offline,
            None if config.anthropic_api_key.is_some()
                && config.openai_api_key.is_none()
                && openai_base.is_none() =>
            {
                ProviderKind::Anthropic
            }
            None if config.openai_api_key.is_some() || openai_base.is_some() => {
                ProviderKind::OpenAi
            }
            None => ProviderKind::Offline,
        };
        if config.provider != ProviderKind::Offline && config.model.is_none() {
            return Err(ConfigError::Invalid(
                "a provider is set but no model: set CHOIR_MODEL".into(),
            ));
        }
        if config.provider == ProviderKind::Anthropic && config.anthropic_api_key.is_none() {
            return Err(ConfigError::Invalid(
                "the anthropic provider needs ANTHROPIC_API_KEY".into(),
            ));
        }
        Ok(config)
    }

    pub fn provider(&self) -> Arc<dyn Provider> {
        let model = self.model.clone().unwrap_or_default();
        match self.provider {
            ProviderKind::Offline => Arc::new(Offline),
            ProviderKind::OpenAi => Arc::new(OpenAi::new(
                &self.openai_base_url,
                self.openai_api_key.clone(),
                &model,
                self.http.clone(),
            )),
            ProviderKind::Anthropic => Arc::new(Anthropic::new(
                &self.anthropic_base_url,
                self.anthropic_api_key.clone().unwrap_or_default(),
                &model,
                self.http.clone(),
            )),
        }
    }

    /// Where to ask how much of the gateway the user has used, when the model is reached
    /// through one.
    pub fn usage_source(&self) -> Option<super::gateway::UsageSource> {
        let socket = self.http.unix_socket.as_deref().filter(|_| self.gateway)?;
        let token = self.openai_api_key.as_deref()?;
        Some(super::gateway::UsageSource::new(socket, token))
    }

    /// The keys it holds (the user's own, or the gateway's credential): kept out of the log.
    pub fn secrets(&self) -> Vec<String> {
        [&self.openai_api_key, &self.anthropic_api_key]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// The context budget of the configured model.
    pub fn budget(&self) -> Budget {
        Budget::for_model(
            self.model.as_deref().unwrap_or_default(),
            self.context_tokens,
            self.max_tokens,
        )
    }

    /// The configuration as `choir status` shows it, keys masked.
    pub fn describe(&self) -> Value {
        let provider = match self.provider {
            ProviderKind::Offline => "offline",
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
        };
        let approval = match &self.approval {
            ApprovalPolicy::Ask => json!("ask"),
            ApprovalPolicy::AutoAll => json!("auto"),
            ApprovalPolicy::AutoFor(tools) => json!(tools),
        };
        json!({
            "provider": provider,
            "model": self.model,
            "gateway": self.gateway,
            "openai_base_url": self.openai_base_url,
            "openai_api_key": self.openai_api_key.as_deref().map(mask),
            "anthropic_base_url": self.anthropic_base_url,
            "anthropic_api_key": self.anthropic_api_key.as_deref().map(mask),
            "approval": approval,
            "context_tokens": self.budget().context_tokens,
            "max_tokens": self.budget().max_tokens,
        })
    }
}

/// `sk-…wxyz`: enough to tell keys apart, never enough to use one.
pub fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "…".into();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(env: &[(&str, &str)], file: Option<&str>) -> Result<AgentConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AgentConfig::load(&path, |name| env.get(name).cloned())
    }

    #[test]
    fn provider_follows_what_is_configured() {
        assert_eq!(load(&[], None).unwrap().provider, ProviderKind::Offline);
        assert_eq!(
            load(&[("OPENAI_API_KEY", "sk-1234567890")], None)
                .unwrap()
                .provider,
            ProviderKind::Offline
        );
        let openai = load(
            &[
                ("CHOIR_MODEL", "gpt-x"),
                ("OPENAI_API_KEY", "sk-1234567890"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(openai.provider, ProviderKind::OpenAi);
        let ollama = load(
            &[
                ("CHOIR_MODEL", "llama3"),
                ("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            (ollama.provider, ollama.openai_base_url.as_str()),
            (ProviderKind::OpenAi, "http://127.0.0.1:11434/v1")
        );
        let claude = load(
            &[
                ("CHOIR_MODEL", "claude-x"),
                ("ANTHROPIC_API_KEY", "sk-ant-abcdefgh"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(claude.provider, ProviderKind::Anthropic);
        assert!(load(&[("CHOIR_PROVIDER", "openai")], None).is_err());
        assert!(load(&[("CHOIR_PROVIDER", "gemini"), ("CHOIR_MODEL", "x")], None).is_err());
    }

    #[test]
    fn file_then_environment_and_keys_are_masked() {
        let file = r#"{"provider": "openai", "model": "from-file", "openai_api_key": "sk-filekey-0000", "approval": ["bash"]}"#;
        let config = load(&[("CHOIR_MODEL", "from-env")], Some(file)).unwrap();
        assert_eq!(config.model.as_deref(), Some("from-env"));
        assert_eq!(
            config.approval,
            ApprovalPolicy::AutoFor(vec!["bash".into()])
        );
        let shown = config.describe();
        assert_eq!(shown["openai_api_key"], json!("sk-…0000"));
        assert!(!shown.to_string().contains("filekey"));
        assert!(load(&[], Some("{not json")).is_err());
        assert!(load(&[], Some(r#"{"modle": "typo"}"#)).is_err());
        assert_eq!(
            load(&[("CHOIR_APPROVAL", "auto")], None).unwrap().approval,
            ApprovalPolicy::AutoAll
        );
    }

    #[test]
    fn under_a_gateway_the_agent_uses_it_unless_the_sandbox_has_a_provider_of_its_own() {
        let gateway = [
            ("CHOIR_GATEWAY", "/data/gateway.sock"),
            ("CHOIR_GATEWAY_TOKEN", "chg_0123456789abcdef"),
            ("CHOIR_PROVIDER", "anthropic"),
            ("CHOIR_MODEL", "operator-model"),
        ];
        let through = load(&gateway, None).unwrap();
        assert_eq!(through.provider, ProviderKind::Anthropic);
        assert_eq!(through.model.as_deref(), Some("operator-model"));
        assert!(through.gateway);
        assert_eq!(
            through.http.unix_socket.as_deref(),
            Some(Path::new("/data/gateway.sock"))
        );
        assert_eq!(through.anthropic_base_url, GATEWAY_ANTHROPIC_URL);
        assert_eq!(
            through.anthropic_api_key.as_deref(),
            Some("chg_0123456789abcdef")
        );
        assert_eq!(through.describe()["gateway"], json!(true));
        // The file's model overrides the operator's default; still through the gateway.
        let model = load(&gateway, Some(r#"{"model": "mine"}"#)).unwrap();
        assert_eq!(model.model.as_deref(), Some("mine"));
        assert!(model.gateway);
        // A key of the user's own: their provider, directly.
        let own = load(
            &gateway,
            Some(r#"{"provider": "openai", "model": "gpt-mine", "openai_api_key": "sk-mine-000000"}"#),
        )
        .unwrap();
        assert_eq!(own.provider, ProviderKind::OpenAi);
        assert_eq!(own.model.as_deref(), Some("gpt-mine"));
        assert!(!own.gateway);
        assert!(own.http.unix_socket.is_none());
        assert_eq!(own.openai_base_url, DEFAULT_OPENAI_BASE_URL);
        assert_eq!(own.openai_api_key.as_deref(), Some("sk-mine-000000"));
    }

    #[test]
    fn approval_policy() {
        assert!(ApprovalPolicy::Ask.needs_approval("bash", true));
        assert!(!ApprovalPolicy::Ask.needs_approval("read_file", false));
        let some = ApprovalPolicy::AutoFor(vec!["bash".into()]);
        assert!(!some.needs_approval("bash", true));
        assert!(some.needs_approval("write_file", true));
        assert!(!ApprovalPolicy::AutoAll.needs_approval("write_file", true));
    }
}

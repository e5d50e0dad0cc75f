//! Effective configuration: built-in defaults < `querypad.toml` < environment < CLI flags.
//!
//! Why one struct with every knob and a `validate` step: a bad value must stop the process at
//! start with one clear line (`querypad config check` prints the same), never surface later as
//! a strange runtime failure.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything Querypad can be configured with. Field names are the TOML keys.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTP server settings.
    pub server: ServerConfig,
    /// Limits applied to user databases.
    pub database: DatabaseConfig,
    /// LLM provider settings (used by the agent).
    pub llm: LlmConfig,
    /// The text-to-SQL agent.
    pub agent: AgentConfig,
    /// Logging.
    pub log: LogConfig,
}

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Level (error, warn, info, debug, trace) or a tracing filter such as `info,querypad=debug`.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
    /// Application (error) log: a file path (rotated daily), or `-` for stderr (journald under
    /// systemd).
    pub app_log: String,
    /// Access log: a file path (rotated daily), `-` for stderr, or `off`.
    pub access_log: String,
    /// Rotated files kept per log.
    pub retention_files: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
            app_log: "-".into(),
            access_log: "-".into(),
            retention_files: 14,
        }
    }
}

/// `[server]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on. Non-loopback addresses require API tokens.
    pub bind: String,
    /// Directory for the metadata database, the key file and the demo database.
    pub data_dir: PathBuf,
    /// Key file for encrypting stored passwords (default: `<data_dir>/secret.key`).
    pub secret_key_file: Option<PathBuf>,
    /// Deadline for a whole HTTP request, in seconds (streaming bodies end on it too).
    pub request_timeout_secs: f64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Register the bundled demo database and notebook on a fresh data directory.
    pub demo: bool,
    /// Idle time a kept-alive connection may wait for its next request, in seconds.
    pub keep_alive_secs: f64,
    /// Client connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Connections the kernel queues before Querypad accepts them (capped by
    /// `net.core.somaxconn`). A burst beyond it loses SYNs and clients stall in retransmits, so
    /// it is sized for bursts, not for the steady state.
    pub listen_backlog: u32,
    /// At shutdown, how long requests and agent runs in flight may take to finish before runs
    /// are cancelled (they then answer `degraded` or `failed`), in seconds.
    pub drain_timeout_secs: f64,
    /// `Host` (and `Origin`) names accepted on `/mcp`: `name` accepts any port, `name:port` only
    /// that port. The bind address is always accepted. Why: a browser page on another site can
    /// resolve its own name to 127.0.0.1 (DNS rebinding) and reach a local MCP server; checking
    /// the name it used stops that.
    pub allowed_hosts: Vec<String>,
}

/// `[database]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Statement timeout in seconds, enforced by the database (`DB_QUERY_TIMEOUT`).
    pub query_timeout_secs: f64,
    /// Rows returned when a request does not say.
    pub default_max_rows: usize,
    /// The most rows a request may ask for.
    pub max_rows_limit: usize,
    /// Pooled connections per user database.
    pub pool_max_connections: u32,
    /// Connect timeout for user databases, in seconds.
    pub connect_timeout_secs: f64,
}

/// `[llm]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// `auto` (Anthropic when a key is set, else none), `anthropic`, `openai` or `none`.
    pub provider: String,
    /// Anthropic API key (`ANTHROPIC_API_KEY`). Redacted in every output.
    pub anthropic_api_key: Option<String>,
    /// Anthropic base URL (`ANTHROPIC_BASE_URL`), for a proxy or a test double.
    pub anthropic_base_url: Option<String>,
    /// Anthropic model.
    pub anthropic_model: String,
    /// OpenAI-compatible base URL, e.g. `http://127.0.0.1:11434/v1` for Ollama.
    pub openai_base_url: Option<String>,
    /// OpenAI-compatible API key (optional for local servers). Redacted in every output.
    pub openai_api_key: Option<String>,
    /// OpenAI-compatible model.
    pub openai_model: String,
    /// Whether the OpenAI-compatible server supports tool calls.
    pub openai_tools: bool,
    /// Output token cap per call.
    pub max_tokens: u32,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            provider: "auto".into(),
            anthropic_api_key: None,
            anthropic_base_url: None,
            anthropic_model: "claude-sonnet-4-5".into(),
            openai_base_url: None,
            openai_api_key: None,
            openai_model: "gpt-4o-mini".into(),
            openai_tools: true,
            max_tokens: 2048,
        }
    }
}

/// `[agent]`
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// When false, both agent endpoints answer 503 `agent_disabled`; notebooks keep working.
    pub enabled: bool,
    /// Deadline of a whole run, in seconds.
    pub workflow_timeout_secs: f64,
    /// Deadline of each LLM HTTP attempt, in seconds.
    pub llm_call_timeout_secs: f64,
    /// Generator proposals per run at most.
    pub max_iterations: u32,
    /// Rows in an answer's preview.
    pub preview_rows: usize,
    /// Tokens a run may spend (0: no budget).
    pub token_budget: u64,
    /// Runs in progress at once; more are refused with 429 and `Retry-After`.
    pub max_concurrent_runs: usize,
    /// Calls in flight to the provider at once; more wait (inside their deadline).
    pub max_concurrent_llm_calls: usize,
    /// Schema columns allowed in a prompt before the least relevant tables are left out.
    pub context_columns: usize,
    /// What answers when the LLM provider is unreachable: `none` (the run fails) or `builtin`
    /// (the built-in offline generator). Without any provider the built-in one always answers.
    pub fallback: String,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            enabled: true,
            workflow_timeout_secs: 40.0,
            llm_call_timeout_secs: 20.0,
            max_iterations: 5,
            preview_rows: 100,
            token_budget: 200_000,
            max_concurrent_runs: 1000,
            max_concurrent_llm_calls: 256,
            context_columns: 400,
            fallback: "none".into(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8000".into(),
            data_dir: PathBuf::from("./querypad-data"),
            secret_key_file: None,
            request_timeout_secs: 60.0,
            max_body_bytes: 1024 * 1024,
            demo: true,
            keep_alive_secs: 75.0,
            max_connections: 10_000,
            listen_backlog: 4096,
            drain_timeout_secs: 45.0,
            allowed_hosts: vec!["127.0.0.1".into(), "localhost".into(), "[::1]".into()],
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            query_timeout_secs: 30.0,
            default_max_rows: 1000,
            max_rows_limit: 100_000,
            pool_max_connections: 5,
            connect_timeout_secs: 5.0,
        }
    }
}

/// A configuration problem, said in one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Overrides given on the command line (highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--bind`
    pub bind: Option<String>,
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--request-timeout`
    pub request_timeout_secs: Option<f64>,
    /// `--query-timeout`
    pub query_timeout_secs: Option<f64>,
    /// `--max-rows`
    pub default_max_rows: Option<usize>,
    /// `--no-demo`
    pub no_demo: bool,
    /// `--keep-alive`
    pub keep_alive_secs: Option<f64>,
    /// `--max-connections`
    pub max_connections: Option<usize>,
    /// `--drain-timeout`
    pub drain_timeout_secs: Option<f64>,
    /// `--log-level`
    pub log_level: Option<String>,
    /// `--log-format`
    pub log_format: Option<String>,
    /// `--error-log`
    pub app_log: Option<String>,
    /// `--access-log`
    pub access_log: Option<String>,
    /// `--log-retention`
    pub log_retention: Option<usize>,
}

impl Config {
    /// Loads the file (explicit path, `QUERYPAD_CONFIG`, or `./querypad.toml` when present),
    /// then applies environment variables from `env`, then `overrides`, then validates.
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let explicit = file
            .map(Path::to_path_buf)
            .or_else(|| env("QUERYPAD_CONFIG").map(PathBuf::from));
        let mut config = match explicit {
            Some(path) => Self::from_file(&path)?,
            None if Path::new("querypad.toml").exists() => {
                Self::from_file(Path::new("querypad.toml"))?
            }
            None => Config::default(),
        };
        config.apply_env(env)?;
        config.apply_overrides(overrides);
        config.validate()?;
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| {
            let msg = e.message().to_string();
            ConfigError(format!("{}: {}", path.display(), msg.trim()))
        })
    }

    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ConfigError> {
            v.trim()
                .parse()
                .map_err(|_| ConfigError(format!("{name}={v:?} is not a valid number")))
        }
        if let Some(v) = env("QUERYPAD_BIND") {
            self.server.bind = v;
        }
        if let Some(v) = env("QUERYPAD_DATA_DIR") {
            self.server.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("QUERYPAD_SECRET_KEY_FILE") {
            self.server.secret_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = env("QUERYPAD_REQUEST_TIMEOUT") {
            self.server.request_timeout_secs = num("QUERYPAD_REQUEST_TIMEOUT", &v)?;
        }
        if let Some(v) = env("QUERYPAD_MAX_BODY_BYTES") {
            self.server.max_body_bytes = num("QUERYPAD_MAX_BODY_BYTES", &v)?;
        }
        for name in ["DB_QUERY_TIMEOUT", "QUERYPAD_DB_QUERY_TIMEOUT"] {
            if let Some(v) = env(name) {
                self.database.query_timeout_secs = num(name, &v)?;
            }
        }
        if let Some(v) = env("QUERYPAD_MAX_ROWS") {
            self.database.default_max_rows = num("QUERYPAD_MAX_ROWS", &v)?;
        }
        if let Some(v) = env("QUERYPAD_MAX_ROWS_LIMIT") {
            self.database.max_rows_limit = num("QUERYPAD_MAX_ROWS_LIMIT", &v)?;
        }
        if let Some(v) = env("ANTHROPIC_API_KEY").filter(|v| !v.is_empty()) {
            self.llm.anthropic_api_key = Some(v);
        }
        if let Some(v) = env("ANTHROPIC_BASE_URL").filter(|v| !v.is_empty()) {
            self.llm.anthropic_base_url = Some(v);
        }
        if let Some(v) = env("QUERYPAD_LLM_PROVIDER") {
            self.llm.provider = v;
        }
        if let Some(v) = env("QUERYPAD_LLM_MODEL") {
            match self.llm.provider.as_str() {
                "openai" => self.llm.openai_model = v,
                _ => self.llm.anthropic_model = v,
            }
        }
        if let Some(v) = env("OPENAI_BASE_URL").filter(|v| !v.is_empty()) {
            self.llm.openai_base_url = Some(v);
        }
        if let Some(v) = env("OPENAI_API_KEY").filter(|v| !v.is_empty()) {
            self.llm.openai_api_key = Some(v);
        }
        if let Some(v) = env("QUERYPAD_LOG") {
            self.log.level = v;
        }
        if let Some(v) = env("QUERYPAD_LOG_FORMAT") {
            self.log.format = v;
        }
        if let Some(v) = env("QUERYPAD_ACCESS_LOG") {
            self.log.access_log = v;
        }
        if let Some(v) = env("QUERYPAD_ERROR_LOG") {
            self.log.app_log = v;
        }
        if let Some(v) = env("QUERYPAD_ALLOWED_HOSTS") {
            self.server.allowed_hosts = v
                .split(',')
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .collect();
        }
        if let Some(v) = env("QUERYPAD_DRAIN_TIMEOUT") {
            self.server.drain_timeout_secs = num("QUERYPAD_DRAIN_TIMEOUT", &v)?;
        }
        if let Some(v) = env("QUERYPAD_AGENT_ENABLED") {
            self.agent.enabled = match v.trim() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    return Err(ConfigError(format!(
                        "QUERYPAD_AGENT_ENABLED={v:?} must be true or false"
                    )));
                }
            };
        }
        if let Some(v) = env("QUERYPAD_WORKFLOW_TIMEOUT") {
            self.agent.workflow_timeout_secs = num("QUERYPAD_WORKFLOW_TIMEOUT", &v)?;
        }
        if let Some(v) = env("QUERYPAD_LLM_CALL_TIMEOUT") {
            self.agent.llm_call_timeout_secs = num("QUERYPAD_LLM_CALL_TIMEOUT", &v)?;
        }
        if let Some(v) = env("QUERYPAD_MAX_CONCURRENT_RUNS") {
            self.agent.max_concurrent_runs = num("QUERYPAD_MAX_CONCURRENT_RUNS", &v)?;
        }
        if let Some(v) = env("QUERYPAD_AGENT_FALLBACK") {
            self.agent.fallback = v;
        }
        if let Some(v) = env("QUERYPAD_MAX_CONCURRENT_LLM_CALLS") {
            self.agent.max_concurrent_llm_calls = num("QUERYPAD_MAX_CONCURRENT_LLM_CALLS", &v)?;
        }
        Ok(())
    }

    fn apply_overrides(&mut self, o: &Overrides) {
        if let Some(v) = &o.bind {
            self.server.bind = v.clone();
        }
        if let Some(v) = &o.data_dir {
            self.server.data_dir = v.clone();
        }
        if let Some(v) = o.request_timeout_secs {
            self.server.request_timeout_secs = v;
        }
        if let Some(v) = o.query_timeout_secs {
            self.database.query_timeout_secs = v;
        }
        if let Some(v) = o.default_max_rows {
            self.database.default_max_rows = v;
        }
        if o.no_demo {
            self.server.demo = false;
        }
        if let Some(v) = o.keep_alive_secs {
            self.server.keep_alive_secs = v;
        }
        if let Some(v) = o.max_connections {
            self.server.max_connections = v;
        }
        if let Some(v) = o.drain_timeout_secs {
            self.server.drain_timeout_secs = v;
        }
        if let Some(v) = &o.log_level {
            self.log.level = v.clone();
        }
        if let Some(v) = &o.log_format {
            self.log.format = v.clone();
        }
        if let Some(v) = &o.app_log {
            self.log.app_log = v.clone();
        }
        if let Some(v) = &o.access_log {
            self.log.access_log = v.clone();
        }
        if let Some(v) = o.log_retention {
            self.log.retention_files = v;
        }
    }

    /// Checks every value; the error names the key and what is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.bind_addr()?;
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 && v <= 86_400.0 {
                Ok(())
            } else {
                Err(ConfigError(format!(
                    "{name} must be between 0 and 86400 seconds, got {v}"
                )))
            }
        };
        positive(
            "server.request_timeout_secs",
            self.server.request_timeout_secs,
        )?;
        positive(
            "database.query_timeout_secs",
            self.database.query_timeout_secs,
        )?;
        positive(
            "database.connect_timeout_secs",
            self.database.connect_timeout_secs,
        )?;
        for h in &self.server.allowed_hosts {
            if !valid_host_entry(h) {
                return Err(ConfigError(format!(
                    "server.allowed_hosts entries must be a host name or host:port (no scheme or path), got {h:?}"
                )));
            }
        }
        if self.server.max_body_bytes < 1024 {
            return Err(ConfigError(
                "server.max_body_bytes must be at least 1024".into(),
            ));
        }
        if self.database.max_rows_limit == 0 {
            return Err(ConfigError(
                "database.max_rows_limit must be at least 1".into(),
            ));
        }
        if self.database.default_max_rows == 0
            || self.database.default_max_rows > self.database.max_rows_limit
        {
            return Err(ConfigError(format!(
                "database.default_max_rows must be between 1 and database.max_rows_limit ({}), got {}",
                self.database.max_rows_limit, self.database.default_max_rows
            )));
        }
        if self.database.pool_max_connections == 0 {
            return Err(ConfigError(
                "database.pool_max_connections must be at least 1".into(),
            ));
        }
        for (key, url) in [
            ("llm.anthropic_base_url", &self.llm.anthropic_base_url),
            ("llm.openai_base_url", &self.llm.openai_base_url),
        ] {
            if let Some(url) = url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                return Err(ConfigError(format!(
                    "{key} must start with http:// or https://, got {url:?}"
                )));
            }
        }
        match self.llm.provider.as_str() {
            "auto" | "none" => {}
            "anthropic" if self.llm.anthropic_api_key.is_none() => {
                return Err(ConfigError(
                    "llm.provider = \"anthropic\" needs an API key: set ANTHROPIC_API_KEY".into(),
                ));
            }
            "anthropic" => {}
            "openai" if self.llm.openai_base_url.is_none() => {
                return Err(ConfigError(
                    "llm.provider = \"openai\" needs llm.openai_base_url (or OPENAI_BASE_URL)"
                        .into(),
                ));
            }
            "openai" => {}
            other => {
                return Err(ConfigError(format!(
                    "llm.provider must be auto, anthropic, openai or none; got {other:?}"
                )));
            }
        }
        positive("server.keep_alive_secs", self.server.keep_alive_secs)?;
        positive("server.drain_timeout_secs", self.server.drain_timeout_secs)?;
        if self.server.listen_backlog == 0 || self.server.listen_backlog > i32::MAX as u32 {
            return Err(ConfigError(
                "server.listen_backlog must be between 1 and 2147483647".into(),
            ));
        }
        if self.server.max_connections == 0 {
            return Err(ConfigError(
                "server.max_connections must be at least 1".into(),
            ));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(ConfigError(format!(
                "log.format must be text or json, got {:?}",
                self.log.format
            )));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(ConfigError(format!(
                "log.level {:?} is not a level or a tracing filter",
                self.log.level
            )));
        }
        if self.log.retention_files == 0 {
            return Err(ConfigError("log.retention_files must be at least 1".into()));
        }
        positive(
            "agent.workflow_timeout_secs",
            self.agent.workflow_timeout_secs,
        )?;
        positive(
            "agent.llm_call_timeout_secs",
            self.agent.llm_call_timeout_secs,
        )?;
        if !matches!(self.agent.fallback.as_str(), "none" | "builtin") {
            return Err(ConfigError(format!(
                "agent.fallback must be none or builtin, got {:?}",
                self.agent.fallback
            )));
        }
        if self.agent.max_iterations == 0 || self.agent.max_iterations > 50 {
            return Err(ConfigError(
                "agent.max_iterations must be between 1 and 50".into(),
            ));
        }
        if self.agent.preview_rows == 0 || self.agent.preview_rows > self.database.max_rows_limit {
            return Err(ConfigError(
                "agent.preview_rows must be between 1 and database.max_rows_limit".into(),
            ));
        }
        if self.agent.max_concurrent_runs == 0 || self.agent.max_concurrent_llm_calls == 0 {
            return Err(ConfigError(
                "agent.max_concurrent_runs and agent.max_concurrent_llm_calls must be at least 1"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The parsed bind address.
    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server.bind.parse().map_err(|_| {
            ConfigError(format!(
                "server.bind must be an address like 127.0.0.1:8000, got {:?}",
                self.server.bind
            ))
        })
    }

    /// The hosts `/mcp` accepts: `server.allowed_hosts` plus the bind address's IP (any port).
    pub fn allowed_hosts(&self) -> Vec<String> {
        let mut hosts = self.server.allowed_hosts.clone();
        if let Ok(addr) = self.bind_addr() {
            let ip = match addr.ip() {
                std::net::IpAddr::V4(v4) => v4.to_string(),
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            };
            if !hosts.iter().any(|h| h.eq_ignore_ascii_case(&ip)) {
                hosts.push(ip);
            }
        }
        hosts
    }

    /// The key file path.
    pub fn secret_key_file(&self) -> PathBuf {
        self.server
            .secret_key_file
            .clone()
            .unwrap_or_else(|| self.server.data_dir.join("secret.key"))
    }

    /// The request deadline.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.server.request_timeout_secs)
    }

    /// The statement timeout.
    pub fn query_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.database.query_timeout_secs)
    }

    /// The configuration as TOML with every secret replaced by `***`.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        if shown.llm.anthropic_api_key.is_some() {
            shown.llm.anthropic_api_key = Some("***".into());
        }
        if shown.llm.openai_api_key.is_some() {
            shown.llm.openai_api_key = Some("***".into());
        }
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }
}

/// Whether `h` looks like `name`, `name:port`, `[v6]` or `[v6]:port`.
fn valid_host_entry(h: &str) -> bool {
    !h.is_empty()
        && !h.contains("://")
        && !h.contains(['/', '?', '#', '@', ' '])
        && h.parse::<axum::http::uri::Authority>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn precedence_is_file_then_env_then_flags() {
        let dir = querypad_testkit::temp_dir();
        let file = dir.dir().join("q.toml");
        std::fs::write(&file, "[server]\nbind = \"127.0.0.1:9000\"\nrequest_timeout_secs = 5\n[database]\nquery_timeout_secs = 7\n").unwrap();
        let env = env_of(&[
            ("DB_QUERY_TIMEOUT", "12"),
            ("QUERYPAD_BIND", "127.0.0.1:9100"),
        ]);
        let flags = Overrides {
            bind: Some("127.0.0.1:9200".into()),
            ..Default::default()
        };
        let c = Config::load(Some(&file), &env, &flags).unwrap();
        assert_eq!(c.server.bind, "127.0.0.1:9200");
        assert_eq!(c.database.query_timeout_secs, 12.0);
        assert_eq!(c.server.request_timeout_secs, 5.0);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_one_line_errors() {
        let dir = querypad_testkit::temp_dir();
        let file = dir.dir().join("q.toml");
        std::fs::write(&file, "[server]\nbindd = \"x\"\n").unwrap();
        let err = Config::load(Some(&file), &env_of(&[]), &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("unknown field `bindd`"), "{err}");
        assert!(!err.to_string().contains('\n'), "{err}");

        let err = Config::load(
            None,
            &env_of(&[("DB_QUERY_TIMEOUT", "soon")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "DB_QUERY_TIMEOUT=\"soon\" is not a valid number"
        );
        let err = Config::load(
            None,
            &env_of(&[("QUERYPAD_BIND", "localhost")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("server.bind"), "{err}");
    }

    #[test]
    fn allowed_hosts_default_to_loopback_plus_the_bind_address() {
        let c = Config::load(
            None,
            &env_of(&[("QUERYPAD_BIND", "10.1.2.3:8000")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            c.allowed_hosts(),
            ["127.0.0.1", "localhost", "[::1]", "10.1.2.3"]
        );
        let c = Config::load(
            None,
            &env_of(&[("QUERYPAD_ALLOWED_HOSTS", "mcp.example, mcp.example:8443")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            c.allowed_hosts(),
            ["mcp.example", "mcp.example:8443", "127.0.0.1"]
        );
        let err = Config::load(
            None,
            &env_of(&[("QUERYPAD_ALLOWED_HOSTS", "https://mcp.example")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("server.allowed_hosts"), "{err}");
    }

    #[test]
    fn the_api_key_never_shows() {
        let c = Config::load(
            None,
            &env_of(&[("ANTHROPIC_API_KEY", "sk-ant-secret-value")]),
            &Overrides::default(),
        )
        .unwrap();
        let shown = c.redacted_toml();
        assert!(!shown.contains("sk-ant-secret-value"));
        assert!(shown.contains("anthropic_api_key = \"***\""));
    }
}

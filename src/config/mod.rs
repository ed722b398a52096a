//! Configuration: where it comes from, and how it becomes a [`Config`] the agent can trust.
//!
//! Two stages, as in ripgrep's `LowArgs` → `HiArgs`:
//! 1. [`schema`] reads the TOML (or, for remote config, JSON) into structs that deny unknown
//!    fields. A syntax error stops here (with its line); unknown keys and wrong types are
//!    recorded with their key paths and taken out, and reading goes on.
//! 2. [`validate`] resolves durations, sizes, addresses, paths, regexes and the board profile,
//!    one file per section, adding **every** problem with its key path to stage one's.
//!
//! A config that did not pass both stages never reaches the running agent. With no file at all
//! the agent runs on the embedded default, which is simply every key at its default.
//!
//! `config` sits at the floor of the crate: it imports only `model` and `net` (the checked
//! HTTP endpoint and TLS types its resolved sections hold), never a source, sink or the store.

pub mod agent;
pub mod alerts;
pub mod board;
mod check;
pub mod endpoint;
pub mod logs;
pub mod logstash;
pub mod metrics;
pub mod mqtt;
pub mod pushgateway;
pub mod relabel;
pub mod remote;
pub mod remote_write;
pub mod sample;
pub mod schema;
pub mod scrape;
pub mod sensors;
pub mod signatures;
pub mod store;
pub mod units;
pub mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

pub use agent::AgentConfig;
pub use alerts::AlertsConfig;
pub use logs::LogsConfig;
pub use logstash::LogstashConfig;
pub use metrics::MetricsConfig;
pub use mqtt::{Compression, MqttConfig, Tls};
pub use pushgateway::PushgatewayConfig;
pub use remote_write::RemoteWriteConfig;
pub use sample::{Collector, SampleConfig};
pub use scrape::{ScrapeJob, ScrapeTarget};
pub use store::{BackendKind, StoreConfig};
pub use validate::Config;

/// One thing wrong with a configuration, with the key path it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// Every problem found in one configuration.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn add(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.to_string(),
            message: message.into(),
        });
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            // Parser messages span lines (a source excerpt); keep them under their bullet.
            let message = p.message.replace('\n', "\n    ");
            if p.path.is_empty() {
                write!(f, "  - {message}")?;
            } else {
                write!(f, "  - {}: {message}", p.path)?;
            }
        }
        Ok(())
    }
}

/// Where a configuration came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Embedded,
    File(PathBuf),
    /// A remote config (MQTT config topic) of this version, on top of the local file.
    Remote(u64),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Embedded => f.write_str("embedded default configuration"),
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Remote(v) => write!(f, "remote config version {v}"),
        }
    }
}

/// The local configuration as a document (the TOML file as JSON values, `{}` for the
/// embedded default), kept so a remote config can be laid over it.
#[derive(Debug, Clone)]
pub struct Base {
    pub doc: serde_json::Value,
    pub origin: Origin,
    /// The `--board` override, which applies to remote configs too.
    pub board: Option<String>,
}

#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read at all.
    Read { path: PathBuf, source: std::io::Error },
    /// The file was read, and is wrong in the listed ways.
    Invalid { origin: Origin, problems: Problems },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => {
                write!(f, "cannot read config file {}: {source}", path.display())
            }
            ConfigError::Invalid { origin, problems } => {
                let n = problems.len();
                let s = if n == 1 { "" } else { "s" };
                write!(f, "{origin}: {n} problem{s}:\n{problems}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Loads the file (or the embedded default when `path` is `None`) and validates it.
/// `board` overrides `[agent] board` (the `--board` flag).
pub fn load(path: Option<&Path>, board: Option<&str>) -> Result<Config, ConfigError> {
    match path {
        None => validate::validate(
            schema::RawConfig::default(),
            Origin::Embedded,
            board,
            None,
            Problems::default(),
        ),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            parse_toml(&text, Origin::File(path.to_path_buf()), board)
        }
    }
}

/// Parses and validates TOML text.
pub fn parse_toml(text: &str, origin: Origin, board: Option<&str>) -> Result<Config, ConfigError> {
    // Syntax first: a file that is not TOML has no keys to check.
    let doc = match toml::from_str::<toml::Table>(text) {
        Ok(table) => {
            serde_json::to_value(table).unwrap_or_else(|_| serde_json::Value::Object(Default::default()))
        }
        Err(e) => {
            let mut problems = Problems::default();
            problems.add("", e.to_string().trim_end().to_string());
            return Err(ConfigError::Invalid { origin, problems });
        }
    };
    let (raw, problems) = schema::read(&doc);
    let dir = signatures::config_dir(&origin);
    let mut cfg = validate::validate(raw, origin.clone(), board, dir.as_deref(), problems)?;
    // The same document, for remote configs to be laid over.
    cfg.base = std::sync::Arc::new(Base {
        doc,
        origin,
        board: board.map(str::to_string),
    });
    Ok(cfg)
}

/// The first line of a multi-line parser message (toml's carry a source excerpt).
pub(crate) fn first_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('|'))
        .unwrap_or(s)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> String {
        match parse_toml(text, Origin::Embedded, None) {
            Ok(_) => panic!("config should be invalid:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn embedded_default_is_valid() {
        let cfg = load(None, None).expect("embedded default must validate");
        assert_eq!(cfg.sample.interval, std::time::Duration::from_secs(10));
        assert!(cfg.metrics.listen.ip().is_loopback());
    }

    #[test]
    fn unknown_key_is_reported_with_its_path() {
        let msg = problems("[sample]\nintervall = \"5s\"\n");
        assert!(msg.contains("sample"), "{msg}");
        assert!(msg.contains("unknown field `intervall`"), "{msg}");
        assert!(msg.contains("sample.intervall"), "{msg}");
        let msg = problems("[mqtt2]\nurl = \"x\"\n");
        assert!(msg.contains("unknown field `mqtt2`"), "{msg}");
    }

    #[test]
    fn unknown_keys_do_not_hide_value_problems() {
        // A misspelt key, a bad duration and a bad address: all three in one run.
        let text = "[sample]\nintervall = \"5s\"\nfilesystem = { statfs_timeout = \"5 parsecs\" }\n\
                    [metrics]\nlisten = \"localhost:http\"\n";
        let err = parse_toml(text, Origin::Embedded, None).unwrap_err();
        let ConfigError::Invalid { problems, .. } = &err else {
            panic!("{err}")
        };
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "sample.intervall",
                "sample.filesystem.statfs_timeout",
                "metrics.listen"
            ],
            "{err}"
        );
        assert!(err.to_string().contains("did you mean `interval`?"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let msg = problems("[sample]\ninterval = 10\n");
        assert!(msg.contains("sample.interval"), "{msg}");
    }

    #[test]
    fn syntax_error_names_the_line() {
        let msg = problems("[sample\ninterval = \"10s\"\n");
        assert!(msg.contains("line 1"), "{msg}");
    }

    #[test]
    fn mqtt_section_is_checked() {
        let ok = parse_toml("[mqtt]\nurl = \"mqtt://10.0.0.5\"\n", Origin::Embedded, None).unwrap();
        let m = ok.mqtt.expect("mqtt configured");
        assert_eq!((m.host.as_str(), m.port, m.qos), ("10.0.0.5", 1883, 1));
        assert!(m.client_id.starts_with("outpost-"));
        let ok = parse_toml("[mqtt]\nurl = \"mqtt://[::1]:1884\"\n", Origin::Embedded, None).unwrap();
        assert_eq!(ok.mqtt.map(|m| (m.host, m.port)), Some(("::1".to_string(), 1884)));
        assert!(parse_toml("", Origin::Embedded, None).unwrap().mqtt.is_none());
        let text = "[mqtt]\nurl = \"tcp://b:8883\"\nqos = 2\npassword_file = \"/nonexistent/pw\"\n\
                    topic_prefix = \"a/#\"\nreconnect_min = \"10s\"\nreconnect_max = \"2s\"\n";
        let err = parse_toml(text, Origin::Embedded, None).unwrap_err().to_string();
        for key in [
            "mqtt.url",
            "mqtt.qos",
            "mqtt.password_file",
            "mqtt.username",
            "mqtt.topic_prefix",
            "mqtt.reconnect_max",
        ] {
            assert!(err.contains(&format!("- {key}: ")), "{key} missing in:\n{err}");
        }
        for bad in [
            "http://x",
            "mqtt://",
            "mqtt://h:0",
            "mqtt://h:99999",
            "mqtt://user@h",
        ] {
            let text = format!("[mqtt]\nurl = \"{bad}\"\n");
            assert!(
                parse_toml(&text, Origin::Embedded, None).is_err(),
                "{bad} accepted"
            );
        }
        assert!(
            parse_toml("[mqtt]\nqos = 1\n", Origin::Embedded, None).is_err(),
            "url is required"
        );
    }

    #[test]
    fn all_value_problems_are_reported_together() {
        let text = r#"
[agent]
id = "gw/01"
log_level = "loud"
board = "nope"
[sample]
interval = "10"
collectors = ["cpu", "gpu"]
[sample.filesystem]
mount_points_exclude = "^/(dev"
statfs_timeout = "5 parsecs"
[metrics]
listen = "127.0.0.1:99999"
request_timeout = "0s"
"#;
        let err = parse_toml(text, Origin::Embedded, None).unwrap_err();
        let ConfigError::Invalid { problems, .. } = &err else {
            panic!("{err}")
        };
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        for want in [
            "agent.id",
            "agent.log_level",
            "agent.board",
            "sample.interval",
            "sample.collectors[1]",
            "sample.filesystem.mount_points_exclude",
            "sample.filesystem.statfs_timeout",
            "metrics.listen",
            "metrics.request_timeout",
        ] {
            assert!(paths.contains(&want), "missing {want} in:\n{err}");
        }
        assert_eq!(problems.len(), 9, "{err}");
    }
}

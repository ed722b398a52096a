//! `[agent]`, resolved: the gateway's identity, where its data lives, its board profile and
//! its log level.

use std::path::PathBuf;

use log::LevelFilter;

use super::board::{self, Board};
use super::schema::RawAgent;
use super::Problems;

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub id: String,
    pub data_dir: PathBuf,
    pub board: Option<Board>,
    pub log_level: LevelFilter,
}

/// Gateway ids end up in MQTT topics and label values: keep them to a safe alphabet.
fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("must not be empty".into());
    }
    if id.len() > 128 {
        return Err(format!("is {} characters long; at most 128", id.len()));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "{id:?} contains {c:?}; use letters, digits, '-', '_' and '.' (it becomes part of MQTT topics)"
        ));
    }
    Ok(())
}

/// The host name, for the default gateway id.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Default data directory: systemd's `$STATE_DIRECTORY` (first entry) or `./outpost-data`.
fn default_data_dir() -> PathBuf {
    std::env::var_os("STATE_DIRECTORY")
        .and_then(|v| {
            v.to_str()
                .and_then(|s| s.split(':').next())
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("outpost-data"))
}

/// Resolves `[agent]`; `board_override` is the `--board` flag.
pub fn resolve(p: &mut Problems, raw: &RawAgent, board_override: Option<&str>) -> AgentConfig {
    let id = match &raw.id {
        Some(id) => {
            if let Err(e) = check_id(id) {
                p.add("agent.id", e);
            }
            id.clone()
        }
        None => {
            // A host name with odd characters must not make the embedded default fail.
            hostname()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                        c
                    } else {
                        '_'
                    }
                })
                .take(128)
                .collect()
        }
    };
    let data_dir = match raw.data_dir.as_deref() {
        None => default_data_dir(),
        Some("") => {
            p.add("agent.data_dir", "must not be empty");
            default_data_dir()
        }
        Some(d) => PathBuf::from(d),
    };
    let log_level = match raw.log_level.as_deref().unwrap_or("info") {
        "off" => LevelFilter::Off,
        "error" => LevelFilter::Error,
        "warn" => LevelFilter::Warn,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        other => {
            p.add(
                "agent.log_level",
                format!("unknown level {other:?}; use off, error, warn, info, debug or trace"),
            );
            LevelFilter::Info
        }
    };
    let board = match board_override {
        Some(spec) => board::resolve(spec, "--board", p),
        None => raw
            .board
            .as_deref()
            .and_then(|spec| board::resolve(spec, "agent.board", p)),
    };
    AgentConfig {
        id,
        data_dir,
        board,
        log_level,
    }
}

//! `outpost store stats` and `outpost store export`: the store seen by an operator (and, in
//! [`signatures`], the signature engine's commands). They sit
//! beside the runtime, not in `store`, because they speak for the sinks too (whose backlogs to
//! show, which JSON form an export writes).
//!
//! Both need the data directory's lock to open the store. When a running agent holds it,
//! `stats` asks that agent's `/metrics` endpoint instead (the store's numbers are there), and
//! `export` refuses: two processes must never write one store.

pub mod sensors;
pub mod signatures;

use std::fmt;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::config::Config;
use crate::store::datadir::{DataDir, DataDirError};
use crate::store::{Class, Store};

#[derive(Debug)]
pub enum AdminError {
    NoStore(String),
    DataDir(DataDirError),
    AgentRunning(String),
    Unavailable(String),
    Io(std::io::Error),
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::NoStore(dir) => write!(f, "no store in {dir}"),
            AdminError::DataDir(e) => write!(f, "{e}"),
            AdminError::AgentRunning(m) => write!(f, "{m}"),
            AdminError::Unavailable(m) => write!(f, "store unavailable: {m}"),
            AdminError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for AdminError {}

fn store_exists(cfg: &Config) -> Result<(), AdminError> {
    if cfg.agent.data_dir.join(cfg.store.backend.file_name()).exists() {
        Ok(())
    } else {
        Err(AdminError::NoStore(cfg.agent.data_dir.display().to_string()))
    }
}

/// Store statistics as text.
pub fn stats(cfg: &Config) -> Result<String, AdminError> {
    store_exists(cfg)?;
    match DataDir::open(&cfg.agent.data_dir) {
        Ok(dir) => {
            let path = dir.path().to_path_buf();
            let mut store = Store::open(&path, cfg.store.clone(), Some(dir));
            // Show the backlogs of the sinks the config has.
            if cfg.mqtt.is_some() {
                store.register_sink(crate::sinks::mqtt::SINK, &Class::ALL, true);
            }
            let text = store.stats().render();
            store.close();
            Ok(text)
        }
        Err(DataDirError::InUse { holder, .. }) => {
            if !cfg.metrics.enabled {
                return Err(AdminError::AgentRunning(format!(
                    "the agent{holder} is running and its metrics endpoint is disabled; \
                     stop it to read the store directly"
                )));
            }
            let body = fetch(&cfg.metrics.listen.to_string(), "/metrics").map_err(|e| {
                AdminError::AgentRunning(format!(
                    "the agent{holder} is running, but its metrics endpoint {} did not answer: {e}",
                    cfg.metrics.listen
                ))
            })?;
            let mut text = format!(
                "running agent{holder}, from http://{}/metrics:\n",
                cfg.metrics.listen
            );
            for line in body.lines() {
                if line.starts_with("outpost_store_") || line.starts_with("outpost_disk_written") {
                    text.push_str(line);
                    text.push('\n');
                }
            }
            Ok(text)
        }
        Err(e) => Err(AdminError::DataDir(e)),
    }
}

/// `GET path` from the agent's local endpoint; the body of a 200 answer.
fn fetch(addr: &str, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    let (head, rest) = body.split_once("\r\n\r\n").unwrap_or(("", ""));
    if !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(
            head.lines().next().unwrap_or("no response").to_string(),
        ));
    }
    Ok(rest.to_string())
}

/// Writes records as JSON lines to `out`, acknowledging each batch for `sink` once it is
/// flushed; returns the number of records written. Interrupted, it resumes after the last
/// acknowledged batch (at least once).
pub fn export(cfg: &Config, sink: &str, limit: Option<u64>, out: &mut dyn Write) -> Result<u64, AdminError> {
    store_exists(cfg)?;
    let dir = match DataDir::open(&cfg.agent.data_dir) {
        Ok(d) => d,
        Err(DataDirError::InUse { holder, .. }) => {
            return Err(AdminError::AgentRunning(format!(
                "the agent{holder} is running on this data directory; stop it before exporting"
            )))
        }
        Err(e) => return Err(AdminError::DataDir(e)),
    };
    let path = dir.path().to_path_buf();
    let mut store = Store::open(&path, cfg.store.clone(), Some(dir));
    if !store.is_available() {
        let why = store.stats().unavailable.unwrap_or_default();
        return Err(AdminError::Unavailable(why));
    }
    store.register_sink(sink, &Class::ALL, false);
    let mut written = 0u64;
    let result = loop {
        let want = limit
            .map(|l| l.saturating_sub(written))
            .unwrap_or(u64::MAX)
            .min(1000) as usize;
        if want == 0 {
            break Ok(());
        }
        let batch = match store.read(sink, want, 4 << 20) {
            Ok(b) => b,
            Err(e) => break Err(AdminError::Unavailable(e.to_string())),
        };
        let Some(last) = batch.last().map(|r| r.seq) else {
            break Ok(());
        };
        let mut text = String::new();
        for r in &batch {
            text.push_str(&crate::sinks::payload::record_json(r));
            text.push('\n');
        }
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
            break Err(AdminError::Io(e));
        }
        written += batch.len() as u64;
        store.ack(sink, last);
        if let Err(e) = store.commit() {
            break Err(AdminError::Unavailable(e.to_string()));
        }
    };
    store.close();
    result.map(|_| written)
}

//! The journald source: `journalctl --output=json --follow` as a child process (as Vector
//! does), so the agent needs no libsystemd and reads whatever journal format the host's
//! systemd writes. Each entry's `__CURSOR` is the checkpoint, stored with the entry's event
//! under the same rule as file offsets; a restart passes `--after-cursor`.
//!
//! Mapping: `MESSAGE` (a string, or an array of bytes for binary messages) → message,
//! `PRIORITY` → level, `__REALTIME_TIMESTAMP` → timestamp, `_SYSTEMD_UNIT` → unit,
//! `SYSLOG_IDENTIFIER` → service, `_PID` → pid, `_HOSTNAME` → host; `_COMM`,
//! `_TRANSPORT`, `_BOOT_ID` and `CODE_*` are kept as fields. `units`, `identifiers` and
//! `priority` become journalctl's `--unit`, `--identifier` and `--priority` filters (so they
//! combine as journalctl combines them).
//!
//! No `journalctl`, no journal, a cursor the journal no longer has, or journalctl ending:
//! one clear log line per episode, `outpost_log_source_errors_total{reason="journalctl"}`,
//! and a retry with backoff (1 s doubling to 60 s); the rest of the agent runs on.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::multiline::Record;
use super::{line_reader, Known, Pipeline};
use crate::config::logs::{JournaldSource, StartAt};
use crate::model::event::{flags, Level, Value};
use crate::shutdown::Stop;
use crate::store::Append;

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    next_seq: u64,
    cursor: Option<String>,
}

/// Journal entries can be large (core dumps' messages); this bounds one JSON line.
const MAX_ENTRY: usize = 4 << 20;

fn command(cfg: &JournaldSource, cursor: Option<&str>, first_run: bool) -> Command {
    let mut c = Command::new(&cfg.journalctl);
    c.args(["--output=json", "--follow", "--no-pager", "--quiet"]);
    match cursor {
        Some(cur) => {
            c.arg(format!("--after-cursor={cur}"));
        }
        None if first_run && cfg.start_at == StartAt::End => {
            c.arg("--lines=0");
        }
        None => {
            c.arg("--lines=all");
        }
    }
    if let Some(d) = &cfg.directory {
        c.arg(format!("--directory={}", d.display()));
    }
    for u in &cfg.units {
        c.arg(format!("--unit={u}"));
    }
    for i in &cfg.identifiers {
        c.arg(format!("--identifier={i}"));
    }
    if let Some(p) = cfg.priority {
        c.arg(format!("--priority=0..{}", p as u8));
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn string(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        // Binary fields come as arrays of bytes.
        serde_json::Value::Array(a) => {
            let bytes: Vec<u8> = a.iter().filter_map(|b| b.as_u64().map(|b| b as u8)).collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One journal entry as a record and what the journal knows about it; and its cursor.
fn entry(line: &[u8]) -> Option<(Record, Known, Option<String>)> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(line).ok()?;
    let get = |k: &str| map.get(k).and_then(string);
    let raw_message = map.get("MESSAGE");
    let mut fl = 0;
    let text = match raw_message {
        Some(serde_json::Value::Array(a)) => {
            let bytes: Vec<u8> = a.iter().filter_map(|b| b.as_u64().map(|b| b as u8)).collect();
            let (t, f) = Pipeline::text(&bytes);
            fl |= f;
            t
        }
        Some(v) => string(v).unwrap_or_default(),
        None => String::new(),
    };
    let mut fields = Vec::new();
    for k in [
        "_COMM",
        "_TRANSPORT",
        "_BOOT_ID",
        "CODE_FILE",
        "CODE_LINE",
        "CODE_FUNC",
    ] {
        if let Some(v) = get(k) {
            fields.push((k.trim_start_matches('_').to_ascii_lowercase(), Value::Str(v)));
        }
    }
    let known = Known {
        timestamp_ms: get("__REALTIME_TIMESTAMP")
            .and_then(|t| t.parse::<i64>().ok())
            .map(|us| us / 1000),
        level: get("PRIORITY")
            .and_then(|p| p.parse::<u8>().ok())
            .filter(|p| *p <= 7)
            .map(Level::from_priority),
        service: get("SYSLOG_IDENTIFIER"),
        unit: get("_SYSTEMD_UNIT"),
        host: get("_HOSTNAME"),
        pid: get("_PID").and_then(|p| p.parse().ok()),
        fields,
    };
    if text.contains('\n') {
        fl |= flags::MULTILINE;
    }
    Some((
        Record {
            text,
            flags: fl,
            start: 0,
        },
        known,
        get("__CURSOR"),
    ))
}

pub fn run(mut pipe: Pipeline, cfg: JournaldSource, stop: Stop) {
    let stored = pipe.checkpoint();
    let first_run = stored.is_none();
    let mut state: State = stored
        .and_then(|b| postcard::from_bytes(&b).ok())
        .unwrap_or_default();
    pipe.next_seq = state.next_seq.max(1);
    let mut backoff = Duration::from_secs(1);
    let mut episode: Option<String> = None;
    let mut started_once = false;
    loop {
        if stop.is_stopped() {
            return;
        }
        let mut child = match command(&cfg, state.cursor.as_deref(), first_run && !started_once).spawn() {
            Ok(c) => c,
            Err(e) => {
                let why = format!("cannot run {}: {e}", cfg.journalctl.display());
                report(&pipe, &mut episode, &why, backoff);
                if stop.sleep_until(std::time::Instant::now() + backoff) {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        };
        started_once = true;
        let started = Instant::now();
        let (entries, stderr) = follow(&mut pipe, &mut child, &mut state, &stop);
        let _ = child.kill();
        let status = child.wait().ok();
        if stop.is_stopped() {
            return;
        }
        let why = format!(
            "journalctl ended ({}){}",
            status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "no status".into()),
            if stderr.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", stderr.trim())
            }
        );
        if stderr.contains("cursor") && state.cursor.is_some() {
            log::warn!(
                "logs: source {}: the journal no longer has the saved position ({}); reading what it has from its start",
                pipe.src.name,
                stderr.trim()
            );
            state.cursor = None;
        }
        if entries > 0 || started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_secs(1);
        }
        report(&pipe, &mut episode, &why, backoff);
        if stop.sleep_until(std::time::Instant::now() + backoff) {
            return;
        }
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

fn report(pipe: &Pipeline, episode: &mut Option<String>, why: &str, retry: Duration) {
    pipe.problem("journalctl");
    let kind = why.split(':').next().unwrap_or(why).to_string();
    if episode.as_deref() != Some(&kind) {
        log::warn!(
            "logs: source {}: {why}; retrying in {} s (and with backoff, not logged again)",
            pipe.src.name,
            retry.as_secs()
        );
        *episode = Some(kind);
    }
}

/// Reads entries until journalctl ends or `stop`; returns the entries read and its stderr.
fn follow(pipe: &mut Pipeline, child: &mut Child, state: &mut State, stop: &Stop) -> (u64, String) {
    let Some(out) = child.stdout.take() else {
        return (0, String::new());
    };
    let mut err_pipe = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = err_pipe.as_mut() {
            let _ = e.take(64 * 1024).read_to_string(&mut s);
        }
        s
    });
    let rx = match line_reader(out, MAX_ENTRY, format!("log-{}-read", pipe.src.name)) {
        Ok(rx) => rx,
        Err(_) => return (0, String::new()),
    };
    let mut n = 0u64;
    let mut bad = 0u64;
    loop {
        match rx.recv_timeout(super::BATCH_WAIT) {
            Ok(Ok((line, truncated))) => match entry(&line).filter(|_| !truncated) {
                Some((rec, known, cursor)) => {
                    n += 1;
                    pipe.emit(rec, None, known);
                    if cursor.is_some() {
                        state.cursor = cursor;
                    }
                }
                None => {
                    bad += 1;
                    if bad == 1 {
                        pipe.problem("journal_entry");
                        log::warn!("logs: source {}: journalctl wrote an entry that is not JSON; skipping such entries", pipe.src.name);
                    }
                }
            },
            Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if pipe.due() || (stop.is_stopped() && pipe.pending() > 0) {
            state.next_seq = pipe.next_seq;
            let cp = postcard::to_allocvec(&*state).expect("encoding into a Vec cannot fail");
            if !matches!(pipe.commit(Some(cp), stop), Append::Accepted(_)) {
                break;
            }
        }
        if stop.is_stopped() {
            break;
        }
    }
    if pipe.pending() > 0 && !stop.is_stopped() {
        state.next_seq = pipe.next_seq;
        let cp = postcard::to_allocvec(&*state).expect("encoding into a Vec cannot fail");
        let _ = pipe.commit(Some(cp), stop);
    }
    let stderr = if stop.is_stopped() {
        String::new()
    } else {
        err_reader.join().unwrap_or_default()
    };
    (n, stderr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_map_onto_events() {
        let line = br#"{"__CURSOR":"s=abc;i=1","__REALTIME_TIMESTAMP":"1796306709123456","PRIORITY":"3","_SYSTEMD_UNIT":"ssh.service","SYSLOG_IDENTIFIER":"sshd","_PID":"812","_HOSTNAME":"gw","MESSAGE":"Failed password"}"#;
        let (rec, known, cursor) = entry(line).unwrap();
        assert_eq!(rec.text, "Failed password");
        assert_eq!(known.timestamp_ms, Some(1_796_306_709_123));
        assert_eq!(known.level, Some(Level::Error));
        assert_eq!(known.unit.as_deref(), Some("ssh.service"));
        assert_eq!((known.service.as_deref(), known.pid), (Some("sshd"), Some(812)));
        assert_eq!(cursor.as_deref(), Some("s=abc;i=1"));
        let (rec, _, _) = entry(br#"{"MESSAGE":[104,105,255]}"#).unwrap();
        assert_eq!(rec.text, "hi\u{fffd}");
        assert_ne!(rec.flags & flags::INVALID_UTF8, 0);
        assert!(entry(b"not json").is_none());
    }
}

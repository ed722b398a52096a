//! The agent's own log records as events (`source = "outpost"`), so a fleet's central log
//! store sees what its agents say. The logger (set up by `main.rs`) hands each record to
//! [`forward`], which passes it on without blocking while an internal source runs: a full
//! queue drops the record (counted in `outpost_log_internal_dropped_total`), never the agent.
//!
//! These events never loop back into alerting: their `source` is
//! [`INTERNAL_SOURCE`](crate::model::event::INTERNAL_SOURCE), which the signature engine
//! skips. Nothing on this path logs, so a record cannot beget records.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Mutex;

use super::multiline::Record;
use super::{Known, Pipeline};
use crate::model::event::{Level, Value};
use crate::model::now_ms;
use crate::shutdown::Stop;
use crate::store::Append;

struct Line {
    ts_ms: i64,
    level: log::Level,
    target: String,
    text: String,
}

static SINK: Mutex<Option<(SyncSender<Line>, log::LevelFilter)>> = Mutex::new(None);
/// Records dropped because the internal source fell behind.
pub static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Called by the agent's logger for every record it writes.
pub fn forward(record: &log::Record<'_>) {
    let Ok(guard) = SINK.try_lock() else { return };
    let Some((tx, max)) = guard.as_ref() else { return };
    if record.level() > *max {
        return;
    }
    let line = Line {
        ts_ms: now_ms(),
        level: record.level(),
        target: record.target().to_string(),
        text: record.args().to_string(),
    };
    if let Err(TrySendError::Full(_)) = tx.try_send(line) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

fn level(l: log::Level) -> Level {
    match l {
        log::Level::Error => Level::Error,
        log::Level::Warn => Level::Warning,
        log::Level::Info => Level::Info,
        log::Level::Debug | log::Level::Trace => Level::Debug,
    }
}

pub fn run(mut pipe: Pipeline, max: log::LevelFilter, stop: Stop) {
    let (tx, rx) = sync_channel(1024);
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = Some((tx, max));
    let mut seq = 0u64;
    loop {
        match rx.recv_timeout(super::BATCH_WAIT) {
            Ok(line) => {
                seq += 1;
                let known = Known {
                    timestamp_ms: Some(line.ts_ms),
                    level: Some(level(line.level)),
                    service: Some("outpost".into()),
                    pid: Some(std::process::id()),
                    fields: vec![("module".into(), Value::Str(line.target))],
                    ..Known::default()
                };
                pipe.emit(
                    Record {
                        text: line.text,
                        flags: 0,
                        start: seq,
                    },
                    None,
                    known,
                );
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if (pipe.due() || (stop.is_stopped() && pipe.pending() > 0))
            && !matches!(pipe.commit(None, &stop), Append::Accepted(_))
        {
            break;
        }
        if stop.is_stopped() {
            break;
        }
    }
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

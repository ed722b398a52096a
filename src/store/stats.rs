//! What the store reports about itself: the `outpost_store_*` families and the text of
//! `outpost store stats`.

use std::collections::BTreeMap;

use super::record::Class;
use crate::model::{Family, MetricKind};

/// Why records were dropped (the `reason` label of `outpost_store_dropped_records_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// Over `[store] max_bytes`.
    MaxBytes,
    /// Older than `[store] max_age`.
    MaxAge,
    /// The filesystem is below `[store] min_free_disk`.
    DiskFull,
    /// A chunk failed its checksum.
    Corrupt,
    /// The disk could not take writes for long enough that the memory buffer overflowed.
    WriteError,
    /// The store could not keep up with appends.
    Overload,
}

impl DropReason {
    pub fn label(self) -> &'static str {
        match self {
            DropReason::MaxBytes => "max_bytes",
            DropReason::MaxAge => "max_age",
            DropReason::DiskFull => "disk_full",
            DropReason::Corrupt => "corrupt",
            DropReason::WriteError => "write_error",
            DropReason::Overload => "overload",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            DropReason::MaxBytes => "store is at [store] max_bytes",
            DropReason::MaxAge => "older than [store] max_age",
            DropReason::DiskFull => "disk below [store] min_free_disk",
            DropReason::Corrupt => "damaged on disk",
            DropReason::WriteError => "disk not writable, memory buffer full",
            DropReason::Overload => "store could not keep up",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SinkBacklog {
    /// The classes the sink reads.
    pub classes: [bool; 3],
    pub records: u64,
    pub bytes: u64,
    pub oldest_ts: Option<i64>,
    pub acked: u64,
}

#[derive(Debug, Clone, Default)]
pub struct StoreStats {
    pub backend: &'static str,
    pub healthy: bool,
    pub unavailable: Option<String>,
    pub records: [u64; 3],
    pub bytes: [u64; 3],
    pub oldest_ts: [Option<i64>; 3],
    pub pending_records: u64,
    pub disk_bytes: u64,
    pub durable_seq: u64,
    pub appended: [u64; 3],
    /// Record payload bytes appended, per class (what the write amplification is relative to).
    pub appended_bytes: [u64; 3],
    pub dropped: BTreeMap<(Class, DropReason), u64>,
    pub recoveries: BTreeMap<String, u64>,
    pub unclean_starts: u64,
    pub commits: u64,
    pub commit_seconds: f64,
    pub last_commit_seconds: f64,
    pub write_errors: u64,
    pub sinks: BTreeMap<String, SinkBacklog>,
}

/// Bytes this process has caused to be written to the block layer (`/proc/self/io`).
pub fn process_write_bytes() -> Option<u64> {
    std::fs::read_to_string("/proc/self/io")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl StoreStats {
    pub fn families(&self) -> Vec<Family> {
        let g = MetricKind::Gauge;
        let c = MetricKind::Counter;
        let mut out = Vec::new();
        let class_label = |cl: Class| vec![("class", cl.name().to_string())];
        let mut records = Family::new("outpost_store_records", "Records held in the store by class.", g);
        let mut bytes = Family::new(
            "outpost_store_bytes",
            "Encoded bytes held in the store by class.",
            g,
        );
        let mut appended = Family::new(
            "outpost_store_appended_records_total",
            "Records appended by class.",
            c,
        );
        let mut appended_bytes = Family::new(
            "outpost_store_appended_bytes_total",
            "Record payload bytes appended by class.",
            c,
        );
        let mut oldest = Family::new(
            "outpost_store_oldest_record_age_seconds",
            "Age of the oldest record held, by class.",
            g,
        );
        for cl in Class::ALL {
            records.push(class_label(cl), self.records[cl.index()] as f64);
            bytes.push(class_label(cl), self.bytes[cl.index()] as f64);
            appended.push(class_label(cl), self.appended[cl.index()] as f64);
            appended_bytes.push(class_label(cl), self.appended_bytes[cl.index()] as f64);
            if let Some(ts) = self.oldest_ts[cl.index()] {
                oldest.push(class_label(cl), (now_s() - ts as f64 / 1000.0).max(0.0));
            }
        }
        out.extend([records, bytes, appended, appended_bytes, oldest]);
        let mut dropped = Family::new(
            "outpost_store_dropped_records_total",
            "Records dropped from the store by class and reason.",
            c,
        );
        for ((cl, reason), n) in &self.dropped {
            dropped.push(
                vec![
                    ("class", cl.name().to_string()),
                    ("reason", reason.label().to_string()),
                ],
                *n as f64,
            );
        }
        out.push(dropped);
        let mut recoveries = Family::new(
            "outpost_store_recoveries_total",
            "Times a damaged store was moved to quarantine and replaced, by reason.",
            c,
        );
        for (reason, n) in &self.recoveries {
            recoveries.push(vec![("reason", reason.clone())], *n as f64);
        }
        out.push(recoveries);
        let mut backlog = Family::new(
            "outpost_store_sink_backlog_records",
            "Records not yet acknowledged by a sink.",
            g,
        );
        let mut backlog_bytes = Family::new(
            "outpost_store_sink_backlog_bytes",
            "Encoded bytes not yet acknowledged by a sink.",
            g,
        );
        let mut age = Family::new(
            "outpost_store_sink_oldest_unacked_age_seconds",
            "Age of the oldest record a sink has not acknowledged.",
            g,
        );
        for (name, b) in &self.sinks {
            let l = vec![("sink", name.clone())];
            backlog.push(l.clone(), b.records as f64);
            backlog_bytes.push(l.clone(), b.bytes as f64);
            age.push(
                l,
                b.oldest_ts
                    .map(|ts| (now_s() - ts as f64 / 1000.0).max(0.0))
                    .unwrap_or(0.0),
            );
        }
        out.extend([backlog, backlog_bytes, age]);
        let mut info = Family::new("outpost_store_info", "The store backend in use.", g);
        info.push(vec![("backend", self.backend.to_string())], 1.0);
        out.push(info);
        out.push(Family::single(
            "outpost_store_healthy",
            "1 when the store accepts writes, 0 while it is unavailable.",
            g,
            if self.healthy { 1.0 } else { 0.0 },
        ));
        out.push(Family::single(
            "outpost_store_disk_bytes",
            "Size of the store's files.",
            g,
            self.disk_bytes as f64,
        ));
        out.push(Family::single(
            "outpost_store_durable_sequence",
            "Highest record sequence number that is durable.",
            g,
            self.durable_seq as f64,
        ));
        out.push(Family::single(
            "outpost_store_pending_records",
            "Records appended but not yet committed.",
            g,
            self.pending_records as f64,
        ));
        out.push(Family::single(
            "outpost_store_commits_total",
            "Store commits.",
            c,
            self.commits as f64,
        ));
        out.push(Family::single(
            "outpost_store_commit_seconds_total",
            "Time spent in store commits (fsync included).",
            c,
            self.commit_seconds,
        ));
        out.push(Family::single(
            "outpost_store_last_commit_duration_seconds",
            "Duration of the last store commit.",
            g,
            self.last_commit_seconds,
        ));
        out.push(Family::single(
            "outpost_store_write_errors_total",
            "Store commits that failed.",
            c,
            self.write_errors as f64,
        ));
        out.push(Family::single(
            "outpost_store_unclean_starts_total",
            "Starts that found the store not cleanly closed (crash, kill -9, power cut).",
            c,
            self.unclean_starts as f64,
        ));
        if let Some(w) = process_write_bytes() {
            out.push(Family::single(
                "outpost_disk_written_bytes_total",
                "Bytes the agent caused to be written to block devices (/proc/self/io write_bytes).",
                c,
                w as f64,
            ));
        }
        out
    }

    /// Human-readable summary for `outpost store stats`.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "backend:        {}", self.backend);
        match &self.unavailable {
            None => {
                let _ = writeln!(s, "state:          healthy");
            }
            Some(why) => {
                let _ = writeln!(s, "state:          UNAVAILABLE: {why}");
            }
        }
        let _ = writeln!(s, "disk usage:     {} bytes", self.disk_bytes);
        let _ = writeln!(s, "durable seq:    {}", self.durable_seq);
        let _ = writeln!(
            s,
            "{:<10} {:>12} {:>14} {:>16}",
            "class", "records", "bytes", "oldest age (s)"
        );
        for cl in Class::ALL {
            let age = self.oldest_ts[cl.index()]
                .map(|ts| format!("{:.0}", (now_s() - ts as f64 / 1000.0).max(0.0)))
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                s,
                "{:<10} {:>12} {:>14} {:>16}",
                cl.name(),
                self.records[cl.index()],
                self.bytes[cl.index()],
                age
            );
        }
        if self.sinks.is_empty() {
            let _ = writeln!(
                s,
                "sinks:          none (data is kept until a sink is configured)"
            );
        }
        for (name, b) in &self.sinks {
            let age = b
                .oldest_ts
                .map(|ts| format!("{:.0}s", (now_s() - ts as f64 / 1000.0).max(0.0)))
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                s,
                "sink {name}: backlog {} records, {} bytes, oldest unacknowledged {age}, acked through seq {}",
                b.records, b.bytes, b.acked
            );
        }
        for ((cl, reason), n) in &self.dropped {
            let _ = writeln!(s, "dropped {}: {n} ({})", cl.name(), reason.describe());
        }
        for (reason, n) in &self.recoveries {
            let _ = writeln!(s, "recovered from {reason}: {n} time(s)");
        }
        s
    }
}

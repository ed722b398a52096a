//! The remote_write sink: stored metrics snapshots to a Prometheus remote-write receiver
//! (Prometheus, Mimir, Thanos, Cortex, VictoriaMetrics), as an encoder on the delivery engine
//! ([`super::forward`]): two lanes, live first, backfill rate, retries and the once-per-episode
//! logging are the engine's; this module decodes stored snapshots and turns them into snappy
//! protobuf `WriteRequest`s ([`proto`]).
//!
//! What is remote_write's own: reads are sized so that a batch fills about one request
//! (`max_samples_per_request`, from a running estimate of samples per snapshot), backlog
//! samples older than `max_backlog_age` are dropped and counted instead of sent, and the
//! permanent refusals of Prometheus (the "too old sample" 500 of Prometheus before 2.50, other
//! 4xx) are the reasons `outpost_remote_write_rejected_samples_total` always shows.

pub mod proto;

use std::sync::Arc;

use self::proto::Encoder as Proto;
use super::forward::{self, Encoded, Forward, ForwardStats, HttpPost, Names, Request, Settings};
use crate::config::RemoteWriteConfig;
use crate::model::now_ms;
use crate::model::stored::{decode_snapshot, StoredSnapshot};
use crate::shutdown::Stop;
use crate::store::{Class, Record, StoreHandle};
use crate::telemetry::Telemetry;

pub const SINK: &str = "remote_write";

/// Stored bytes read per batch at most (a day of backlog is drained in such steps).
const READ_BYTES: usize = 4 << 20;

/// Reasons `outpost_remote_write_rejected_samples_total` always shows (at 0 until they
/// occur), so a `rate()` over them works from the start.
pub const REJECT_REASONS: &[&str] = &[
    "bad_request",
    "duplicate",
    "http_4xx",
    "not_found",
    "out_of_bounds",
    "out_of_order",
    "redirect",
    "too_large",
    "too_old",
    "unauthorized",
];

pub const NAMES: Names = Names {
    sink: SINK,
    unit: "samples",
    reject_reasons: REJECT_REASONS,
    drop_reasons: &["max_backlog_age", "undecodable"],
    drop_help: "Samples not sent, by reason (max_backlog_age: older than the backlog limit; undecodable: a damaged stored snapshot).",
};

/// remote_write's format: stored snapshots to WriteRequests.
pub struct WriteRequests {
    proto: Proto,
    max_samples: usize,
    max_backlog_age: Option<std::time::Duration>,
    /// Running estimate of samples per stored snapshot, to size reads to requests.
    samples_per_record: f64,
}

impl WriteRequests {
    pub fn new(cfg: &RemoteWriteConfig) -> WriteRequests {
        WriteRequests {
            proto: Proto {
                job: cfg.job.clone(),
                instance: cfg.instance.clone(),
                external_labels: cfg.external_labels.clone(),
                max_samples: cfg.max_samples,
                max_bytes: cfg.max_request_bytes,
            },
            max_samples: cfg.max_samples,
            max_backlog_age: cfg.max_backlog_age,
            samples_per_record: 500.0,
        }
    }
}

impl forward::Encoder for WriteRequests {
    fn read_limits(&self) -> (usize, usize) {
        let records =
            (self.max_samples as f64 / self.samples_per_record.max(1.0)).clamp(1.0, 1000.0) as usize;
        (records, READ_BYTES)
    }

    fn encode(&mut self, records: &[Record], live: bool) -> Encoded {
        let mut out = Encoded::default();
        let mut snapshots: Vec<StoredSnapshot> = Vec::with_capacity(records.len());
        for r in records {
            match decode_snapshot(&r.data) {
                Ok(s) => snapshots.push(s),
                Err(e) => {
                    log::error!(
                        "remote_write: stored snapshot {} does not decode ({e}); skipping it",
                        r.seq
                    );
                    out.dropped.push(("undecodable", 1));
                }
            }
        }
        let samples: usize = snapshots
            .iter()
            .map(|s| s.families.iter().map(|f| f.samples.len()).sum::<usize>())
            .sum();
        if !snapshots.is_empty() {
            self.samples_per_record =
                0.8 * self.samples_per_record + 0.2 * (samples as f64 / snapshots.len() as f64);
        }
        let min_ts = match (live, self.max_backlog_age) {
            (false, Some(age)) => Some(now_ms() - age.as_millis() as i64),
            _ => None,
        };
        let batch = self.proto.encode(&snapshots, min_ts);
        if batch.too_old > 0 {
            out.dropped.push(("max_backlog_age", batch.too_old));
        }
        out.requests = batch
            .requests
            .into_iter()
            .map(|e| Request {
                body: e.body,
                items: e.samples as u64,
                tally: Vec::new(),
            })
            .collect();
        out
    }
}

/// The sink as the runtime starts it.
pub struct RemoteWriteSink {
    pub cfg: RemoteWriteConfig,
    pub store: StoreHandle,
    pub telemetry: Arc<Telemetry>,
}

impl RemoteWriteSink {
    /// Runs until `stop` trips; what was not delivered stays stored.
    pub async fn run(self, stop: Stop) {
        let stats = self.telemetry.register_with(SINK, || ForwardStats::new(NAMES));
        let forward = Forward {
            settings: Settings {
                classes: &[Class::Metrics],
                backfill_rate: self.cfg.backfill_rate,
                retry_min: self.cfg.retry_min,
                retry_max: self.cfg.retry_max,
                linger: std::time::Duration::ZERO,
                ordered: false,
            },
            store: self.store,
            stats,
            encoder: WriteRequests::new(&self.cfg),
            transport: Arc::new(HttpPost::new(
                &self.cfg.endpoint,
                &[
                    ("Content-Encoding", "snappy"),
                    ("Content-Type", "application/x-protobuf"),
                    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
                ],
            )),
        };
        forward.run(stop).await;
    }
}

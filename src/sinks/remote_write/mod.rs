//! The remote_write sink: stored metrics snapshots to a Prometheus remote-write receiver
//! (Prometheus, Mimir, Thanos, Cortex, VictoriaMetrics), acknowledged in the store only after
//! a 2xx.
//!
//! **Two lanes.** Receivers roll back a whole request when one sample in it is refused, so live
//! samples and backlog samples never share a request. The *live* lane sends what became
//! durable after the sink started; the *backlog* lane drains what was stored before, in
//! order, behind it, at `backfill_rate` bytes per second and without samples older than
//! `max_backlog_age`. Each lane has at most one request in flight, on tokio's blocking pool
//! (ureq blocks), so a slow backlog request never holds up live data.
//!
//! **Outages.** A retryable failure (5xx, 429, no answer) holds both lanes, backing off with
//! full jitter or as `Retry-After` says. When the live lane fails and newer data is already durable, its
//! pending batch is handed to the backlog (it is not acknowledged, so the backlog lane reads
//! it again) and the live lane moves to the newest data: when the receiver comes back, the
//! present goes first and the gap is filled behind it. A permanent refusal (other 4xx, and
//! the "too old sample" 500 of Prometheus before 2.50) is counted by reason, logged once per
//! episode, acknowledged and passed over — one bad batch never blocks the queue.

pub mod proto;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::proto::{Encoded, Encoder};
use crate::config::RemoteWriteConfig;
use crate::model::now_ms;
use crate::model::stored::{decode_snapshot, StoredSnapshot};
use crate::net::http::{self, Endpoint, Outcome};
use crate::net::pace::{backoff, Bucket};
use crate::store::{Class, StoreHandle};
use crate::telemetry::Telemetry;

pub const SINK: &str = "remote_write";

/// How often idle lanes look for new durable data and due retries.
const POLL: Duration = Duration::from_millis(250);
/// Stored bytes read per batch at most (a day of backlog is drained in such steps).
const READ_BYTES: usize = 4 << 20;
/// The longest `Retry-After` honoured; a receiver asking for more is asked again then.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Records read from the store, encoded; acknowledged as `after < seq <= last` when every
/// request is settled (delivered or refused for good).
struct Work {
    after: u64,
    last: u64,
    requests: VecDeque<Arc<Encoded>>,
}

struct Lane {
    live: bool,
    /// Records up to here are settled (or belong to the other lane).
    after: u64,
    /// Records above this are not this lane's (the live lane has no bound).
    until: u64,
    work: Option<Work>,
    inflight: Option<JoinHandle<Outcome>>,
    /// The backlog's rate limit asks to wait until then.
    retry_at: Option<Instant>,
    /// The backlog lane found nothing more up to `until`.
    drained: bool,
    /// Samples sent by this lane since it last drained (backlog progress for the log).
    sent: u64,
    started: Instant,
}

impl Lane {
    fn new(live: bool, after: u64, until: u64) -> Lane {
        Lane {
            live,
            after,
            until,
            work: None,
            inflight: None,
            retry_at: None,
            drained: false,
            sent: 0,
            started: Instant::now(),
        }
    }

    fn name(&self) -> &'static str {
        if self.live {
            "live"
        } else {
            "backlog"
        }
    }
}

pub struct RemoteWriteSink {
    pub cfg: RemoteWriteConfig,
    pub store: StoreHandle,
    pub telemetry: Arc<Telemetry>,
}

/// Shared by the lanes of one sink.
struct State {
    agent: ureq::Agent,
    endpoint: Arc<Endpoint>,
    encoder: Encoder,
    bucket: Bucket,
    /// The failure being reported; the next different one (or a success) is logged.
    episode: Option<String>,
    /// A retryable failure holds both lanes until then: a 429's Retry-After or a 5xx is about
    /// the receiver, not about one lane's data.
    hold_until: Option<Instant>,
    attempt: u32,
    /// Running estimate of samples per stored snapshot, to size reads to requests.
    samples_per_record: f64,
}

impl RemoteWriteSink {
    /// Runs until `shutdown` turns true. Requests still in flight then are abandoned; what
    /// they carried is not acknowledged and goes again after the restart.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        if let Err(e) = self.store.register_sink(SINK, &[Class::Metrics]).await {
            log::error!("remote_write: {e}");
            return;
        }
        self.telemetry.remote_write_enabled();
        let mut st = State {
            agent: http::agent(&self.cfg.endpoint),
            endpoint: Arc::new(self.cfg.endpoint.clone()),
            encoder: Encoder {
                job: self.cfg.job.clone(),
                instance: self.cfg.instance.clone(),
                external_labels: self.cfg.external_labels.clone(),
                max_samples: self.cfg.max_samples,
                max_bytes: self.cfg.max_request_bytes,
            },
            bucket: Bucket::new(self.cfg.backfill_rate),
            episode: None,
            hold_until: None,
            attempt: 0,
            samples_per_record: 500.0,
        };
        self.store.opened().await;
        let boundary = self.store.durable_seq();
        let mut live = Lane::new(true, boundary, u64::MAX);
        let mut backlog = Lane::new(false, 0, boundary);
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.step(&mut st, &mut live).await;
            self.step(&mut st, &mut backlog).await;
            tokio::select! {
                r = async { live.inflight.as_mut().expect("guarded").await }, if live.inflight.is_some() => {
                    live.inflight = None;
                    self.settle(&mut st, &mut live, Some(&mut backlog), joined(r)).await;
                }
                r = async { backlog.inflight.as_mut().expect("guarded").await }, if backlog.inflight.is_some() => {
                    backlog.inflight = None;
                    self.settle(&mut st, &mut backlog, None, joined(r)).await;
                }
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Reads and encodes the lane's next batch when it has none, and starts its next request
    /// when nothing is in flight and no retry is pending.
    async fn step(&self, st: &mut State, lane: &mut Lane) {
        let now = Instant::now();
        if lane.inflight.is_some()
            || lane.retry_at.is_some_and(|t| now < t)
            || st.hold_until.is_some_and(|t| now < t)
        {
            return;
        }
        if lane.work.is_none() {
            let idle_backlog = !lane.live && lane.drained;
            if idle_backlog || !self.next_batch(st, lane).await {
                return;
            }
        }
        let Some(req) = lane.work.as_ref().and_then(|w| w.requests.front()).cloned() else {
            return;
        };
        if !lane.live {
            match st.bucket.allowance(req.body.len()) {
                Ok(_) => st.bucket.spend(req.body.len()),
                Err(wait) => {
                    lane.retry_at = Some(Instant::now() + wait);
                    return;
                }
            }
        }
        lane.retry_at = None;
        let agent = st.agent.clone();
        let ep = Arc::clone(&st.endpoint);
        lane.inflight = Some(tokio::task::spawn_blocking(move || {
            http::send(
                &agent,
                &ep,
                "POST",
                &ep.url,
                &[
                    ("Content-Encoding", "snappy"),
                    ("Content-Type", "application/x-protobuf"),
                    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
                ],
                Some(&req.body),
            )
        }));
    }

    /// Loads the lane's next batch; false when there is nothing to send now.
    async fn next_batch(&self, st: &mut State, lane: &mut Lane) -> bool {
        let max_records =
            (self.cfg.max_samples as f64 / st.samples_per_record.max(1.0)).clamp(1.0, 1000.0) as usize;
        let records = match self
            .store
            .read_between(SINK, lane.after, lane.until, max_records, READ_BYTES)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                log::warn!("remote_write: store: {e}");
                lane.retry_at = Some(Instant::now() + Duration::from_secs(1));
                return false;
            }
        };
        let Some(last) = records.last().map(|r| r.seq) else {
            if !lane.live && !lane.drained {
                lane.drained = true;
                if lane.sent > 0 {
                    log::info!(
                        "remote_write: backlog drained: {} samples in {:.1} s",
                        lane.sent,
                        lane.started.elapsed().as_secs_f64()
                    );
                }
            }
            return false;
        };
        let mut snapshots: Vec<StoredSnapshot> = Vec::with_capacity(records.len());
        for r in &records {
            match decode_snapshot(&r.data) {
                Ok(s) => snapshots.push(s),
                Err(e) => {
                    log::error!(
                        "remote_write: stored snapshot {} does not decode ({e}); skipping it",
                        r.seq
                    );
                    self.telemetry.remote_write_dropped("undecodable", 1);
                }
            }
        }
        let samples: usize = snapshots
            .iter()
            .map(|s| s.families.iter().map(|f| f.samples.len()).sum::<usize>())
            .sum();
        if !snapshots.is_empty() {
            st.samples_per_record =
                0.8 * st.samples_per_record + 0.2 * (samples as f64 / snapshots.len() as f64);
        }
        let min_ts = match (lane.live, self.cfg.max_backlog_age) {
            (false, Some(age)) => Some(now_ms() - age.as_millis() as i64),
            _ => None,
        };
        let batch = st.encoder.encode(&snapshots, min_ts);
        if batch.too_old > 0 {
            self.telemetry
                .remote_write_dropped("max_backlog_age", batch.too_old);
            if st.episode.as_deref() != Some("max_backlog_age") {
                log::warn!(
                    "remote_write: dropping backlog samples older than max_backlog_age ({} in this batch)",
                    batch.too_old
                );
                st.episode = Some("max_backlog_age".into());
            }
        }
        if !lane.live && lane.sent == 0 && !batch.requests.is_empty() {
            lane.started = Instant::now();
            log::info!(
                "remote_write: sending the backlog (records up to seq {}) behind live data",
                lane.until
            );
        }
        lane.work = Some(Work {
            after: lane.after,
            last,
            requests: batch.requests.into_iter().map(Arc::new).collect(),
        });
        if lane.work.as_ref().is_some_and(|w| w.requests.is_empty()) {
            self.complete(lane).await;
            return false;
        }
        true
    }

    /// Acknowledges a batch whose requests are all settled.
    async fn complete(&self, lane: &mut Lane) {
        let Some(w) = lane.work.take() else { return };
        if let Err(e) = self.store.ack_range(SINK, w.after, w.last).await {
            log::warn!("remote_write: store: {e}");
        }
        lane.after = w.last;
    }

    async fn settle(&self, st: &mut State, lane: &mut Lane, backlog: Option<&mut Lane>, outcome: Outcome) {
        let Some(req) = lane.work.as_ref().and_then(|w| w.requests.front()).cloned() else {
            return;
        };
        match outcome {
            Outcome::Delivered(status) => {
                self.telemetry.remote_write_request(Some(status));
                self.telemetry.remote_write_sent(req.samples as u64);
                if let Some(e) = st.episode.take() {
                    if e != "max_backlog_age" {
                        log::info!("remote_write: delivering to {} again", st.endpoint.url);
                    }
                }
                st.attempt = 0;
                st.hold_until = None;
                lane.sent += req.samples as u64;
                self.next_request(lane).await;
            }
            Outcome::Rejected {
                status,
                reason,
                message,
            } => {
                self.telemetry
                    .remote_write_request((status > 0).then_some(status));
                self.telemetry.remote_write_rejected(reason, req.samples as u64);
                let episode = format!("rejected:{reason}");
                if st.episode.as_ref() != Some(&episode) {
                    log::warn!(
                        "remote_write: {} refused {} {} samples for good ({reason}): {message}; counted in \
                         outpost_remote_write_rejected_samples_total and passed over (further ones are not logged)",
                        st.endpoint.url,
                        req.samples,
                        lane.name()
                    );
                    st.episode = Some(episode);
                }
                st.attempt = 0;
                st.hold_until = None;
                self.next_request(lane).await;
            }
            Outcome::Retry {
                status,
                after,
                message,
            } => {
                self.telemetry.remote_write_request(status);
                st.attempt = st.attempt.saturating_add(1);
                let wait = match after {
                    Some(a) => a.min(MAX_RETRY_AFTER),
                    None => backoff(self.cfg.retry_min, self.cfg.retry_max, st.attempt),
                };
                let until = Instant::now() + wait;
                st.hold_until = Some(st.hold_until.map_or(until, |h| h.max(until)));
                let episode = format!("retry:{}", status.map(|s| s.to_string()).unwrap_or_default());
                if st.episode.as_ref() != Some(&episode) {
                    log::warn!(
                        "remote_write: {}: {message}; retrying with backoff, data stays stored",
                        st.endpoint.url
                    );
                    st.episode = Some(episode);
                }
                if let (true, Some(backlog)) = (lane.live, backlog) {
                    self.fold_into_backlog(lane, backlog);
                }
            }
        }
    }

    /// After a live failure: when newer data is already durable, the pending live batch joins
    /// the backlog (unacknowledged, so the backlog lane reads it) and live moves to the tip.
    fn fold_into_backlog(&self, live: &mut Lane, backlog: &mut Lane) {
        let tip = self.store.durable_seq();
        let Some(w) = &live.work else { return };
        if tip <= w.last {
            return;
        }
        live.work = None;
        live.after = tip;
        backlog.until = backlog.until.max(tip);
        if backlog.drained {
            backlog.drained = false;
            backlog.sent = 0;
        }
    }

    /// Moves past the request at the front; completes the batch after its last one.
    async fn next_request(&self, lane: &mut Lane) {
        let empty = match lane.work.as_mut() {
            Some(w) => {
                w.requests.pop_front();
                w.requests.is_empty()
            }
            None => false,
        };
        if empty {
            self.complete(lane).await;
        }
    }
}

/// A request task that panicked counts as a failure without an answer.
fn joined(r: Result<Outcome, tokio::task::JoinError>) -> Outcome {
    r.unwrap_or_else(|e| Outcome::Retry {
        status: None,
        after: None,
        message: format!("request task failed: {e}"),
    })
}

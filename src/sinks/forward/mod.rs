//! The delivery engine every sink that reads the store runs on: the delivery contract,
//! written once. A sink is an [`Encoder`] (stored records → request bodies), a [`Transport`]
//! (one blocking request → an [`Outcome`]) and its config; remote_write, Logstash and the
//! alert sinks (Alertmanager, Slack, Telegram, exec) are each one.
//!
//! **Two lanes.** Receivers roll back a whole request when one item in it is refused, so live
//! records and backlog records never share a request. The *live* lane sends what became
//! durable after the sink started; the *backlog* lane drains what was stored before, in
//! order, behind it, at `backfill_rate` bytes per second. Each lane has at most one request in
//! flight, on tokio's blocking pool (the transports block), so a slow backlog request never
//! holds up live data.
//!
//! **Acknowledged after delivery.** A batch read from the store is acknowledged (as the range
//! it was read from) only when each of its requests is settled: delivered (2xx), or refused
//! for good (counted by reason, logged once per episode, passed over: one bad batch never
//! blocks the queue). Nothing else leaves the store, so a crash re-sends at most what was in
//! flight: at least once, never lost.
//!
//! **Order.** A sink with `Settings::ordered` (the alert sinks) has no backlog lane: one
//! lane sends everything unacknowledged in store order, the oldest first, also after an
//! outage or a restart.
//!
//! **Outages.** A retryable failure (5xx, 429, no answer) holds both lanes, backing off with
//! full jitter or as `Retry-After` says (capped at [`MAX_RETRY_AFTER`]). When the live lane
//! fails and newer data is already durable, its pending batch is handed to the backlog (it is
//! not acknowledged, so the backlog lane reads it again) and the live lane moves to the
//! newest data: when the receiver comes back, the present goes first and the gap is filled
//! behind it. Failures are logged once per episode (the next different one, or recovery, is
//! logged again) and counted in [`stats::ForwardStats`].

pub mod stats;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use self::stats::{ForwardStats, Names};
use crate::net::http::{self, Endpoint, Outcome};
use crate::net::pace::{backoff, Bucket};
use crate::shutdown::Stop;
use crate::store::{Class, Record, StoreHandle};

/// How often idle lanes look for new durable data and due retries.
const POLL: Duration = Duration::from_millis(250);
/// The longest `Retry-After` honoured; a receiver asking for more is asked again then.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// One request body and how many items (samples, events) it carries.
pub struct Request {
    pub body: Vec<u8>,
    pub items: u64,
    /// The items by kind, for sinks that count what they send by kind (the alert sinks:
    /// firing, reminder, resolved); empty otherwise. Handed back in [`Encoder::settled`].
    pub tally: Vec<(&'static str, u64)>,
}

/// What an encoder made of one batch of records.
#[derive(Default)]
pub struct Encoded {
    pub requests: Vec<Request>,
    /// Items not sent, by reason (counted in `outpost_<sink>_dropped_<unit>_total`); a reason
    /// starts a log episode.
    pub dropped: Vec<(&'static str, u64)>,
}

/// Turns stored records into request bodies: a sink's format.
pub trait Encoder: Send + 'static {
    /// How many records, and stored bytes, the next batch may read.
    fn read_limits(&self) -> (usize, usize);
    /// Encodes one batch for the live (`live`) or backlog lane; may make no request at all
    /// (everything dropped), which acknowledges the batch.
    fn encode(&mut self, records: &[Record], live: bool) -> Encoded;
    /// A request the receiver refused as too large (413), in smaller requests; `None` when it
    /// cannot be made smaller (then it is counted as rejected and passed over).
    fn split(&mut self, _request: &Request) -> Option<Vec<Request>> {
        None
    }
    /// One attempt at `request` ended: `delivered`, `rejected` (for good) or `retry`.
    fn settled(&mut self, _request: &Request, _result: &'static str) {}
}

/// Sends one request, blocking: a sink's protocol.
pub trait Transport: Send + Sync + 'static {
    fn send(&self, body: &[u8]) -> Outcome;
    /// Where requests go, for log lines.
    fn target(&self) -> &str;
}

/// A POST of each body to an HTTP endpoint, with the sink's protocol headers.
pub struct HttpPost {
    agent: ureq::Agent,
    endpoint: Endpoint,
    headers: Vec<(&'static str, &'static str)>,
}

impl HttpPost {
    pub fn new(endpoint: &Endpoint, headers: &[(&'static str, &'static str)]) -> HttpPost {
        HttpPost {
            agent: http::agent(endpoint),
            endpoint: endpoint.clone(),
            headers: headers.to_vec(),
        }
    }
}

impl Transport for HttpPost {
    fn send(&self, body: &[u8]) -> Outcome {
        http::send(
            &self.agent,
            &self.endpoint,
            "POST",
            &self.endpoint.url,
            &self.headers,
            Some(body),
        )
    }

    fn target(&self) -> &str {
        &self.endpoint.url
    }
}

/// The engine's settings for one sink (its name, for the store cursor, the log lines and the
/// counters, is its [`Names::sink`]).
#[derive(Debug, Clone)]
pub struct Settings {
    pub classes: &'static [Class],
    /// Backlog bytes (as sent) per second; 0 = unlimited.
    pub backfill_rate: u64,
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// The live lane waits up to this long for a fuller batch (0: sends what is durable).
    pub linger: Duration,
    /// Strict store order instead of live first: one lane reads everything unacknowledged
    /// from the oldest, and a failure never lets newer records overtake older ones (the alert
    /// sinks: a resolve must not arrive before its firing).
    pub ordered: bool,
}

/// A batch read from the store, encoded; acknowledged as `after < seq <= last` when every
/// request is settled.
struct Work {
    after: u64,
    last: u64,
    requests: VecDeque<Arc<Request>>,
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
    /// Items sent by this lane since it last drained (backlog progress for the log).
    sent: u64,
    started: Instant,
    /// Since when the live lane has held a batch back, waiting for a fuller one (linger).
    lingering: Option<Instant>,
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
            lingering: None,
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

/// Shared by the lanes of one sink.
struct State<E> {
    encoder: E,
    bucket: Bucket,
    /// The episode being reported; the next different one (or a recovery) is logged.
    episode: Option<String>,
    /// A retryable failure holds both lanes until then: a 429's Retry-After or a 5xx is about
    /// the receiver, not about one lane's data.
    hold_until: Option<Instant>,
    attempt: u32,
    /// A 413 split is logged once per sink run (it recurs with every large batch).
    split_logged: bool,
}

/// One sink on the engine.
pub struct Forward<E, T> {
    pub settings: Settings,
    pub store: StoreHandle,
    pub stats: Arc<ForwardStats>,
    pub encoder: E,
    pub transport: Arc<T>,
}

impl<E: Encoder, T: Transport> Forward<E, T> {
    /// Runs until `stop` trips. Requests still in flight then are abandoned; what they
    /// carried is not acknowledged and goes again after the restart.
    pub async fn run(self, stop: Stop) {
        let Forward {
            settings,
            store,
            stats,
            encoder,
            transport,
        } = self;
        let sink = Sink {
            settings,
            store,
            stats,
            transport,
        };
        if let Err(e) = sink.store.register_sink(sink.name(), sink.settings.classes).await {
            log::error!("{}: {e}", sink.name());
            return;
        }
        let mut st = State {
            encoder,
            bucket: Bucket::new(sink.settings.backfill_rate),
            episode: None,
            hold_until: None,
            attempt: 0,
            split_logged: false,
        };
        sink.store.opened().await;
        let boundary = if sink.settings.ordered {
            0
        } else {
            sink.store.durable_seq()
        };
        let mut live = Lane::new(true, boundary, u64::MAX);
        let mut backlog = Lane::new(false, 0, boundary);
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            sink.step(&mut st, &mut live).await;
            sink.step(&mut st, &mut backlog).await;
            tokio::select! {
                r = async { live.inflight.as_mut().expect("guarded").await }, if live.inflight.is_some() => {
                    live.inflight = None;
                    sink.settle(&mut st, &mut live, Some(&mut backlog), joined(r)).await;
                }
                r = async { backlog.inflight.as_mut().expect("guarded").await }, if backlog.inflight.is_some() => {
                    backlog.inflight = None;
                    sink.settle(&mut st, &mut backlog, None, joined(r)).await;
                }
                _ = tick.tick() => {}
                _ = stop.stopped() => return,
            }
        }
    }
}

/// The engine's fixed parts, apart from the encoder's state.
struct Sink<T> {
    settings: Settings,
    store: StoreHandle,
    stats: Arc<ForwardStats>,
    transport: Arc<T>,
}

impl<T: Transport> Sink<T> {
    fn name(&self) -> &'static str {
        self.stats.names().sink
    }

    /// What the sink counts, for log lines: `samples`, `events`.
    fn unit(&self) -> &'static str {
        self.stats.names().unit
    }

    /// Reads and encodes the lane's next batch when it has none, and starts its next request
    /// when nothing is in flight and no retry is pending.
    async fn step<E: Encoder>(&self, st: &mut State<E>, lane: &mut Lane) {
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
        let transport = Arc::clone(&self.transport);
        lane.inflight = Some(tokio::task::spawn_blocking(move || transport.send(&req.body)));
    }

    /// Loads the lane's next batch; false when there is nothing to send now.
    async fn next_batch<E: Encoder>(&self, st: &mut State<E>, lane: &mut Lane) -> bool {
        let (max_records, max_bytes) = st.encoder.read_limits();
        let records = match self
            .store
            .read_between(self.name(), lane.after, lane.until, max_records, max_bytes)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                log::warn!("{}: store: {e}", self.name());
                lane.retry_at = Some(Instant::now() + Duration::from_secs(1));
                return false;
            }
        };
        let Some(last) = records.last().map(|r| r.seq) else {
            if !lane.live && !lane.drained {
                lane.drained = true;
                if lane.sent > 0 {
                    log::info!(
                        "{}: backlog drained: {} {} in {:.1} s",
                        self.name(),
                        lane.sent,
                        self.unit(),
                        lane.started.elapsed().as_secs_f64()
                    );
                }
            }
            return false;
        };
        if lane.live && !self.settings.linger.is_zero() && records.len() < max_records {
            let bytes: usize = records.iter().map(|r| r.data.len()).sum();
            let since = *lane.lingering.get_or_insert_with(Instant::now);
            if bytes < max_bytes / 2 && since.elapsed() < self.settings.linger {
                return false;
            }
        }
        lane.lingering = None;
        let batch = st.encoder.encode(&records, lane.live);
        for (reason, n) in &batch.dropped {
            self.stats.dropped(reason, *n);
            if st.episode.as_deref() != Some(*reason) {
                log::warn!(
                    "{}: dropping {} ({reason}; {n} in this batch), counted in outpost_{}_dropped_{}_total",
                    self.name(),
                    self.unit(),
                    self.name(),
                    self.unit()
                );
                st.episode = Some(reason.to_string());
            }
        }
        if !lane.live && lane.sent == 0 && !batch.requests.is_empty() {
            lane.started = Instant::now();
            log::info!(
                "{}: sending the backlog (records up to seq {}) behind live data",
                self.name(),
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
        if let Err(e) = self.store.ack_range(self.name(), w.after, w.last).await {
            log::warn!("{}: store: {e}", self.name());
        }
        lane.after = w.last;
    }

    async fn settle<E: Encoder>(
        &self,
        st: &mut State<E>,
        lane: &mut Lane,
        backlog: Option<&mut Lane>,
        outcome: Outcome,
    ) {
        let Some(req) = lane.work.as_ref().and_then(|w| w.requests.front()).cloned() else {
            return;
        };
        let target = self.transport.target();
        match outcome {
            Outcome::Delivered(status) => {
                self.stats.request(Some(status));
                self.stats.delivered(req.items);
                if let Some(e) = st.episode.take() {
                    if e.starts_with("retry:") || e.starts_with("rejected:") {
                        log::info!("{}: delivering to {target} again", self.name());
                    }
                }
                st.encoder.settled(&req, "delivered");
                st.attempt = 0;
                st.hold_until = None;
                lane.sent += req.items;
                self.next_request(lane).await;
            }
            Outcome::Rejected { status: 413, .. } if self.split(st, lane, &req) => {
                self.stats.request(Some(413));
            }
            Outcome::Rejected {
                status,
                reason,
                message,
            } => {
                self.stats.request((status > 0).then_some(status));
                self.stats.rejected(reason, req.items);
                st.encoder.settled(&req, "rejected");
                let episode = format!("rejected:{reason}");
                if st.episode.as_ref() != Some(&episode) {
                    log::warn!(
                        "{}: {target} refused {} {} {} for good ({reason}): {message}; counted in \
                         outpost_{}_rejected_{}_total and passed over (further ones are not logged)",
                        self.name(),
                        req.items,
                        lane.name(),
                        self.unit(),
                        self.name(),
                        self.unit()
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
                self.stats.request(status);
                st.encoder.settled(&req, "retry");
                st.attempt = st.attempt.saturating_add(1);
                let wait = match after {
                    Some(a) => a.min(MAX_RETRY_AFTER),
                    None => backoff(self.settings.retry_min, self.settings.retry_max, st.attempt),
                };
                let until = Instant::now() + wait;
                st.hold_until = Some(st.hold_until.map_or(until, |h| h.max(until)));
                let episode = format!("retry:{}", status.map(|s| s.to_string()).unwrap_or_default());
                if st.episode.as_ref() != Some(&episode) {
                    log::warn!(
                        "{}: {target}: {message}; retrying with backoff, data stays stored",
                        self.name()
                    );
                    st.episode = Some(episode);
                }
                if let (true, false, Some(backlog)) = (lane.live, self.settings.ordered, backlog) {
                    self.fold_into_backlog(lane, backlog);
                }
            }
        }
    }

    /// Replaces the front request of the lane's batch by the encoder's smaller ones.
    fn split<E: Encoder>(&self, st: &mut State<E>, lane: &mut Lane, req: &Request) -> bool {
        let Some(parts) = st.encoder.split(req) else {
            return false;
        };
        let Some(w) = lane.work.as_mut() else { return false };
        if !st.split_logged {
            st.split_logged = true;
            log::warn!(
                "{}: {} refused a request of {} {} as too large (413); sending it in {} parts \
                 (lower max_bytes or max_events to avoid this)",
                self.name(),
                self.transport.target(),
                req.items,
                self.unit(),
                parts.len()
            );
        }
        w.requests.pop_front();
        for p in parts.into_iter().rev() {
            w.requests.push_front(Arc::new(p));
        }
        true
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

#[cfg(test)]
mod tests;

/// A request task that panicked counts as a failure without an answer.
fn joined(r: Result<Outcome, tokio::task::JoinError>) -> Outcome {
    r.unwrap_or_else(|e| Outcome::Retry {
        status: None,
        after: None,
        message: format!("request task failed: {e}"),
    })
}

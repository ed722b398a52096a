//! Alert delivery: the signature engine's decisions (the store's `alerts` class) to where
//! people see them. Every alert sink is an encoder on the one delivery engine
//! ([`super::forward`]) — its own store cursor, lanes, backoff, `Retry-After` and
//! acknowledgement after delivery — so a decision made while the gateway is offline is
//! delivered when the receiver is back, and a restart (or `kill -9`) loses none: at least once,
//! with `fingerprint:kind:first_seen` as the key receivers can de-duplicate on.
//!
//! What differs per sink is small: [`AlertEncoder`] decodes the decisions, applies
//! [`route::admit`] (policies and filters, counted), and hands the admitted ones to the sink's
//! [`Render`] (bodies) — the Transport is HTTP (`alertmanager`, `chat`: Slack and Telegram,
//! paced) or a local program (`exec`). The MQTT uplink publishes the same class itself and
//! applies the same route through [`route::AlertGate`].

pub mod alertmanager;
pub mod chat;
pub mod exec;
pub mod route;
pub mod stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use self::route::{admit, Verdict};
use self::stats::AlertStats;
use tokio::task::JoinHandle;

use super::forward::{Encoded, Encoder, Forward, ForwardStats, Names, Request, Settings, Transport};
use crate::config::alerts::{AlertsConfig, Route};
use crate::model::alert::Decision;
use crate::shutdown::Stop;
use crate::store::{Class, Record, StoreHandle};
use crate::telemetry::Telemetry;

/// At most one call per `min` interval, across threads: the chat and exec transports hold it
/// across their request, so the sink's two lanes take turns and the pace holds for the sink.
pub struct Pace {
    min: Duration,
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Pace {
    pub fn new(min: Duration) -> Pace {
        Pace {
            min,
            last: std::sync::Mutex::new(None),
        }
    }

    /// Runs `f` once `min` has passed since the previous call ended (sleeping until then).
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let mut last = crate::telemetry::lock(&self.last);
        if let Some(t) = *last {
            let next = t + self.min;
            let now = std::time::Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
        }
        let out = f();
        *last = Some(std::time::Instant::now());
        out
    }
}

/// A decision for the tests of the sinks.
#[cfg(test)]
pub fn test_decision(kind: crate::model::alert::Kind, fingerprint: &str) -> Decision {
    Decision {
        kind,
        fingerprint: fingerprint.into(),
        category: "network_db".into(),
        signature: Some("NET_RESET".into()),
        policy: "notify".into(),
        severity: "medium".into(),
        summary: "Transient network issue".into(),
        count: 3,
        first_seen_ms: 0,
        last_seen_ms: 0,
        decided_ms: 0,
        canonical: "network_reset".into(),
        samples: vec!["socket hang up".into()],
        reminders: 0,
        gateway: "gw-17".into(),
        shadow: false,
    }
}

/// The class every alert sink reads.
pub const CLASSES: &[Class] = &[Class::Alerts];

/// How a sink turns admitted decisions into request bodies.
pub trait Render: Send + 'static {
    /// Bodies, each with the indices (into `decisions`) of the decisions it carries.
    fn render(&mut self, decisions: &[Decision]) -> Vec<(Vec<u8>, Vec<usize>)>;
}

/// Decodes, routes and counts; the sink's [`Render`] does the rest.
pub struct AlertEncoder<R> {
    pub sink: &'static str,
    pub route: Route,
    pub stats: Arc<AlertStats>,
    pub render: R,
    /// Decisions read per batch: one message's worth for the chat sinks.
    pub max_records: usize,
}

impl<R: Render> Encoder for AlertEncoder<R> {
    fn read_limits(&self) -> (usize, usize) {
        (self.max_records, 1 << 20)
    }

    fn encode(&mut self, records: &[Record], _live: bool) -> Encoded {
        let mut out = Encoded::default();
        let mut admitted = Vec::new();
        for r in records {
            match Decision::decode(&r.data) {
                Err(_) => {
                    self.stats.count(self.sink, "unknown", "undecodable", 1);
                    out.dropped.push(("undecodable", 1));
                }
                Ok(d) => match admit(&self.route, false, &d) {
                    Verdict::Send => admitted.push(d),
                    Verdict::Skip(why) => self.stats.count(self.sink, d.kind.as_str(), why, 1),
                },
            }
        }
        if admitted.is_empty() {
            return out;
        }
        for (body, carried) in self.render.render(&admitted) {
            let mut tally: Vec<(&'static str, u64)> = Vec::new();
            for &i in &carried {
                let kind = admitted[i].kind.as_str();
                match tally.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, n)) => *n += 1,
                    None => tally.push((kind, 1)),
                }
            }
            out.requests.push(Request {
                body,
                items: carried.len() as u64,
                tally,
            });
        }
        out
    }

    fn settled(&mut self, request: &Request, result: &'static str) {
        for (kind, n) in &request.tally {
            self.stats.count(self.sink, kind, result, *n);
        }
    }
}

/// The delivery engine's names for an alert sink (`outpost_<sink>_alerts_total`, …).
fn names(sink: &'static str) -> Names {
    Names {
        sink,
        unit: "alerts",
        reject_reasons: &[],
        drop_reasons: &["undecodable"],
        drop_help: "Alert records that could not be decoded (written by an incompatible version), by reason.",
    }
}

fn settings(linger: Duration) -> Settings {
    Settings {
        classes: CLASSES,
        backfill_rate: 0,
        retry_min: Duration::from_secs(1),
        retry_max: Duration::from_secs(60),
        linger,
        ordered: true,
    }
}

/// Store cursor (and metric) names of the Alertmanager instances, by position in `urls`.
pub const ALERTMANAGER_SINKS: [&str; 4] = [
    "alertmanager_1",
    "alertmanager_2",
    "alertmanager_3",
    "alertmanager_4",
];

/// Everything the alert sinks need from the runtime.
pub struct AlertSinks {
    pub cfg: AlertsConfig,
    pub store: StoreHandle,
    pub telemetry: Arc<Telemetry>,
    pub data_dir: PathBuf,
    pub gateway: String,
}

impl AlertSinks {
    /// One sink on the delivery engine, started on the runtime.
    #[allow(clippy::too_many_arguments)]
    fn spawn<R: Render, T: Transport>(
        &self,
        sink: &'static str,
        route: &Route,
        stats: &Arc<AlertStats>,
        render: R,
        max_records: usize,
        linger: Duration,
        transport: T,
        stop: &Stop,
    ) -> JoinHandle<()> {
        stats.announce(sink);
        let fwd = Forward {
            settings: settings(linger),
            store: self.store.clone(),
            stats: self
                .telemetry
                .register_with(sink, || ForwardStats::new(names(sink))),
            encoder: AlertEncoder {
                sink,
                route: route.clone(),
                stats: Arc::clone(stats),
                render,
                max_records,
            },
            transport: Arc::new(transport),
        };
        tokio::spawn(fwd.run(stop.clone()))
    }

    /// Runs every configured sink until `stop` trips; one sink's outage never holds up another
    /// (each is its own task with its own cursor).
    pub async fn run(self, stop: Stop) {
        let stats = self.telemetry.register_with("alerts", AlertStats::default);
        let mut tasks = Vec::new();
        if let Some(am) = self.cfg.alertmanager.as_ref().filter(|a| a.route.enabled) {
            let active = alertmanager::Active::load(&self.data_dir, am);
            for (i, ep) in am.endpoints.iter().enumerate() {
                let sink = ALERTMANAGER_SINKS[i];
                let render = alertmanager::Render::new(am, Arc::clone(&active));
                let transport = alertmanager::transport(ep);
                tasks.push(self.spawn(
                    sink,
                    &am.route,
                    &stats,
                    render,
                    200,
                    Duration::ZERO,
                    transport,
                    &stop,
                ));
                let resend = alertmanager::Resender {
                    sink,
                    endpoint: ep.clone(),
                    cfg: am.clone(),
                    active: Arc::clone(&active),
                    stats: Arc::clone(&stats),
                };
                tasks.push(tokio::spawn(resend.run(stop.clone())));
            }
        }
        for (sink, chat) in [("slack", &self.cfg.slack), ("telegram", &self.cfg.telegram)] {
            let Some(c) = chat.as_ref().filter(|c| c.route.enabled) else {
                continue;
            };
            let telegram = sink == "telegram";
            let render = chat::Render {
                telegram,
                chat_id: c.chat_id.clone(),
                gateway: self.gateway.clone(),
            };
            let transport = chat::Chat::new(c, telegram);
            tasks.push(self.spawn(
                sink,
                &c.route,
                &stats,
                render,
                c.max_per_message,
                c.min_interval,
                transport,
                &stop,
            ));
        }
        if let Some(e) = self.cfg.exec.as_ref().filter(|e| e.route.enabled) {
            tasks.push(self.spawn(
                "exec",
                &e.route,
                &stats,
                exec::Render,
                50,
                Duration::ZERO,
                exec::Exec::new(e),
                &stop,
            ));
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

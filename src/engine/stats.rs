//! The engine's own metrics: `outpost_engine_*`.
//!
//! Counted on the sources' threads per event, so the per-signature counters are atomics in a
//! vector the catalog sizes (its labels are the catalog's, bounded); a new catalog is a new
//! engine with new counters (a counter reset, which Prometheus handles).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::matcher::SlowWork;
use crate::config::signatures::{SignaturesConfig, GENERIC_CATEGORY};
use crate::model::alert::Kind;
use crate::model::{Family, MetricKind};
use crate::telemetry::Report;

pub struct EngineStats {
    labels: Vec<(String, String)>,
    by_signature: Vec<AtomicU64>,
    generic: AtomicU64,
    noise: AtomicU64,
    decisions: [AtomicU64; 3],
    live: AtomicU64,
    evicted: AtomicU64,
    deferred: AtomicU64,
    slow_runs: AtomicU64,
    slow_aborted: AtomicU64,
    slow_nanos: AtomicU64,
    pub state_errors: AtomicU64,
    pub state_writes: AtomicU64,
    /// 0: state on disk; 1: counts wait for state_interval; 2: a decision's state waits.
    pub pending: AtomicU64,
    pub store_errors: AtomicU64,
    shadow: bool,
}

impl EngineStats {
    pub fn new(cfg: &SignaturesConfig) -> EngineStats {
        let labels: Vec<(String, String)> = cfg
            .catalog
            .signatures
            .iter()
            .map(|s| (s.category.clone(), s.id.clone()))
            .collect();
        EngineStats {
            by_signature: labels.iter().map(|_| AtomicU64::new(0)).collect(),
            labels,
            generic: AtomicU64::new(0),
            noise: AtomicU64::new(0),
            decisions: Default::default(),
            live: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            deferred: AtomicU64::new(0),
            slow_runs: AtomicU64::new(0),
            slow_aborted: AtomicU64::new(0),
            slow_nanos: AtomicU64::new(0),
            state_errors: AtomicU64::new(0),
            state_writes: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            store_errors: AtomicU64::new(0),
            shadow: cfg.shadow,
        }
    }

    pub fn classified(&self, i: usize) {
        if let Some(c) = self.by_signature.get(i) {
            c.fetch_add(1, Relaxed);
        }
    }
    pub fn generic(&self) {
        self.generic.fetch_add(1, Relaxed);
    }
    pub fn noise(&self) {
        self.noise.fetch_add(1, Relaxed);
    }
    pub fn decided(&self, k: Kind) {
        self.decisions[k as usize].fetch_add(1, Relaxed);
    }
    pub fn slow(&self, w: SlowWork) {
        self.slow_runs.fetch_add(w.runs as u64, Relaxed);
        self.slow_aborted.fetch_add(w.aborted as u64, Relaxed);
        self.slow_nanos.fetch_add(w.nanos, Relaxed);
    }
    pub fn set_live(&self, live: usize, evicted: u64, deferred: u64) {
        self.live.store(live as u64, Relaxed);
        self.evicted.store(evicted, Relaxed);
        self.deferred.store(deferred, Relaxed);
    }
    /// Decisions made so far, by kind (firing, reminder, resolved).
    pub fn decisions(&self) -> [u64; 3] {
        [0, 1, 2].map(|i| self.decisions[i].load(Relaxed))
    }
}

impl Report for EngineStats {
    fn report(&self, out: &mut Vec<Family>) {
        let mut events = Family::new(
            "outpost_engine_events_classified_total",
            "Log events the signature engine grouped, by category and signature (\"\" for unclassified errors).",
            MetricKind::Counter,
        );
        for ((cat, id), n) in self.labels.iter().zip(&self.by_signature) {
            events.push(
                vec![("category", cat.clone()), ("signature", id.clone())],
                n.load(Relaxed) as f64,
            );
        }
        events.push(
            vec![
                ("category", GENERIC_CATEGORY.to_string()),
                ("signature", String::new()),
            ],
            self.generic.load(Relaxed) as f64,
        );
        out.push(events);
        let single =
            |name: &'static str, help: &'static str, kind, v: f64| Family::single(name, help, kind, v);
        out.push(single(
            "outpost_engine_events_noise_total",
            "Log events dropped as noise by the allowlist.",
            MetricKind::Counter,
            self.noise.load(Relaxed) as f64,
        ));
        let mut d = Family::new(
            "outpost_engine_decisions_total",
            "Alert decisions, by kind (firing, reminder, resolved).",
            MetricKind::Counter,
        );
        for k in [Kind::Firing, Kind::Reminder, Kind::Resolved] {
            d.push(
                vec![("kind", k.as_str().to_string())],
                self.decisions[k as usize].load(Relaxed) as f64,
            );
        }
        out.push(d);
        for (name, help, kind, v) in [
            (
                "outpost_engine_fingerprints",
                "Distinct fingerprints the engine keeps state for.",
                MetricKind::Gauge,
                &self.live,
            ),
            (
                "outpost_engine_fingerprint_evictions_total",
                "Fingerprints evicted because [signatures] max_fingerprints was reached.",
                MetricKind::Counter,
                &self.evicted,
            ),
            (
                "outpost_engine_decisions_deferred_total",
                "Decisions held back by max_decisions_per_minute (sent later, not dropped).",
                MetricKind::Counter,
                &self.deferred,
            ),
            (
                "outpost_engine_slow_path_runs_total",
                "Look-around patterns run by the slow path (fancy-regex).",
                MetricKind::Counter,
                &self.slow_runs,
            ),
            (
                "outpost_engine_slow_path_aborted_total",
                "Slow-path runs that hit the backtrack limit (counted as no match).",
                MetricKind::Counter,
                &self.slow_aborted,
            ),
            (
                "outpost_engine_state_write_errors_total",
                "Failures to write the engine's state file.",
                MetricKind::Counter,
                &self.state_errors,
            ),
            (
                "outpost_engine_state_writes_total",
                "Writes of the engine's state file (after decisions, else every state_interval while counts change).",
                MetricKind::Counter,
                &self.state_writes,
            ),
            (
                "outpost_engine_state_unsaved",
                "0 when the engine's state is on disk; 1 while counts wait for state_interval; 2 while a decision's state waits for the store.",
                MetricKind::Gauge,
                &self.pending,
            ),
            (
                "outpost_engine_store_errors_total",
                "Decisions the store did not take (stopped or full).",
                MetricKind::Counter,
                &self.store_errors,
            ),
        ] {
            out.push(single(name, help, kind, v.load(Relaxed) as f64));
        }
        out.push(single(
            "outpost_engine_slow_path_seconds_total",
            "Time spent in the slow path.",
            MetricKind::Counter,
            self.slow_nanos.load(Relaxed) as f64 / 1e9,
        ));
        out.push(single(
            "outpost_engine_shadow",
            "1 when [signatures] shadow = true: decisions are recorded and shown, never sent.",
            MetricKind::Gauge,
            self.shadow as u8 as f64,
        ));
    }
}

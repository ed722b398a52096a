//! The alert sinks' shared counters, one registry entry (`alerts`) for all of them, so each
//! family appears once with a `sink` label: `outpost_alerts_sent_total{sink,kind,result}`,
//! `outpost_alerts_last_success_timestamp_seconds{sink}` and `outpost_alerts_shadow`. The
//! backlog per sink is the store's `outpost_store_sink_backlog_records{sink}` (each alert sink
//! is a store sink of the `alerts` class). Each HTTP sink also has the delivery engine's own
//! `outpost_<sink>_*` families (requests by status code, for `exec` by exit status).

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::model::{Family, MetricKind};
use crate::telemetry::{lock, Report};

#[derive(Default)]
struct Counters {
    /// (sink, kind, result) → decisions.
    sent: BTreeMap<(&'static str, &'static str, &'static str), u64>,
    last_success: BTreeMap<&'static str, f64>,
    shadow: bool,
}

#[derive(Default)]
pub struct AlertStats {
    c: Mutex<Counters>,
}

/// Results a decision can have at a sink, besides the routing reasons of `route`.
pub const DELIVERED: &str = "delivered";

impl AlertStats {
    /// `n` decisions of `kind` had `result` at `sink`.
    pub fn count(&self, sink: &'static str, kind: &'static str, result: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        let mut c = lock(&self.c);
        *c.sent.entry((sink, kind, result)).or_default() += n;
        if result == DELIVERED {
            c.last_success.insert(sink, crate::model::now_ms() as f64 / 1e3);
        }
    }

    /// A sink that is configured shows its families at 0 before its first alert.
    pub fn announce(&self, sink: &'static str) {
        lock(&self.c).last_success.entry(sink).or_insert(0.0);
    }

    pub fn set_shadow(&self, on: bool) {
        lock(&self.c).shadow = on;
    }

    /// The count of one series (tests).
    pub fn get(&self, sink: &str, kind: &str, result: &str) -> u64 {
        lock(&self.c)
            .sent
            .iter()
            .filter(|((s, k, r), _)| *s == sink && *k == kind && *r == result)
            .map(|(_, n)| *n)
            .sum()
    }
}

impl Report for AlertStats {
    fn report(&self, out: &mut Vec<Family>) {
        let c = lock(&self.c);
        let mut sent = Family::new(
            "outpost_alerts_sent_total",
            "Alert decisions by sink, kind (firing, reminder, resolved, resend) and result: \
             delivered, rejected (for good), retry (a failed attempt, sent again), or why the \
             sink did not take it (shadow, disabled, retry_policy, escalation_only, severity, \
             category, undecodable).",
            MetricKind::Counter,
        );
        for sink in c.last_success.keys() {
            for kind in ["firing", "reminder", "resolved"] {
                if !c.sent.keys().any(|(s, k, _)| s == sink && *k == kind) {
                    sent.push(
                        vec![
                            ("sink", sink.to_string()),
                            ("kind", kind.to_string()),
                            ("result", DELIVERED.to_string()),
                        ],
                        0.0,
                    );
                }
            }
        }
        for ((sink, kind, result), n) in &c.sent {
            sent.push(
                vec![
                    ("sink", sink.to_string()),
                    ("kind", kind.to_string()),
                    ("result", result.to_string()),
                ],
                *n as f64,
            );
        }
        sent.samples.sort_by(|a, b| a.labels.cmp(&b.labels));
        out.push(sent);
        let mut last = Family::new(
            "outpost_alerts_last_success_timestamp_seconds",
            "When the sink last delivered an alert (Unix seconds; 0: not yet).",
            MetricKind::Gauge,
        );
        for (sink, t) in &c.last_success {
            last.push(vec![("sink", sink.to_string())], *t);
        }
        out.push(last);
        out.push(Family::single(
            "outpost_alerts_shadow",
            "1 while [signatures] shadow = true: decisions are recorded and shown, no alert is sent.",
            MetricKind::Gauge,
            if c.shadow { 1.0 } else { 0.0 },
        ));
    }
}

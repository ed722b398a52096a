//! The delivery engine's counters, one set per sink, named after it:
//! `outpost_<sink>_<unit>_total`, `outpost_<sink>_rejected_<unit>_total{reason}`,
//! `outpost_<sink>_dropped_<unit>_total{reason}`, `outpost_<sink>_requests_total{code}` and
//! `outpost_<sink>_last_success_timestamp_seconds` (`unit` is what the sink counts: samples,
//! events, alerts). Registered with telemetry under the sink's name, so a sink replaced by a
//! remote config keeps its counts.

use std::sync::Mutex;

use crate::model::{Family, MetricKind};
use crate::telemetry::{bump, counter_family, lock, Counts, Report};

/// What one sink's counters are called and which reasons always show.
#[derive(Debug, Clone, Copy)]
pub struct Names {
    pub sink: &'static str,
    /// Plural: `samples`, `events`.
    pub unit: &'static str,
    /// Reasons `rejected` always shows (at 0 until they occur), so a `rate()` works at once.
    pub reject_reasons: &'static [&'static str],
    pub drop_reasons: &'static [&'static str],
    /// The help text of the dropped family (what each reason means).
    pub drop_help: &'static str,
}

#[derive(Default)]
struct Counters {
    delivered: u64,
    rejected: Counts,
    dropped: Counts,
    /// Requests by answer: the status code, or "error" when none came.
    requests: Counts,
    last_success: f64,
}

pub struct ForwardStats {
    names: Names,
    c: Mutex<Counters>,
}

impl ForwardStats {
    pub fn new(names: Names) -> ForwardStats {
        ForwardStats {
            names,
            c: Mutex::new(Counters::default()),
        }
    }

    /// The sink's name and what it counts.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// One request ended: with this status code, or without an answer.
    pub fn request(&self, status: Option<u16>) {
        let code = status.map(|c| c.to_string()).unwrap_or_else(|| "error".into());
        bump(&mut lock(&self.c).requests, &code, 1);
    }

    pub fn delivered(&self, items: u64) {
        let mut c = lock(&self.c);
        c.delivered += items;
        c.last_success = crate::model::now_ms() as f64 / 1e3;
    }

    pub fn rejected(&self, reason: &str, items: u64) {
        bump(&mut lock(&self.c).rejected, reason, items);
    }

    pub fn dropped(&self, reason: &str, items: u64) {
        bump(&mut lock(&self.c).dropped, reason, items);
    }
}

impl Report for ForwardStats {
    fn report(&self, out: &mut Vec<Family>) {
        let n = &self.names;
        let c = lock(&self.c);
        let (sink, unit) = (n.sink, n.unit);
        let mut cap = unit.to_string();
        if let Some(f) = cap.get_mut(0..1) {
            f.make_ascii_uppercase();
        }
        out.push(Family::single(
            format!("outpost_{sink}_{unit}_total"),
            format!("{cap} {sink} delivered (2xx)."),
            MetricKind::Counter,
            c.delivered as f64,
        ));
        out.push(counter_family(
            &format!("outpost_{sink}_rejected_{unit}_total"),
            &format!("{cap} the receiver refused for good (not retried), by reason."),
            "reason",
            n.reject_reasons,
            &c.rejected,
        ));
        out.push(counter_family(
            &format!("outpost_{sink}_dropped_{unit}_total"),
            n.drop_help,
            "reason",
            n.drop_reasons,
            &c.dropped,
        ));
        out.push(counter_family(
            &format!("outpost_{sink}_requests_total"),
            &format!("{sink} requests by answer: the HTTP status code, or \"error\" when none came."),
            "code",
            &[],
            &c.requests,
        ));
        out.push(Family::single(
            format!("outpost_{sink}_last_success_timestamp_seconds"),
            format!("When {sink} last delivered a request (Unix seconds; 0: not yet)."),
            MetricKind::Gauge,
            c.last_success,
        ));
    }
}

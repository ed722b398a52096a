//! The agent's own metrics (`outpost_*`) and the local `/metrics` endpoint that serves them
//! together with the latest host snapshot.
//!
//! Counters live in one small struct behind a mutex: every writer is on the runtime thread or
//! finishes a sampling cycle, so contention is nil and a plain struct is easier to read than a
//! metrics registry. The exposition of the host snapshot is rendered once per cycle, not per
//! request, so a scrape costs a memcpy plus a few self metrics.

pub mod http;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::model::{text, Family, MetricKind};
use crate::sources::host::{collector_families, CollectorResult};
use crate::sources::scrape::target::ScrapeError;
use crate::store::StoreHandle;
use crate::{TARGET, VERSION};

#[derive(Default)]
struct Counters {
    cycles: u64,
    overruns: u64,
    last_cycle_seconds: f64,
    last_results: Vec<CollectorResult>,
    errors: BTreeMap<&'static str, u64>,
    http_requests: BTreeMap<u16, u64>,
    http_rejected: u64,
    board_devices: Vec<(&'static str, String, bool)>,
    /// The remote config version running (0: the local file), and outcomes by result.
    config_version: u64,
    config_results: BTreeMap<&'static str, u64>,
    push: PushCounters,
    /// Scrapes by job, then by result (`ok` or a [`ScrapeError`] reason).
    scrapes: BTreeMap<String, BTreeMap<&'static str, u64>>,
}

/// What the push sinks report; families appear only for the sinks that are configured.
#[derive(Default)]
struct PushCounters {
    rw_enabled: bool,
    rw_samples: u64,
    rw_rejected: BTreeMap<&'static str, u64>,
    rw_dropped: BTreeMap<&'static str, u64>,
    /// Requests by answer: the status code, or "error" when none came.
    rw_requests: BTreeMap<String, u64>,
    rw_last_success: f64,
    pg_enabled: bool,
    pg_pushes: BTreeMap<&'static str, u64>,
    pg_last_success: f64,
}

/// Reasons `outpost_remote_write_rejected_samples_total` always shows (at 0 until they occur),
/// so a `rate()` over them works from the start.
pub const RW_REJECT_REASONS: &[&str] = &[
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

pub struct Telemetry {
    started: Instant,
    start_unix: f64,
    counters: Mutex<Counters>,
    /// The host snapshot rendered in the text format, replaced after each cycle.
    exposition: Mutex<Arc<String>>,
    store: Mutex<Option<StoreHandle>>,
    link: Mutex<Option<tokio::sync::watch::Receiver<crate::sinks::mqtt::Link>>>,
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Resident set size and CPU seconds of this process, from `/proc/self`.
pub fn process_usage() -> (Option<f64>, Option<f64>) {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as f64;
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_ascii_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|pages| pages * page);
    let cpu = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| {
        // Fields after the command name, which may contain spaces: utime is the 14th field.
        let rest = &s[s.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_ascii_whitespace().collect();
        let utime: f64 = f.get(11)?.parse().ok()?;
        let stime: f64 = f.get(12)?.parse().ok()?;
        Some((utime + stime) / hz)
    });
    (rss, cpu)
}

impl Telemetry {
    pub fn new() -> Arc<Self> {
        Arc::new(Telemetry {
            started: Instant::now(),
            start_unix: now_unix(),
            counters: Mutex::new(Counters::default()),
            exposition: Mutex::new(Arc::new(String::new())),
            store: Mutex::new(None),
            link: Mutex::new(None),
        })
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        // Counters stay meaningful even if a holder panicked mid-update.
        self.counters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a finished cycle and publishes its exposition.
    pub fn cycle_done(&self, seconds: f64, results: Vec<CollectorResult>, exposition: String) {
        {
            let mut c = self.counters();
            c.cycles += 1;
            c.last_cycle_seconds = seconds;
            for r in &results {
                if r.error.is_some() {
                    *c.errors.entry(r.collector.name()).or_default() += 1;
                }
            }
            c.last_results = results;
        }
        *self.exposition.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(exposition);
    }

    pub fn overrun(&self) {
        self.counters().overruns += 1;
    }

    pub fn http_request(&self, status: u16) {
        *self.counters().http_requests.entry(status).or_default() += 1;
    }

    pub fn http_rejected(&self) {
        self.counters().http_rejected += 1;
    }

    pub fn set_board_devices(&self, devices: Vec<(&'static str, String, bool)>) {
        self.counters().board_devices = devices;
    }

    /// Adds the store's families to the agent's own.
    pub fn set_link(&self, link: tokio::sync::watch::Receiver<crate::sinks::mqtt::Link>) {
        *self.link.lock().unwrap_or_else(|e| e.into_inner()) = Some(link);
    }

    /// A remote config was processed: `result` is applied, rejected or rolled_back; `version`
    /// is what runs now (0: the local file).
    pub fn config_result(&self, result: &'static str, version: u64) {
        let mut c = self.counters();
        *c.config_results.entry(result).or_default() += 1;
        c.config_version = version;
    }

    pub fn set_config_version(&self, version: u64) {
        self.counters().config_version = version;
    }

    pub fn remote_write_enabled(&self) {
        self.counters().push.rw_enabled = true;
    }

    /// One remote_write request ended: with this status code, or without an answer.
    pub fn remote_write_request(&self, status: Option<u16>) {
        let code = status.map(|c| c.to_string()).unwrap_or_else(|| "error".into());
        *self.counters().push.rw_requests.entry(code).or_default() += 1;
    }

    pub fn remote_write_sent(&self, samples: u64) {
        let mut c = self.counters();
        c.push.rw_samples += samples;
        c.push.rw_last_success = now_unix();
    }

    pub fn remote_write_rejected(&self, reason: &'static str, samples: u64) {
        *self.counters().push.rw_rejected.entry(reason).or_default() += samples;
    }

    pub fn remote_write_dropped(&self, reason: &'static str, samples: u64) {
        *self.counters().push.rw_dropped.entry(reason).or_default() += samples;
    }

    pub fn pushgateway_enabled(&self) {
        self.counters().push.pg_enabled = true;
    }

    pub fn pushgateway_push(&self, ok: bool) {
        let mut c = self.counters();
        *c.push
            .pg_pushes
            .entry(if ok { "ok" } else { "error" })
            .or_default() += 1;
        if ok {
            c.push.pg_last_success = now_unix();
        }
    }

    /// A `[[scrape]]` job is running: its counters show from now on (at 0).
    pub fn scrape_job(&self, job: &str) {
        self.counters().scrapes.entry(job.to_string()).or_default();
    }

    pub fn scrape_result(&self, job: &str, result: &'static str) {
        *self
            .counters()
            .scrapes
            .entry(job.to_string())
            .or_default()
            .entry(result)
            .or_default() += 1;
    }

    pub fn set_store(&self, store: StoreHandle) {
        *self.store.lock().unwrap_or_else(|e| e.into_inner()) = Some(store);
    }

    pub fn has_sample(&self) -> bool {
        self.counters().cycles > 0
    }

    /// The latest host exposition (shared, not copied).
    pub fn exposition(&self) -> Arc<String> {
        Arc::clone(&self.exposition.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The agent's own families, current as of now.
    pub fn families(&self) -> Vec<Family> {
        let c = self.counters();
        let g = MetricKind::Gauge;
        let mut out = Vec::with_capacity(16);
        let mut build = Family::new(
            "outpost_build_info",
            "A metric with a constant '1' value labeled by version and target triple of the outpost build.",
            g,
        );
        build.push(
            vec![("target", TARGET.to_string()), ("version", VERSION.to_string())],
            1.0,
        );
        out.push(build);
        out.push(Family::single(
            "outpost_start_time_seconds",
            "Start time of the agent since unix epoch in seconds.",
            g,
            self.start_unix,
        ));
        out.push(Family::single(
            "outpost_uptime_seconds",
            "Seconds since the agent started.",
            g,
            self.started.elapsed().as_secs_f64(),
        ));
        let (rss, cpu) = process_usage();
        if let Some(rss) = rss {
            out.push(Family::single(
                "outpost_resident_memory_bytes",
                "Resident memory size of the agent in bytes.",
                g,
                rss,
            ));
        }
        if let Some(cpu) = cpu {
            out.push(Family::single(
                "outpost_cpu_seconds_total",
                "User and system CPU time spent by the agent in seconds.",
                MetricKind::Counter,
                cpu,
            ));
        }
        out.push(Family::single(
            "outpost_sample_duration_seconds",
            "Wall time of the last host sampling cycle in seconds.",
            g,
            c.last_cycle_seconds,
        ));
        out.push(Family::single(
            "outpost_sample_cycles_total",
            "Host sampling cycles completed.",
            MetricKind::Counter,
            c.cycles as f64,
        ));
        out.push(Family::single(
            "outpost_sample_overruns_total",
            "Sampling ticks skipped because the previous cycle was still running.",
            MetricKind::Counter,
            c.overruns as f64,
        ));
        let mut errors = Family::new(
            "outpost_sample_errors_total",
            "Host collector failures by collector.",
            MetricKind::Counter,
        );
        for r in &c.last_results {
            let n = c.errors.get(r.collector.name()).copied().unwrap_or(0);
            errors.push(vec![("collector", r.collector.name().to_string())], n as f64);
        }
        out.push(errors);
        let mut requests = Family::new(
            "outpost_metrics_http_requests_total",
            "Requests to the local metrics endpoint by status code.",
            MetricKind::Counter,
        );
        for (code, n) in &c.http_requests {
            requests.push(vec![("code", code.to_string())], *n as f64);
        }
        out.push(requests);
        out.push(Family::single(
            "outpost_metrics_http_rejected_connections_total",
            "Connections to the local metrics endpoint refused because the connection limit was reached.",
            MetricKind::Counter,
            c.http_rejected as f64,
        ));
        let mut devices = Family::new(
            "outpost_board_device_present",
            "Whether a device the board profile lists is present (1) or missing (0).",
            g,
        );
        for (kind, dev, present) in &c.board_devices {
            devices.push(
                vec![("device", dev.clone()), ("kind", (*kind).to_string())],
                if *present { 1.0 } else { 0.0 },
            );
        }
        out.push(devices);
        out.extend(collector_families(&c.last_results));
        out.push(Family::single(
            "outpost_config_remote_version",
            "Version of the remote config in use (0: the local file only).",
            g,
            c.config_version as f64,
        ));
        let mut results = Family::new(
            "outpost_config_remote_total",
            "Remote configs processed, by result (applied, rejected, rolled_back).",
            MetricKind::Counter,
        );
        for r in ["applied", "rejected", "rolled_back"] {
            results.push(
                vec![("result", r.to_string())],
                c.config_results.get(r).copied().unwrap_or(0) as f64,
            );
        }
        out.push(results);
        push_families(&c.push, &mut out);
        if !c.scrapes.is_empty() {
            let mut scrapes = Family::new(
                "outpost_scrapes_total",
                "Scrapes of [[scrape]] targets by job and result (ok, or why it failed).",
                MetricKind::Counter,
            );
            for (job, results) in &c.scrapes {
                for result in std::iter::once("ok").chain(ScrapeError::REASONS.iter().copied()) {
                    let n = results.get(result).copied().unwrap_or(0);
                    scrapes.push(
                        vec![("job", job.clone()), ("result", result.to_string())],
                        n as f64,
                    );
                }
            }
            out.push(scrapes);
        }
        drop(c);
        if let Some(link) = self.link.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let l = link.borrow().clone();
            out.push(Family::single(
                "outpost_mqtt_connected",
                "Whether the MQTT uplink is connected (1) or not (0).",
                g,
                if l.connected { 1.0 } else { 0.0 },
            ));
            out.push(Family::single(
                "outpost_mqtt_connections_total",
                "Successful connections to the MQTT broker.",
                MetricKind::Counter,
                l.connections as f64,
            ));
        }
        if let Some(store) = self.store.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            out.extend(store.stats().families());
        }
        out
    }

    /// The full `/metrics` body: host snapshot plus the agent's own metrics.
    pub fn render(&self) -> String {
        let host = self.exposition();
        let mut body = String::with_capacity(host.len() + 4096);
        body.push_str(&host);
        text::encode(&self.families(), &mut body);
        body
    }
}

fn push_families(p: &PushCounters, out: &mut Vec<Family>) {
    let counter = MetricKind::Counter;
    if p.rw_enabled {
        out.push(Family::single(
            "outpost_remote_write_samples_total",
            "Samples remote_write delivered (2xx).",
            counter,
            p.rw_samples as f64,
        ));
        let mut rejected = Family::new(
            "outpost_remote_write_rejected_samples_total",
            "Samples the receiver refused for good (not retried), by reason.",
            counter,
        );
        for reason in RW_REJECT_REASONS {
            let n = p.rw_rejected.get(reason).copied().unwrap_or(0);
            rejected.push(vec![("reason", reason.to_string())], n as f64);
        }
        out.push(rejected);
        let mut dropped = Family::new(
            "outpost_remote_write_dropped_samples_total",
            "Samples not sent, by reason (max_backlog_age: older than the backlog limit; undecodable: a damaged stored snapshot).",
            counter,
        );
        for reason in ["max_backlog_age", "undecodable"] {
            let n = p.rw_dropped.get(reason).copied().unwrap_or(0);
            dropped.push(vec![("reason", reason.to_string())], n as f64);
        }
        out.push(dropped);
        let mut requests = Family::new(
            "outpost_remote_write_requests_total",
            "remote_write requests by answer: the HTTP status code, or \"error\" when none came.",
            counter,
        );
        for (code, n) in &p.rw_requests {
            requests.push(vec![("code", code.clone())], *n as f64);
        }
        out.push(requests);
        out.push(Family::single(
            "outpost_remote_write_last_success_timestamp_seconds",
            "When remote_write last delivered a request (Unix seconds; 0: not yet).",
            MetricKind::Gauge,
            p.rw_last_success,
        ));
    }
    if p.pg_enabled {
        let mut pushes = Family::new(
            "outpost_pushgateway_pushes_total",
            "Pushes to the Pushgateway by result.",
            counter,
        );
        for result in ["error", "ok"] {
            let n = p.pg_pushes.get(result).copied().unwrap_or(0);
            pushes.push(vec![("result", result.to_string())], n as f64);
        }
        out.push(pushes);
        out.push(Family::single(
            "outpost_pushgateway_last_success_timestamp_seconds",
            "When the last push to the Pushgateway succeeded (Unix seconds; 0: not yet).",
            MetricKind::Gauge,
            p.pg_last_success,
        ));
    }
}

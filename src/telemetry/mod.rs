//! The agent's own metrics (`outpost_*`) as a registry, and the local `/metrics` endpoint
//! that serves them together with the latest host snapshot.
//!
//! Each component owns its counters and registers them here under a key: a type that
//! implements [`Report`] (it appends its families when asked). [`Telemetry::register`] hands
//! back the same counters to every instance that asks with the same key, so a sink replaced
//! by a remote config keeps counting where the old one stopped. Telemetry itself imports none
//! of the components: a new counter is a change in the component that counts it, nowhere else.
//! The exposition of the host snapshot is rendered once per cycle, not per request, so a
//! scrape costs a memcpy plus the registered families.

pub mod http;

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::model::{text, Family, MetricKind};
use crate::{TARGET, VERSION};

/// Something that reports metric families: a component's counters.
pub trait Report: Send + Sync + 'static {
    /// Appends the families, current as of now.
    fn report(&self, out: &mut Vec<Family>);
}

/// Locks a component's counters; they stay meaningful even if a holder panicked mid-update.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts by label value, for the `{reason=…}`/`{result=…}` families most components have.
pub type Counts = BTreeMap<String, u64>;

/// Adds `n` to the count of `key`.
pub fn bump(counts: &mut Counts, key: &str, n: u64) {
    match counts.get_mut(key) {
        Some(v) => *v += n,
        None => {
            counts.insert(key.to_string(), n);
        }
    }
}

/// A counter family with one label: every name of `always` (at 0 until counted, so a
/// `rate()` works from the start) and then whatever else was counted.
pub fn counter_family(
    name: &str,
    help: &str,
    label: &'static str,
    always: &[&str],
    counts: &Counts,
) -> Family {
    let mut f = Family::new(name, help, MetricKind::Counter);
    for key in always {
        f.push(
            vec![(label, key.to_string())],
            counts.get(*key).copied().unwrap_or(0) as f64,
        );
    }
    for (key, n) in counts {
        if !always.contains(&key.as_str()) {
            f.push(vec![(label, key.clone())], *n as f64);
        }
    }
    f
}

struct Entry {
    key: String,
    report: Arc<dyn Report>,
    any: Arc<dyn Any + Send + Sync>,
}

/// The endpoint's own counters (requests by status, refused connections).
#[derive(Default)]
struct HttpCounts {
    requests: BTreeMap<u16, u64>,
    rejected: u64,
}

pub struct Telemetry {
    started: Instant,
    start_unix: f64,
    /// The host snapshot rendered in the text format, replaced after each cycle.
    exposition: Mutex<Arc<String>>,
    sampled: AtomicBool,
    http: Mutex<HttpCounts>,
    entries: Mutex<Vec<Entry>>,
    /// JSON views served beside `/metrics` (`/errors`), by path.
    views: Mutex<Vec<(&'static str, Arc<dyn View>)>>,
}

/// A JSON view the local endpoint serves at a path of its own (the signature engine's
/// `/errors`); `query` is the request's query string (`since=30m`). `Err` is a client error
/// (400) with its message.
pub trait View: Send + Sync + 'static {
    fn render(&self, query: &str) -> Result<String, String>;
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
            start_unix: crate::model::now_ms() as f64 / 1e3,
            exposition: Mutex::new(Arc::new(String::new())),
            sampled: AtomicBool::new(false),
            http: Mutex::new(HttpCounts::default()),
            entries: Mutex::new(Vec::new()),
            views: Mutex::new(Vec::new()),
        })
    }

    /// The counters registered under `key`, created (and reported from now on) by the first
    /// caller; later callers with the same key and type get the same counters.
    pub fn register<T: Report + Default>(&self, key: &str) -> Arc<T> {
        self.register_with(key, T::default)
    }

    /// [`Telemetry::register`] for counters that need arguments to be made (`make` runs only
    /// when nothing of this type is registered under `key` yet).
    pub fn register_with<T: Report>(&self, key: &str, make: impl FnOnce() -> T) -> Arc<T> {
        let mut entries = lock(&self.entries);
        if let Some(e) = entries.iter().find(|e| e.key == key) {
            if let Ok(found) = Arc::clone(&e.any).downcast::<T>() {
                return found;
            }
        }
        let item = Arc::new(make());
        let report: Arc<dyn Report> = item.clone();
        let any: Arc<dyn Any + Send + Sync> = item.clone();
        match entries.iter_mut().find(|e| e.key == key) {
            Some(e) => {
                e.report = report;
                e.any = any;
            }
            None => entries.push(Entry {
                key: key.to_string(),
                report,
                any,
            }),
        }
        item
    }

    /// Registers (or replaces) a report that is not plain counters (a view of the store's
    /// statistics, of the uplink's state).
    pub fn register_report(&self, key: &str, report: Arc<dyn Report>) {
        let any: Arc<dyn Any + Send + Sync> = Arc::new(());
        let mut entries = lock(&self.entries);
        match entries.iter_mut().find(|e| e.key == key) {
            Some(e) => e.report = report,
            None => entries.push(Entry {
                key: key.to_string(),
                report,
                any,
            }),
        }
    }

    /// Serves `view` at `path` (replacing what was there); `None` removes it.
    pub fn set_view(&self, path: &'static str, view: Option<Arc<dyn View>>) {
        let mut views = lock(&self.views);
        views.retain(|(p, _)| *p != path);
        if let Some(v) = view {
            views.push((path, v));
        }
    }

    /// The view served at `path`.
    pub fn view(&self, path: &str) -> Option<Arc<dyn View>> {
        lock(&self.views)
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, v)| Arc::clone(v))
    }

    /// Publishes the latest host exposition (rendered by the sampler).
    pub fn publish(&self, exposition: String) {
        *lock(&self.exposition) = Arc::new(exposition);
        self.sampled.store(true, Ordering::SeqCst);
    }

    pub fn http_request(&self, status: u16) {
        *lock(&self.http).requests.entry(status).or_default() += 1;
    }

    pub fn http_rejected(&self) {
        lock(&self.http).rejected += 1;
    }

    pub fn has_sample(&self) -> bool {
        self.sampled.load(Ordering::SeqCst)
    }

    /// The latest host exposition (shared, not copied).
    pub fn exposition(&self) -> Arc<String> {
        Arc::clone(&lock(&self.exposition))
    }

    /// The agent's own families, current as of now: the process's, the endpoint's, then each
    /// registered component's in the order they registered.
    pub fn families(&self) -> Vec<Family> {
        let g = MetricKind::Gauge;
        let mut out = Vec::with_capacity(32);
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
        {
            let h = lock(&self.http);
            let mut requests = Family::new(
                "outpost_metrics_http_requests_total",
                "Requests to the local metrics endpoint by status code.",
                MetricKind::Counter,
            );
            for (code, n) in &h.requests {
                requests.push(vec![("code", code.to_string())], *n as f64);
            }
            out.push(requests);
            out.push(Family::single(
                "outpost_metrics_http_rejected_connections_total",
                "Connections to the local metrics endpoint refused because the connection limit was reached.",
                MetricKind::Counter,
                h.rejected as f64,
            ));
        }
        // Reports run outside the registry's lock (one may take a while: the store's).
        let reports: Vec<Arc<dyn Report>> = lock(&self.entries)
            .iter()
            .map(|e| Arc::clone(&e.report))
            .collect();
        for r in reports {
            r.report(&mut out);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Things(Mutex<Counts>);

    impl Report for Things {
        fn report(&self, out: &mut Vec<Family>) {
            out.push(counter_family(
                "outpost_things_total",
                "Things.",
                "kind",
                &["a"],
                &lock(&self.0),
            ));
        }
    }

    #[test]
    fn components_keep_their_counters_across_registrations() {
        let t = Telemetry::new();
        let first = t.register::<Things>("things");
        bump(&mut lock(&first.0), "b", 2);
        let again = t.register::<Things>("things");
        bump(&mut lock(&again.0), "b", 1);
        let f: Vec<Family> = t
            .families()
            .into_iter()
            .filter(|f| f.name == "outpost_things_total")
            .collect();
        assert_eq!(f.len(), 1, "registered once");
        let values: Vec<(String, f64)> = f[0]
            .samples
            .iter()
            .map(|s| (s.labels[0].1.clone(), s.value))
            .collect();
        assert_eq!(values, [("a".to_string(), 0.0), ("b".to_string(), 3.0)]);
    }
}

//! Scraping local exporters (`[[scrape]]`): programs on the gateway that already expose
//! Prometheus metrics — a mosquitto exporter, a Modbus bridge, the device application.
//!
//! ```text
//!  one thread per target: tick ─> GET (Accept: OpenMetrics, text) ─> parse ─> label/relabel
//!      ─> + up, scrape_duration_seconds, ... ─> stale markers ─> store (metrics records)
//! ```
//! From the store on, scraped samples are metrics like the host's: remote_write, MQTT and the
//! rest forward them with the same durability, backfill and ordering. With a Pushgateway
//! configured, each thread also leaves its target's latest values as text ([`pushtext`]) for
//! the Pushgateway sink, which pushes them as a group of their own.
//!
//! Each target has its own thread, like Prometheus' one goroutine per target, so a target that
//! is down, slow (up to its `timeout`), huge or garbage delays only itself: never another
//! target, the host sampler (which runs on the runtime's blocking pool), or the sinks. The
//! thread sleeps between scrapes on a condition variable, so stopping is immediate except for
//! a request in flight, which is abandoned (its result is discarded, never half-stored).
//! Targets are spread over the interval by a hash of their name, as Prometheus does, so many
//! targets with one interval do not all fire at once.

pub mod parse;
pub mod pushtext;
pub mod relabel;
pub mod target;

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::scrape::{ScrapeJob, ScrapeTarget};
use crate::model::now_ms;
use crate::model::staleness::Staleness;
use crate::model::stored::{encode_stored, StoredFamily, StoredSnapshot};
use crate::model::{Family, MetricKind};
use crate::net::http;
use crate::shutdown::Stop;
use crate::store::{Class, StoreHandle};
use crate::telemetry::{bump, lock, Counts, Report, Telemetry};
use target::ScrapeError;

/// `outpost_scrapes_total{scrape_job,result}`: scrapes by job and result (`ok`, or a
/// [`ScrapeError`] reason). The job's name is `scrape_job`, as Prometheus' own
/// `prometheus_target_*` series name it: `job` and `instance` stay what the series belongs to
/// (the agent), so the agent's metrics pass remote_write's job/instance rules.
#[derive(Default)]
pub struct ScrapeStats(std::sync::Mutex<BTreeMap<String, Counts>>);

impl ScrapeStats {
    fn job(&self, job: &str) {
        lock(&self.0).entry(job.to_string()).or_default();
    }

    fn result(&self, job: &str, result: &str) {
        bump(lock(&self.0).entry(job.to_string()).or_default(), result, 1);
    }
}

impl Report for ScrapeStats {
    fn report(&self, out: &mut Vec<Family>) {
        let jobs = lock(&self.0);
        if jobs.is_empty() {
            return;
        }
        let mut scrapes = Family::new(
            "outpost_scrapes_total",
            "Scrapes of [[scrape]] targets by job and result (ok, or why it failed).",
            MetricKind::Counter,
        );
        for (job, results) in jobs.iter() {
            for result in std::iter::once("ok").chain(ScrapeError::REASONS.iter().copied()) {
                let n = results.get(result).copied().unwrap_or(0);
                scrapes.push(
                    vec![("scrape_job", job.clone()), ("result", result.to_string())],
                    n as f64,
                );
            }
        }
        out.push(scrapes);
    }
}

/// The running scrape threads.
pub struct Scrapers {
    stop: Stop,
}

/// Everything one target's thread needs.
struct Scrape {
    job: Arc<ScrapeJob>,
    target: ScrapeTarget,
    /// `gateway`, `instance`, `job` and the static labels, sorted by name.
    labels: Vec<(String, String)>,
    store: StoreHandle,
    stats: Arc<ScrapeStats>,
    latest: Arc<pushtext::Latest>,
}

impl Scrapers {
    /// Starts one thread per target of every job; they run until `stop` trips. `gateway` is
    /// the agent id, the `gateway` label of every scraped series (a job's own `gateway` label
    /// wins).
    pub fn start(
        jobs: &[ScrapeJob],
        gateway: &str,
        store: &StoreHandle,
        telemetry: &Telemetry,
        latest: &Arc<pushtext::Latest>,
        stop: Stop,
    ) -> Scrapers {
        let stats = telemetry.register::<ScrapeStats>("scrape");
        let mut targets = 0;
        for job in jobs {
            stats.job(&job.job);
            let job = Arc::new(job.clone());
            for t in &job.targets {
                let mut labels = job.labels.clone();
                if !labels.iter().any(|(k, _)| k == "gateway") {
                    labels.push(("gateway".into(), gateway.to_string()));
                }
                labels.push(("instance".into(), t.instance.clone()));
                labels.push(("job".into(), job.job.clone()));
                labels.sort();
                let scrape = Scrape {
                    job: Arc::clone(&job),
                    target: t.clone(),
                    labels,
                    store: store.clone(),
                    stats: Arc::clone(&stats),
                    latest: Arc::clone(latest),
                };
                let stop = stop.clone();
                let name = format!("scrape-{}", job.job);
                match std::thread::Builder::new()
                    .name(name)
                    .spawn(move || scrape.run(&stop))
                {
                    Ok(_) => targets += 1,
                    Err(e) => log::error!("scrape {}/{}: cannot start its thread: {e}", job.job, t.instance),
                }
            }
        }
        if targets > 0 {
            log::info!("scraping {targets} targets of {} jobs", jobs.len());
        }
        Scrapers { stop }
    }

    /// Stops every thread; a scrape in flight is abandoned.
    pub fn stop(&self) {
        self.stop.stop();
    }
}

impl Scrape {
    fn run(self, stop: &Stop) {
        let job = &self.job;
        let interval = job.interval;
        let mut h = DefaultHasher::new();
        (&job.job, &self.target.instance).hash(&mut h);
        let offset = Duration::from_millis(h.finish() % (interval.as_millis() as u64).max(1));
        let agent = http::agent(&job.endpoint);
        let mut stale: Staleness<StoredFamily> = Staleness::default();
        let mut failing: Option<&'static str> = None;
        let mut first = true;
        let mut next = Instant::now() + offset;
        loop {
            if stop.sleep_until(next) {
                return;
            }
            let started = Instant::now();
            let ts = now_ms();
            let push = self.latest.extra();
            let result = target::fetch(
                &agent,
                &self.target.url,
                job.endpoint.authorization.as_deref(),
                job.endpoint.timeout,
                job.body_size_limit,
            )
            .and_then(|(format, body)| {
                let exp = parse::parse(&body, format, job.rules.sample_limit.saturating_mul(4))
                    .map_err(ScrapeError::Invalid)?;
                let meta = push.is_some().then(|| pushtext::meta(&exp));
                Ok((target::assemble(exp, &self.labels, &job.rules)?, meta))
            });
            let took = started.elapsed();
            if stop.is_stopped() {
                return;
            }
            let mut meta = None;
            let (mut main, timed, up) = match result {
                Ok((a, m)) => {
                    meta = m;
                    if let Some(reason) = failing.take() {
                        log::info!(
                            "scrape {}/{}: answering again (after {reason})",
                            job.job,
                            self.target.instance
                        );
                    } else if first {
                        log::info!(
                            "scrape {}/{}: {} samples ({} after relabelling) in {:.1} ms",
                            job.job,
                            self.target.instance,
                            a.scraped,
                            a.post_relabel,
                            took.as_secs_f64() * 1e3
                        );
                    }
                    if a.duplicates > 0 {
                        log::debug!(
                            "scrape {}/{}: {} duplicate series dropped",
                            job.job,
                            self.target.instance,
                            a.duplicates
                        );
                    }
                    self.stats.result(&job.job, "ok");
                    let mut main = a.main;
                    main.extend(target::report(
                        &self.labels,
                        true,
                        took,
                        a.scraped,
                        a.post_relabel,
                    ));
                    (main, a.timed, true)
                }
                Err(e) => {
                    let reason = e.reason();
                    if failing != Some(reason) {
                        log::warn!(
                            "scrape {}/{} ({}): {e}; up = 0 until it answers",
                            job.job,
                            self.target.instance,
                            self.target.url
                        );
                    }
                    failing = Some(reason);
                    self.stats.result(&job.job, reason);
                    (
                        target::report(&self.labels, false, took, 0, 0),
                        Default::default(),
                        false,
                    )
                }
            };
            first = false;
            if let Some(extra) = &push {
                self.leave_for_push(meta.as_ref(), &main, extra);
            }
            let marked = stale.mark_families(&mut main);
            if marked > 0 && !up {
                log::debug!(
                    "scrape {}/{}: {marked} series marked stale",
                    job.job,
                    self.target.instance
                );
            }
            for (t, families) in timed {
                self.append(t, families);
            }
            self.append(ts, main);
            // The next tick on the grid; ticks missed by a slow scrape are skipped.
            next += interval;
            let now = Instant::now();
            if next <= now {
                let behind = (now - next).as_nanos() / interval.as_nanos().max(1) + 1;
                next += interval * behind as u32;
            }
        }
    }

    /// The target's group for the Pushgateway: job, instance and gateway (then the
    /// Pushgateway's own extra grouping labels) in the URL, stripped from the samples.
    fn leave_for_push(
        &self,
        meta: Option<&pushtext::Meta>,
        main: &[StoredFamily],
        extra: &[(String, String)],
    ) {
        let mut grouping: Vec<(String, String)> = ["job", "instance", "gateway"]
            .iter()
            .filter_map(|k| self.labels.iter().find(|(n, _)| n == k).cloned())
            .collect();
        for (k, v) in extra {
            if !grouping.iter().any(|(n, _)| n == k) {
                grouping.push((k.clone(), v.clone()));
            }
        }
        let strip: Vec<String> = grouping.iter().map(|(k, _)| k.clone()).collect();
        let empty = pushtext::Meta::new();
        let text = pushtext::render(meta.unwrap_or(&empty), main, &strip);
        self.latest.set(
            &self.job.job,
            &self.target.instance,
            pushtext::Group {
                grouping,
                text: Arc::new(text),
            },
        );
    }

    fn append(&self, timestamp_ms: i64, families: Vec<StoredFamily>) {
        let snap = StoredSnapshot {
            timestamp_ms,
            families,
        };
        // A scrape cannot be read again: an overload drop is counted by the store, and a
        // stopped store means the agent is stopping.
        let _ = self
            .store
            .append(Class::Metrics, timestamp_ms, encode_stored(&snap));
    }
}

//! What the sensors last said, as the agent's metrics: a telemetry [`Report`], so the
//! readings travel in every stored snapshot (store, MQTT, remote_write, Pushgateway) and
//! render live on `/metrics`, exactly like the host metrics.
//!
//! Families: `outpost_sensor_<quantity>` (gauges; `outpost_sensor_<quantity>_total` counters
//! for pulse counters), labelled `sensor`, `driver`, `bus`, and `address`, `pin`, `id` or
//! `channel` where they apply, plus the configured labels; `outpost_sensor_up` and
//! `outpost_sensor_read_errors_total{reason}`. A sensor that fails has no value series (its
//! series end with a stale marker, as an unplugged sensor should look) and `up` 0. A read
//! that has been running longer than the sensor's `timeout` (a hung bus) shows as `up` 0 while
//! it hangs; only that bus's thread waits.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::sensors::SensorConfig;
use crate::model::{Family, Labels, MetricKind};
use crate::telemetry::{lock, Report};

/// One value a sensor produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub quantity: String,
    /// `("channel", "0")` for an ADS1115 input.
    pub extra: Option<(&'static str, String)>,
    pub value: f64,
    pub counter: bool,
}

struct Entry {
    labels: Labels,
    series: Vec<Series>,
    up: bool,
    errors: BTreeMap<&'static str, u64>,
    busy_since: Option<Instant>,
    timeout: Duration,
    /// The failure being reported (logged once per episode).
    episode: Option<&'static str>,
    /// The last reading, kept across failures, and how many times in a row it came
    /// (stuck detection).
    last: Vec<Series>,
    same: u32,
    stuck_after: u32,
    name: String,
}

#[derive(Default)]
pub struct SensorState {
    entries: Mutex<Vec<Entry>>,
}

/// The labels every series of a sensor carries.
pub fn base_labels(c: &SensorConfig) -> Labels {
    let mut l: Labels = vec![
        ("sensor", c.name.clone()),
        ("driver", c.driver.name().to_string()),
        ("bus", c.bus_name.clone()),
    ];
    if let Some(a) = c.address {
        l.push(("address", format!("{a:#04x}")));
    }
    if let Some(p) = c.pin {
        l.push(("pin", p.to_string()));
    }
    if let Some(id) = &c.id {
        l.push(("id", id.clone()));
    }
    for (k, v) in &c.labels {
        l.push((intern(k), v.clone()));
    }
    l
}

/// Configured label names as `&'static str` (what `Labels` holds for every family): each
/// distinct name is leaked once, so memory is bounded by the names ever configured.
fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = lock(&NAMES);
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(n);
    n
}

impl SensorState {
    pub fn new(sensors: &[SensorConfig]) -> SensorState {
        let entries = sensors
            .iter()
            .map(|c| Entry {
                labels: base_labels(c),
                series: Vec::new(),
                up: false,
                errors: BTreeMap::new(),
                busy_since: None,
                timeout: c.timeout,
                episode: None,
                last: Vec::new(),
                same: 0,
                stuck_after: c.stuck_after,
                name: c.name.clone(),
            })
            .collect();
        SensorState {
            entries: Mutex::new(entries),
        }
    }

    pub fn busy(&self, i: usize, on: bool) {
        if let Some(e) = lock(&self.entries).get_mut(i) {
            e.busy_since = on.then(Instant::now);
        }
    }

    /// A successful read. Returns false (and records a `stuck` error) when the reading has
    /// come identical `stuck_after` times in a row; it stays failed while it does.
    pub fn ok(&self, i: usize, series: Vec<Series>) -> bool {
        let mut entries = lock(&self.entries);
        let Some(e) = entries.get_mut(i) else { return false };
        e.busy_since = None;
        e.same = if e.last == series { e.same + 1 } else { 0 };
        e.last.clone_from(&series);
        if e.stuck_after > 0 && e.same + 1 >= e.stuck_after {
            let n = e.stuck_after;
            drop(entries);
            self.failed(i, "stuck", &format!("the same reading {n} times in a row"));
            return false;
        }
        if let Some(was) = e.episode.take() {
            log::info!("sensor {}: reading again (after {was})", e.name);
        }
        e.series = series;
        e.up = true;
        true
    }

    /// A failed read: `up` 0, the error counted, logged once per episode.
    pub fn failed(&self, i: usize, reason: &'static str, message: &str) {
        let mut entries = lock(&self.entries);
        let Some(e) = entries.get_mut(i) else { return };
        e.busy_since = None;
        e.up = false;
        e.series.clear();
        *e.errors.entry(reason).or_default() += 1;
        if e.episode != Some(reason) {
            log::warn!(
                "sensor {}: {message}; outpost_sensor_up is 0, retrying with backoff (counted in \
                 outpost_sensor_read_errors_total{{reason=\"{reason}\"}})",
                e.name
            );
            e.episode = Some(reason);
        }
    }

    /// Whether the sensor is up (tests, probe).
    pub fn is_up(&self, i: usize) -> bool {
        lock(&self.entries).get(i).is_some_and(|e| e.up)
    }
}

impl Report for SensorState {
    fn report(&self, out: &mut Vec<Family>) {
        let entries = lock(&self.entries);
        if entries.is_empty() {
            return;
        }
        let mut values: BTreeMap<String, Family> = BTreeMap::new();
        let mut up = Family::new(
            "outpost_sensor_up",
            "Whether the sensor's last read succeeded (1) or not (0: absent, not acknowledging, bad CRC, out of range, stuck, or a read hung past its timeout).",
            MetricKind::Gauge,
        );
        let mut errors = Family::new(
            "outpost_sensor_read_errors_total",
            "Failed sensor reads by reason: nack, bus, no_bus, crc, chip_id, out_of_range, not_ready, power_on_value, garbage, stuck, timeout.",
            MetricKind::Counter,
        );
        for e in entries.iter() {
            let hung = e.busy_since.is_some_and(|t| t.elapsed() > e.timeout);
            up.push(e.labels.clone(), if e.up && !hung { 1.0 } else { 0.0 });
            let mut counts = e.errors.clone();
            if hung {
                *counts.entry("timeout").or_default() += 1;
            }
            for (reason, n) in counts {
                let mut l = e.labels.clone();
                l.push(("reason", reason.to_string()));
                errors.push(l, n as f64);
            }
            if hung {
                continue;
            }
            for s in &e.series {
                let name = if s.counter {
                    format!("outpost_sensor_{}_total", s.quantity)
                } else {
                    format!("outpost_sensor_{}", s.quantity)
                };
                let fam = values.entry(name.clone()).or_insert_with(|| {
                    Family::new(
                        name,
                        format!(
                            "Sensor reading: {} (docs/SENSORS.md).",
                            s.quantity.replace('_', " ")
                        ),
                        if s.counter {
                            MetricKind::Counter
                        } else {
                            MetricKind::Gauge
                        },
                    )
                });
                let mut l = e.labels.clone();
                if let Some((k, v)) = &s.extra {
                    l.push((k, v.clone()));
                }
                fam.push(l, s.value);
            }
        }
        out.extend(values.into_values());
        out.push(up);
        out.push(errors);
    }
}

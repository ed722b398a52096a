//! Alertmanager API v2 (`POST /api/v2/alerts`), to each configured instance (an HA pair
//! gets everything twice; each instance has its own store cursor, so one that is down
//! catches up on its own when it is back).
//!
//! An alert is the group, not the decision: its label set is `alertname` (the signature id,
//! or the category for generic groups), `severity`, `category`, `policy`, `fingerprint`,
//! `gateway` and the configured static labels — fixed for the group's life, so Alertmanager
//! de-duplicates re-sends by itself and a resolve ends the very alert the firing started.
//! Annotations: `summary`, `description`, `samples`, `count`, and `key`
//! (`fingerprint:kind:first_seen`, the decision's de-duplication key).
//!
//! Alertmanager forgets an alert at its `endsAt` and keeps no resolved ones across its own
//! restarts, so, as Prometheus does, the agent keeps the alerts it announced in [`Active`]
//! (shared by the instances, saved in `alertmanager-active.json` in the data directory) and
//! the [`Resender`] posts them again every `resend_interval`: firing ones with `endsAt` four
//! intervals ahead, resolved ones with their resolve time, for `resolved_resend_for` after
//! the resolve. A batch always sends each group's newest known state, so a stale decision
//! read from the backlog after a newer one cannot reopen a resolved alert. A firing entry that
//! hears nothing for 24 hours (the engine evicted the group) is dropped and ends at its
//! `endsAt`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use super::stats::AlertStats;
use crate::config::alerts::AlertmanagerConfig;
use crate::model::alert::{Decision, Kind};
use crate::model::event::rfc3339_ms;
use crate::net::http::{self, Endpoint, Outcome};
use crate::shutdown::Stop;
use crate::sinks::forward::HttpPost;
use crate::telemetry::lock;

/// The file in the data directory that keeps [`Active`] across restarts.
pub const ACTIVE_FILE: &str = "alertmanager-active.json";
/// A firing entry without any decision for this long is dropped.
const FIRING_TTL_MS: i64 = 24 * 3600 * 1000;
/// `endsAt` of a firing alert: this many resend intervals ahead.
const HORIZON_INTERVALS: u32 = 4;

pub fn transport(ep: &Endpoint) -> HttpPost {
    HttpPost::new(ep, &[("Content-Type", "application/json")])
}

/// The newest decision of every group announced to Alertmanager and not yet let go.
pub struct Active {
    path: PathBuf,
    resolved_for_ms: i64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    groups: BTreeMap<String, Decision>,
    dirty: bool,
}

impl Active {
    /// Loads the saved table (an unreadable one is logged and replaced).
    pub fn load(data_dir: &Path, cfg: &AlertmanagerConfig) -> Arc<Active> {
        let path = data_dir.join(ACTIVE_FILE);
        let groups = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Vec<Decision>>(&bytes) {
                Ok(v) => v.into_iter().map(|d| (d.fingerprint.clone(), d)).collect(),
                Err(e) => {
                    log::warn!(
                        "alertmanager: {} is unreadable ({e}); starting without the alerts it held \
                         (they end at their endsAt unless the engine decides again)",
                        path.display()
                    );
                    BTreeMap::new()
                }
            },
            Err(_) => BTreeMap::new(),
        };
        Arc::new(Active {
            path,
            resolved_for_ms: cfg.resolved_resend_for.as_millis() as i64,
            inner: Mutex::new(Inner { groups, dirty: false }),
        })
    }

    /// Takes `d` if it is newer than what the table has for its group; returns the group's
    /// newest decision either way.
    pub fn update(&self, d: &Decision) -> Decision {
        let mut inner = lock(&self.inner);
        let newer = inner
            .groups
            .get(&d.fingerprint)
            .is_none_or(|cur| (d.first_seen_ms, d.decided_ms) >= (cur.first_seen_ms, cur.decided_ms));
        if newer {
            inner.groups.insert(d.fingerprint.clone(), d.clone());
            inner.dirty = true;
            d.clone()
        } else {
            inner.groups[&d.fingerprint].clone()
        }
    }

    /// What to re-send at `now` (expired entries are let go first).
    pub fn current(&self, now_ms: i64) -> Vec<Decision> {
        let mut inner = lock(&self.inner);
        let before = inner.groups.len();
        let resolved_for = self.resolved_for_ms;
        inner.groups.retain(|_, d| match d.kind {
            Kind::Resolved => now_ms - d.decided_ms <= resolved_for,
            _ => now_ms - d.decided_ms <= FIRING_TTL_MS,
        });
        if inner.groups.len() != before {
            inner.dirty = true;
        }
        inner.groups.values().cloned().collect()
    }

    /// Writes the table when it changed (temporary file, then rename).
    pub fn save(&self) {
        let (bytes, path) = {
            let mut inner = lock(&self.inner);
            if !inner.dirty {
                return;
            }
            inner.dirty = false;
            let v: Vec<&Decision> = inner.groups.values().collect();
            (serde_json::to_vec(&v).unwrap_or_default(), self.path.clone())
        };
        let tmp = path.with_extension("json.tmp");
        if let Err(e) = std::fs::write(&tmp, &bytes).and_then(|_| std::fs::rename(&tmp, &path)) {
            log::warn!("alertmanager: cannot save {}: {e}", path.display());
            lock(&self.inner).dirty = true;
        }
    }
}

/// One alert in API v2 form, as of `now_ms`.
pub fn alert_json(d: &Decision, cfg: &AlertmanagerConfig, now_ms: i64) -> Value {
    let mut labels = Map::new();
    for (k, v) in &cfg.labels {
        labels.insert(k.clone(), json!(v));
    }
    let alertname = d.signature.clone().unwrap_or_else(|| d.category.clone());
    for (k, v) in [
        ("alertname", alertname.as_str()),
        ("severity", d.severity.as_str()),
        ("category", d.category.as_str()),
        ("policy", d.policy.as_str()),
        ("fingerprint", d.fingerprint.as_str()),
        ("gateway", d.gateway.as_str()),
    ] {
        labels.insert(k.into(), json!(v));
    }
    let starts = d.first_seen_ms.min(now_ms);
    let ends = match d.kind {
        Kind::Resolved => d.decided_ms.max(starts + 1),
        _ => now_ms + (cfg.resend_interval * HORIZON_INTERVALS).as_millis() as i64,
    };
    let description = format!(
        "{} {} of {} on gateway {} since {} (last {})",
        d.count,
        if d.count == 1 { "event" } else { "events" },
        d.canonical,
        d.gateway,
        rfc3339_ms(d.first_seen_ms),
        rfc3339_ms(d.last_seen_ms)
    );
    let mut alert = json!({
        "labels": labels,
        "annotations": {
            "summary": d.summary,
            "description": description,
            "samples": d.samples.join("\n"),
            "count": d.count.to_string(),
            "key": d.key(),
        },
        "startsAt": rfc3339_ms(starts),
        "endsAt": rfc3339_ms(ends),
    });
    if let Some(g) = &cfg.generator_url {
        alert["generatorURL"] = json!(g);
    }
    alert
}

/// Bodies for one instance: the newest state of each group in the batch, one request.
pub struct Render {
    cfg: AlertmanagerConfig,
    active: Arc<Active>,
}

impl Render {
    pub fn new(cfg: &AlertmanagerConfig, active: Arc<Active>) -> Render {
        Render {
            cfg: cfg.clone(),
            active,
        }
    }
}

impl super::Render for Render {
    fn render(&mut self, decisions: &[Decision]) -> Vec<(Vec<u8>, Vec<usize>)> {
        let now = crate::model::now_ms();
        let mut newest: Vec<Decision> = Vec::new();
        for d in decisions {
            let n = self.active.update(d);
            match newest.iter_mut().find(|x| x.fingerprint == n.fingerprint) {
                Some(x) => *x = n,
                None => newest.push(n),
            }
        }
        self.active.save();
        let alerts: Vec<Value> = newest.iter().map(|d| alert_json(d, &self.cfg, now)).collect();
        let body = serde_json::to_vec(&alerts).unwrap_or_default();
        vec![(body, (0..decisions.len()).collect())]
    }
}

/// Posts the active alerts to one instance every `resend_interval`.
pub struct Resender {
    pub sink: &'static str,
    pub endpoint: Endpoint,
    pub cfg: AlertmanagerConfig,
    pub active: Arc<Active>,
    pub stats: Arc<AlertStats>,
}

impl Resender {
    pub async fn run(self, stop: Stop) {
        let agent = Arc::new(http::agent(&self.endpoint));
        let mut tick = tokio::time::interval(self.cfg.resend_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.stopped() => return,
            }
            let now = crate::model::now_ms();
            let alerts = self.active.current(now);
            let active = Arc::clone(&self.active);
            let _ = tokio::task::spawn_blocking(move || active.save()).await;
            if alerts.is_empty() {
                continue;
            }
            let body: Vec<Value> = alerts.iter().map(|d| alert_json(d, &self.cfg, now)).collect();
            let body = serde_json::to_vec(&body).unwrap_or_default();
            let (agent, ep) = (Arc::clone(&agent), self.endpoint.clone());
            let outcome = tokio::task::spawn_blocking(move || {
                http::send(
                    &agent,
                    &ep,
                    "POST",
                    &ep.url,
                    &[("Content-Type", "application/json")],
                    Some(&body),
                )
            })
            .await
            .unwrap_or_else(|e| Outcome::Retry {
                status: None,
                after: None,
                message: e.to_string(),
            });
            let n = alerts.len() as u64;
            match outcome {
                Outcome::Delivered(_) => {
                    self.stats.count(self.sink, "resend", "delivered", n);
                    if failing {
                        log::info!(
                            "{}: re-sending active alerts to {} again",
                            self.sink,
                            self.endpoint.url
                        );
                    }
                    failing = false;
                }
                Outcome::Retry { message, .. } | Outcome::Rejected { message, .. } => {
                    self.stats.count(self.sink, "resend", "retry", n);
                    if !failing {
                        log::warn!(
                            "{}: cannot re-send {n} active alerts to {}: {message}; trying again in {:?}",
                            self.sink,
                            self.endpoint.url,
                            self.cfg.resend_interval
                        );
                    }
                    failing = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::alerts::Route;
    use std::time::Duration;

    fn cfg() -> AlertmanagerConfig {
        AlertmanagerConfig {
            endpoints: Vec::new(),
            labels: [("site".to_string(), "north".to_string())].into(),
            resend_interval: Duration::from_secs(60),
            resolved_resend_for: Duration::from_secs(900),
            generator_url: Some("http://192.0.2.7:9100/errors".into()),
            route: Route::default(),
        }
    }

    fn decision(kind: Kind, first: i64, decided: i64) -> Decision {
        let mut d = super::super::test_decision(kind, "5954dd8cf706");
        (d.first_seen_ms, d.last_seen_ms, d.decided_ms) = (first, decided, decided);
        d
    }

    #[test]
    fn labels_annotations_and_times() {
        let now = 1_700_000_000_000;
        let a = alert_json(&decision(Kind::Firing, now - 5000, now), &cfg(), now);
        assert_eq!(
            a["labels"],
            json!({"alertname": "NET_RESET", "severity": "medium", "category": "network_db",
                   "policy": "notify", "fingerprint": "5954dd8cf706", "gateway": "gw-17", "site": "north"})
        );
        assert_eq!(a["annotations"]["key"], "5954dd8cf706:firing:1699999995000");
        assert_eq!(a["startsAt"], rfc3339_ms(now - 5000));
        assert_eq!(
            a["endsAt"],
            rfc3339_ms(now + 240_000),
            "four resend intervals ahead"
        );
        assert_eq!(a["generatorURL"], "http://192.0.2.7:9100/errors");
        let r = alert_json(&decision(Kind::Resolved, now - 5000, now - 10), &cfg(), now);
        assert_eq!(r["endsAt"], rfc3339_ms(now - 10));
        let mut generic = decision(Kind::Firing, now, now);
        generic.signature = None;
        assert_eq!(
            alert_json(&generic, &cfg(), now)["labels"]["alertname"],
            "network_db"
        );
    }

    #[test]
    fn the_newest_state_wins_and_survives_a_restart() {
        let dir = std::env::temp_dir().join(format!("outpost-am-active-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let t = crate::model::now_ms();
        let active = Active::load(&dir, &cfg());
        let resolved = decision(Kind::Resolved, t - 1000, t);
        active.update(&resolved);
        // The backlog's older firing, read after the live resolve, does not reopen it.
        assert_eq!(
            active.update(&decision(Kind::Firing, t - 1000, t - 500)).kind,
            Kind::Resolved
        );
        active.save();
        let again = Active::load(&dir, &cfg());
        assert_eq!(again.current(t), vec![resolved.clone()]);
        assert!(
            again.current(t + 901_000).is_empty(),
            "let go after resolved_resend_for"
        );
        // A new episode replaces the resolved one.
        let next = decision(Kind::Firing, t + 1000, t + 1000);
        assert_eq!(again.update(&next), next);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

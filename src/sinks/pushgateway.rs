//! The Pushgateway sink: every `interval`, a PUT of the latest values (the same exposition
//! `/metrics` serves: host and device metrics plus the agent's own) to the gateway's group
//! `job/<job>/instance/<id>/...`, and a DELETE of that group on a clean shutdown.
//!
//! PUT replaces the whole group, so a series that disappeared on the gateway disappears there
//! too; the text format carries no timestamps (the Pushgateway refuses them). The Pushgateway
//! holds latest values only, so this sink never reads the store and never sends a backlog: a
//! push that fails is counted and logged once per episode, and the next interval pushes
//! what is current then. History across outages is remote_write's job. The first push goes
//! out as soon as the first sample exists (then every interval), so a gateway that boots
//! shows up at once, not an interval later.
//!
//! Scraped targets (`[[scrape]]`) are pushed too, each as its own group
//! `job/<job>/instance/<target>/gateway/<id>` (see `sources::scrape::pushtext`): the
//! Pushgateway requires pushed samples to carry no grouping labels of their own, and one group
//! per target keeps a dead target's `up = 0` apart from the gateway's host metrics.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::config::PushgatewayConfig;
use crate::model::pushtext::Latest;
use crate::model::{text, Family, MetricKind};
use crate::net::http::{self, Outcome};
use crate::shutdown::Stop;
use crate::telemetry::{bump, counter_family, lock, Counts, Report, Telemetry};

/// `outpost_pushgateway_*`: pushes by result and the last success.
#[derive(Default)]
pub struct PushStats(std::sync::Mutex<(Counts, f64)>);

impl PushStats {
    fn push(&self, ok: bool) {
        let mut c = lock(&self.0);
        bump(&mut c.0, if ok { "ok" } else { "error" }, 1);
        if ok {
            c.1 = crate::model::now_ms() as f64 / 1e3;
        }
    }
}

impl Report for PushStats {
    fn report(&self, out: &mut Vec<Family>) {
        let c = lock(&self.0);
        out.push(counter_family(
            "outpost_pushgateway_pushes_total",
            "Pushes to the Pushgateway by result.",
            "result",
            &["error", "ok"],
            &c.0,
        ));
        out.push(Family::single(
            "outpost_pushgateway_last_success_timestamp_seconds",
            "When the last push to the Pushgateway succeeded (Unix seconds; 0: not yet).",
            MetricKind::Gauge,
            c.1,
        ));
    }
}

/// How often the sink looks for the first sample before its first push.
const FIRST_POLL: Duration = Duration::from_millis(100);

pub struct PushgatewaySink {
    pub cfg: PushgatewayConfig,
    pub telemetry: Arc<Telemetry>,
    /// The scraped targets' latest values.
    pub scraped: Arc<Latest>,
}

/// One blocking request on the blocking pool; a join error counts as a failed request.
async fn request(
    agent: &ureq::Agent,
    ep: &Arc<http::Endpoint>,
    method: &'static str,
    url: String,
    body: Option<Arc<String>>,
) -> Outcome {
    let (agent, ep) = (agent.clone(), Arc::clone(ep));
    tokio::task::spawn_blocking(move || {
        let headers: &[(&str, &str)] = if body.is_some() {
            &[("Content-Type", text::CONTENT_TYPE)]
        } else {
            &[]
        };
        http::send(
            &agent,
            &ep,
            method,
            &url,
            headers,
            body.as_ref().map(|b| b.as_bytes()),
        )
    })
    .await
    .unwrap_or_else(|e| Outcome::Retry {
        status: None,
        after: None,
        message: e.to_string(),
    })
}

impl PushgatewaySink {
    pub async fn run(self, stop: Stop) {
        let stats = self.telemetry.register::<PushStats>("pushgateway");
        let agent = http::agent(&self.cfg.endpoint);
        let url = self.cfg.group_url();
        let ep = Arc::new(self.cfg.endpoint.clone());
        log::info!(
            "pushgateway: pushing the latest values to {url} every {:?}",
            self.cfg.interval
        );
        self.scraped.configure(Some(self.cfg.grouping[2..].to_vec()));
        let mut tick = tokio::time::interval(self.cfg.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing: Option<String> = None;
        // Groups pushed at least once, deleted on shutdown.
        let mut pushed: BTreeSet<String> = BTreeSet::new();
        // The first push waits only for the first sample (polled briefly), then the interval.
        let mut pushed_once = false;
        'run: loop {
            if pushed_once {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.stopped() => break,
                }
            } else {
                tokio::select! {
                    _ = tokio::time::sleep(FIRST_POLL) => {}
                    _ = stop.stopped() => break,
                }
            }
            if !self.telemetry.has_sample() {
                continue; // nothing sampled yet: an empty PUT would wipe the group
            }
            if !pushed_once {
                pushed_once = true;
                tick.reset();
            }
            let mut pushes = vec![(url.clone(), Arc::new(self.telemetry.render()))];
            for g in self.scraped.groups() {
                pushes.push((self.cfg.url_for(&g.grouping), g.text));
            }
            for (group_url, body) in pushes {
                let outcome = tokio::select! {
                    o = request(&agent, &ep, "PUT", group_url.clone(), Some(body)) => o,
                    _ = stop.stopped() => break 'run,
                };
                match outcome {
                    Outcome::Delivered(_) => {
                        stats.push(true);
                        pushed.insert(group_url);
                        if failing.take().is_some() {
                            log::info!("pushgateway: pushing to {} again", self.cfg.endpoint.url);
                        }
                    }
                    Outcome::Retry { message, .. } | Outcome::Rejected { message, .. } => {
                        stats.push(false);
                        if failing.as_ref() != Some(&message) {
                            log::warn!(
                                "pushgateway: push to {group_url} failed: {message}; trying again next interval"
                            );
                            failing = Some(message);
                        }
                    }
                }
            }
        }
        self.scraped.configure(None);
        if self.cfg.delete_on_shutdown && !pushed.is_empty() {
            let deletes = pushed
                .into_iter()
                .map(|u| request(&agent, &ep, "DELETE", u, None));
            let all = async {
                let mut results = Vec::new();
                for d in deletes {
                    results.push(d.await);
                }
                results
            };
            let by = tokio::time::Instant::from_std(stop.deadline());
            match tokio::time::timeout_at(by, all).await {
                Ok(results) => match results.iter().find(|o| !matches!(o, Outcome::Delivered(_))) {
                    None => log::info!("pushgateway: {} groups deleted", results.len()),
                    Some(Outcome::Retry { message, .. } | Outcome::Rejected { message, .. }) => {
                        log::warn!("pushgateway: cannot delete a group: {message}")
                    }
                    Some(Outcome::Delivered(_)) => {}
                },
                Err(_) => log::warn!("pushgateway: deleting the groups did not finish in time"),
            }
        }
    }
}

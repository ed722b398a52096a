//! The Pushgateway sink: every `interval`, a PUT of the latest values (the same exposition
//! `/metrics` serves: host and device metrics plus the agent's own) to the gateway's group
//! `job/<job>/instance/<id>/...`, and a DELETE of that group on a clean shutdown.
//!
//! PUT replaces the whole group, so a series that disappeared on the gateway disappears there
//! too; the text format carries no timestamps (the Pushgateway refuses them). The Pushgateway
//! holds latest values only, so this sink never reads the store and never sends a backlog: a
//! push that fails is counted and logged once per episode, and the next interval pushes
//! what is current then. History across outages is remote_write's job.
//!
//! Scraped targets (`[[scrape]]`) are pushed too, each as its own group
//! `job/<job>/instance/<target>/gateway/<id>` (see `sources::scrape::pushtext`): the
//! Pushgateway requires pushed samples to carry no grouping labels of their own, and one group
//! per target keeps a dead target's `up = 0` apart from the gateway's host metrics.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::PushgatewayConfig;
use crate::model::text;
use crate::net::http::{self, Outcome};
use crate::sources::scrape::pushtext::Latest;
use crate::telemetry::Telemetry;

pub struct PushgatewaySink {
    pub cfg: PushgatewayConfig,
    pub telemetry: Arc<Telemetry>,
    /// The scraped targets' latest values.
    pub scraped: Arc<Latest>,
}

/// One blocking request on the blocking pool; a join error counts as a failed request.
async fn request(
    agent: &ureq::Agent,
    ep: &Arc<crate::net::http::Endpoint>,
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
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        self.telemetry.pushgateway_enabled();
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
        'run: loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => break,
            }
            if !self.telemetry.has_sample() {
                continue; // nothing sampled yet: an empty PUT would wipe the group
            }
            let mut pushes = vec![(url.clone(), Arc::new(self.telemetry.render()))];
            for g in self.scraped.groups() {
                pushes.push((self.cfg.url_for(&g.grouping), g.text));
            }
            for (group_url, body) in pushes {
                let outcome = tokio::select! {
                    o = request(&agent, &ep, "PUT", group_url.clone(), Some(body)) => o,
                    _ = shutdown.changed() => break 'run,
                };
                match outcome {
                    Outcome::Delivered(_) => {
                        self.telemetry.pushgateway_push(true);
                        pushed.insert(group_url);
                        if failing.take().is_some() {
                            log::info!("pushgateway: pushing to {} again", self.cfg.endpoint.url);
                        }
                    }
                    Outcome::Retry { message, .. } | Outcome::Rejected { message, .. } => {
                        self.telemetry.pushgateway_push(false);
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
            match tokio::time::timeout(Duration::from_millis(800), all).await {
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

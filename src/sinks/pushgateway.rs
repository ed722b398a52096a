//! The Pushgateway sink: every `interval`, a PUT of the latest values (the same exposition
//! `/metrics` serves: host and device metrics plus the agent's own) to the gateway's group
//! `job/<job>/instance/<id>/...`, and a DELETE of that group on a clean shutdown.
//!
//! PUT replaces the whole group, so a series that disappeared on the gateway disappears there
//! too; the text format carries no timestamps (the Pushgateway refuses them). The Pushgateway
//! holds latest values only, so this sink never reads the store and never sends a backlog: a
//! push that fails is counted and logged once per episode, and the next interval pushes
//! what is current then. History across outages is remote_write's job.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::http::{self, Outcome};
use crate::config::push::PushgatewayConfig;
use crate::model::text;
use crate::telemetry::Telemetry;

pub struct PushgatewaySink {
    pub cfg: PushgatewayConfig,
    pub telemetry: Arc<Telemetry>,
}

impl PushgatewaySink {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        self.telemetry.pushgateway_enabled();
        let agent = http::agent(&self.cfg.endpoint);
        let url = Arc::new(self.cfg.group_url());
        let ep = Arc::new(self.cfg.endpoint.clone());
        log::info!(
            "pushgateway: pushing the latest values to {url} every {:?}",
            self.cfg.interval
        );
        let mut tick = tokio::time::interval(self.cfg.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing: Option<String> = None;
        let mut pushed = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => break,
            }
            if !self.telemetry.has_sample() {
                continue; // nothing sampled yet: an empty PUT would wipe the group
            }
            let body = self.telemetry.render();
            let (agent2, ep2, url2) = (agent.clone(), Arc::clone(&ep), Arc::clone(&url));
            let push = tokio::task::spawn_blocking(move || {
                http::send(
                    &agent2,
                    &ep2,
                    "PUT",
                    &url2,
                    &[("Content-Type", text::CONTENT_TYPE)],
                    Some(body.as_bytes()),
                )
            });
            let outcome = tokio::select! {
                r = push => r.unwrap_or_else(|e| Outcome::Retry { status: None, after: None, message: e.to_string() }),
                _ = shutdown.changed() => break,
            };
            match outcome {
                Outcome::Delivered(_) => {
                    self.telemetry.pushgateway_push(true);
                    pushed = true;
                    if failing.take().is_some() {
                        log::info!("pushgateway: pushing to {url} again");
                    }
                }
                Outcome::Retry { message, .. } | Outcome::Rejected { message, .. } => {
                    self.telemetry.pushgateway_push(false);
                    if failing.as_ref() != Some(&message) {
                        log::warn!(
                            "pushgateway: push to {url} failed: {message}; trying again next interval"
                        );
                        failing = Some(message);
                    }
                }
            }
        }
        if self.cfg.delete_on_shutdown && pushed {
            let outcome =
                tokio::task::spawn_blocking(move || http::send(&agent, &ep, "DELETE", &url, &[], None));
            match tokio::time::timeout(Duration::from_millis(800), outcome).await {
                Ok(Ok(Outcome::Delivered(_))) => log::info!("pushgateway: group deleted"),
                Ok(Ok(Outcome::Retry { message, .. } | Outcome::Rejected { message, .. })) => {
                    log::warn!("pushgateway: cannot delete the group: {message}")
                }
                _ => log::warn!("pushgateway: deleting the group did not finish in time"),
            }
        }
    }
}

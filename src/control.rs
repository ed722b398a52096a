//! Remote configuration control: what to do with each message on the config topic, the
//! last known good config, and the health window that rolls a bad uplink change back.
//!
//! ```text
//!  config topic ─> version check ─> validate (config::remote) ─> switch pipeline ─┐
//!                     │ rejected: status, old config keeps running                │
//!                     └───────────────────────────────────────────────────────────┤
//!  uplink unchanged: applied at once; uplink changed: applied when it connects,   │
//!  rolled back when it does not within [mqtt] health_window ─> config/status <────┘
//! ```
//! The decisions live here; the runtime owns the running parts and switches them
//! ([`crate::runtime`]). A config is persisted as last known good only once it is confirmed,
//! so a crash or restart inside the health window comes back on the previous one (and says
//! so on the status topic).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::remote::{self, problem_strings, status_json, Persisted};
use crate::config::{Config, Origin};
use crate::model::now_ms;
use crate::model::uplink::Incoming;
use crate::model::{Family, MetricKind};
use crate::telemetry::{bump, counter_family, lock, Counts, Report, Telemetry};

/// `outpost_config_remote_version` and `outpost_config_remote_total{result}`: registered at
/// start whether or not remote config is on, so dashboards find them on every gateway.
#[derive(Default)]
pub struct ConfigStats(std::sync::Mutex<(u64, Counts)>);

impl ConfigStats {
    pub fn register(telemetry: &Telemetry) -> Arc<ConfigStats> {
        telemetry.register::<ConfigStats>("config")
    }

    fn set_version(&self, version: u64) {
        lock(&self.0).0 = version;
    }

    fn result(&self, result: &str, version: u64) {
        let mut c = lock(&self.0);
        bump(&mut c.1, result, 1);
        c.0 = version;
    }
}

impl Report for ConfigStats {
    fn report(&self, out: &mut Vec<Family>) {
        let c = lock(&self.0);
        out.push(Family::single(
            "outpost_config_remote_version",
            "Version of the remote config in use (0: the local file only).",
            MetricKind::Gauge,
            c.0 as f64,
        ));
        out.push(counter_family(
            "outpost_config_remote_total",
            "Remote configs processed, by result (applied, rejected, rolled_back).",
            "result",
            &["applied", "rejected", "rolled_back"],
            &c.1,
        ));
    }
}

/// A config the agent can run: the config, its effective document (file + remote) for change
/// detection, and the remote document that produced it (with its version), if any.
#[derive(Clone)]
pub struct Applied {
    pub cfg: Config,
    pub doc: Value,
    pub remote: Option<Value>,
}

impl Applied {
    pub fn from_file(cfg: Config) -> Applied {
        let doc = cfg.base.doc.clone();
        Applied {
            cfg,
            doc,
            remote: None,
        }
    }

    pub fn version(&self) -> u64 {
        match self.cfg.origin {
            Origin::Remote(v) => v,
            _ => 0,
        }
    }

    /// Whether a top-level section differs between two configs.
    pub fn changed(&self, other: &Applied, section: &str) -> bool {
        self.doc.get(section) != other.doc.get(section)
    }
}

/// What the runtime should do after a message.
pub enum Action {
    None,
    /// Switch to this config; the control waits for the uplink if `[mqtt]` changed.
    Switch(Box<Applied>),
}

struct Pending {
    version: u64,
    deadline: Instant,
    connections_before: u64,
}

pub struct Control {
    dir: PathBuf,
    persisted: Persisted,
    /// What a rollback returns to.
    confirmed: Applied,
    pending: Option<Pending>,
    status: watch::Sender<Option<Arc<Vec<u8>>>>,
    stats: Arc<ConfigStats>,
    health_window: Duration,
}

impl Control {
    /// The config to start with: the last known good remote config laid over `file`, when
    /// there is one and it still validates with the file; otherwise the file.
    pub fn start(
        file: Config,
        dir: PathBuf,
        status: watch::Sender<Option<Arc<Vec<u8>>>>,
        stats: Arc<ConfigStats>,
    ) -> (Control, Applied) {
        let health_window = file
            .mqtt
            .as_ref()
            .map(|m| m.health_window)
            .unwrap_or(Duration::from_secs(120));
        let mut persisted = match Persisted::load(&dir) {
            Ok(p) => p.unwrap_or_default(),
            Err(e) => {
                log::warn!("remote config: ignoring unreadable state ({e}); starting on the local file");
                Persisted::default()
            }
        };
        let mut start = Applied::from_file(file.clone());
        if let Some(doc) = persisted.applied.clone() {
            let bytes = serde_json::to_vec(&doc).unwrap_or_default();
            let built = remote::read_version(&bytes).and_then(|(v, d)| remote::build(v, d, &file.base));
            match built {
                Ok((cfg, merged)) => {
                    log::info!("remote config: starting on the last known good, {}", cfg.origin);
                    start = Applied {
                        cfg,
                        doc: merged,
                        remote: Some(doc),
                    };
                }
                Err(r) => log::warn!(
                    "remote config: the last known good (version {}) no longer fits the local file ({}); starting on the file",
                    r.version.unwrap_or(0),
                    problem_strings(&r.problems).join("; ")
                ),
            }
        }
        let unconfirmed = persisted.pending.take();
        let control = Control {
            dir,
            persisted,
            confirmed: start.clone(),
            pending: None,
            status,
            stats,
            health_window,
        };
        control.stats.set_version(start.version());
        if let Some(v) = unconfirmed {
            // The agent stopped inside the health window of `v`: it is not reapplied.
            log::warn!(
                "remote config: version {v} was not confirmed before the agent stopped; staying on {}",
                start.cfg.origin
            );
            control.report(
                Some(v),
                "rolled_back",
                vec![format!(
                    "the agent restarted before the uplink came back with version {v}; running {}",
                    start.cfg.origin
                )],
            );
            control.save();
        }
        (control, start)
    }

    fn save(&self) {
        if let Err(e) = self.persisted.save(&self.dir) {
            log::warn!(
                "remote config: cannot write {}: {e}",
                self.dir.join(remote::STATE_FILE).display()
            );
        }
    }

    fn report(&self, version: Option<u64>, result: &'static str, errors: Vec<String>) {
        let active = self.confirmed.version();
        let mut payload: Value =
            serde_json::from_slice(&status_json(version, result, &errors, now_ms())).unwrap_or(Value::Null);
        payload["active_version"] = if active == 0 { Value::Null } else { active.into() };
        self.status
            .send_replace(Some(Arc::new(serde_json::to_vec(&payload).unwrap_or_default())));
        self.stats.result(result, self.confirmed.version());
    }

    /// A message on the config topic, while `current` runs.
    pub fn on_message(&mut self, msg: Incoming, current: &Applied) -> Action {
        let bytes = match msg {
            Incoming::TooLarge(n) => {
                let size = n.map(|n| format!("{n}-byte ")).unwrap_or_default();
                log::error!("remote config: a {size}payload exceeded the MQTT packet limit; rejected");
                self.report(
                    None,
                    "rejected",
                    vec![format!(
                        "the {size}payload exceeds the {}-byte packet limit (configs are limited to {} bytes)",
                        crate::model::uplink::MAX_INCOMING,
                        remote::MAX_BYTES
                    )],
                );
                return Action::None;
            }
            Incoming::Config(b) => b,
        };
        if bytes.is_empty() {
            log::info!(
                "remote config: the config topic was cleared; keeping {}",
                current.cfg.origin
            );
            return Action::None;
        }
        let (version, doc) = match remote::read_version(&bytes) {
            Ok(v) => v,
            Err(r) => {
                let errors = problem_strings(&r.problems);
                log::warn!("remote config rejected: {}", errors.join("; "));
                self.report(None, "rejected", errors);
                return Action::None;
            }
        };
        let last = self.persisted.last_seen;
        if version == last {
            log::debug!("remote config: version {version} already processed");
            return Action::None;
        }
        if version < last {
            let e = format!(
                "version: {version} is older than version {last}, the last one processed; publish a higher version"
            );
            log::warn!("remote config rejected: {e}");
            self.report(Some(version), "rejected", vec![e]);
            return Action::None;
        }
        let mut original = Value::Object(doc.clone());
        original["version"] = version.into();
        self.persisted.last_seen = version;
        match remote::build(version, doc, &current.cfg.base) {
            Err(r) => {
                self.save();
                let errors = problem_strings(&r.problems);
                log::warn!(
                    "remote config version {version} rejected; keeping {}:\n  {}",
                    current.cfg.origin,
                    errors.join("\n  ")
                );
                self.report(Some(version), "rejected", errors);
                Action::None
            }
            Ok((cfg, merged)) => {
                let next = Applied {
                    cfg,
                    doc: merged,
                    remote: Some(original),
                };
                if next.changed(current, "mqtt") {
                    // Confirmed when the new uplink connects; until then a restart rolls back.
                    self.persisted.pending = Some(version);
                    self.save();
                    log::info!(
                        "remote config version {version}: switching; the uplink changed, so it must connect within {}",
                        crate::config::units::format_duration(self.health_window)
                    );
                } else {
                    self.save();
                }
                Action::Switch(Box::new(next))
            }
        }
    }

    /// The runtime switched to `applied`; `uplink_restarted` when `[mqtt]` changed, with the
    /// uplink's connection count before the switch.
    pub fn switched(&mut self, applied: &Applied, uplink_restarted: Option<u64>) {
        match uplink_restarted {
            Some(connections_before) => {
                self.pending = Some(Pending {
                    version: applied.version(),
                    deadline: Instant::now() + self.health_window,
                    connections_before,
                });
                self.stats.set_version(applied.version());
            }
            None => self.confirm(applied),
        }
    }

    fn confirm(&mut self, applied: &Applied) {
        self.pending = None;
        self.persisted.pending = None;
        self.persisted.applied = applied.remote.clone();
        self.save();
        self.confirmed = applied.clone();
        log::info!("remote config: applied {}", applied.cfg.origin);
        self.report(Some(applied.version()), "applied", Vec::new());
    }

    /// When the health window of a pending config ends.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending.as_ref().map(|p| p.deadline)
    }

    /// The uplink reported `connections`: confirms a pending config once its uplink connected.
    pub fn on_link(&mut self, connections: u64, current: &Applied) {
        if let Some(p) = &self.pending {
            if connections > p.connections_before && p.version == current.version() {
                self.confirm(current);
            }
        }
    }

    /// The health window ended without a connection: the config to go back to.
    pub fn rollback(&mut self, last_error: Option<String>) -> Option<Applied> {
        let p = self.pending.take()?;
        self.persisted.pending = None;
        self.save();
        let why = last_error.unwrap_or_else(|| "no connection".into());
        let e = format!(
            "mqtt: the uplink did not come back within {} with version {}: {why}; rolled back to {}",
            crate::config::units::format_duration(self.health_window),
            p.version,
            self.confirmed.cfg.origin
        );
        log::error!("remote config: {e}");
        self.report(Some(p.version), "rolled_back", vec![e]);
        Some(self.confirmed.clone())
    }
}

//! Stage two of the configuration: from the file's strings to typed, checked values.
//!
//! Each section has its own file with its resolved type and its resolver (`agent`, `sample`,
//! `metrics`, `store`, `mqtt`, `remote_write`, `pushgateway`, `scrape`, `logs`, `logstash`, `signatures`, `alerts`); this one runs them
//! all on one [`Problems`] list, so an operator fixing a config sees every problem in one
//! `check-config` run. Defaults live next to the checks, so `docs/CONFIG.md` has one place
//! to be true to.

use super::agent::{self, AgentConfig};
use super::alerts::{self, AlertsConfig};
use super::logs::{self, LogsConfig};
use super::logstash::{self, LogstashConfig};
use super::metrics::{self, MetricsConfig};
use super::mqtt::{self, MqttConfig};
use super::pushgateway::{self, PushgatewayConfig};
use super::remote_write::{self, RemoteWriteConfig};
use super::sample::{self, SampleConfig};
use super::schema::RawConfig;
use super::scrape::{self, ScrapeJob};
use super::sensors::{self, SensorConfig};
use super::signatures::{self, SignaturesConfig};
use super::store::{self, StoreConfig};
use super::{Base, ConfigError, Origin, Problems};

/// A configuration that passed validation.
#[derive(Debug, Clone)]
pub struct Config {
    pub origin: Origin,
    /// The local file (or embedded default) this config was built from; remote configs are
    /// applied on top of it.
    pub base: std::sync::Arc<Base>,
    pub agent: AgentConfig,
    pub sample: SampleConfig,
    pub metrics: MetricsConfig,
    pub store: StoreConfig,
    pub mqtt: Option<MqttConfig>,
    pub remote_write: Option<RemoteWriteConfig>,
    pub pushgateway: Option<PushgatewayConfig>,
    /// `[[scrape]]` jobs (local file only).
    pub scrape: Vec<ScrapeJob>,
    /// `[logs]`: the log sources.
    pub logs: LogsConfig,
    pub logstash: Option<LogstashConfig>,
    /// `[signatures]`: the alert engine; `None` when it is off.
    pub signatures: Option<SignaturesConfig>,
    /// `[alerts]`: the alert sinks; `None` when the section is absent.
    pub alerts: Option<AlertsConfig>,
    /// The board's sensors with `[[sensor]]` applied (docs/SENSORS.md).
    pub sensors: Vec<SensorConfig>,
}

/// Resolves every section of `raw`; `problems` may already hold stage one's (unknown keys,
/// wrong types), which are reported together with these.
pub fn validate(
    raw: RawConfig,
    origin: Origin,
    board_override: Option<&str>,
    config_dir: Option<&std::path::Path>,
    mut problems: Problems,
) -> Result<Config, ConfigError> {
    let p = &mut problems;
    let agent = agent::resolve(p, &raw.agent, board_override);
    let sample = sample::resolve(p, &raw.sample, agent.board.as_ref());
    let metrics = metrics::resolve(p, &raw.metrics);
    let store = store::resolve(p, &raw.store);
    let mqtt = raw.mqtt.as_ref().and_then(|m| mqtt::resolve(p, m, &agent.id));
    let remote_write = raw
        .remote_write
        .as_ref()
        .and_then(|r| remote_write::resolve(p, r, &agent.id));
    let pushgateway = raw
        .pushgateway
        .as_ref()
        .and_then(|r| pushgateway::resolve(p, r, &agent.id));
    let scrape = scrape::resolve(p, &raw.scrape, sample.interval);
    let logs = logs::resolve(p, &raw.logs);
    let logstash = raw.logstash.as_ref().and_then(|r| logstash::resolve(p, r));
    let signatures = signatures::resolve(p, raw.signatures.as_ref(), config_dir);
    let alerts = alerts::resolve(p, raw.alerts.as_ref(), metrics.listen);
    let board_sensors = agent.board.as_ref().map(|b| b.sensors.as_slice()).unwrap_or(&[]);
    let sensors = sensors::resolve(p, board_sensors, &raw.sensor, &sample.dev_path, &sample.sys_path);
    if !problems.is_empty() {
        return Err(ConfigError::Invalid { origin, problems });
    }
    Ok(Config {
        base: std::sync::Arc::new(Base {
            doc: serde_json::Value::Object(Default::default()),
            origin: origin.clone(),
            board: board_override.map(str::to_string),
        }),
        origin,
        agent,
        sample,
        metrics,
        store,
        mqtt,
        remote_write,
        pushgateway,
        scrape,
        logs,
        logstash,
        signatures,
        alerts,
        sensors,
    })
}

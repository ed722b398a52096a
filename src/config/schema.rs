//! Stage one of the configuration: the file's shape, exactly as written.
//!
//! Every struct denies unknown fields, so a typo (`intervall`) is an error with its key path
//! instead of a silently ignored setting. Values that need interpretation (durations, sizes,
//! addresses, regexes) stay strings here; [`super::validate`] turns them into typed values and
//! collects every problem at once. The same structs read the JSON that arrives over MQTT.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub agent: RawAgent,
    #[serde(default)]
    pub sample: RawSample,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub store: RawStore,
    pub mqtt: Option<RawMqtt>,
    pub remote_write: Option<RawRemoteWrite>,
    pub pushgateway: Option<RawPushgateway>,
    /// `[[scrape]]`: local exporters to scrape.
    #[serde(default)]
    pub scrape: Vec<RawScrape>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    /// Gateway id; default: the host name.
    pub id: Option<String>,
    /// Where the store lives; default `$STATE_DIRECTORY` or `./outpost-data`.
    pub data_dir: Option<String>,
    /// Board profile: a name from `boards/` or a path to a TOML file.
    pub board: Option<String>,
    /// `error`, `warn`, `info` (default), `debug`, `trace`.
    pub log_level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSample {
    /// How often host metrics are sampled; default `"10s"`.
    pub interval: Option<String>,
    /// Which host collectors run; default all.
    pub collectors: Option<Vec<String>>,
    /// Root of procfs; default `/proc` (a container may mount the host's elsewhere).
    pub proc_path: Option<String>,
    /// Root of sysfs; default `/sys`.
    pub sys_path: Option<String>,
    #[serde(default)]
    pub filesystem: RawFilesystem,
    #[serde(default)]
    pub netdev: RawNetdev,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFilesystem {
    pub mount_points_exclude: Option<String>,
    pub fs_types_exclude: Option<String>,
    /// How long one `statfs` may take before its mount is reported as stuck.
    pub statfs_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetdev {
    pub device_exclude: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub enabled: Option<bool>,
    pub listen: Option<String>,
    pub max_connections: Option<u32>,
    pub request_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// `redb` (default) or `sled` (builds with the `store-sled` feature).
    pub backend: Option<String>,
    pub commit_interval: Option<String>,
    pub commit_bytes: Option<String>,
    pub max_bytes: Option<String>,
    pub min_free_disk: Option<String>,
    pub cache_size: Option<String>,
    pub quarantine_max_bytes: Option<String>,
    #[serde(default)]
    pub max_age: RawMaxAge,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaxAge {
    pub metrics: Option<String>,
    pub logs: Option<String>,
    pub alerts: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMqtt {
    /// `mqtt://host[:port]` or `mqtts://host[:port]` (TLS).
    pub url: Option<String>,
    /// PEM CA bundle for mqtts://; default the system trust store.
    pub ca_file: Option<String>,
    /// PEM client certificate and key (mutual TLS).
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub client_id: Option<String>,
    pub username: Option<String>,
    /// File holding the password (never the password itself in the config).
    pub password_file: Option<String>,
    pub keep_alive: Option<String>,
    pub topic_prefix: Option<String>,
    pub qos: Option<u8>,
    pub max_batch_bytes: Option<String>,
    pub max_batch_records: Option<u32>,
    pub max_inflight: Option<u32>,
    pub linger: Option<String>,
    pub reconnect_min: Option<String>,
    pub reconnect_max: Option<String>,
    /// Backlog bytes per second after an outage (`"0"`: unlimited); live data goes first.
    pub backfill_rate: Option<String>,
    /// `none` (default) or `gzip`.
    pub compression: Option<String>,
    /// Take configuration from the retained `<prefix>/<id>/config` topic (default true).
    pub remote_config: Option<bool>,
    /// How long a remotely applied config has to bring the uplink back before it is rolled back.
    pub health_window: Option<String>,
}

/// `[remote_write]`: Prometheus remote write 1.0 to a central receiver.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRemoteWrite {
    /// `http(s)://host[:port]/path`, e.g. `https://prometheus.example/api/v1/write`.
    pub url: Option<String>,
    /// Extra request headers, e.g. `X-Scope-OrgID` for multi-tenant receivers.
    pub headers: Option<BTreeMap<String, String>>,
    pub username: Option<String>,
    pub password_file: Option<String>,
    pub bearer_token_file: Option<String>,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub timeout: Option<String>,
    pub max_samples_per_request: Option<u32>,
    pub max_request_bytes: Option<String>,
    /// The `job` label (default `"node"`, what node_exporter dashboards and rules expect).
    pub job: Option<String>,
    /// The `instance` label (default: the gateway id).
    pub instance: Option<String>,
    pub external_labels: Option<BTreeMap<String, String>>,
    /// Backlog samples older than this are dropped (counted) instead of sent; `"0"`: no limit.
    pub max_backlog_age: Option<String>,
    /// Backlog bytes per second after an outage (`"0"`: unlimited); live data goes first.
    pub backfill_rate: Option<String>,
    pub retry_min: Option<String>,
    pub retry_max: Option<String>,
}

/// `[pushgateway]`: the latest values, pushed to a Prometheus Pushgateway.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPushgateway {
    /// `http(s)://host[:port]`, the Pushgateway's base url.
    pub url: Option<String>,
    pub job: Option<String>,
    pub instance: Option<String>,
    /// More grouping-key labels.
    pub grouping: Option<BTreeMap<String, String>>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    /// Delete the group when the agent stops cleanly (default true).
    pub delete_on_shutdown: Option<bool>,
    pub headers: Option<BTreeMap<String, String>>,
    pub username: Option<String>,
    pub password_file: Option<String>,
    pub bearer_token_file: Option<String>,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

/// `[[scrape]]`: one job of local exporters, Prometheus' `scrape_config` key names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScrape {
    pub job: Option<String>,
    /// `host:port` of each exporter; each is the `instance` label of its series.
    pub targets: Option<Vec<String>>,
    pub metrics_path: Option<String>,
    /// `http` (default) or `https`.
    pub scheme: Option<String>,
    /// Query parameters, e.g. `{ module = ["if_mib"] }`.
    pub params: Option<BTreeMap<String, Vec<String>>>,
    /// Default: `[sample] interval`.
    pub interval: Option<String>,
    /// Default: the interval, at most 10 s.
    pub timeout: Option<String>,
    pub honor_labels: Option<bool>,
    pub honor_timestamps: Option<bool>,
    pub username: Option<String>,
    pub password_file: Option<String>,
    pub bearer_token_file: Option<String>,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    /// Static labels added to every series of the job's targets.
    pub labels: Option<BTreeMap<String, String>>,
    pub metric_relabel_configs: Option<Vec<RawRelabel>>,
    pub sample_limit: Option<u32>,
    pub body_size_limit: Option<String>,
}

/// One `metric_relabel_configs` rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRelabel {
    pub source_labels: Option<Vec<String>>,
    pub separator: Option<String>,
    pub regex: Option<String>,
    pub target_label: Option<String>,
    pub replacement: Option<String>,
    pub action: Option<String>,
}

//! Stage one of the configuration: the file's shape, exactly as written.
//!
//! Every struct denies unknown fields, so a typo (`intervall`) is an error with its key path
//! instead of a silently ignored setting. Values that need interpretation (durations, sizes,
//! addresses, regexes) stay strings here; [`super::validate`] turns them into typed values and
//! collects every problem at once. The same structs read the JSON that arrives over MQTT.
//!
//! [`read`] does not stop at the first unknown key or wrong type: it records the problem
//! (with the closest valid key name for a typo), takes the key out of the document and reads
//! again, so one `check-config` run reports every unknown key together with every value
//! problem of the rest. The auth, TLS and timeout keys that every HTTP client section has are
//! declared once, by [`with_client_keys!`] (and `url` and `headers` for push endpoints by
//! [`with_endpoint_keys!`]): serde cannot flatten a shared struct into a section and still
//! deny unknown keys.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::Problems;

/// The auth, TLS and timeout keys of one HTTP client section, as written.
#[derive(Debug, Default, Clone, Copy)]
pub struct ClientKeys<'a> {
    pub username: Option<&'a str>,
    pub password_file: Option<&'a str>,
    pub bearer_token_file: Option<&'a str>,
    pub ca_file: Option<&'a str>,
    pub cert_file: Option<&'a str>,
    pub key_file: Option<&'a str>,
    pub timeout: Option<&'a str>,
}

/// Declares the section of a push endpoint: `url` and `headers` plus the client keys of
/// [`with_client_keys!`] added to its own keys.
macro_rules! with_endpoint_keys {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident: $t:ty,)* }) => {
        with_client_keys! {
            $(#[$m])*
            pub struct $name {
                /// `http(s)://host[:port][/path]` of the receiver.
                pub url: Option<String>,
                /// Extra request headers (a tenant id, say); the protocol's own are refused.
                pub headers: Option<BTreeMap<String, String>>,
                $($(#[$fm])* pub $f: $t,)*
            }
        }
    };
}

/// Declares a section struct with the shared HTTP client keys added to its own, and
/// `client_keys()` to hand them to [`super::endpoint::endpoint`].
macro_rules! with_client_keys {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident: $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fm])* pub $f: $t,)*
            pub username: Option<String>,
            /// File holding the password (never the password itself in the config).
            pub password_file: Option<String>,
            pub bearer_token_file: Option<String>,
            /// PEM CA bundle for https://; default the system trust store.
            pub ca_file: Option<String>,
            /// PEM client certificate and key (mutual TLS).
            pub cert_file: Option<String>,
            pub key_file: Option<String>,
            pub timeout: Option<String>,
        }

        impl $name {
            pub fn client_keys(&self) -> ClientKeys<'_> {
                ClientKeys {
                    username: self.username.as_deref(),
                    password_file: self.password_file.as_deref(),
                    bearer_token_file: self.bearer_token_file.as_deref(),
                    ca_file: self.ca_file.as_deref(),
                    cert_file: self.cert_file.as_deref(),
                    key_file: self.key_file.as_deref(),
                    timeout: self.timeout.as_deref(),
                }
            }
        }
    };
}

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
    /// `[logs]` and its `[[logs.source]]` list.
    #[serde(default)]
    pub logs: RawLogs,
    pub logstash: Option<RawLogstash>,
    /// `[signatures]`: the alert engine (catalog, grouping, tunables).
    pub signatures: Option<super::signatures::RawSignatures>,
    /// `[alerts]`: where the engine's decisions are delivered.
    pub alerts: Option<RawAlerts>,
    /// `[[sensor]]`: sensors beyond (or overriding, by name) the board profile's.
    #[serde(default)]
    pub sensor: Vec<super::sensors::RawSensor>,
}

/// `[alerts]`: one subsection per alert sink.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    pub alertmanager: Option<RawAlertmanager>,
    pub slack: Option<RawSlack>,
    pub telegram: Option<RawTelegram>,
    pub mqtt: Option<RawAlertMqtt>,
    pub exec: Option<RawExec>,
}

with_client_keys! {
    /// `[alerts.alertmanager]`: Alertmanager API v2, one or more instances (an HA pair).
    pub struct RawAlertmanager {
        pub urls: Option<Vec<String>>,
        pub headers: Option<BTreeMap<String, String>>,
        /// Static labels added to every alert.
        pub labels: Option<BTreeMap<String, String>>,
        pub resend_interval: Option<String>,
        pub resolved_resend_for: Option<String>,
        pub generator_url: Option<String>,
        pub enabled: Option<bool>,
        pub min_severity: Option<String>,
        pub categories: Option<Vec<String>>,
        pub escalation_only: Option<bool>,
        pub retry_policy: Option<String>,
    }
}

/// `[alerts.slack]`: an incoming webhook; its URL is a secret (file or environment).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlack {
    pub webhook_url_file: Option<String>,
    pub webhook_url_env: Option<String>,
    pub min_interval: Option<String>,
    pub max_per_message: Option<u32>,
    pub timeout: Option<String>,
    pub ca_file: Option<String>,
    pub enabled: Option<bool>,
    pub min_severity: Option<String>,
    pub categories: Option<Vec<String>>,
    pub escalation_only: Option<bool>,
    pub retry_policy: Option<String>,
}

/// `[alerts.telegram]`: a bot's `sendMessage`; the token is a secret (file or environment).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTelegram {
    pub bot_token_file: Option<String>,
    pub bot_token_env: Option<String>,
    pub chat_id: Option<String>,
    pub chat_id_file: Option<String>,
    pub api_url: Option<String>,
    pub min_interval: Option<String>,
    pub max_per_message: Option<u32>,
    pub timeout: Option<String>,
    pub ca_file: Option<String>,
    pub enabled: Option<bool>,
    pub min_severity: Option<String>,
    pub categories: Option<Vec<String>>,
    pub escalation_only: Option<bool>,
    pub retry_policy: Option<String>,
}

/// `[alerts.mqtt]`: which decisions the MQTT uplink publishes on `<prefix>/<id>/alerts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlertMqtt {
    pub enabled: Option<bool>,
    pub min_severity: Option<String>,
    pub categories: Option<Vec<String>>,
    pub escalation_only: Option<bool>,
    pub retry_policy: Option<String>,
}

/// `[alerts.exec]`: a local command run per decision, the decision as JSON on its stdin.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExec {
    /// The program and its arguments (no shell).
    pub command: Option<Vec<String>>,
    pub timeout: Option<String>,
    pub min_interval: Option<String>,
    pub enabled: Option<bool>,
    pub min_severity: Option<String>,
    pub categories: Option<Vec<String>>,
    pub escalation_only: Option<bool>,
    pub retry_policy: Option<String>,
}

/// `[logs]`: settings shared by every log source, and the sources.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogs {
    /// More keys whose values are masked (besides token, password, secret, cookie,
    /// authorization, api_key).
    pub redact_keys: Option<Vec<String>>,
    /// With a stdin source: how long the sinks get to deliver after its end of input.
    pub drain_timeout: Option<String>,
    #[serde(default)]
    pub source: Vec<RawLogSource>,
}

/// One `[[logs.source]]`; which keys apply depends on `type`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogSource {
    pub name: Option<String>,
    /// `file`, `journald`, `stdin` or `internal`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub format: Option<String>,
    /// The `service` of its events (default: from the line, else the source name).
    pub service: Option<String>,
    pub max_line_bytes: Option<String>,
    /// Static fields added to every event.
    pub fields: Option<BTreeMap<String, String>>,
    pub multiline: Option<RawMultiline>,
    // file
    pub paths: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    pub start_at: Option<String>,
    pub scan_interval: Option<String>,
    pub poll_interval: Option<String>,
    pub rotate_wait: Option<String>,
    pub partial_line_wait: Option<String>,
    // journald
    pub units: Option<Vec<String>>,
    pub identifiers: Option<Vec<String>>,
    pub priority: Option<String>,
    pub journal_directory: Option<String>,
    pub journalctl: Option<String>,
    // internal
    pub level: Option<String>,
}

/// Joining physical lines into one record.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMultiline {
    /// A line matching this starts a record; others continue the current one.
    pub start: Option<String>,
    /// Java `at …`/`Caused by:` and Python traceback continuations (default true).
    pub builtin: Option<bool>,
    pub max_lines: Option<u32>,
    pub max_bytes: Option<String>,
    pub timeout: Option<String>,
}

with_endpoint_keys! {
    /// `[logstash]`: log events to Logstash's `http` input (`url = "http://host:8080"`), or
    /// with `url = "tcp://host:5000"` as JSON lines to a `tcp` input (`codec => json_lines`).
    pub struct RawLogstash {
        pub max_events: Option<u32>,
        pub max_bytes: Option<String>,
        pub linger: Option<String>,
        /// `gzip` (default) or `none`.
        pub compression: Option<String>,
        pub backfill_rate: Option<String>,
        pub retry_min: Option<String>,
        pub retry_max: Option<String>,
    }
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
    /// Where the device nodes are (`i2c-1`, `spidev0.0`, `gpiochip0`); default `/dev`.
    pub dev_path: Option<String>,
    #[serde(default)]
    pub filesystem: RawFilesystem,
    #[serde(default)]
    pub netdev: RawDevices,
    /// Root of the host's filesystem (`/etc/os-release` is read under it); default `/`.
    pub rootfs_path: Option<String>,
    /// udev's database (disk models, serials, paths); default `/run/udev/data`.
    pub udev_data_path: Option<String>,
    #[serde(default)]
    pub diskstats: RawDevices,
    #[serde(default)]
    pub netclass: RawNetclass,
    #[serde(default)]
    pub arp: RawDevices,
    #[serde(default)]
    pub netstat: RawFields,
    #[serde(default)]
    pub vmstat: RawFields,
    #[serde(default)]
    pub textfile: RawTextfile,
    #[serde(default)]
    pub powersupplyclass: RawDevices,
    #[serde(default)]
    pub tapestats: RawDevices,
}

/// A collector's device filter: node_exporter's `device-include` / `device-exclude` pair
/// (they exclude each other).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevices {
    pub device_include: Option<String>,
    pub device_exclude: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetclass {
    /// node_exporter's `--collector.netclass.ignored-devices`.
    pub device_exclude: Option<String>,
    /// node_exporter's `--collector.netclass.ignore-invalid-speed`.
    pub ignore_invalid_speed: Option<bool>,
}

/// node_exporter's `--collector.<name>.fields`: which fields of the file become metrics.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFields {
    pub fields: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTextfile {
    /// Directory of `*.prom` files; none by default (the collector then reports nothing).
    pub directory: Option<String>,
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
    /// Commit cadence for file/journald events and acknowledgements (default 5 s).
    pub commit_interval_rereadable: Option<String>,
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

with_endpoint_keys! {
    /// `[remote_write]`: Prometheus remote write 1.0 to a central receiver
    /// (`url` e.g. `https://prometheus.example/api/v1/write`).
    pub struct RawRemoteWrite {
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
}

with_endpoint_keys! {
    /// `[pushgateway]`: the latest values, pushed to a Prometheus Pushgateway (`url` is its
    /// base url, `http(s)://host[:port]`).
    pub struct RawPushgateway {
        pub job: Option<String>,
        pub instance: Option<String>,
        /// More grouping-key labels.
        pub grouping: Option<BTreeMap<String, String>>,
        pub interval: Option<String>,
        /// Delete the group when the agent stops cleanly (default true).
        pub delete_on_shutdown: Option<bool>,
    }
}

with_client_keys! {
    /// `[[scrape]]`: one job of local exporters, Prometheus' `scrape_config` key names
    /// (`timeout` is the scrape timeout: default the interval, at most 10 s).
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
        pub honor_labels: Option<bool>,
        pub honor_timestamps: Option<bool>,
        /// Static labels added to every series of the job's targets.
        pub labels: Option<BTreeMap<String, String>>,
        pub metric_relabel_configs: Option<Vec<RawRelabel>>,
        pub sample_limit: Option<u32>,
        pub body_size_limit: Option<String>,
    }
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

/// Most problems one read reports before giving up on the rest (a document that is wrong
/// everywhere does not need a thousand lines).
const MAX_SCHEMA_PROBLEMS: usize = 100;

/// Stage one on a document (the TOML file as JSON values, or a remote JSON config): every
/// unknown key and every wrongly typed value, each with its key path, and the [`RawConfig`]
/// of what is left, so stage two can still check the values that are right in shape.
pub fn read(doc: &Value) -> (RawConfig, Problems) {
    read_cleaning(&mut doc.clone())
}

/// [`read`], leaving in `doc` only what was read (the keys with problems taken out).
pub fn read_cleaning(doc: &mut Value) -> (RawConfig, Problems) {
    let mut problems = Problems::default();
    loop {
        let err = match serde_path_to_error::deserialize::<_, RawConfig>(&*doc) {
            Ok(raw) => return (raw, problems),
            Err(e) => e,
        };
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let message = err.inner().to_string();
        let (at, message) = match unknown_field(&message) {
            Some((key, expected)) => {
                // serde_path_to_error's path ends with the key already.
                let at = if path.is_empty() {
                    key.clone()
                } else if path == key || path.ends_with(&format!(".{key}")) {
                    path.clone()
                } else {
                    format!("{path}.{key}")
                };
                (at, describe_unknown(&key, &expected))
            }
            None => (path.clone(), message),
        };
        problems.add(&at, message);
        if problems.len() >= MAX_SCHEMA_PROBLEMS || at.is_empty() || !remove(doc, &at) {
            return (RawConfig::default(), problems);
        }
    }
}

/// serde's "unknown field `x`, expected one of `a`, `b`" (or "expected `a` or `b`", or
/// "there are no fields"): the key and the valid names.
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).map(str::to_string).collect();
    Some((key.to_string(), expected))
}

fn describe_unknown(key: &str, expected: &[String]) -> String {
    let closest = expected
        .iter()
        .map(|name| (edit_distance(key, name), name))
        .filter(|(d, name)| *d <= 2.max(name.len() / 3))
        .min_by_key(|(d, _)| *d);
    match closest {
        Some((_, name)) => format!("unknown field `{key}`; did you mean `{name}`?"),
        None if expected.is_empty() => format!("unknown field `{key}`: this table takes no keys"),
        None => format!("unknown field `{key}`; valid keys: {}", expected.join(", ")),
    }
}

/// Levenshtein distance over characters (key names are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// Removes the value at a key path (`a.b[2].c`, as serde_path_to_error writes it); false when
/// there is nothing there to remove.
pub fn remove(doc: &mut Value, path: &str) -> bool {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (name, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            steps.push(Err(name));
        }
        for idx in indexes.split('[').filter(|s| !s.is_empty()) {
            match idx.trim_end_matches(']').parse::<usize>() {
                Ok(n) => steps.push(Ok(n)),
                Err(_) => return false,
            }
        }
    }
    let Some((last, parents)) = steps.split_last() else {
        return false;
    };
    let mut at = doc;
    for step in parents {
        let next = match (step, at) {
            (Err(name), Value::Object(m)) => m.get_mut(*name),
            (Ok(i), Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        match next {
            Some(v) => at = v,
            None => return false,
        }
    }
    match (last, at) {
        (Err(name), Value::Object(m)) => m.remove(*name).is_some(),
        (Ok(i), Value::Array(a)) if *i < a.len() => {
            a.remove(*i);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(doc: Value) -> Vec<(String, String)> {
        read(&doc)
            .1
            .iter()
            .map(|p| (p.path.clone(), p.message.clone()))
            .collect()
    }

    #[test]
    fn every_unknown_key_and_wrong_type_is_reported() {
        let doc = serde_json::json!({
            "sample": {"intervall": "5s", "collectors": "cpu"},
            "mqtt": {"url": "mqtt://b", "qoss": 1},
            "scrape": [{"job": "a", "target": ["x:1"]}],
            "mqtt2": {}
        });
        let got = paths(doc);
        let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        for want in [
            "sample.intervall",
            "sample.collectors",
            "mqtt.qoss",
            "scrape[0].target",
            "mqtt2",
        ] {
            assert!(keys.contains(&want), "{want} missing in {got:?}");
        }
        let msg = |k: &str| got.iter().find(|(p, _)| p == k).map(|(_, m)| m.clone()).unwrap();
        assert_eq!(
            msg("sample.intervall"),
            "unknown field `intervall`; did you mean `interval`?"
        );
        assert_eq!(
            msg("scrape[0].target"),
            "unknown field `target`; did you mean `targets`?"
        );
        assert!(msg("mqtt.qoss").contains("did you mean `qos`?"));
        assert!(
            msg("mqtt2").starts_with("unknown field `mqtt2`; did you mean `mqtt`?"),
            "{}",
            msg("mqtt2")
        );
        assert_eq!(got.len(), 5, "{got:?}");
    }

    #[test]
    fn what_is_left_still_reads() {
        let (raw, p) = read(&serde_json::json!({"sample": {"intervall": "5s", "proc_path": "/p"}}));
        assert_eq!(p.len(), 1);
        assert_eq!(raw.sample.proc_path.as_deref(), Some("/p"));
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("intervall", "interval"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("qos", "qos"), 0);
    }
}

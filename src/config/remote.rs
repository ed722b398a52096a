//! Remote configuration: the JSON document on the retained `<prefix>/<id>/config` topic.
//!
//! The document has the TOML file's schema plus a `version` (a whole number that only goes
//! up). It is laid over the **local file**, not over the previous remote version: a key the
//! document sets replaces the file's value, a key it leaves out keeps the file's value. So
//! each version is complete for what it controls, and removing a key from the next version
//! returns that key to the file's value.
//!
//! Checks, in order, each failure a rejection with key paths: size (≤ [`MAX_BYTES`]), JSON
//! syntax, `version`, the schema on the document alone (unknown keys, wrong types), keys that
//! are local-only ([`ALLOWED`]), then the full stage-two validation of the merged document —
//! the same code as for the file. Nothing here touches the running agent; the runtime swaps
//! in the returned [`Config`] only when all of it passed.
//!
//! The accepted document is persisted as the *last known good* (`remote-config.json` in the
//! data directory) once the uplink has come back with it, and used from the next start on,
//! before any broker is reachable.

use std::path::Path;

use serde_json::{Map, Value};

use super::{validate, Base, Config, ConfigError, Origin, Problems};

/// Largest config payload considered (bytes).
pub const MAX_BYTES: usize = 64 * 1024;

/// The file in the data directory holding the last known good remote config.
pub const STATE_FILE: &str = "remote-config.json";

/// Key paths (and whole sections, by prefix) a remote config may set. Everything else is
/// local-only: the gateway's identity, where data lives, what the agent reads from the local
/// filesystem, credentials and the MQTT identity, the local endpoint's exposure, the store's
/// engine, and the rollback settings that protect the uplink. For the push sinks the same
/// holds: auth, TLS files, extra headers (tenant ids, tokens) and the `instance` label are
/// local; where and how fast to push is remote.
pub const ALLOWED: &[&str] = &[
    "agent.log_level",
    "sample.interval",
    "sample.collectors",
    "sample.filesystem",
    "sample.netdev",
    "sample.diskstats",
    "sample.netclass",
    "sample.arp",
    "sample.netstat",
    "sample.vmstat",
    "sample.powersupplyclass",
    "sample.tapestats",
    "store.commit_interval",
    "store.commit_interval_rereadable",
    "store.commit_bytes",
    "store.max_bytes",
    "store.max_age",
    "store.min_free_disk",
    "mqtt.url",
    "mqtt.keep_alive",
    "mqtt.qos",
    "mqtt.max_batch_bytes",
    "mqtt.max_batch_records",
    "mqtt.max_inflight",
    "mqtt.linger",
    "mqtt.reconnect_min",
    "mqtt.reconnect_max",
    "mqtt.backfill_rate",
    "mqtt.compression",
    "remote_write.url",
    "remote_write.timeout",
    "remote_write.max_samples_per_request",
    "remote_write.max_request_bytes",
    "remote_write.job",
    "remote_write.external_labels",
    "remote_write.max_backlog_age",
    "remote_write.backfill_rate",
    "remote_write.retry_min",
    "remote_write.retry_max",
    "pushgateway.url",
    "pushgateway.job",
    "pushgateway.grouping",
    "pushgateway.interval",
    "pushgateway.timeout",
    "pushgateway.delete_on_shutdown",
    // Log sources may be added, changed and removed remotely (their positions are kept in
    // the store by name); the command a journald source runs may not (LOCAL_IN_ALLOWED).
    "logs.source",
    "logs.redact_keys",
    "logs.drain_timeout",
    "logstash.url",
    "logstash.timeout",
    "logstash.max_events",
    "logstash.max_bytes",
    "logstash.linger",
    "logstash.compression",
    "logstash.backfill_rate",
    "logstash.retry_min",
    "logstash.retry_max",
    // The engine's catalog and grouping travel inline (and then win over the local files);
    // the file paths stay local.
    "signatures.enabled",
    "signatures.shadow",
    "signatures.catalog",
    "signatures.grouping",
    "signatures.canonicalization",
    "signatures.learn",
    "signatures.generic_min_level",
    "signatures.max_fingerprints",
    "signatures.max_decisions_per_minute",
    "signatures.resolve_after",
    "signatures.repeat_interval",
    "signatures.max_clock_skew",
    "signatures.state_interval",
    "signatures.max_scan_bytes",
    // Alert sinks: where to (Alertmanager URLs, the Telegram chat), how often and what is
    // routed where. The secrets (webhook URL, bot token: files or environment), the CA
    // file, the Telegram API URL (it carries the token), auth keys and the command `exec`
    // runs stay local.
    "alerts.alertmanager.urls",
    "alerts.alertmanager.labels",
    "alerts.alertmanager.resend_interval",
    "alerts.alertmanager.resolved_resend_for",
    "alerts.alertmanager.generator_url",
    "alerts.alertmanager.timeout",
    "alerts.alertmanager.enabled",
    "alerts.alertmanager.min_severity",
    "alerts.alertmanager.categories",
    "alerts.alertmanager.escalation_only",
    "alerts.alertmanager.retry_policy",
    "alerts.slack.min_interval",
    "alerts.slack.max_per_message",
    "alerts.slack.timeout",
    "alerts.slack.enabled",
    "alerts.slack.min_severity",
    "alerts.slack.categories",
    "alerts.slack.escalation_only",
    "alerts.slack.retry_policy",
    "alerts.telegram.chat_id",
    "alerts.telegram.min_interval",
    "alerts.telegram.max_per_message",
    "alerts.telegram.timeout",
    "alerts.telegram.enabled",
    "alerts.telegram.min_severity",
    "alerts.telegram.categories",
    "alerts.telegram.escalation_only",
    "alerts.telegram.retry_policy",
    "alerts.mqtt",
    "alerts.exec.timeout",
    "alerts.exec.min_interval",
    "alerts.exec.enabled",
    "alerts.exec.min_severity",
    "alerts.exec.categories",
    "alerts.exec.escalation_only",
    "alerts.exec.retry_policy",
    // Sensors: by name, only SENSOR_REMOTE_KEYS (which bus and address a sensor is on, and
    // which file it reads, stay local).
    "sensor",
];

/// What a remote `sensor` entry may set, besides the `name` that picks the local sensor.
pub const SENSOR_REMOTE_KEYS: &[&str] = &["interval", "scale", "offset", "enabled", "stuck_after"];

/// Keys inside an allowed section that stay local: the program a journald source runs (a
/// remote config must not be able to make the agent execute something else).
pub const LOCAL_IN_ALLOWED: &[&str] = &["journalctl"];

fn allowed(path: &str) -> bool {
    ALLOWED
        .iter()
        .any(|a| path == *a || (path.starts_with(a) && path[a.len()..].starts_with(['.', '['])))
}

/// A remote config that was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The document's version, when it could be read.
    pub version: Option<u64>,
    pub problems: Problems,
}

impl Rejection {
    fn one(version: Option<u64>, path: &str, message: impl Into<String>) -> Rejection {
        let mut problems = Problems::default();
        problems.add(path, message);
        Rejection { version, problems }
    }
}

/// Reads the payload's JSON and `version` (the first checks, done before comparing the
/// version with what was applied).
pub fn read_version(payload: &[u8]) -> Result<(u64, Map<String, Value>), Rejection> {
    if payload.len() > MAX_BYTES {
        return Err(Rejection::one(
            None,
            "",
            format!("payload is {} bytes; the limit is {MAX_BYTES}", payload.len()),
        ));
    }
    let doc: Value = serde_json::from_slice(payload)
        .map_err(|e| Rejection::one(None, "", format!("invalid JSON: {e}")))?;
    let Value::Object(mut doc) = doc else {
        return Err(Rejection::one(None, "", "expected a JSON object"));
    };
    let version = match doc.remove("version") {
        None => {
            return Err(Rejection::one(
                None,
                "version",
                "required: a whole number that goes up with each change",
            ))
        }
        Some(v) => match v.as_u64() {
            Some(n) if n > 0 => n,
            _ => {
                return Err(Rejection::one(
                    None,
                    "version",
                    format!("{v}: expected a whole number above 0"),
                ))
            }
        },
    };
    Ok((version, doc))
}

/// Checks a document (without `version`) and builds the config it makes with `base`.
/// Returns the config and the merged document.
pub fn build(version: u64, doc: Map<String, Value>, base: &Base) -> Result<(Config, Value), Rejection> {
    let reject = |problems: Problems| Rejection {
        version: Some(version),
        problems,
    };
    let mut doc = Value::Object(doc);
    // Stage one on the document alone: unknown keys and wrong types, with their paths; they
    // are taken out so the rest is still checked.
    let (_, mut all) = super::schema::read_cleaning(&mut doc);
    // Local-only keys are reported, and left out so the rest is still checked: the sender
    // sees every problem at once.
    let mut leaves = Vec::new();
    paths(&doc, String::new(), &mut leaves);
    for path in leaves {
        if !allowed(&path) {
            all.add(
                &path,
                "local only: set it in the agent's config file, not remotely",
            );
            remove(&mut doc, &path);
        }
    }
    // Inside the `logs.source` list (an array: replaced as a whole), the local-only keys.
    if let Some(Value::Array(list)) = doc.get_mut("logs").and_then(|l| l.get_mut("source")) {
        for (i, src) in list.iter_mut().enumerate() {
            if let Value::Object(m) = src {
                for key in LOCAL_IN_ALLOWED {
                    if m.remove(*key).is_some() {
                        all.add(
                            &format!("logs.source[{i}].{key}"),
                            "local only: set it in the agent's config file, not remotely",
                        );
                    }
                }
            }
        }
    }
    // `sensor` entries change local sensors by name, key by key (not the whole list).
    let sensors = match &mut doc {
        Value::Object(m) => m.remove("sensor"),
        _ => None,
    };
    let mut sensor_changes: Vec<Map<String, Value>> = Vec::new();
    match sensors {
        None => {}
        Some(Value::Array(list)) => {
            for (i, entry) in list.into_iter().enumerate() {
                let Value::Object(mut m) = entry else {
                    all.add(&format!("sensor[{i}]"), "expected an object");
                    continue;
                };
                let Some(name) = m.get("name").and_then(Value::as_str).map(str::to_string) else {
                    all.add(
                        &format!("sensor[{i}].name"),
                        "required: the name of a sensor the agent has",
                    );
                    continue;
                };
                if !local_sensor_names(base).contains(&name) {
                    all.add(
                        &format!("sensor[{i}].name"),
                        format!("no sensor {name:?} in the config file or the board profile; a remote config changes sensors, it does not add them"),
                    );
                    continue;
                }
                let keys: Vec<String> = m.keys().cloned().collect();
                for k in keys {
                    if k != "name" && !SENSOR_REMOTE_KEYS.contains(&k.as_str()) {
                        m.remove(&k);
                        all.add(
                            &format!("sensor[{i}].{k}"),
                            format!(
                                "local only: a remote config may change {} of a sensor",
                                SENSOR_REMOTE_KEYS.join(", ")
                            ),
                        );
                    }
                }
                sensor_changes.push(m);
            }
        }
        Some(_) => all.add("sensor", "expected a list of {\"name\": …} objects"),
    }
    if doc.get("mqtt").is_some() && base.doc.get("mqtt").is_none() {
        all.add(
            "mqtt",
            "the local file has no [mqtt] section; a remote config cannot add the uplink",
        );
        if let Value::Object(m) = &mut doc {
            m.remove("mqtt");
        }
    }
    let mut merged = base.doc.clone();
    merge(&mut merged, doc);
    if !sensor_changes.is_empty() {
        if let Value::Object(m) = &mut merged {
            let list = m.entry("sensor").or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = list {
                for change in sensor_changes {
                    let name = change.get("name").cloned();
                    match list.iter_mut().find(|e| e.get("name") == name.as_ref()) {
                        Some(Value::Object(local)) => local.extend(change),
                        // A sensor of the board profile: an override entry (validation says
                        // so if no sensor has that name).
                        _ => list.push(Value::Object(change)),
                    }
                }
            }
        }
    }
    let (raw, merged_problems) = super::schema::read(&merged);
    for p in merged_problems.iter() {
        all.add(&p.path, p.message.clone());
    }
    let dir = super::signatures::config_dir(&base.origin);
    match validate::validate(
        raw,
        Origin::Remote(version),
        base.board.as_deref(),
        dir.as_deref(),
        all,
    ) {
        Ok(mut cfg) => {
            cfg.base = std::sync::Arc::new(base.clone());
            Ok((cfg, merged))
        }
        Err(ConfigError::Invalid { problems, .. }) => Err(reject(problems)),
        Err(e) => Err(Rejection::one(Some(version), "", e.to_string())),
    }
}

/// The sensors the local file and its board profile define, by name.
fn local_sensor_names(base: &Base) -> Vec<String> {
    let mut names: Vec<String> = base
        .doc
        .get("sensor")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    let board = base.board.clone().or_else(|| {
        base.doc
            .get("agent")
            .and_then(|a| a.get("board"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    if let Some(b) = board {
        let mut quiet = Problems::default();
        if let Some(b) = super::board::resolve(&b, "agent.board", &mut quiet) {
            names.extend(b.sensors.into_iter().filter_map(|s| s.name));
        }
    }
    names
}

/// Removes the leaf at a dotted key path, and tables left empty by that.
fn remove(doc: &mut Value, path: &str) {
    let Value::Object(m) = doc else { return };
    match path.split_once('.') {
        None => {
            m.remove(path);
        }
        Some((head, rest)) => {
            if let Some(child) = m.get_mut(head) {
                remove(child, rest);
                if child.as_object().is_some_and(|c| c.is_empty()) {
                    m.remove(head);
                }
            }
        }
    }
}

/// The key paths of a document's leaves (arrays count as one value).
fn paths(v: &Value, prefix: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                paths(v, p, out);
            }
        }
        _ if !prefix.is_empty() => out.push(prefix),
        _ => {}
    }
}

/// Lays `over` onto `base`: tables merge key by key, every other value replaces.
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// What is kept in the data directory between starts.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Persisted {
    /// The last remote config that was applied and brought the uplink back (the document as
    /// received, with its version).
    pub applied: Option<Value>,
    /// The highest version processed (applied, rejected or rolled back): the retained message
    /// arriving again after a reconnect or restart is not processed twice.
    #[serde(default)]
    pub last_seen: u64,
    /// A version switched to but not yet confirmed by the uplink coming back; found at a
    /// start, it is reported as rolled back.
    #[serde(default)]
    pub pending: Option<u64>,
}

impl Persisted {
    pub fn load(dir: &Path) -> Result<Option<Persisted>, String> {
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Written to a temporary file, synced and renamed: a crash leaves the old or the new.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let tmp = dir.join(format!("{STATE_FILE}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(STATE_FILE))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// The `config/status` payload.
pub fn status_json(version: Option<u64>, result: &str, problems: &[String], at_ms: i64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "version": version,
        "result": result,
        "errors": problems,
        "at": at_ms,
    }))
    .expect("plain data serializes")
}

/// Problems as `path: message` strings for the status payload.
pub fn problem_strings(p: &Problems) -> Vec<String> {
    p.iter()
        .map(|p| {
            if p.path.is_empty() {
                p.message.clone()
            } else {
                format!("{}: {}", p.path, p.message)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn base() -> Base {
        let cfg = super::super::parse_toml(
            "[agent]\nid = \"gw1\"\ndata_dir = \"/tmp/x\"\n[sample]\ninterval = \"10s\"\n[mqtt]\nurl = \"mqtt://127.0.0.1:1883\"\nlinger = \"1s\"\n",
            Origin::Embedded,
            None,
        )
        .unwrap();
        (*cfg.base).clone()
    }

    fn apply(json: &str) -> Result<Config, Rejection> {
        let (v, doc) = read_version(json.as_bytes())?;
        build(v, doc, &base()).map(|(c, _)| c)
    }

    fn paths_of(r: Rejection) -> Vec<String> {
        r.problems.iter().map(|p| p.path.clone()).collect()
    }

    #[test]
    fn log_sources_may_change_remotely_but_not_the_program_journald_runs() {
        let cfg = apply(
            r#"{"version": 5, "logs": {"source": [{"name": "app", "type": "file", "paths": ["/var/log/app/*.log"]}]},
                "logstash": {"url": "http://ls:8080", "max_events": 100}}"#,
        )
        .unwrap();
        assert_eq!(cfg.logs.sources[0].name, "app");
        assert_eq!(cfg.logstash.unwrap().max_events, 100);
        let r = apply(
            r#"{"version": 6, "logs": {"source": [{"name": "j", "type": "journald", "journalctl": "/tmp/evil"}]}}"#,
        )
        .unwrap_err();
        assert_eq!(paths_of(r), ["logs.source[0].journalctl"]);
        let r =
            apply(r#"{"version": 7, "logstash": {"url": "http://ls:8080", "password_file": "/etc/shadow"}}"#)
                .unwrap_err();
        assert_eq!(paths_of(r), ["logstash.password_file"]);
    }

    #[test]
    fn alert_routing_changes_remotely_but_not_secrets_or_the_command() {
        let cfg = apply(
            r#"{"version": 5, "alerts": {"alertmanager": {"urls": ["http://am:9093"], "labels": {"site": "north"},
                "min_severity": "high"}, "mqtt": {"escalation_only": true}}}"#,
        )
        .unwrap();
        let a = cfg.alerts.unwrap();
        let am = a.alertmanager.unwrap();
        assert_eq!(am.labels["site"], "north");
        assert_eq!(am.route.min_severity, 1);
        assert!(a.mqtt.escalation_only);
        for (doc, path) in [
            (
                r#"{"version": 6, "alerts": {"exec": {"command": ["/bin/sh", "-c", "curl evil"]}}}"#,
                "alerts.exec.command",
            ),
            (
                r#"{"version": 6, "alerts": {"slack": {"webhook_url_file": "/etc/shadow"}}}"#,
                "alerts.slack.webhook_url_file",
            ),
            (
                r#"{"version": 6, "alerts": {"telegram": {"api_url": "http://evil", "chat_id": "1"}}}"#,
                "alerts.telegram.api_url",
            ),
        ] {
            let r = apply(doc).unwrap_err();
            assert!(paths_of(r).contains(&path.to_string()), "{doc}");
        }
    }

    #[test]
    fn sensors_change_remotely_by_name_but_not_their_bus() {
        let b = super::super::parse_toml(
            "[agent]\nid = \"gw1\"\n[[sensor]]\nname = \"env\"\ndriver = \"bme280\"\nbus = \"i2c-1\"\naddress = \"0x76\"\n\
             [[sensor]]\nname = \"tank\"\ndriver = \"ds18b20\"\nid = \"28-0316a2794dff\"\n",
            Origin::Embedded,
            None,
        )
        .unwrap();
        let (v, doc) = read_version(
            br#"{"version": 2, "sensor": [{"name": "tank", "interval": "5s", "enabled": false}]}"#,
        )
        .unwrap();
        let (cfg, _) = build(v, doc, &b.base).unwrap();
        assert_eq!(cfg.sensors.len(), 2, "the other sensor stays");
        let tank = cfg.sensors.iter().find(|s| s.name == "tank").unwrap();
        assert_eq!((tank.interval, tank.enabled), (Duration::from_secs(5), false));
        let (v, doc) = read_version(br#"{"version": 3, "sensor": [{"name": "env", "bus": "i2c-0", "address": 119}, {"name": "ghost", "interval": "5s"}]}"#).unwrap();
        let r = build(v, doc, &b.base).unwrap_err();
        let paths = paths_of(r);
        for p in ["sensor[0].bus", "sensor[0].address", "sensor[1].name"] {
            assert!(paths.iter().any(|x| x == p), "{p} in {paths:?}");
        }
    }

    #[test]
    fn a_document_is_laid_over_the_file() {
        let cfg = apply(
            r#"{"version": 3, "sample": {"interval": "2s", "diskstats": {"device_exclude": "^loop"}}, "mqtt": {"qos": 0}}"#,
        )
        .unwrap();
        assert!(cfg.sample.diskstats.ignored("loop0") && !cfg.sample.diskstats.ignored("ram0"));
        assert_eq!(cfg.origin, Origin::Remote(3));
        assert_eq!(cfg.sample.interval, Duration::from_secs(2));
        let m = cfg.mqtt.unwrap();
        assert_eq!(
            (m.qos, m.linger, m.port),
            (0, Duration::from_secs(1), 1883),
            "file values kept"
        );
        assert_eq!(cfg.agent.id, "gw1");
        // Each version starts from the file again: a key left out returns to the file's value.
        let cfg = apply(r#"{"version": 4}"#).unwrap();
        assert_eq!(cfg.sample.interval, Duration::from_secs(10));
    }

    #[test]
    fn bad_documents_are_rejected_with_key_paths() {
        let too_big = format!(r#"{{"version": 1, "x": "{}"}}"#, "a".repeat(MAX_BYTES));
        for (doc, path, words) in [
            ("{not json", "", "invalid JSON"),
            ("[1]", "", "JSON object"),
            (r#"{"sample": {}}"#, "version", "required"),
            (r#"{"version": -1}"#, "version", "whole number"),
            (r#"{"version": "7"}"#, "version", "whole number"),
            (too_big.as_str(), "", "limit"),
            (
                r#"{"version": 2, "sample": {"intervall": "1s"}}"#,
                "sample.intervall",
                "unknown field `intervall`",
            ),
            (
                r#"{"version": 2, "sample": {"interval": 5}}"#,
                "sample.interval",
                "invalid type",
            ),
            (
                r#"{"version": 2, "agent": {"data_dir": "/elsewhere"}}"#,
                "agent.data_dir",
                "local only",
            ),
            (
                r#"{"version": 2, "mqtt": {"client_id": "x"}}"#,
                "mqtt.client_id",
                "local only",
            ),
            (
                r#"{"version": 2, "mqtt": {"password_file": "/etc/shadow"}}"#,
                "mqtt.password_file",
                "local only",
            ),
            (
                r#"{"version": 2, "metrics": {"listen": "0.0.0.0:9110"}}"#,
                "metrics.listen",
                "local only",
            ),
            (
                r#"{"version": 2, "sample": {"interval": "0s"}}"#,
                "sample.interval",
                "",
            ),
            (
                r#"{"version": 2, "sample": {"netdev": {"device_exclude": "^(eth"}}}"#,
                "sample.netdev.device_exclude",
                "",
            ),
            (
                r#"{"version": 2, "mqtt": {"url": "http://x"}}"#,
                "mqtt.url",
                "expected mqtt://",
            ),
            (
                r#"{"version": 2, "sample": {"textfile": {"directory": "/tmp"}}}"#,
                "sample.textfile.directory",
                "local only",
            ),
            (
                r#"{"version": 2, "sample": {"diskstats": {"device_include": "^sd", "device_exclude": "^x"}}}"#,
                "sample.diskstats",
                "exclude each other",
            ),
        ] {
            let r = apply(doc).expect_err(doc);
            let shown = format!("{r:?}");
            assert!(paths_of(r.clone()).contains(&path.to_string()), "{doc}: {shown}");
            assert!(shown.contains(words), "{doc}: {shown}");
        }
        // Every local-only key is reported, not only the first.
        let r =
            apply(r#"{"version": 2, "agent": {"id": "x", "board": "rpi4"}, "store": {"backend": "sled"}}"#)
                .unwrap_err();
        assert_eq!(paths_of(r).len(), 3);
    }

    #[test]
    fn no_uplink_from_a_remote_config() {
        let b = super::super::parse_toml("[agent]\nid = \"gw1\"\n", Origin::Embedded, None).unwrap();
        let (v, doc) = read_version(br#"{"version": 1, "mqtt": {"qos": 0}}"#).unwrap();
        assert!(build(v, doc, &b.base).is_err());
    }

    #[test]
    fn persisted_state_round_trips() {
        let dir = std::env::temp_dir().join(format!("outpost-remote-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(Persisted::load(&dir).unwrap(), None);
        let p = Persisted {
            applied: Some(serde_json::json!({"version": 3, "sample": {"interval": "2s"}})),
            last_seen: 4,
            pending: Some(4),
        };
        p.save(&dir).unwrap();
        assert_eq!(Persisted::load(&dir).unwrap(), Some(p));
        std::fs::write(dir.join(STATE_FILE), b"{garbage").unwrap();
        assert!(Persisted::load(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! `[mqtt]`, resolved: the uplink to an MQTT broker (url, TLS, identity, batching, pacing,
//! remote config). The TLS files become a rustls client setup here, so `check-config` names
//! `mqtt.ca_file` or `mqtt.key_file` when one is unusable.

use std::time::Duration;

use super::check::{count, duration, size};
use super::schema::RawMqtt;
use super::Problems;
use crate::net::tls::{client_config, TlsFile, TlsFiles};

/// `[mqtt]`, resolved: the uplink to an MQTT broker.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    /// Set for mqtts://.
    pub tls: Option<Tls>,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub keep_alive: Duration,
    pub topic_prefix: String,
    /// 0 or 1.
    pub qos: u8,
    pub max_batch_bytes: usize,
    pub max_batch_records: usize,
    pub max_inflight: usize,
    pub linger: Duration,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// Backlog bytes per second; 0 = unlimited.
    pub backfill_rate: u64,
    pub compression: Compression,
    pub remote_config: bool,
    pub health_window: Duration,
}

impl MqttConfig {
    /// `mqtt://host:port` or `mqtts://host:port`, for messages.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// A checked TLS client setup: the PEM contents (compared to detect changes) and the rustls
/// configuration built from them.
#[derive(Debug, Clone)]
pub struct Tls {
    pub files: crate::net::tls::TlsFiles,
    pub client: std::sync::Arc<rustls::ClientConfig>,
}

impl PartialEq for Tls {
    fn eq(&self, other: &Self) -> bool {
        self.files == other.files
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

/// MQTT topic levels may not contain wildcards or be empty.
fn check_topic_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("must not be empty".into());
    }
    if prefix.contains(['+', '#', '\0']) || prefix.starts_with('/') || prefix.ends_with('/') {
        return Err(format!("{prefix:?}: no '+', '#', NUL, or leading/trailing '/'"));
    }
    Ok(())
}

/// Resolves `[mqtt]`; `None` (with the problems recorded) when anything in it is wrong.
pub fn resolve(p: &mut Problems, m: &RawMqtt, id: &str) -> Option<MqttConfig> {
    let before = p.len();
    let (host, port, tls_wanted) = match m.url.as_deref() {
        None => {
            p.add(
                "mqtt.url",
                "required when [mqtt] is present, e.g. \"mqtt://broker.example:1883\"",
            );
            (String::new(), 0, false)
        }
        Some(url) => match parse_mqtt_url(url) {
            Ok(v) => v,
            Err(e) => {
                p.add("mqtt.url", e);
                (String::new(), 0, false)
            }
        },
    };
    let read_file = |p: &mut Problems, key: &str, f: &Option<String>| -> Option<Vec<u8>> {
        let f = f.as_deref()?;
        match std::fs::read(f) {
            Ok(b) => Some(b),
            Err(e) => {
                p.add(key, format!("cannot read {f:?}: {e}"));
                None
            }
        }
    };
    let ca = read_file(p, "mqtt.ca_file", &m.ca_file);
    let cert = read_file(p, "mqtt.cert_file", &m.cert_file);
    let key = read_file(p, "mqtt.key_file", &m.key_file);
    if m.cert_file.is_some() != m.key_file.is_some() {
        let missing = if m.cert_file.is_some() {
            "mqtt.key_file"
        } else {
            "mqtt.cert_file"
        };
        p.add(missing, "cert_file and key_file go together (mutual TLS)");
    }
    let mut tls = None;
    if !tls_wanted {
        for (key, set) in [
            ("mqtt.ca_file", m.ca_file.is_some()),
            ("mqtt.cert_file", m.cert_file.is_some()),
            ("mqtt.key_file", m.key_file.is_some()),
        ] {
            if set && m.url.is_some() {
                p.add(key, "only used with an mqtts:// url");
            }
        }
    } else if (m.ca_file.is_none() || ca.is_some())
        && m.cert_file.is_some() == cert.is_some()
        && m.key_file.is_some() == key.is_some()
    {
        let files = TlsFiles {
            ca,
            client: cert.zip(key),
        };
        match client_config(&files) {
            Ok(client) => tls = Some(Tls { files, client }),
            Err((which, e)) => {
                let key = match which {
                    TlsFile::Ca => "mqtt.ca_file",
                    TlsFile::Cert => "mqtt.cert_file",
                    TlsFile::Key => "mqtt.key_file",
                };
                p.add(key, e);
            }
        }
    }
    let client_id = m.client_id.clone().unwrap_or_else(|| format!("outpost-{id}"));
    if client_id.is_empty() || client_id.len() > 128 {
        p.add("mqtt.client_id", "must be 1 to 128 characters");
    }
    let password = match m.password_file.as_deref() {
        None => None,
        Some(f) => match std::fs::read_to_string(f) {
            Ok(s) => Some(s.trim_end_matches(['\n', '\r']).to_string()),
            Err(e) => {
                p.add("mqtt.password_file", format!("cannot read {f:?}: {e}"));
                None
            }
        },
    };
    if m.password_file.is_some() && m.username.is_none() {
        p.add("mqtt.username", "required with password_file");
    }
    let topic_prefix = m.topic_prefix.clone().unwrap_or_else(|| "outpost".into());
    if let Err(e) = check_topic_prefix(&topic_prefix) {
        p.add("mqtt.topic_prefix", e);
    }
    let qos = m.qos.unwrap_or(1);
    if qos > 1 {
        p.add(
            "mqtt.qos",
            format!("{qos}: use 0 (at most once) or 1 (at least once)"),
        );
    }
    let keep_alive = duration(
        p,
        "mqtt.keep_alive",
        m.keep_alive.as_deref(),
        Duration::from_secs(30),
        Duration::from_secs(5),
        Duration::from_secs(3600),
    );
    let max_batch_bytes = size(
        p,
        "mqtt.max_batch_bytes",
        m.max_batch_bytes.as_deref(),
        128 << 10,
        1 << 10,
        64 << 20,
    ) as usize;
    let max_batch_records = count(p, "mqtt.max_batch_records", m.max_batch_records, 500, 1, 100000);
    let max_inflight = count(p, "mqtt.max_inflight", m.max_inflight, 4, 1, 100);
    let linger = duration(
        p,
        "mqtt.linger",
        m.linger.as_deref(),
        Duration::from_millis(500),
        Duration::from_millis(10),
        Duration::from_secs(60),
    );
    let reconnect_min = duration(
        p,
        "mqtt.reconnect_min",
        m.reconnect_min.as_deref(),
        Duration::from_secs(1),
        Duration::from_millis(100),
        Duration::from_secs(60),
    );
    let reconnect_max = duration(
        p,
        "mqtt.reconnect_max",
        m.reconnect_max.as_deref(),
        Duration::from_secs(60),
        Duration::from_secs(1),
        Duration::from_secs(3600),
    );
    if reconnect_max < reconnect_min {
        p.add("mqtt.reconnect_max", "must not be below reconnect_min");
    }
    let backfill_rate = size(
        p,
        "mqtt.backfill_rate",
        m.backfill_rate.as_deref(),
        1 << 20,
        0,
        1 << 40,
    );
    let compression = match m.compression.as_deref() {
        None | Some("none") => Compression::None,
        Some("gzip") => Compression::Gzip,
        Some(other) => {
            p.add("mqtt.compression", format!("{other:?}: use \"none\" or \"gzip\""));
            Compression::None
        }
    };
    let health_window = duration(
        p,
        "mqtt.health_window",
        m.health_window.as_deref(),
        Duration::from_secs(120),
        Duration::from_secs(1),
        Duration::from_secs(86_400),
    );
    if p.len() != before {
        return None;
    }
    Some(MqttConfig {
        host,
        port,
        tls,
        client_id,
        username: m.username.clone(),
        password,
        keep_alive,
        topic_prefix,
        qos,
        max_batch_bytes,
        max_batch_records,
        max_inflight,
        linger,
        reconnect_min,
        reconnect_max,
        backfill_rate,
        compression,
        remote_config: m.remote_config.unwrap_or(true),
        health_window,
    })
}

/// `mqtt://host[:port]` (1883) or `mqtts://host[:port]` (8883); IPv6 hosts in brackets.
/// Returns the host, the port and whether TLS is wanted.
fn parse_mqtt_url(url: &str) -> Result<(String, u16, bool), String> {
    let expected = || format!("{url:?}: expected mqtt://host[:port] or mqtts://host[:port]");
    let (tls, rest) = match url.split_once("://") {
        Some(("mqtt", rest)) => (false, rest),
        Some(("mqtts", rest)) => (true, rest),
        _ => return Err(expected()),
    };
    let default_port = if tls { 8883 } else { 1883 };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') || h.starts_with('[') => match port.parse::<u16>() {
            Ok(n) if n > 0 => (h, n),
            _ => return Err(format!("{url:?}: the port must be a number from 1 to 65535")),
        },
        _ => (rest, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return Err(expected());
    }
    Ok((host.to_string(), port, tls))
}

//! `[logstash]`, resolved: log events to Logstash.
//!
//! `http(s)://` is the `http` input: acknowledged per request, with the endpoint keys every
//! push sink shares (basic auth with a password file, bearer token, TLS with CA and client
//! certificate, timeout, headers). `tcp://host:port` is the `tcp` input with
//! `codec => json_lines`, for setups that already run one: a write the kernel accepted
//! counts as delivered, so events in flight when the connection breaks can be lost — it is
//! documented as unacknowledged beyond TCP, and the http input is the default.

use std::time::Duration;

use super::check::{count, duration, size};
use super::endpoint::{endpoint, RawEndpoint};
use super::schema::RawLogstash;
use super::Problems;
use crate::net::http::Endpoint;

#[derive(Debug, Clone)]
pub enum LogstashTarget {
    Http(Endpoint),
    /// `host:port` of a `tcp` input with the `json_lines` codec, and the connect/write timeout.
    Tcp {
        address: String,
        timeout: Duration,
    },
}

/// `[logstash]`, resolved.
#[derive(Debug, Clone)]
pub struct LogstashConfig {
    pub target: LogstashTarget,
    /// Events per request at most.
    pub max_events: usize,
    /// Body bytes (before compression) per request at most; one event over it is truncated.
    pub max_bytes: usize,
    /// A request that is not full waits this long for more events (live data).
    pub linger: Duration,
    pub gzip: bool,
    pub backfill_rate: u64,
    pub retry_min: Duration,
    pub retry_max: Duration,
}

impl LogstashConfig {
    pub fn target_name(&self) -> String {
        match &self.target {
            LogstashTarget::Http(e) => e.url.clone(),
            LogstashTarget::Tcp { address, .. } => format!("tcp://{address}"),
        }
    }
}

pub fn resolve(p: &mut Problems, r: &RawLogstash) -> Option<LogstashConfig> {
    let before = p.len();
    let target = match r.url.as_deref() {
        Some(url) if url.starts_with("tcp://") => {
            let address = url.trim_start_matches("tcp://").trim_end_matches('/').to_string();
            let ok = address
                .rsplit_once(':')
                .is_some_and(|(h, port)| !h.is_empty() && port.parse::<u16>().is_ok_and(|n| n > 0));
            if !ok {
                p.add("logstash.url", format!("{url:?}: expected tcp://host:port"));
            }
            let c = r.client_keys();
            for (key, set) in [
                ("username", c.username.is_some()),
                ("password_file", c.password_file.is_some()),
                ("bearer_token_file", c.bearer_token_file.is_some()),
                ("ca_file", c.ca_file.is_some()),
                ("cert_file", c.cert_file.is_some()),
                ("key_file", c.key_file.is_some()),
                ("headers", r.headers.is_some()),
                ("compression", r.compression.is_some()),
            ] {
                if set {
                    p.add(
                        &format!("logstash.{key}"),
                        "not used with tcp:// (the tcp input has no HTTP layer)",
                    );
                }
            }
            let timeout = duration(
                p,
                "logstash.timeout",
                c.timeout,
                Duration::from_secs(10),
                Duration::from_millis(100),
                Duration::from_secs(300),
            );
            Some(LogstashTarget::Tcp { address, timeout })
        }
        url => endpoint(
            p,
            RawEndpoint {
                section: "logstash",
                url,
                headers: r.headers.as_ref(),
                client: r.client_keys(),
                default_timeout: Duration::from_secs(10),
                example: "http://logstash.example:8080",
            },
        )
        .map(LogstashTarget::Http),
    };
    let max_events = count(p, "logstash.max_events", r.max_events, 500, 1, 100_000);
    let max_bytes = size(
        p,
        "logstash.max_bytes",
        r.max_bytes.as_deref(),
        1 << 20,
        4096,
        256 << 20,
    ) as usize;
    let linger = duration(
        p,
        "logstash.linger",
        r.linger.as_deref(),
        Duration::from_secs(1),
        Duration::ZERO,
        Duration::from_secs(60),
    );
    let gzip = match r.compression.as_deref() {
        None | Some("gzip") => true,
        Some("none") => false,
        Some(o) => {
            p.add(
                "logstash.compression",
                format!("{o:?}: expected \"gzip\" or \"none\""),
            );
            true
        }
    };
    let backfill_rate = size(
        p,
        "logstash.backfill_rate",
        r.backfill_rate.as_deref(),
        0,
        0,
        u64::MAX,
    );
    let retry_min = duration(
        p,
        "logstash.retry_min",
        r.retry_min.as_deref(),
        Duration::from_secs(1),
        Duration::from_millis(10),
        Duration::from_secs(600),
    );
    let retry_max = duration(
        p,
        "logstash.retry_max",
        r.retry_max.as_deref(),
        Duration::from_secs(60),
        Duration::from_millis(10),
        Duration::from_secs(3600),
    );
    if retry_max < retry_min {
        p.add("logstash.retry_max", "must not be below retry_min");
    }
    if p.len() != before {
        return None;
    }
    Some(LogstashConfig {
        target: target?,
        max_events,
        max_bytes,
        linger,
        gzip,
        backfill_rate,
        retry_min,
        retry_max,
    })
}

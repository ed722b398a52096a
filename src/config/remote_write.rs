//! `[remote_write]`, resolved: Prometheus remote write 1.0 to a central receiver.

use std::time::Duration;

use super::check::{count, duration, size};
use super::endpoint::{endpoint, label_value, labels, RawEndpoint};
use super::schema::RawRemoteWrite;
use super::Problems;
use crate::net::http::Endpoint;

/// `[remote_write]`, resolved.
#[derive(Debug, Clone)]
pub struct RemoteWriteConfig {
    pub endpoint: Endpoint,
    pub max_samples: usize,
    /// Bound on the uncompressed protobuf of one request.
    pub max_request_bytes: usize,
    pub job: String,
    pub instance: String,
    /// Added to every series that does not have the label already; sorted by name.
    pub external_labels: Vec<(String, String)>,
    /// Backlog samples older than this are dropped instead of sent.
    pub max_backlog_age: Option<Duration>,
    /// Backlog bytes (compressed, on the wire) per second; 0 = unlimited.
    pub backfill_rate: u64,
    pub retry_min: Duration,
    pub retry_max: Duration,
}

pub fn resolve(p: &mut Problems, r: &RawRemoteWrite, id: &str) -> Option<RemoteWriteConfig> {
    let before = p.len();
    let endpoint = endpoint(
        p,
        RawEndpoint {
            section: "remote_write",
            url: r.url.as_deref(),
            headers: r.headers.as_ref(),
            client: r.client_keys(),
            default_timeout: Duration::from_secs(30),
            example: "http://prometheus.example:9090/api/v1/write",
        },
    );
    let max_samples = count(
        p,
        "remote_write.max_samples_per_request",
        r.max_samples_per_request,
        2000,
        1,
        1_000_000,
    );
    let max_request_bytes = size(
        p,
        "remote_write.max_request_bytes",
        r.max_request_bytes.as_deref(),
        4 << 20,
        16 << 10,
        256 << 20,
    ) as usize;
    let job = label_value(p, "remote_write.job", r.job.as_deref(), "node");
    let instance = label_value(p, "remote_write.instance", r.instance.as_deref(), id);
    let mut external_labels = labels(p, "remote_write.external_labels", r.external_labels.as_ref());
    external_labels.retain(|(_, v)| !v.is_empty());
    let max_backlog_age = match r.max_backlog_age.as_deref() {
        None | Some("0") => None,
        Some(text) => Some(duration(
            p,
            "remote_write.max_backlog_age",
            Some(text),
            Duration::ZERO,
            Duration::from_secs(60),
            Duration::from_secs(10 * 365 * 86_400),
        )),
    };
    let backfill_rate = size(
        p,
        "remote_write.backfill_rate",
        r.backfill_rate.as_deref(),
        1 << 20,
        0,
        1 << 40,
    );
    let retry_min = duration(
        p,
        "remote_write.retry_min",
        r.retry_min.as_deref(),
        Duration::from_millis(500),
        Duration::from_millis(10),
        Duration::from_secs(60),
    );
    let retry_max = duration(
        p,
        "remote_write.retry_max",
        r.retry_max.as_deref(),
        Duration::from_secs(30),
        Duration::from_millis(100),
        Duration::from_secs(3600),
    );
    if retry_max < retry_min {
        p.add("remote_write.retry_max", "must not be below retry_min");
    }
    if p.len() != before {
        return None;
    }
    Some(RemoteWriteConfig {
        endpoint: endpoint?,
        max_samples,
        max_request_bytes,
        job,
        instance,
        external_labels,
        max_backlog_age,
        backfill_rate,
        retry_min,
        retry_max,
    })
}

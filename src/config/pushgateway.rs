//! `[pushgateway]`, resolved: the latest values, pushed to a Prometheus Pushgateway.

use std::time::Duration;

use super::check::duration;
use super::endpoint::{endpoint, label_value, labels, RawEndpoint};
use super::schema::RawPushgateway;
use super::Problems;
use crate::net::http::{base64, Endpoint};

/// `[pushgateway]`, resolved.
#[derive(Debug, Clone)]
pub struct PushgatewayConfig {
    pub endpoint: Endpoint,
    /// The grouping key, `job` first, then `instance` and the extra labels sorted by name.
    pub grouping: Vec<(String, String)>,
    pub interval: Duration,
    pub delete_on_shutdown: bool,
}

impl PushgatewayConfig {
    /// `<url>/metrics/job/<job>/instance/<id>/...`: values that are empty or contain a `/` (or
    /// anything outside the unreserved URL characters) use the `@base64` form.
    pub fn group_url(&self) -> String {
        self.url_for(&self.grouping)
    }

    /// The URL of another group on the same Pushgateway (a scraped target's).
    pub fn url_for(&self, grouping: &[(String, String)]) -> String {
        let mut url = format!("{}/metrics", self.endpoint.url.trim_end_matches('/'));
        for (name, value) in grouping {
            let plain = !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
            if plain {
                url.push_str(&format!("/{name}/{value}"));
            } else if value.is_empty() {
                // The Pushgateway's documented form of an empty value.
                url.push_str(&format!("/{name}@base64/="));
            } else {
                url.push_str(&format!("/{name}@base64/{}", base64(value.as_bytes(), true)));
            }
        }
        url
    }
}

pub fn resolve(p: &mut Problems, r: &RawPushgateway, id: &str) -> Option<PushgatewayConfig> {
    let before = p.len();
    let endpoint = endpoint(
        p,
        RawEndpoint {
            section: "pushgateway",
            url: r.url.as_deref(),
            headers: r.headers.as_ref(),
            client: r.client_keys(),
            default_timeout: Duration::from_secs(10),
            example: "http://pushgateway.example:9091",
        },
    );
    let job = label_value(p, "pushgateway.job", r.job.as_deref(), "node");
    let instance = label_value(p, "pushgateway.instance", r.instance.as_deref(), id);
    let mut grouping = vec![("job".to_string(), job), ("instance".to_string(), instance)];
    grouping.extend(labels(p, "pushgateway.grouping", r.grouping.as_ref()));
    let interval = duration(
        p,
        "pushgateway.interval",
        r.interval.as_deref(),
        Duration::from_secs(30),
        Duration::from_secs(1),
        Duration::from_secs(86_400),
    );
    if p.len() != before {
        return None;
    }
    Some(PushgatewayConfig {
        endpoint: endpoint?,
        grouping,
        interval,
        delete_on_shutdown: r.delete_on_shutdown.unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(grouping: &[(&str, &str)]) -> PushgatewayConfig {
        PushgatewayConfig {
            endpoint: Endpoint {
                url: "http://pg:9091/".into(),
                headers: vec![],
                authorization: None,
                tls: None,
                timeout: Duration::from_secs(1),
            },
            grouping: grouping
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            interval: Duration::from_secs(1),
            delete_on_shutdown: true,
        }
    }

    #[test]
    fn grouping_key_uses_base64_where_needed() {
        assert_eq!(
            gateway(&[("job", "node"), ("instance", "gw-1.site_a")]).group_url(),
            "http://pg:9091/metrics/job/node/instance/gw-1.site_a"
        );
        // The Pushgateway README's examples: a value with '/', and an empty value.
        assert_eq!(
            gateway(&[("job", "directory_cleaner"), ("path", "/var/tmp")]).group_url(),
            "http://pg:9091/metrics/job/directory_cleaner/path@base64/L3Zhci90bXA="
        );
        assert_eq!(
            gateway(&[("job", "x"), ("empty", "")]).group_url(),
            "http://pg:9091/metrics/job/x/empty@base64/="
        );
    }
}

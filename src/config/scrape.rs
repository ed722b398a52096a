//! Stage two for `[[scrape]]`: local exporters to scrape.
//!
//! Key names follow Prometheus' `scrape_config` (`metrics_path`, `scheme`, `params`,
//! `honor_labels`, `honor_timestamps`, `sample_limit`, `body_size_limit`,
//! `metric_relabel_configs`), so a job copied from a Prometheus config reads the same; the
//! auth and TLS keys are the push sinks' (checked by the same code, [`super::endpoint`]).
//! Every target becomes its full URL here, so the scrape threads only ever GET a checked URL.

use std::collections::HashSet;
use std::time::Duration;

use super::check::{count, duration, size};
use super::endpoint::{check_label_name, endpoint, RawEndpoint};
use super::relabel::{Rule, RuleSpec};
use super::schema::RawScrape;
use super::Problems;
use crate::net::http::Endpoint;

/// How one job treats what its targets expose.
#[derive(Debug, Clone)]
pub struct Rules {
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub relabel: Vec<Rule>,
    pub sample_limit: usize,
}

/// One `[[scrape]]` job, resolved.
#[derive(Debug, Clone)]
pub struct ScrapeJob {
    pub job: String,
    pub targets: Vec<ScrapeTarget>,
    pub interval: Duration,
    /// Auth, TLS and the scrape timeout (its url is the first target's; each target has its own).
    pub endpoint: Endpoint,
    /// Static target labels, sorted by name.
    pub labels: Vec<(String, String)>,
    /// honor_labels, honor_timestamps, metric_relabel_configs and sample_limit: how the
    /// job's expositions are labelled.
    pub rules: Rules,
    pub body_size_limit: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeTarget {
    /// The `instance` label: the target as written (`host:port`).
    pub instance: String,
    pub url: String,
}

/// `application/x-www-form-urlencoded` for query parameters.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `host:port` (a name, an IPv4 address or a bracketed IPv6 address); nothing else.
fn check_target(t: &str) -> Result<(), String> {
    let hint = "expected host:port, e.g. \"127.0.0.1:9100\" (scheme and path are their own keys)";
    if t.contains("://") || t.contains('/') || t.contains('@') || t.contains('?') {
        return Err(format!("{t:?}: {hint}"));
    }
    let (host, port) = match t.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => (h, p),
        _ => return Err(format!("{t:?}: {hint}")),
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(format!("{t:?}: the port must be a number from 1 to 65535")),
    }
    let ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        host.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    if !ok {
        return Err(format!("{t:?}: {hint}"));
    }
    Ok(())
}

/// Resolves the `[[scrape]]` jobs; `default_interval` is `[sample] interval`.
pub fn resolve(p: &mut Problems, raw: &[RawScrape], default_interval: Duration) -> Vec<ScrapeJob> {
    let mut jobs = Vec::new();
    let mut names = HashSet::new();
    for (n, r) in raw.iter().enumerate() {
        let section = format!("scrape[{n}]");
        let key = |k: &str| format!("{section}.{k}");
        let before = p.len();
        let job = match r.job.as_deref() {
            None | Some("") => {
                p.add(
                    &key("job"),
                    "required: the job label of this exporter, e.g. \"mosquitto\"",
                );
                String::new()
            }
            Some(j) => {
                if !names.insert(j.to_string()) {
                    p.add(&key("job"), format!("{j:?} is used by another [[scrape]] job"));
                }
                j.to_string()
            }
        };
        let scheme = match r.scheme.as_deref().unwrap_or("http") {
            s @ ("http" | "https") => s,
            other => {
                p.add(&key("scheme"), format!("{other:?}: use \"http\" or \"https\""));
                "http"
            }
        };
        let path = r.metrics_path.as_deref().unwrap_or("/metrics");
        if !path.starts_with('/') || path.contains('?') || path.contains('#') || path.contains(' ') {
            p.add(
                &key("metrics_path"),
                format!("{path:?}: expected a path starting with '/' (query parameters go in params)"),
            );
        }
        let mut query = Vec::new();
        for (name, values) in r.params.iter().flatten() {
            for v in values {
                query.push(format!("{}={}", query_escape(name), query_escape(v)));
            }
        }
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        let mut targets = Vec::new();
        match &r.targets {
            None => p.add(
                &key("targets"),
                "required: a list of host:port, e.g. [\"127.0.0.1:9100\"]",
            ),
            Some(list) if list.is_empty() => p.add(&key("targets"), "must not be empty"),
            Some(list) => {
                for (i, t) in list.iter().enumerate() {
                    if let Err(e) = check_target(t) {
                        p.add(&key(&format!("targets[{i}]")), e);
                    } else if targets.iter().any(|x: &ScrapeTarget| x.instance == *t) {
                        p.add(&key(&format!("targets[{i}]")), format!("{t:?} is listed twice"));
                    } else {
                        targets.push(ScrapeTarget {
                            instance: t.clone(),
                            url: format!("{scheme}://{t}{path}{query}"),
                        });
                    }
                }
            }
        }
        let interval = duration(
            p,
            &key("interval"),
            r.interval.as_deref(),
            default_interval,
            Duration::from_secs(1),
            Duration::from_secs(86_400),
        );
        let ep = if targets.is_empty() {
            None
        } else {
            endpoint(
                p,
                RawEndpoint {
                    section: &section,
                    url: Some(&targets[0].url),
                    headers: None,
                    client: r.client_keys(),
                    default_timeout: interval.min(Duration::from_secs(10)),
                    example: "",
                },
            )
        };
        if let Some(ep) = &ep {
            if ep.timeout > interval {
                p.add(
                    &key("timeout"),
                    "must not be longer than the interval (a scrape ends before the next starts)",
                );
            }
        }
        let mut labels = Vec::new();
        for (name, value) in r.labels.iter().flatten() {
            let k = key(&format!("labels.{name}"));
            if let Err(e) = check_label_name(name) {
                p.add(&k, e);
            } else if name == "job" || name == "instance" {
                p.add(&k, "job and instance are set by the job key and the targets");
            } else if !value.is_empty() {
                labels.push((name.clone(), value.clone()));
            }
        }
        let mut relabel = Vec::new();
        for (i, rule) in r.metric_relabel_configs.iter().flatten().enumerate() {
            let spec = RuleSpec {
                action: rule.action.as_deref(),
                source_labels: rule.source_labels.as_deref(),
                separator: rule.separator.as_deref(),
                regex: rule.regex.as_deref(),
                target_label: rule.target_label.as_deref(),
                replacement: rule.replacement.as_deref(),
            };
            match Rule::new(&spec) {
                Ok(rule) => relabel.push(rule),
                Err(problems) => {
                    for (k, msg) in problems {
                        p.add(&key(&format!("metric_relabel_configs[{i}].{k}")), msg);
                    }
                }
            }
        }
        let sample_limit = count(p, &key("sample_limit"), r.sample_limit, 50_000, 1, 5_000_000);
        let body_size_limit = size(
            p,
            &key("body_size_limit"),
            r.body_size_limit.as_deref(),
            8 << 20,
            1024,
            256 << 20,
        );
        if p.len() == before {
            if let Some(endpoint) = ep {
                jobs.push(ScrapeJob {
                    job,
                    targets,
                    interval,
                    endpoint,
                    labels,
                    rules: Rules {
                        honor_labels: r.honor_labels.unwrap_or(false),
                        honor_timestamps: r.honor_timestamps.unwrap_or(true),
                        relabel,
                        sample_limit,
                    },
                    body_size_limit,
                });
            }
        }
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        for ok in [
            "127.0.0.1:9100",
            "localhost:9234",
            "[::1]:9100",
            "plc-bridge.local:8080",
        ] {
            assert!(check_target(ok).is_ok(), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "http://127.0.0.1:9100",
            "127.0.0.1:9100/metrics",
            ":9100",
            "host:0",
            "host:99999",
            "[::1]9100",
            "user@host:1",
            "a b:1",
        ] {
            assert!(check_target(bad).is_err(), "{bad}");
        }
        assert_eq!(query_escape("a b/c&d"), "a+b%2Fc%26d");
    }
}

//! Stage two for the push sinks: `[remote_write]` and `[pushgateway]`.
//!
//! Both talk HTTP to a central endpoint with the same auth and TLS keys, so one function
//! checks those ([`endpoint`]) and each section adds its own. Secrets are read from files
//! (`password_file`, `bearer_token_file`) so they never travel in a config document, and the
//! TLS files are turned into a client setup here, so a bad file fails `check-config` with its
//! key path instead of failing at the first push.

use std::collections::BTreeMap;
use std::time::Duration;

use super::validate::{count, duration, size};
use super::Problems;
use crate::sinks::http::{base64, tls_config, Endpoint, RESERVED_HEADERS};
use crate::sinks::tls::{TlsFile, TlsFiles};

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

/// The keys every push endpoint has.
pub struct RawEndpoint<'a> {
    pub section: &'a str,
    pub url: Option<&'a str>,
    pub headers: Option<&'a BTreeMap<String, String>>,
    pub username: Option<&'a str>,
    pub password_file: Option<&'a str>,
    pub bearer_token_file: Option<&'a str>,
    pub ca_file: Option<&'a str>,
    pub cert_file: Option<&'a str>,
    pub key_file: Option<&'a str>,
    pub timeout: Option<&'a str>,
    pub default_timeout: Duration,
    pub example: &'a str,
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved).
pub fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(format!("{name:?} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)"));
    }
    if name.starts_with("__") {
        return Err(format!("{name:?}: names starting with \"__\" are reserved"));
    }
    Ok(())
}

fn read_secret(p: &mut Problems, key: &str, file: &str) -> Option<String> {
    match std::fs::read_to_string(file) {
        Ok(s) => {
            let s = s.trim_end_matches(['\n', '\r']).to_string();
            if s.is_empty() {
                p.add(key, format!("{file:?} is empty"));
                return None;
            }
            Some(s)
        }
        Err(e) => {
            p.add(key, format!("cannot read {file:?}: {e}"));
            None
        }
    }
}

/// The endpoint keys of a raw section (both push sections spell them the same; serde cannot
/// flatten them into a shared struct and still deny unknown keys).
macro_rules! raw_endpoint {
    ($r:expr, $section:expr, $timeout:expr, $example:expr) => {
        RawEndpoint {
            section: $section,
            url: $r.url.as_deref(),
            headers: $r.headers.as_ref(),
            username: $r.username.as_deref(),
            password_file: $r.password_file.as_deref(),
            bearer_token_file: $r.bearer_token_file.as_deref(),
            ca_file: $r.ca_file.as_deref(),
            cert_file: $r.cert_file.as_deref(),
            key_file: $r.key_file.as_deref(),
            timeout: $r.timeout.as_deref(),
            default_timeout: $timeout,
            example: $example,
        }
    };
}

/// Checks url, headers, auth, TLS files and timeout of one endpoint.
pub fn endpoint(p: &mut Problems, r: RawEndpoint<'_>) -> Option<Endpoint> {
    let before = p.len();
    let s = r.section;
    let key = |k: &str| format!("{s}.{k}");
    let mut https = false;
    let url = match r.url {
        None => {
            p.add(
                &key("url"),
                format!("required when [{s}] is present, e.g. {:?}", r.example),
            );
            String::new()
        }
        Some(url) => match url.parse::<ureq::http::Uri>() {
            Ok(u)
                if u.host().is_some_and(|h| !h.is_empty())
                    && matches!(u.scheme_str(), Some("http" | "https")) =>
            {
                https = u.scheme_str() == Some("https");
                if u.query().is_some() {
                    p.add(&key("url"), format!("{url:?}: a query string is not supported"));
                }
                url.to_string()
            }
            _ => {
                p.add(
                    &key("url"),
                    format!(
                        "{url:?}: expected http(s)://host[:port][/path], e.g. {:?}",
                        r.example
                    ),
                );
                String::new()
            }
        },
    };
    let mut headers = Vec::new();
    for (name, value) in r.headers.into_iter().flatten() {
        let k = key(&format!("headers.{name}"));
        let lower = name.to_ascii_lowercase();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            p.add(&k, "not a valid header name");
        } else if RESERVED_HEADERS.contains(&lower.as_str()) {
            p.add(
                &k,
                "set by outpost itself (use username/password_file or bearer_token_file for Authorization)",
            );
        } else if !value.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)) {
            p.add(&k, "header values must be printable ASCII");
        } else {
            headers.push((name.clone(), value.clone()));
        }
    }
    let mut authorization = None;
    match (r.username, r.password_file, r.bearer_token_file) {
        (_, _, Some(_)) if r.username.is_some() || r.password_file.is_some() => {
            p.add(
                &key("bearer_token_file"),
                "use either basic auth (username, password_file) or a bearer token, not both",
            );
        }
        (None, None, Some(file)) => {
            if let Some(token) = read_secret(p, &key("bearer_token_file"), file) {
                authorization = Some(format!("Bearer {token}"));
            }
        }
        (Some(user), Some(file), None) => {
            if user.contains(':') {
                p.add(&key("username"), "must not contain ':' (basic auth)");
            }
            if let Some(password) = read_secret(p, &key("password_file"), file) {
                authorization = Some(format!(
                    "Basic {}",
                    base64(format!("{user}:{password}").as_bytes(), false)
                ));
            }
        }
        (Some(_), None, None) => p.add(&key("password_file"), "required with username"),
        (None, Some(_), None) => p.add(&key("username"), "required with password_file"),
        _ => {}
    }
    if authorization.is_some() && !https && r.url.is_some() {
        log::warn!("[{s}] sends credentials over plain http:// to {url}");
    }
    let read = |p: &mut Problems, k: &str, f: Option<&str>| -> Option<Vec<u8>> {
        let f = f?;
        match std::fs::read(f) {
            Ok(b) => Some(b),
            Err(e) => {
                p.add(&key(k), format!("cannot read {f:?}: {e}"));
                None
            }
        }
    };
    let ca = read(p, "ca_file", r.ca_file);
    let cert = read(p, "cert_file", r.cert_file);
    let tls_key = read(p, "key_file", r.key_file);
    if r.cert_file.is_some() != r.key_file.is_some() {
        let missing = if r.cert_file.is_some() {
            "key_file"
        } else {
            "cert_file"
        };
        p.add(&key(missing), "cert_file and key_file go together (mutual TLS)");
    }
    let mut tls = None;
    if !https {
        for (k, set) in [
            ("ca_file", r.ca_file.is_some()),
            ("cert_file", r.cert_file.is_some()),
            ("key_file", r.key_file.is_some()),
        ] {
            if set && !url.is_empty() {
                p.add(&key(k), "only used with an https:// url");
            }
        }
    } else if p.len() == before {
        let files = TlsFiles {
            ca,
            client: cert.zip(tls_key),
        };
        match tls_config(&files) {
            Ok(t) => tls = Some(t),
            Err((which, e)) => {
                let k = match which {
                    TlsFile::Ca => "ca_file",
                    TlsFile::Cert => "cert_file",
                    TlsFile::Key => "key_file",
                };
                p.add(&key(k), e);
            }
        }
    }
    let timeout = duration(
        p,
        &key("timeout"),
        r.timeout,
        r.default_timeout,
        Duration::from_millis(100),
        Duration::from_secs(600),
    );
    (p.len() == before).then_some(Endpoint {
        url,
        headers,
        authorization,
        tls,
        timeout,
    })
}

fn labels(p: &mut Problems, key: &str, map: Option<&BTreeMap<String, String>>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, value) in map.into_iter().flatten() {
        let k = format!("{key}.{name}");
        if let Err(e) = check_label_name(name) {
            p.add(&k, e);
        } else if name == "job" || name == "instance" {
            p.add(&k, "set job and instance with their own keys");
        } else {
            out.push((name.clone(), value.clone()));
        }
    }
    out
}

fn label_value(p: &mut Problems, key: &str, value: Option<&str>, default: &str) -> String {
    let v = value.unwrap_or(default);
    if v.is_empty() {
        p.add(key, "must not be empty");
    }
    v.to_string()
}

pub fn remote_write(
    p: &mut Problems,
    r: &super::schema::RawRemoteWrite,
    id: &str,
) -> Option<RemoteWriteConfig> {
    let before = p.len();
    let endpoint = endpoint(
        p,
        raw_endpoint!(
            r,
            "remote_write",
            Duration::from_secs(30),
            "http://prometheus.example:9090/api/v1/write"
        ),
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

pub fn pushgateway(
    p: &mut Problems,
    r: &super::schema::RawPushgateway,
    id: &str,
) -> Option<PushgatewayConfig> {
    let before = p.len();
    let endpoint = endpoint(
        p,
        raw_endpoint!(
            r,
            "pushgateway",
            Duration::from_secs(10),
            "http://pushgateway.example:9091"
        ),
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

    #[test]
    fn label_names_follow_prometheus() {
        assert!(check_label_name("site_1").is_ok());
        assert!(check_label_name("_x").is_ok());
        for bad in ["", "1x", "a-b", "__name__", "é"] {
            assert!(check_label_name(bad).is_err(), "{bad}");
        }
    }
}

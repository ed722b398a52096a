//! The keys every HTTP client section shares — url, headers, basic auth or bearer token (read
//! from files, so secrets never travel in a config document), TLS files and timeout — checked
//! once here for `[remote_write]`, `[pushgateway]` and `[[scrape]]` (and the Logstash and alert
//! sinks to come). The auth, TLS and timeout keys are declared once too, by
//! [`super::schema`]'s `with_client_keys!` macro. The TLS files become a client setup here, so
//! a bad file fails `check-config` with its key path instead of failing at the first request.

use std::collections::BTreeMap;
use std::time::Duration;

use super::check::duration;
use super::schema::ClientKeys;
use super::Problems;
use crate::net::http::{base64, tls_config, Endpoint, RESERVED_HEADERS};
use crate::net::tls::{TlsFile, TlsFiles};

/// One endpoint's keys as written: the section's url and headers, and the shared client keys.
pub struct RawEndpoint<'a> {
    pub section: &'a str,
    pub url: Option<&'a str>,
    pub headers: Option<&'a BTreeMap<String, String>>,
    pub client: ClientKeys<'a>,
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
    match (
        r.client.username,
        r.client.password_file,
        r.client.bearer_token_file,
    ) {
        (_, _, Some(_)) if r.client.username.is_some() || r.client.password_file.is_some() => {
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
    let ca = read(p, "ca_file", r.client.ca_file);
    let cert = read(p, "cert_file", r.client.cert_file);
    let tls_key = read(p, "key_file", r.client.key_file);
    if r.client.cert_file.is_some() != r.client.key_file.is_some() {
        let missing = if r.client.cert_file.is_some() {
            "key_file"
        } else {
            "cert_file"
        };
        p.add(&key(missing), "cert_file and key_file go together (mutual TLS)");
    }
    let mut tls = None;
    if !https {
        for (k, set) in [
            ("ca_file", r.client.ca_file.is_some()),
            ("cert_file", r.client.cert_file.is_some()),
            ("key_file", r.client.key_file.is_some()),
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
        r.client.timeout,
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

pub fn labels(p: &mut Problems, key: &str, map: Option<&BTreeMap<String, String>>) -> Vec<(String, String)> {
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

pub fn label_value(p: &mut Problems, key: &str, value: Option<&str>, default: &str) -> String {
    let v = value.unwrap_or(default);
    if v.is_empty() {
        p.add(key, "must not be empty");
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_follow_prometheus() {
        assert!(check_label_name("site_1").is_ok());
        assert!(check_label_name("_x").is_ok());
        for bad in ["", "1x", "a-b", "__name__", "é"] {
            assert!(check_label_name(bad).is_err(), "{bad}");
        }
    }
}

//! HTTP for the push sinks (remote_write, Pushgateway, later Logstash): one checked endpoint
//! description, one blocking `ureq` agent built from it, and one classification of answers
//! into *delivered*, *retry later* and *rejected for good*.
//!
//! The classification is the sinks' delivery contract, so it lives in one place: 2xx is
//! delivered; 429 and 5xx are retried (honouring `Retry-After`) unless the body says the data
//! can never be accepted (Prometheus before 2.50 answers samples older than its out-of-order
//! window with a 500 "too old sample"); every other status is permanent. Transport errors
//! (refused, reset, timeouts, TLS) are retried. Calls block, so sinks run them on tokio's
//! blocking pool, never on the runtime thread.
//!
//! TLS is rustls with ring, like the MQTT uplink; the PEM files are checked with the same code
//! (`super::tls`) during config validation so a bad file is a config error with its key path.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};

use super::tls::{client_config, TlsFile, TlsFiles};
use crate::VERSION;

/// A checked HTTP endpoint: everything needed to build the agent and the requests.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    /// Extra headers, checked against the ones the sink sets itself.
    pub headers: Vec<(String, String)>,
    /// The `Authorization` header value (basic auth or a bearer token), when configured.
    pub authorization: Option<String>,
    /// Set for https:// urls.
    pub tls: Option<TlsConfig>,
    /// For the whole call: connect, send, answer.
    pub timeout: Duration,
}

/// The outcome of one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered(u16),
    /// Try again later: after `after` when the receiver said so.
    Retry {
        status: Option<u16>,
        after: Option<Duration>,
        message: String,
    },
    /// Never send this again; `reason` is a short metric label.
    Rejected {
        status: u16,
        reason: &'static str,
        message: String,
    },
}

/// Longest receiver answer kept for logs.
const BODY_LOG: u64 = 512;

/// Headers a sink sets itself; configuring them would break the protocol or the auth keys.
pub const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "content-encoding",
    "content-length",
    "content-type",
    "host",
    "transfer-encoding",
    "user-agent",
    "x-prometheus-remote-write-version",
];

pub fn user_agent() -> String {
    format!("outpost/{VERSION}")
}

/// Base64 (RFC 4648) with padding; `url_safe` uses `-` and `_` (section 5).
pub fn base64(data: &[u8], url_safe: bool) -> String {
    let table: &[u8; 64] = if url_safe {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(table[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// ureq's TLS settings from PEM files, after checking them with the rustls code the MQTT
/// uplink uses (so the errors and their key paths are the same).
pub fn tls_config(files: &TlsFiles) -> Result<TlsConfig, (TlsFile, String)> {
    client_config(files)?;
    let roots: Vec<Certificate<'static>> = match &files.ca {
        Some(pem) => ureq::tls::parse_pem(pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect(),
        None => rustls_native_certs::load_native_certs()
            .certs
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned())
            .collect(),
    };
    let client = match &files.client {
        None => None,
        Some((cert_pem, key_pem)) => {
            let chain: Vec<Certificate<'static>> = ureq::tls::parse_pem(cert_pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            let key = PrivateKey::from_pem(key_pem)
                .map_err(|e| (TlsFile::Key, format!("no usable private key: {e}")))?;
            Some(ClientCert::new_with_certs(&chain, key))
        }
    };
    Ok(TlsConfig::builder()
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .client_cert(client)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build())
}

/// The blocking agent for one endpoint: status codes are answers, not errors; no redirects
/// (a POST must not silently turn into a GET somewhere else); the timeout covers the call.
pub fn agent(ep: &Endpoint) -> ureq::Agent {
    let mut cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent(user_agent())
        .timeout_global(Some(ep.timeout))
        .max_idle_connections_per_host(2);
    if let Some(tls) = &ep.tls {
        cfg = cfg.tls_config(tls.clone());
    }
    cfg.build().new_agent()
}

/// `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 10.2.3).
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form servers must send, as Unix seconds.
fn parse_http_date(s: &str) -> Option<u64> {
    let rest = s.split_once(", ")?.1;
    let f: Vec<&str> = rest.split(' ').collect();
    if f.len() != 5 || f[4] != "GMT" {
        return None;
    }
    let day: u64 = f[0].parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == f[1])? as u64 + 1;
    let year: u64 = f[2].parse().ok()?;
    let t: Vec<u64> = f[3].split(':').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    if t.len() != 3 || !(1..=31).contains(&day) || year < 1970 || t[0] > 23 || t[1] > 59 || t[2] > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), years from 1970 on only.
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2])
}

/// Sorts an answer into delivered / retry / rejected. `body` is the start of the answer.
pub fn classify(status: u16, retry_after: Option<Duration>, body: &str) -> Outcome {
    let message = if body.trim().is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {}", body.trim())
    };
    match status {
        200..=299 => Outcome::Delivered(status),
        // Prometheus 2.39–2.49: samples beyond the out-of-order window; resending cannot help.
        500 if body.contains("too old sample") => Outcome::Rejected {
            status,
            reason: "too_old",
            message,
        },
        429 | 500..=599 => Outcome::Retry {
            status: Some(status),
            after: retry_after,
            message,
        },
        _ => {
            let reason = if body.contains("out of order sample") {
                "out_of_order"
            } else if body.contains("out of bounds") {
                "out_of_bounds"
            } else if body.contains("duplicate sample") {
                "duplicate"
            } else {
                match status {
                    400 => "bad_request",
                    401 | 403 => "unauthorized",
                    404 => "not_found",
                    413 => "too_large",
                    300..=399 => "redirect",
                    _ => "http_4xx",
                }
            };
            Outcome::Rejected {
                status,
                reason,
                message,
            }
        }
    }
}

/// One request, blocking: `method` is `POST`, `PUT` or `DELETE`.
pub fn send(
    agent: &ureq::Agent,
    ep: &Endpoint,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Outcome {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in ep
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(headers.iter().copied())
    {
        req = req.header(k, v);
    }
    if let Some(auth) = &ep.authorization {
        req = req.header("Authorization", auth.as_str());
    }
    let result = match body {
        Some(b) => req.body(b).map(|r| agent.run(r)),
        None => req.body(()).map(|r| agent.run(r)),
    };
    let response = match result {
        Err(e) => {
            return Outcome::Rejected {
                status: 0,
                reason: "bad_request",
                message: format!("cannot build the request: {e}"),
            }
        }
        Ok(Err(e)) => {
            return Outcome::Retry {
                status: None,
                after: None,
                message: transport_error(&e),
            }
        }
        Ok(Ok(r)) => r,
    };
    let status = response.status().as_u16();
    let after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after(v, SystemTime::now()));
    let mut text = Vec::new();
    let (_, body) = response.into_parts();
    let _ = body.into_reader().take(BODY_LOG).read_to_end(&mut text);
    classify(status, after, &String::from_utf8_lossy(&text))
}

fn transport_error(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::Io(io) => format!("{io}"),
        ureq::Error::HostNotFound => "host not found".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes(), false), enc);
        }
        assert_eq!(base64(&[0xfb, 0xff], false), "+/8=");
        assert_eq!(base64(&[0xfb, 0xff], true), "-_8=");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:40:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2028 12:00:00 GMT"),
            Some(1_835_438_400)
        );
        for bad in [
            "soon",
            "-5",
            "Sun, 06 Nov 1994 08:49:37 CET",
            "Sun, 32 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(retry_after(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn answers_are_classified_by_the_contract() {
        assert_eq!(classify(204, None, ""), Outcome::Delivered(204));
        let wait = Some(Duration::from_secs(3));
        assert!(matches!(classify(429, wait, ""), Outcome::Retry { after, .. } if after == wait));
        assert!(matches!(
            classify(503, None, "down"),
            Outcome::Retry {
                status: Some(503),
                ..
            }
        ));
        assert!(matches!(
            classify(500, None, "too old sample"),
            Outcome::Rejected {
                reason: "too_old",
                ..
            }
        ));
        assert!(matches!(
            classify(400, None, "out of order sample"),
            Outcome::Rejected {
                reason: "out_of_order",
                ..
            }
        ));
        assert!(matches!(
            classify(400, None, "garbage"),
            Outcome::Rejected { reason: "bad_request", message, .. } if message == "HTTP 400: garbage"
        ));
        assert!(matches!(
            classify(401, None, ""),
            Outcome::Rejected {
                reason: "unauthorized",
                ..
            }
        ));
        assert!(matches!(
            classify(302, None, ""),
            Outcome::Rejected {
                reason: "redirect",
                ..
            }
        ));
    }
}

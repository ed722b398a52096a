//! `[metrics]`, resolved: the local `/metrics` endpoint.

use std::net::SocketAddr;
use std::time::Duration;

use super::check::{count, duration};
use super::schema::RawMetrics;
use super::Problems;

/// Default address of the local `/metrics` endpoint (loopback only; 9100 is node_exporter's).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9110";

#[derive(Debug, Clone)]
pub struct MetricsConfig {
    pub enabled: bool,
    pub listen: SocketAddr,
    pub max_connections: usize,
    pub request_timeout: Duration,
}

/// Resolves `[metrics]`.
pub fn resolve(p: &mut Problems, m: &RawMetrics) -> MetricsConfig {
    let listen_text = m.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(a) if a.port() == 0 => {
            p.add(
                "metrics.listen",
                "port 0 is not allowed: give the port to listen on",
            );
            a
        }
        Ok(a) => a,
        Err(_) => {
            let hint = if listen_text
                .rsplit_once(':')
                .is_some_and(|(_, port)| port.parse::<u16>().is_err())
            {
                "the port must be a number from 1 to 65535"
            } else {
                "write an IP address and port, e.g. \"127.0.0.1:9110\" or \"[::1]:9110\""
            };
            p.add(
                "metrics.listen",
                format!("invalid address {listen_text:?}: {hint}"),
            );
            DEFAULT_LISTEN.parse().expect("default listen address is valid")
        }
    };
    let max_connections = count(p, "metrics.max_connections", m.max_connections, 8, 1, 1024);
    let request_timeout = duration(
        p,
        "metrics.request_timeout",
        m.request_timeout.as_deref(),
        Duration::from_secs(5),
        Duration::from_millis(100),
        Duration::from_secs(300),
    );
    MetricsConfig {
        enabled: m.enabled.unwrap_or(true),
        listen,
        max_connections,
        request_timeout,
    }
}

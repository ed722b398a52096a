//! Network primitives shared by the sinks and the scraper: one checked HTTP endpoint with its
//! blocking `ureq` agent and the classification of answers ([`http`]), TLS client setup from
//! PEM files ([`tls`]), and pacing — jittered backoff and a token bucket ([`pace`]).
//!
//! It sits at the floor with `model`: `config` builds its resolved endpoint types from these
//! (so a bad CA file fails `check-config`, not the first push), and sources and sinks use them
//! without importing each other.

pub mod http;
pub mod pace;
pub mod tls;

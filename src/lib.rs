//! outpost — an edge agent for IoT gateways.
//!
//! Data flows through the modules in this order:
//! [`sources`] (host metrics today; sensors, logs and scrapes later) → engine (signatures,
//! later) → [`store`] (the crash-safe durable queue) → [`sinks`] (MQTT now; remote_write,
//! Pushgateway, Logstash later). [`config`] validates what the operator asked for (file, or
//! remote over MQTT), [`control`] decides about remote configs, [`runtime`] wires the tasks
//! together and switches them, and [`telemetry`] reports on the agent itself. [`model`] is the
//! shape of the data in between.

pub mod cli;
pub mod config;
pub mod control;
pub mod datadir;
pub mod model;
pub mod net;
pub mod runtime;
pub mod sinks;
pub mod sources;
pub mod store;
pub mod systemd;
pub mod telemetry;

/// The version of this build.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The target triple this binary was built for.
pub const TARGET: &str = env!("OUTPOST_TARGET");

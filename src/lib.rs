//! outpost — an edge agent for IoT gateways.
//!
//! Data flows through the modules in this order, and the folder tree shows it:
//!
//! ```text
//!  sources/ (host, scrape, logs; sensors next) ─┐
//!                                               ├─> store/ (the crash-safe durable queue) ─> sinks/
//!  engine/ (signatures: classify, group, decide)┘      (forward: one delivery engine; mqtt,
//!                                                        remote_write, logstash, pushgateway)
//! ```
//!
//! Sources, the engine and sinks never import each other: they meet in [`store`], [`model`]
//! (the data in between) and [`config`] (what the operator asked for, validated: file, or
//! remote over MQTT). [`net`] holds the HTTP/TLS/pacing primitives sinks and the scraper share,
//! [`shutdown`] the one stop signal every task obeys, and [`telemetry`] the registry each
//! component reports its own metrics into. Above them, [`control`] decides about remote
//! configs, [`runtime`] starts, replaces and stops each component's task by the config section
//! it owns, and [`admin`] and [`cli`] are the operator's commands. `docs/ARCHITECTURE.md`
//! states what each folder may import; `tests/architecture.rs` holds the code to it.

pub mod admin;
pub mod cli;
pub mod config;
pub mod control;
pub mod engine;
pub mod model;
pub mod net;
pub mod runtime;
pub mod shutdown;
pub mod sinks;
pub mod sources;
pub mod store;
pub mod telemetry;

/// The version of this build.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The target triple this binary was built for.
pub const TARGET: &str = env!("OUTPOST_TARGET");

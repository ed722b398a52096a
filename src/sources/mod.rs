//! Sources: where data enters the agent.
//!
//! `host` samples the gateway itself with node_exporter's metric names, `scrape` reads local
//! exporters, `logs` turns files, the journal, stdin and the agent's own log into log events.
//! Device sensors join here with their issue. Each source produces [`crate::model`] values
//! and knows nothing about where they go next.

pub mod host;
pub mod logs;
pub mod scrape;
pub mod sensors;

//! Sources: where data enters the agent.
//!
//! `host` samples the gateway itself with node_exporter's metric names. Device sensors, log
//! inputs and local scrape targets join here as their issues land; each source produces
//! [`crate::model`] values and knows nothing about where they go next.

pub mod host;
pub mod logs;
pub mod scrape;

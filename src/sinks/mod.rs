//! Sinks: where stored data leaves the gateway.
//!
//! Each sink reads from the store with its own cursor and acknowledges only what its receiver
//! confirmed, so the store stays the single source of truth. `mqtt` forwards batches to a
//! broker; remote_write, Pushgateway and Logstash join here with their issues.

pub mod mqtt;
pub mod payload;
pub mod tls;

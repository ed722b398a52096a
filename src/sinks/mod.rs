//! Sinks: where stored data leaves the gateway.
//!
//! Each sink reads from the store with its own cursor and acknowledges only what its receiver
//! confirmed, so the store stays the single source of truth. `mqtt` forwards batches to a
//! broker; `remote_write` sends metrics to Prometheus-compatible receivers. `pushgateway` is the
//! exception: it pushes only the latest values and never reads the store. `http`, `tls` and
//! `pace` are what the sinks share (HTTP answers, TLS setup, backoff and rate limits).

pub mod mqtt;
pub mod payload;
pub mod pushgateway;
pub mod remote_write;

//! Sinks: where stored data leaves the gateway.
//!
//! Each sink reads from the store with its own cursor and acknowledges only what its receiver
//! confirmed, so the store stays the single source of truth. [`forward`] is that delivery
//! contract written once — live and backlog lanes, live first after an outage, backfill rate,
//! retry with jittered backoff and `Retry-After`, answers sorted into delivered / retry /
//! rejected, once-per-episode logging and the per-sink counters — and a sink on it is an
//! encoder plus its config ([`remote_write`], [`logstash`], and the [`alerts`] sinks:
//! Alertmanager, Slack, Telegram, exec). [`mqtt`] keeps
//! its own session loop (PUBACK matching over one connection) but the same lanes, pacing and
//! acknowledgement rule. [`pushgateway`] is the exception: it pushes only the latest values and
//! never reads the store. [`payload`] is the JSON form of stored records that JSON sinks share.
//!
//! Sinks import `model`, `config`, `net`, `store`, `telemetry` and `shutdown`, never a source
//! or the engine.

pub mod alerts;
pub mod forward;
pub mod logstash;
pub mod mqtt;
pub mod payload;
pub mod pushgateway;
pub mod remote_write;

//! The data that flows from sources to sinks.
//!
//! A sampling cycle produces a [`Snapshot`]: metric families with their samples, all taken at
//! one instant. Families carry the Prometheus metadata (help, type) so every sink — the local
//! `/metrics` endpoint now, remote_write and Pushgateway later — renders the same names,
//! labels and types that node_exporter users already have rules and dashboards for.

pub mod alert;
pub mod event;
pub mod pushtext;
pub mod redact;
pub mod staleness;
pub mod stored;
pub mod text;
pub mod uplink;

use serde::{Deserialize, Serialize};

/// Now as Unix epoch milliseconds, the timestamps of snapshots and records (0 if the clock is
/// before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Prometheus metric type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    Counter,
    Gauge,
    Untyped,
    // Added after the first three: postcard stores the variant index, so older stored
    // snapshots read back unchanged. Scraped histogram and summary series carry these.
    Histogram,
    Summary,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Untyped => "untyped",
            MetricKind::Histogram => "histogram",
            MetricKind::Summary => "summary",
        }
    }
}

/// Label pairs of one sample, in the order the family defines them.
pub type Labels = Vec<(&'static str, String)>;

/// One value of a family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
}

/// A metric family: a name, its metadata, and the samples of this cycle.
/// Serialized (for the store) without `help`: sinks that need it look it up by name, and
/// leaving it out saves about a fifth of every stored snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Family {
    pub name: String,
    #[serde(skip)]
    pub help: String,
    pub kind: MetricKind,
    pub samples: Vec<Sample>,
}

impl Family {
    pub fn new(name: impl Into<String>, help: impl Into<String>, kind: MetricKind) -> Self {
        Family {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    /// A family with one unlabelled sample.
    pub fn single(name: impl Into<String>, help: impl Into<String>, kind: MetricKind, value: f64) -> Self {
        let mut f = Family::new(name, help, kind);
        f.push(Vec::new(), value);
        f
    }

    pub fn push(&mut self, labels: Labels, value: f64) {
        self.samples.push(Sample { labels, value });
    }
}

/// All families of one sampling cycle, taken at `timestamp_ms` (Unix epoch, milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Snapshot {
    pub timestamp_ms: i64,
    pub families: Vec<Family>,
}

//! Snapshots as the store keeps them: postcard, field for field the shape of
//! [`super::Snapshot`] (which serializes directly, without copying), read back into owned
//! types since label names are `&'static str` only in the sampler.

use serde::{Deserialize, Serialize};

use super::{MetricKind, Snapshot};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSample {
    /// Written as a map (a JSON object in `store export`); postcard encodes a map and a
    /// sequence of pairs identically, so stored snapshots read back either way.
    #[serde(serialize_with = "labels_as_map")]
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFamily {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: MetricKind,
    pub samples: Vec<StoredSample>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSnapshot {
    pub timestamp_ms: i64,
    pub families: Vec<StoredFamily>,
}

fn labels_as_map<S: serde::Serializer>(labels: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(labels.len()))?;
    for (k, v) in labels {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

pub fn encode_snapshot(s: &Snapshot) -> Vec<u8> {
    postcard::to_allocvec(s).expect("encoding into a Vec cannot fail")
}

/// A snapshot built in owned form (the scraper's) encodes to the same bytes.
pub fn encode_stored(s: &StoredSnapshot) -> Vec<u8> {
    postcard::to_allocvec(s).expect("encoding into a Vec cannot fail")
}

pub fn decode_snapshot(bytes: &[u8]) -> Result<StoredSnapshot, postcard::Error> {
    postcard::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Family;

    #[test]
    fn snapshot_round_trip() {
        let mut f = Family::new(
            "node_cpu_seconds_total",
            "help is not stored",
            MetricKind::Counter,
        );
        f.push(vec![("cpu", "0".into()), ("mode", "idle".into())], 12.5);
        f.push(vec![("cpu", "1".into()), ("mode", "idle".into())], f64::INFINITY);
        let snap = Snapshot {
            timestamp_ms: 1_700_000_000_123,
            families: vec![f, Family::single("node_load1", "x", MetricKind::Gauge, 0.25)],
        };
        let bytes = encode_snapshot(&snap);
        let back = decode_snapshot(&bytes).unwrap();
        assert_eq!(back.timestamp_ms, snap.timestamp_ms);
        assert_eq!(back.families[0].name, "node_cpu_seconds_total");
        assert_eq!(back.families[0].kind, MetricKind::Counter);
        assert_eq!(
            back.families[0].samples[1].labels[1],
            ("mode".to_string(), "idle".to_string())
        );
        assert_eq!(back.families[0].samples[1].value, f64::INFINITY);
        assert_eq!(back.families[1].samples[0].value, 0.25);
        assert!(decode_snapshot(&bytes[..bytes.len() / 2]).is_err());
        // Owned form re-encodes to the same bytes (labels as a map) and reads back.
        assert_eq!(postcard::to_allocvec(&back).unwrap(), bytes);
        let json = serde_json::to_string(&back.families[0].samples[0]).unwrap();
        assert_eq!(json, r#"{"labels":{"cpu":"0","mode":"idle"},"value":12.5}"#);
    }
}

//! Prometheus remote write 1.0 on the wire: the protobuf messages (written by hand with
//! prost's derive, so no `protoc` at build time) and the encoder that turns stored snapshots
//! into snappy-compressed `WriteRequest`s.
//!
//! The spec's rules are kept here, in one place: labels sorted by name with `__name__` among
//! them, no empty values, no duplicate names; the samples of one series in timestamp order
//! (a clock that stepped back is sorted, equal timestamps keep the later value); requests
//! split at `max_samples` samples and `max_bytes` of protobuf (an upper bound computed while
//! building, so no request is encoded twice). Series are found by borrowing the snapshot's
//! own name and labels as the key: building a request allocates per series, not per sample.

use std::collections::HashMap;

use prost::Message;

use crate::model::stored::StoredSnapshot;

#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// One request body, ready to send.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Snappy (block format) of the protobuf.
    pub body: Vec<u8>,
    pub samples: usize,
    pub series: usize,
    /// Protobuf bytes before compression.
    pub raw_bytes: usize,
}

/// What one batch of snapshots became.
#[derive(Debug, Default)]
pub struct Batch {
    pub requests: Vec<Encoded>,
    /// Samples older than the backlog age limit, left out.
    pub too_old: u64,
}

/// The labels every series gets unless it has them already.
#[derive(Debug, Clone)]
pub struct Encoder {
    pub job: String,
    pub instance: String,
    pub external_labels: Vec<(String, String)>,
    pub max_samples: usize,
    pub max_bytes: usize,
}

/// Encoded size of a length-delimited field holding `len` bytes (tag + length + bytes).
fn field_len(len: usize) -> usize {
    1 + prost::length_delimiter_len(len) + len
}

/// A series as the snapshot names it: family name and the sample's own labels, borrowed.
type SeriesKey<'a> = (&'a str, &'a [(String, String)]);

/// One request being built.
struct Building<'a> {
    series: Vec<TimeSeries>,
    index: HashMap<SeriesKey<'a>, usize>,
    samples: usize,
    /// Upper bound of the encoded size so far.
    bytes: usize,
}

impl<'a> Building<'a> {
    fn new() -> Self {
        Building {
            series: Vec::new(),
            index: HashMap::new(),
            samples: 0,
            bytes: 0,
        }
    }
}

impl Encoder {
    /// The sorted label set of a series.
    fn labels(&self, name: &str, own: &[(String, String)]) -> Vec<Label> {
        let mut out: Vec<Label> = Vec::with_capacity(own.len() + 3 + self.external_labels.len());
        out.push(Label {
            name: "__name__".into(),
            value: name.into(),
        });
        let own = own.iter().filter(|(k, v)| !v.is_empty() && k != "__name__");
        let fixed = [("job", &self.job), ("instance", &self.instance)];
        let added = fixed
            .into_iter()
            .map(|(k, v)| (k, v.as_str()))
            .chain(self.external_labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        // The series' own labels first, so a stable sort plus dedup keeps them over the
        // added ones (target labels never override what the data says).
        for (k, v) in own.map(|(k, v)| (k.as_str(), v.as_str())).chain(added) {
            out.push(Label {
                name: k.into(),
                value: v.into(),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.dedup_by(|b, a| a.name == b.name);
        out
    }

    fn finish(building: Building<'_>, out: &mut Vec<Encoded>) {
        if building.samples == 0 {
            return;
        }
        let mut series = building.series;
        for s in &mut series {
            if !s.samples.is_sorted_by_key(|x| x.timestamp) {
                s.samples.sort_by_key(|x| x.timestamp);
            }
            // Equal timestamps: keep the later value (dedup_by keeps the first of a run, so
            // reverse around it).
            if s.samples.windows(2).any(|w| w[0].timestamp == w[1].timestamp) {
                s.samples.reverse();
                s.samples.dedup_by_key(|x| x.timestamp);
                s.samples.reverse();
            }
        }
        let req = WriteRequest { timeseries: series };
        let raw = req.encode_to_vec();
        let body = snap::raw::Encoder::new()
            .compress_vec(&raw)
            .expect("snappy takes inputs up to 4 GiB; requests are bounded far below");
        out.push(Encoded {
            samples: req.timeseries.iter().map(|s| s.samples.len()).sum(),
            series: req.timeseries.len(),
            raw_bytes: raw.len(),
            body,
        });
    }

    /// Encodes snapshots (in store order) into requests. Samples with a timestamp below
    /// `min_ts` are left out and counted.
    pub fn encode(&self, snapshots: &[StoredSnapshot], min_ts: Option<i64>) -> Batch {
        let mut batch = Batch::default();
        let mut b = Building::new();
        for snap in snapshots {
            let ts = snap.timestamp_ms;
            if min_ts.is_some_and(|min| ts < min) {
                batch.too_old += snap.families.iter().map(|f| f.samples.len() as u64).sum::<u64>();
                continue;
            }
            for f in &snap.families {
                for s in &f.samples {
                    let sample = Sample {
                        value: s.value,
                        timestamp: ts,
                    };
                    let sample_len = field_len(sample.encoded_len());
                    let key = (f.name.as_str(), s.labels.as_slice());
                    let (at, add) = match b.index.get(&key).copied() {
                        Some(i) => (Some(i), sample_len),
                        None => {
                            let labels = self.labels(&f.name, &s.labels);
                            let labels_len: usize = labels.iter().map(|l| field_len(l.encoded_len())).sum();
                            // Series framing in the request: tag + length (at most 5 bytes).
                            let add = labels_len + sample_len + 6;
                            if b.samples > 0
                                && (b.samples >= self.max_samples || b.bytes + add > self.max_bytes)
                            {
                                Self::finish(std::mem::replace(&mut b, Building::new()), &mut batch.requests);
                            }
                            b.series.push(TimeSeries {
                                labels,
                                samples: Vec::new(),
                            });
                            b.index.insert(key, b.series.len() - 1);
                            (None, add)
                        }
                    };
                    let i = match at {
                        Some(i) if b.samples >= self.max_samples || b.bytes + add > self.max_bytes => {
                            // Full: the series starts again in the next request.
                            let labels = b.series[i].labels.clone();
                            let labels_len: usize = labels.iter().map(|l| field_len(l.encoded_len())).sum();
                            Self::finish(std::mem::replace(&mut b, Building::new()), &mut batch.requests);
                            b.series.push(TimeSeries {
                                labels,
                                samples: Vec::new(),
                            });
                            b.index.insert(key, 0);
                            b.bytes += labels_len + 6;
                            0
                        }
                        Some(i) => i,
                        None => b.series.len() - 1,
                    };
                    b.series[i].samples.push(sample);
                    b.samples += 1;
                    b.bytes += add;
                }
            }
        }
        Self::finish(b, &mut batch.requests);
        batch
    }
}

/// Decodes a request body the way a receiver does (for tests and the benchmark).
pub fn decode(body: &[u8]) -> Result<WriteRequest, String> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy: {e}"))?;
    WriteRequest::decode(raw.as_slice()).map_err(|e| format!("protobuf: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::staleness::{is_stale, stale_nan};
    use crate::model::stored::{StoredFamily, StoredSample};
    use crate::model::MetricKind;

    fn snap(ts: i64, cpus: usize, value: f64) -> StoredSnapshot {
        let samples = (0..cpus)
            .map(|c| StoredSample {
                labels: vec![("cpu".into(), c.to_string()), ("mode".into(), "idle".into())],
                value,
            })
            .collect();
        StoredSnapshot {
            timestamp_ms: ts,
            families: vec![
                StoredFamily {
                    name: "node_cpu_seconds_total".into(),
                    kind: MetricKind::Counter,
                    samples,
                },
                StoredFamily {
                    name: "node_filesystem_avail_bytes".into(),
                    kind: MetricKind::Gauge,
                    samples: vec![StoredSample {
                        // An empty value is the same as no label; a `job` of its own wins.
                        labels: vec![
                            ("mountpoint".into(), "/".into()),
                            ("device".into(), "".into()),
                            ("job".into(), "custom".into()),
                        ],
                        value: 5.0,
                    }],
                },
            ],
        }
    }

    fn encoder(max_samples: usize, max_bytes: usize) -> Encoder {
        Encoder {
            job: "node".into(),
            instance: "gw-1".into(),
            external_labels: vec![("site".into(), "plant-7".into()), ("cpu".into(), "never".into())],
            max_samples,
            max_bytes,
        }
    }

    fn names(s: &TimeSeries) -> Vec<String> {
        s.labels
            .iter()
            .map(|l| format!("{}={}", l.name, l.value))
            .collect()
    }

    #[test]
    fn labels_are_sorted_complete_and_samples_grouped_per_series() {
        let snaps = [snap(1000, 2, 1.0), snap(2000, 2, 2.0)];
        let batch = encoder(1000, 1 << 20).encode(&snaps, None);
        assert_eq!(batch.requests.len(), 1);
        let req = decode(&batch.requests[0].body).unwrap();
        assert_eq!(req.timeseries.len(), 3);
        assert_eq!(
            names(&req.timeseries[0]),
            [
                "__name__=node_cpu_seconds_total",
                "cpu=0",
                "instance=gw-1",
                "job=node",
                "mode=idle",
                "site=plant-7"
            ]
        );
        assert_eq!(
            names(&req.timeseries[2]),
            // An external label fills in where the series lacks it.
            [
                "__name__=node_filesystem_avail_bytes",
                "cpu=never",
                "instance=gw-1",
                "job=custom",
                "mountpoint=/",
                "site=plant-7"
            ]
        );
        let ts: Vec<i64> = req.timeseries[0].samples.iter().map(|s| s.timestamp).collect();
        assert_eq!(ts, [1000, 2000]);
        assert_eq!(batch.requests[0].samples, 6);
    }

    #[test]
    fn requests_respect_both_limits_and_keep_series_order() {
        let snaps: Vec<StoredSnapshot> = (0..50).map(|i| snap(1000 * i, 8, i as f64)).collect();
        for (max_samples, max_bytes) in [(7, 1 << 20), (1000, 2048), (1, 1 << 20)] {
            let batch = encoder(max_samples, max_bytes).encode(&snaps, None);
            let mut seen: HashMap<Vec<String>, i64> = HashMap::new();
            let mut total = 0;
            for r in &batch.requests {
                assert!(r.samples <= max_samples, "{} > {max_samples}", r.samples);
                assert!(r.raw_bytes <= max_bytes, "{} > {max_bytes}", r.raw_bytes);
                let req = decode(&r.body).unwrap();
                assert_eq!(req.encoded_len(), r.raw_bytes);
                for s in &req.timeseries {
                    for x in &s.samples {
                        let last = seen.entry(names(s)).or_insert(i64::MIN);
                        assert!(x.timestamp > *last, "series order across requests");
                        *last = x.timestamp;
                        total += 1;
                    }
                }
            }
            assert_eq!(total, 50 * 9, "every sample exactly once");
        }
    }

    #[test]
    fn clock_steps_back_are_sorted_and_stale_markers_survive() {
        let mut a = snap(5000, 1, 1.0);
        a.families[1].samples[0].value = stale_nan();
        let snaps = [a, snap(3000, 1, 2.0), snap(3000, 1, 3.0)];
        let batch = encoder(1000, 1 << 20).encode(&snaps, None);
        let req = decode(&batch.requests[0].body).unwrap();
        let cpu: Vec<(i64, f64)> = req.timeseries[0]
            .samples
            .iter()
            .map(|s| (s.timestamp, s.value))
            .collect();
        assert_eq!(cpu, [(3000, 3.0), (5000, 1.0)]);
        let fs = &req.timeseries[1].samples;
        assert!(is_stale(fs.iter().find(|s| s.timestamp == 5000).unwrap().value));
    }

    #[test]
    fn samples_below_the_age_limit_are_left_out_and_counted() {
        let snaps = [snap(1000, 2, 1.0), snap(2000, 2, 2.0)];
        let batch = encoder(1000, 1 << 20).encode(&snaps, Some(1500));
        assert_eq!(batch.too_old, 3);
        assert_eq!(batch.requests[0].samples, 3);
        let all_old = encoder(1000, 1 << 20).encode(&snaps, Some(5000));
        assert!(all_old.requests.is_empty());
        assert_eq!(all_old.too_old, 6);
    }
}

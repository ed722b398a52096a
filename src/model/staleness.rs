//! Staleness markers: when a series that was in the previous snapshot is missing from this
//! one (a sensor unplugged, a filesystem unmounted, a collector switched off), the stored
//! snapshot gets one sample for it with Prometheus' stale-marker value, a NaN with a fixed bit
//! pattern. Receivers of remote_write then end the series at once instead of showing its last
//! value for five more minutes; consumers of JSON see `null`.
//!
//! Marking happens where snapshots are made, before the store, so the marker is durable and
//! reaches every sink in order with the data around it — across reconnects, live/backlog
//! splits and restarts of the uplink. The common case (the same series as last time) costs one
//! hash per series and no copies; the previous snapshot is kept only when the set changed.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use super::stored::{StoredFamily, StoredSample};
use super::{Family, Snapshot};

/// Prometheus' `value.StaleNaN`.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

fn key<K: AsRef<str>>(family: &str, labels: &[(K, String)]) -> u64 {
    let mut h = DefaultHasher::new();
    family.hash(&mut h);
    for (k, v) in labels {
        k.as_ref().hash(&mut h);
        v.hash(&mut h);
    }
    h.finish()
}

/// What the tracker needs of a family: the host sampler's [`Family`] (static label names) and
/// the scraper's [`StoredFamily`] (owned names) both qualify.
pub trait SeriesFamily: Clone {
    fn name(&self) -> &str;
    /// The hash of each series, in order.
    fn keys(&self) -> impl Iterator<Item = u64> + '_;
    /// A family of the same name and kind with no samples.
    fn empty_like(&self) -> Self;
    /// Appends a stale marker for `other`'s sample number `i`.
    fn push_stale(&mut self, other: &Self, i: usize);
}

impl SeriesFamily for Family {
    fn name(&self) -> &str {
        &self.name
    }
    fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.samples.iter().map(|s| key(&self.name, &s.labels))
    }
    fn empty_like(&self) -> Self {
        Family::new(self.name.clone(), "", self.kind)
    }
    fn push_stale(&mut self, other: &Self, i: usize) {
        self.push(other.samples[i].labels.clone(), stale_nan());
    }
}

impl SeriesFamily for StoredFamily {
    fn name(&self) -> &str {
        &self.name
    }
    fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.samples.iter().map(|s| key(&self.name, &s.labels))
    }
    fn empty_like(&self) -> Self {
        StoredFamily {
            name: self.name.clone(),
            kind: self.kind,
            samples: Vec::new(),
        }
    }
    fn push_stale(&mut self, other: &Self, i: usize) {
        self.samples.push(StoredSample {
            labels: other.samples[i].labels.clone(),
            value: stale_nan(),
        });
    }
}

pub struct Staleness<F = Family> {
    prev: Vec<F>,
    prev_keys: HashSet<u64>,
}

impl<F> Default for Staleness<F> {
    fn default() -> Self {
        Staleness {
            prev: Vec::new(),
            prev_keys: HashSet::new(),
        }
    }
}

impl Staleness<Family> {
    /// Adds a stale marker to `snap` for every series of the previous snapshot it lacks;
    /// returns how many.
    pub fn mark(&mut self, snap: &mut Snapshot) -> usize {
        self.mark_families(&mut snap.families)
    }
}

impl<F: SeriesFamily> Staleness<F> {
    /// [`Staleness::mark`] for any kind of family.
    pub fn mark_families(&mut self, families: &mut Vec<F>) -> usize {
        let keys: HashSet<u64> = families.iter().flat_map(|f| f.keys()).collect();
        if keys == self.prev_keys {
            return 0;
        }
        let current = families.clone();
        let mut added = 0;
        for f in &self.prev {
            for (i, k) in f.keys().enumerate() {
                if keys.contains(&k) {
                    continue;
                }
                let at = match families.iter().position(|x| x.name() == f.name()) {
                    Some(i) => i,
                    None => {
                        families.push(f.empty_like());
                        families.len() - 1
                    }
                };
                families[at].push_stale(f, i);
                added += 1;
            }
        }
        self.prev = current;
        self.prev_keys = keys;
        added
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MetricKind;

    fn snap(mounts: &[&str], with_load: bool) -> Snapshot {
        let mut fs = Family::new("node_filesystem_avail_bytes", "h", MetricKind::Gauge);
        for m in mounts {
            fs.push(vec![("mountpoint", m.to_string())], 1.0);
        }
        let mut families = vec![fs];
        if with_load {
            families.push(Family::single("node_load1", "h", MetricKind::Gauge, 0.5));
        }
        Snapshot {
            timestamp_ms: 0,
            families,
        }
    }

    fn stale(s: &Snapshot) -> Vec<String> {
        s.families
            .iter()
            .flat_map(|f| {
                f.samples
                    .iter()
                    .filter(|x| is_stale(x.value))
                    .map(move |x| format!("{}{:?}", f.name, x.labels))
            })
            .collect()
    }

    #[test]
    fn a_vanished_series_is_marked_once() {
        let mut st = Staleness::default();
        let mut a = snap(&["/", "/data"], true);
        assert_eq!(st.mark(&mut a), 0, "nothing before the first snapshot");
        let mut b = snap(&["/", "/data"], true);
        assert_eq!(st.mark(&mut b), 0);
        let mut c = snap(&["/"], false);
        assert_eq!(st.mark(&mut c), 2);
        assert_eq!(
            stale(&c),
            vec![
                r#"node_filesystem_avail_bytes[("mountpoint", "/data")]"#.to_string(),
                "node_load1[]".to_string()
            ]
        );
        let mut d = snap(&["/"], false);
        assert_eq!(st.mark(&mut d), 0, "once, not every cycle");
        // It comes back, then goes again: marked again.
        let mut e = snap(&["/", "/data"], false);
        assert_eq!(st.mark(&mut e), 0);
        let mut f = snap(&["/"], false);
        assert_eq!(st.mark(&mut f), 1);
    }

    #[test]
    fn the_marker_survives_the_store_encoding() {
        let mut st = Staleness::default();
        st.mark(&mut snap(&["/", "/data"], false));
        let mut s = snap(&["/"], false);
        st.mark(&mut s);
        let back = crate::model::stored::decode_snapshot(&crate::model::stored::encode_snapshot(&s)).unwrap();
        assert!(is_stale(back.families[0].samples[1].value));
        assert!(!is_stale(f64::NAN));
    }
}

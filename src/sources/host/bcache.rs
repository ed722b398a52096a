//! bcache SSD caches from `/sys/fs/bcache/<uuid>`: node_exporter's `bcache` collector — the
//! cache set's btree and journal figures, per backing device (`bdevN`) its hit/miss counters
//! and writeback state, per cache device (`cacheN`) its errors and bytes written.
//!
//! bcache prints sizes human-readable (`20.4G`, `427.5k`); they are read back as node_exporter's
//! procfs library does: the digit after the point counts hundreds of the next smaller unit.
//! `priority_stats` (node_exporter's non-default `--collector.bcache.priorityStats`, expensive
//! on large caches) is not read.

use std::path::Path;

use super::read::{dir_names, read_attr, CollectError, Families};
use crate::model::{Family, Labels, MetricKind};

/// `20.4G` → 20 GiB + 400 MiB; `1.1M/sec` → 1 MiB + 100 KiB; `512` → 512.
fn dehumanize(s: &str) -> Option<f64> {
    let s = s.trim().trim_end_matches("/sec");
    let (num, base) = match s.as_bytes().last()? {
        b'k' => (&s[..s.len() - 1], 1u64 << 10),
        b'M' => (&s[..s.len() - 1], 1 << 20),
        b'G' => (&s[..s.len() - 1], 1 << 30),
        b'T' => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    let (mant, frac) = num.split_once('.').unwrap_or((num, "0"));
    let mant: u64 = mant.parse().ok()?;
    let frac: u64 = frac.parse().ok()?;
    Some((mant * base + frac * 100 * base / 1024) as f64)
}

/// `node_bcache_<name>` with its help text, a counter or a gauge.
struct Fam(Families);

impl Fam {
    fn push(&mut self, name: &str, help: &str, is_counter: bool, labels: Labels, v: f64) {
        let kind = if is_counter {
            MetricKind::Counter
        } else {
            MetricKind::Gauge
        };
        self.0.push(&format!("node_bcache_{name}"), help, kind, labels, v);
    }
}

pub fn collect(sys: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let root = sys.join("fs/bcache");
    // node_exporter reports success with nothing when bcache is absent.
    if !root.is_dir() {
        return Ok(());
    }
    let mut f = Fam(Families::default());
    for uuid in dir_names(&root) {
        let d = root.join(&uuid);
        if !d.is_dir() {
            continue; // `register` and `register_quiet` are files
        }
        let u = || -> Labels { vec![("uuid", uuid.clone())] };
        let num = |p: &str| read_attr(&d.join(p)).as_deref().and_then(dehumanize);
        for (file, name, help, c) in [
            ("average_key_size", "average_key_size_sectors", "Average data per key in the btree (sectors).", false),
            ("btree_cache_size", "btree_cache_size_bytes", "Amount of memory currently used by the btree cache.", false),
            ("cache_available_percent", "cache_available_percent", "Percentage of cache device without dirty data, usable for writeback (may contain clean cached data).", false),
            ("congested", "congested", "Congestion.", false),
            ("root_usage_percent", "root_usage_percent", "Percentage of the root btree node in use (tree depth increases if too high).", false),
            ("tree_depth", "tree_depth", "Depth of the btree.", false),
            ("internal/active_journal_entries", "active_journal_entries", "Number of journal entries that are newer than the index.", false),
            ("internal/btree_nodes", "btree_nodes", "Total nodes in the btree.", false),
            ("internal/cache_read_races", "cache_read_races_total", "Counts instances where while data was being read from the cache, the bucket was reused and invalidated - i.e. where the pointer was stale after the read completed.", true),
        ] {
            if let Some(v) = num(file) {
                f.push(name, help, c, u(), v);
            }
        }
        // node_exporter reads the microseconds as nanoseconds; reproduced for equal values.
        if let Some(v) = num("internal/btree_read_average_duration_us") {
            f.push(
                "btree_read_average_duration_seconds",
                "Average btree read duration.",
                false,
                u(),
                v * 1e-9,
            );
        }
        for dev in dir_names(&d) {
            let b = d.join(&dev);
            if dev.strip_prefix("bdev").is_some_and(|n| n.parse::<u32>().is_ok()) {
                let l = || -> Labels { vec![("backing_device", dev.clone()), ("uuid", uuid.clone())] };
                let num = |p: &str| read_attr(&b.join(p)).as_deref().and_then(dehumanize);
                if let Some(v) = num("dirty_data") {
                    f.push(
                        "dirty_data_bytes",
                        "Amount of dirty data for this backing device in the cache.",
                        false,
                        l(),
                        v,
                    );
                }
                for (file, name, help) in [
                    ("bypassed", "bypassed_bytes_total", "Amount of IO (both reads and writes) that has bypassed the cache."),
                    ("cache_hits", "cache_hits_total", "Hits counted per individual IO as bcache sees them."),
                    ("cache_misses", "cache_misses_total", "Misses counted per individual IO as bcache sees them."),
                    ("cache_bypass_hits", "cache_bypass_hits_total", "Hits for IO intended to skip the cache."),
                    ("cache_bypass_misses", "cache_bypass_misses_total", "Misses for IO intended to skip the cache."),
                    ("cache_miss_collisions", "cache_miss_collisions_total", "Instances where data insertion from cache miss raced with write (data already present)."),
                    ("cache_readaheads", "cache_readaheads_total", "Count of times readahead occurred."),
                ] {
                    if let Some(v) = num(&format!("stats_total/{file}")) {
                        f.push(name, help, true, l(), v);
                    }
                }
                if let Some(debug) = read_attr(&b.join("writeback_rate_debug")) {
                    for line in debug.lines() {
                        let Some((k, v)) = line.split_once(':') else {
                            continue;
                        };
                        let Some(v) = dehumanize(v) else { continue };
                        let (name, help) = match k.trim() {
                            "rate" => (
                                "writeback_rate",
                                "Current writeback rate for this backing device in bytes.",
                            ),
                            "target" => (
                                "dirty_target_bytes",
                                "Current dirty data target threshold for this backing device in bytes.",
                            ),
                            "proportional" => (
                                "writeback_rate_proportional_term",
                                "Current result of proportional controller, part of writeback rate",
                            ),
                            "integral" => (
                                "writeback_rate_integral_term",
                                "Current result of integral controller, part of writeback rate",
                            ),
                            "change" => (
                                "writeback_change",
                                "Last writeback rate change step for this backing device.",
                            ),
                            _ => continue,
                        };
                        f.push(name, help, false, l(), v);
                    }
                }
            } else if dev
                .strip_prefix("cache")
                .is_some_and(|n| n.parse::<u32>().is_ok())
            {
                let l = || -> Labels { vec![("cache_device", dev.clone()), ("uuid", uuid.clone())] };
                let num = |p: &str| read_attr(&b.join(p)).as_deref().and_then(dehumanize);
                if let Some(v) = num("io_errors") {
                    f.push(
                        "io_errors",
                        "Number of errors that have occurred, decayed by io_error_halflife.",
                        false,
                        l(),
                        v,
                    );
                }
                if let Some(v) = num("metadata_written") {
                    f.push(
                        "metadata_written_bytes_total",
                        "Sum of all non data writes (btree writes and all other metadata).",
                        true,
                        l(),
                        v,
                    );
                }
                if let Some(v) = num("written") {
                    f.push(
                        "written_bytes_total",
                        "Sum of all data that has been written to the cache.",
                        true,
                        l(),
                        v,
                    );
                }
            }
        }
    }
    out.extend(f.0.into_vec());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dehumanize_as_node_exporter() {
        use super::dehumanize;
        assert_eq!(dehumanize("20.4G"), Some(21894266880.0));
        assert_eq!(dehumanize("1.1M/sec"), Some(1150976.0));
        assert_eq!(dehumanize("427.5k"), Some(437748.0));
        assert_eq!(dehumanize("512"), Some(512.0));
        assert_eq!(dehumanize("x"), None);
    }
}

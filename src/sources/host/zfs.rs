//! ZFS kstats from `/proc/spl/kstat/zfs`: node_exporter's `zfs` collector. The module-wide
//! files (ARC, dbuf, ZIL, …) become `node_zfs_<subsystem>_<name>` (untyped, help
//! `kstat.zfs.misc.<file>.<name>`, as node_exporter names them), each pool's `io` file
//! `node_zfs_zpool_<field>{zpool}`, its datasets' `objset-*` files
//! `node_zfs_zpool_dataset_<field>{zpool,dataset}`, and its `state` file
//! `node_zfs_zpool_state{zpool,state}`. Without the ZFS module there is no directory: "no data".

use std::path::Path;

use super::read::{dir_names, gauge, no_data, read_file, CollectError, Families};
use crate::model::{Family, MetricKind};

/// Subsystem → kstat file.
const FILES: [(&str, &str); 11] = [
    ("abd", "abdstats"),
    ("arc", "arcstats"),
    ("dbuf", "dbuf_stats"),
    ("dmu_tx", "dmu_tx"),
    ("dnode", "dnodestats"),
    ("fm", "fm"),
    ("vdev_cache", "vdev_cache_stats"),
    ("vdev_mirror", "vdev_mirror_stats"),
    ("xuio", "xuio_stats"),
    ("zfetch", "zfetchstats"),
    ("zil", "zil"),
];

const POOL_STATES: [&str; 6] = ["online", "degraded", "faulted", "offline", "removed", "unavail"];

/// The `name type data` rows of a kstat file: (name, type, value).
fn rows(text: &str) -> Option<Vec<(&str, &str, &str)>> {
    let mut lines = text.lines();
    lines.by_ref().find(|l| {
        let p: Vec<&str> = l.split_ascii_whitespace().collect();
        p == ["name", "type", "data"]
    })?;
    Some(
        lines
            .filter_map(|l| {
                let mut w = l.split_ascii_whitespace();
                Some((w.next()?, w.next()?, w.next()?))
            })
            .collect(),
    )
}

fn uint(path: &Path, key: &str, v: &str) -> Result<f64, CollectError> {
    v.parse::<u64>().map(|v| v as f64).map_err(|_| {
        CollectError::parse(
            path,
            format!("could not parse expected integer value for {key:?}"),
        )
    })
}

pub fn collect(proc: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let base = proc.join("spl/kstat/zfs");
    if !base.is_dir() {
        return Err(no_data(&base));
    }
    let mut fams = Families::default();
    for (subsystem, file) in FILES {
        let path = base.join(file);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // this ZFS version does not have it
        };
        let rows = rows(&text)
            .ok_or_else(|| CollectError::parse(&path, format!("did not parse a single {file:?} metric")))?;
        for (name, kind, v) in rows {
            // KSTAT_DATA_UINT64 (4) and KSTAT_DATA_INT64 (3); other types are left out.
            if kind != "4" && kind != "3" {
                continue;
            }
            let key = format!("kstat.zfs.misc.{file}.{name}");
            let v = uint(&path, &key, v)?;
            fams.push(
                &format!("node_zfs_{subsystem}_{}", name.replace('-', "_")),
                key,
                MetricKind::Untyped,
                Vec::new(),
                v,
            );
        }
    }
    let mut state = gauge("node_zfs_zpool_state", "kstat.zfs.misc.state");
    for pool in dir_names(&base) {
        let dir = base.join(&pool);
        if !dir.is_dir() {
            continue;
        }
        let io = dir.join("io");
        if let Ok(text) = std::fs::read_to_string(&io) {
            let mut lines = text
                .lines()
                .map(|l| l.split_ascii_whitespace().collect::<Vec<_>>());
            if let Some(fields) = lines.by_ref().find(|l| l.len() >= 12 && l[0] == "nread") {
                for values in lines {
                    for (f, v) in fields.iter().zip(&values) {
                        let key = format!("kstat.zfs.misc.io.{f}");
                        let v = uint(&io, &key, v)?;
                        fams.push(
                            &format!("node_zfs_zpool_{f}"),
                            key,
                            MetricKind::Untyped,
                            vec![("zpool", pool.clone())],
                            v,
                        );
                    }
                }
            }
        }
        for objset in dir_names(&dir).into_iter().filter(|n| n.starts_with("objset-")) {
            let path = dir.join(&objset);
            let text = read_file(&path)?;
            let Some(rows) = rows(&text) else { continue };
            let mut dataset = String::new();
            for (name, kind, v) in rows {
                if name == "dataset_name" {
                    dataset = v.to_string();
                    continue;
                }
                if kind != "4" {
                    continue;
                }
                let key = format!("kstat.zfs.misc.objset.{name}");
                let v = uint(&path, &key, v)?;
                fams.push(
                    &format!("node_zfs_zpool_dataset_{name}"),
                    key,
                    MetricKind::Untyped,
                    vec![("dataset", dataset.clone()), ("zpool", pool.clone())],
                    v,
                );
            }
        }
        if let Ok(text) = std::fs::read_to_string(dir.join("state")) {
            let current = text.trim().to_lowercase();
            for s in POOL_STATES {
                state.push(
                    vec![("state", s.to_string()), ("zpool", pool.clone())],
                    if current == s { 1.0 } else { 0.0 },
                );
            }
        }
    }
    out.extend(fams.into_vec());
    out.push(state);
    Ok(())
}

//! btrfs filesystems from `/sys/fs/btrfs/<uuid>`: node_exporter's `btrfs` collector — label,
//! global reserve, device sizes, and per block group type (data, metadata, system) the space
//! reserved and, per RAID profile, allocated and used bytes with the profile's allocation ratio
//! (raid5 keeps n/(n−1) of its devices' space, raid6 n/(n−2)).

use std::path::Path;

use super::read::{attr_f64, dir_names, gauge, read_attr, CollectError};
use crate::model::{Family, Labels};

fn ratio(profile: &str, devices: usize) -> f64 {
    let n = devices as f64;
    match profile {
        "single" | "raid0" => 1.0,
        "dup" | "raid1" | "raid10" => 2.0,
        "raid5" => n / (n - 1.0),
        "raid6" => n / (n - 2.0),
        _ => 0.0,
    }
}

pub fn collect(sys: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let root = sys.join("fs/btrfs");
    // node_exporter reports success with nothing when btrfs is absent.
    if !root.is_dir() {
        return Ok(());
    }
    let mut info = gauge("node_btrfs_info", "Filesystem information");
    let mut rsv = gauge("node_btrfs_global_rsv_size_bytes", "Size of global reserve.");
    let mut dev_size = gauge(
        "node_btrfs_device_size_bytes",
        "Size of a device that is part of the filesystem.",
    );
    let mut reserved = gauge(
        "node_btrfs_reserved_bytes",
        "Amount of space reserved for a data type",
    );
    let mut used = gauge(
        "node_btrfs_used_bytes",
        "Amount of used space by a layout/data type",
    );
    let mut size = gauge(
        "node_btrfs_size_bytes",
        "Amount of space allocated for a layout/data type",
    );
    let mut alloc = gauge(
        "node_btrfs_allocation_ratio",
        "Data allocation ratio for a layout/data type",
    );
    for uuid in dir_names(&root) {
        let d = root.join(&uuid);
        // `features` is the module's own directory, not a filesystem.
        if !d.join("allocation").is_dir() {
            continue;
        }
        info.push(
            vec![
                ("label", read_attr(&d.join("label")).unwrap_or_default()),
                ("uuid", uuid.clone()),
            ],
            1.0,
        );
        if let Some(v) = attr_f64(&d.join("allocation/global_rsv_size")) {
            rsv.push(vec![("uuid", uuid.clone())], v);
        }
        let devices = dir_names(&d.join("devices"));
        for dev in &devices {
            // sysfs block sizes are in 512-byte sectors.
            if let Some(sectors) = attr_f64(&d.join("devices").join(dev).join("size")) {
                dev_size.push(
                    vec![("device", dev.clone()), ("uuid", uuid.clone())],
                    sectors * 512.0,
                );
            }
        }
        for kind in ["data", "metadata", "system"] {
            let a = d.join("allocation").join(kind);
            let l = |extra: Option<&str>| -> Labels {
                let mut l = vec![("block_group_type", kind.to_string())];
                if let Some(m) = extra {
                    l.push(("mode", m.to_string()));
                }
                l.push(("uuid", uuid.clone()));
                l
            };
            if let Some(v) = attr_f64(&a.join("bytes_reserved")) {
                reserved.push(l(None), v);
            }
            for profile in dir_names(&a) {
                let p = a.join(&profile);
                if !p.is_dir() {
                    continue;
                }
                if let (Some(t), Some(u)) =
                    (attr_f64(&p.join("total_bytes")), attr_f64(&p.join("used_bytes")))
                {
                    used.push(l(Some(&profile)), u);
                    size.push(l(Some(&profile)), t);
                    alloc.push(l(Some(&profile)), ratio(&profile, devices.len()));
                }
            }
        }
    }
    out.extend([info, rsv, dev_size, reserved, used, size, alloc]);
    Ok(())
}

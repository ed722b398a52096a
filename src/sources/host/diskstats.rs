//! `/proc/diskstats` → `node_disk_*{device}`, node_exporter's `diskstats` collector: the
//! kernel's I/O counters per block device (sectors as bytes, milliseconds as seconds), the
//! discard and flush counters where the kernel has them (4.18+, 5.5+), and from udev's
//! database (`/run/udev/data/b<major>:<minor>`) the disk's model, serial, WWN and path in
//! `node_disk_info`, its filesystem, device-mapper and ATA properties. On SD cards and eMMC
//! these counters are the first thing to watch: writes wear the flash out.
//!
//! The default device filter leaves out partitions of the common disk types, RAM disks,
//! loop devices and floppies, as node_exporter's does.

use std::collections::HashMap;
use std::path::Path;

use super::read::{counter, gauge, read_file, CollectError};
use crate::config::sample::DeviceFilter;
use crate::model::Family;

/// The counters after major, minor and name, in the kernel's order, with node_exporter's
/// names, help texts, unit factors and whether each is a counter (`io_now` is a gauge).
const STATS: [(&str, &str, f64, bool); 17] = [
    (
        "node_disk_reads_completed_total",
        "The total number of reads completed successfully.",
        1.0,
        true,
    ),
    (
        "node_disk_reads_merged_total",
        "The total number of reads merged.",
        1.0,
        true,
    ),
    (
        "node_disk_read_bytes_total",
        "The total number of bytes read successfully.",
        512.0,
        true,
    ),
    (
        "node_disk_read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        0.001,
        true,
    ),
    (
        "node_disk_writes_completed_total",
        "The total number of writes completed successfully.",
        1.0,
        true,
    ),
    (
        "node_disk_writes_merged_total",
        "The number of writes merged.",
        1.0,
        true,
    ),
    (
        "node_disk_written_bytes_total",
        "The total number of bytes written successfully.",
        512.0,
        true,
    ),
    (
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        0.001,
        true,
    ),
    (
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
        1.0,
        false,
    ),
    (
        "node_disk_io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        0.001,
        true,
    ),
    (
        "node_disk_io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        0.001,
        true,
    ),
    (
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        1.0,
        true,
    ),
    (
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        1.0,
        true,
    ),
    (
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        1.0,
        true,
    ),
    (
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        0.001,
        true,
    ),
    (
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully",
        1.0,
        true,
    ),
    (
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        0.001,
        true,
    ),
];

/// udev's ATA properties and node_exporter's names for them.
const ATA: [(&str, &str, &str); 3] = [
    (
        "ID_ATA_ROTATION_RATE_RPM",
        "node_disk_ata_rotation_rate_rpm",
        "ATA disk rotation rate in RPMs (0 for SSDs).",
    ),
    (
        "ID_ATA_WRITE_CACHE",
        "node_disk_ata_write_cache",
        "ATA disk has a write cache.",
    ),
    (
        "ID_ATA_WRITE_CACHE_ENABLED",
        "node_disk_ata_write_cache_enabled",
        "ATA disk has its write cache enabled.",
    ),
];

/// The `E:` properties of a device in udev's database; empty when it has no entry.
fn udev(dir: &Path, major: &str, minor: &str) -> HashMap<String, String> {
    let Ok(text) = std::fs::read_to_string(dir.join(format!("b{major}:{minor}"))) else {
        return HashMap::new();
    };
    text.lines()
        .filter_map(|l| l.strip_prefix("E:"))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn collect(
    proc: &Path,
    udev_dir: &Path,
    filter: &DeviceFilter,
    out: &mut Vec<Family>,
) -> Result<(), CollectError> {
    let path = proc.join("diskstats");
    let text = read_file(&path)?;
    let mut stats: Vec<Family> = STATS
        .iter()
        .map(|(n, h, _, c)| if *c { counter(*n, *h) } else { gauge(*n, *h) })
        .collect();
    let mut info = gauge("node_disk_info", "Info of /sys/block/<block_device>.");
    let mut fs_info = gauge("node_disk_filesystem_info", "Info about disk filesystem.");
    let mut dm_info = gauge("node_disk_device_mapper_info", "Info about disk device mapper.");
    let mut ata: Vec<Family> = ATA.iter().map(|(_, n, h)| gauge(*n, *h)).collect();
    for line in text.lines() {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        if f.len() < 14 {
            if f.is_empty() {
                continue;
            }
            return Err(CollectError::parse(&path, format!("short line {line:?}")));
        }
        let (major, minor, dev) = (f[0], f[1], f[2]);
        if filter.ignored(dev) {
            continue;
        }
        let props = udev(udev_dir, major, minor);
        let p = |k: &str| props.get(k).cloned().unwrap_or_default();
        let serial = props
            .get("SCSI_IDENT_SERIAL")
            .cloned()
            .unwrap_or_else(|| p("ID_SERIAL_SHORT"));
        info.push(
            vec![
                ("device", dev.to_string()),
                ("major", major.to_string()),
                ("minor", minor.to_string()),
                ("model", p("ID_MODEL")),
                ("path", p("ID_PATH")),
                ("revision", p("ID_REVISION")),
                ("serial", serial),
                ("wwn", p("ID_WWN")),
            ],
            1.0,
        );
        for ((_, _, factor, _), (fam, raw)) in STATS.iter().zip(stats.iter_mut().zip(&f[3..])) {
            let v: u64 = raw
                .parse()
                .map_err(|_| CollectError::parse(&path, format!("bad value {raw:?} for {dev}")))?;
            fam.push(vec![("device", dev.to_string())], v as f64 * factor);
        }
        if !p("ID_FS_TYPE").is_empty() {
            fs_info.push(
                vec![
                    ("device", dev.to_string()),
                    ("type", p("ID_FS_TYPE")),
                    ("usage", p("ID_FS_USAGE")),
                    ("uuid", p("ID_FS_UUID")),
                    ("version", p("ID_FS_VERSION")),
                ],
                1.0,
            );
        }
        if !p("DM_NAME").is_empty() {
            dm_info.push(
                vec![
                    ("device", dev.to_string()),
                    ("lv_layer", p("DM_LV_LAYER")),
                    ("lv_name", p("DM_LV_NAME")),
                    ("name", p("DM_NAME")),
                    ("uuid", p("DM_UUID")),
                    ("vg_name", p("DM_VG_NAME")),
                ],
                1.0,
            );
        }
        if !p("ID_ATA").is_empty() {
            for ((key, _, _), fam) in ATA.iter().zip(ata.iter_mut()) {
                if let Some(v) = props.get(*key).and_then(|v| v.parse::<f64>().ok()) {
                    fam.push(vec![("device", dev.to_string())], v);
                }
            }
        }
    }
    out.push(info);
    out.extend(stats);
    out.extend([fs_info, dm_info]);
    out.extend(ata);
    Ok(())
}

//! Storage beyond the block counters: node_exporter's `mdadm` (software RAID from
//! `/proc/mdstat`), `nvme` (controller info), `tapestats` (SCSI tape drives) and
//! `fibrechannel` (FC host adapters) collectors. Each is absent on most gateways; then it costs
//! one failed open or `stat` per cycle and reports node_exporter's "no data".

use std::path::Path;

use super::read::{counter, dir_names, gauge, no_data, read_attr, read_or_no_data, CollectError};
use crate::config::sample::DeviceFilter;
use crate::model::Family;

/// One array of `/proc/mdstat`, as node_exporter's procfs library reads it.
#[derive(Debug, PartialEq)]
struct Md {
    name: String,
    state: &'static str,
    active: u64,
    failed: u64,
    spare: u64,
    total: u64,
    blocks: u64,
    synced: u64,
}

fn parse_mdstat(path: &Path, text: &str) -> Result<Vec<Md>, CollectError> {
    let err = |d: String| CollectError::parse(path, d);
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty()
            || line.starts_with(' ')
            || line.starts_with("Personalities")
            || line.starts_with("unused")
        {
            continue;
        }
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() < 3 {
            return Err(err(format!("not enough fields in {line:?}")));
        }
        if lines.len() <= i + 3 {
            return Err(err(format!("too few lines for {}", fields[0])));
        }
        let failed = line.matches("(F)").count() as u64;
        let spare = line.matches("(S)").count() as u64;
        let status = lines[i + 1];
        let blocks: u64 = status
            .split_ascii_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| err(format!("unexpected status line {status:?}")))?;
        let (active, total) = if line.contains("raid0") || line.contains("linear") {
            let n = line.matches('[').count() as u64;
            (n, n)
        } else if line.contains("inactive") {
            (0, 0)
        } else {
            // "... [2/1] [U_]"
            let counts = status
                .split_ascii_whitespace()
                .filter_map(|w| w.strip_prefix('[')?.strip_suffix(']')?.split_once('/'))
                .find_map(|(t, a)| Some((a.parse::<u64>().ok()?, t.parse::<u64>().ok()?)));
            counts.ok_or_else(|| err(format!("no disk counts in {status:?}")))?
        };
        let mut sync_line = lines[i + 2];
        if sync_line.contains("bitmap") {
            sync_line = lines.get(i + 3).copied().unwrap_or("");
        }
        let mut state = match fields[2] {
            "active" => "active",
            "inactive" => "inactive",
            _ => "",
        };
        let mut synced = blocks;
        let recovering = sync_line.contains("recovery");
        let checking = sync_line.contains("check");
        if recovering || sync_line.contains("resync") || checking {
            state = if recovering {
                "recovering"
            } else if checking {
                "checking"
            } else {
                "resyncing"
            };
            synced = if sync_line.contains("PENDING") || sync_line.contains("DELAYED") {
                0
            } else {
                // "(16775552/195310144)"
                sync_line
                    .split_once('(')
                    .and_then(|(_, r)| r.split_once('/'))
                    .and_then(|(n, _)| n.parse().ok())
                    .ok_or_else(|| err(format!("unexpected sync line {sync_line:?}")))?
            };
        }
        out.push(Md {
            name: fields[0].to_string(),
            state,
            active,
            failed,
            spare,
            total,
            blocks,
            synced,
        });
    }
    Ok(out)
}

pub fn mdadm(proc: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let path = proc.join("mdstat");
    let text = read_or_no_data(&path)?;
    let mds = parse_mdstat(&path, &text)?;
    let mut required = gauge("node_md_disks_required", "Total number of disks of device.");
    let mut disks = gauge("node_md_disks", "Number of active/failed/spare disks of device.");
    let mut state = gauge("node_md_state", "Indicates the state of md-device.");
    let mut blocks = gauge("node_md_blocks", "Total number of blocks on device.");
    let mut synced = gauge("node_md_blocks_synced", "Number of blocks synced on device.");
    for md in mds {
        let d = || vec![("device", md.name.clone())];
        required.push(d(), md.total as f64);
        for (s, v) in [("active", md.active), ("failed", md.failed), ("spare", md.spare)] {
            disks.push(
                vec![("device", md.name.clone()), ("state", s.to_string())],
                v as f64,
            );
        }
        for (s, label) in [
            ("active", "active"),
            ("inactive", "inactive"),
            ("recovering", "recovering"),
            ("resyncing", "resync"),
            ("checking", "check"),
        ] {
            state.push(
                vec![("device", md.name.clone()), ("state", label.to_string())],
                if md.state == s { 1.0 } else { 0.0 },
            );
        }
        blocks.push(d(), md.blocks as f64);
        synced.push(d(), md.synced as f64);
    }
    out.extend([required, disks, state, blocks, synced]);
    Ok(())
}

pub fn nvme(sys: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let class = sys.join("class/nvme");
    if !class.is_dir() {
        return Err(no_data(&class));
    }
    let mut info = gauge(
        "node_nvme_info",
        "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
    );
    for dev in dir_names(&class) {
        let d = class.join(&dev);
        let a = |f: &str| read_attr(&d.join(f)).unwrap_or_default();
        info.push(
            vec![
                ("device", dev.clone()),
                ("firmware_revision", a("firmware_rev")),
                ("model", a("model")),
                ("serial", a("serial")),
                ("state", a("state")),
            ],
            1.0,
        );
    }
    out.push(info);
    Ok(())
}

pub fn tapestats(sys: &Path, filter: &DeviceFilter, out: &mut Vec<Family>) -> Result<(), CollectError> {
    const STATS: [(&str, &str, f64, &str); 10] = [
        ("in_flight", "node_tape_io_now", 1.0, "The number of I/Os currently outstanding to this device."),
        ("io_ns", "node_tape_io_time_seconds_total", 1e-9, "The amount of time spent waiting for all I/O to complete (including read and write). This includes tape movement commands such as seeking between file or set marks and implicit tape movement such as when rewind on close tape devices are used."),
        ("other_cnt", "node_tape_io_others_total", 1.0, "The number of I/Os issued to the tape drive other than read or write commands. The time taken to complete these commands uses the following calculation io_time_seconds_total-read_time_seconds_total-write_time_seconds_total"),
        ("read_byte_cnt", "node_tape_read_bytes_total", 1.0, "The number of bytes read from the tape drive."),
        ("read_cnt", "node_tape_reads_completed_total", 1.0, "The number of read requests issued to the tape drive."),
        ("read_ns", "node_tape_read_time_seconds_total", 1e-9, "The amount of time spent waiting for read requests to complete."),
        ("resid_cnt", "node_tape_residual_total", 1.0, "The number of times during a read or write we found the residual amount to be non-zero. This should mean that a program is issuing a read larger thean the block size on tape. For write not all data made it to tape."),
        ("write_byte_cnt", "node_tape_written_bytes_total", 1.0, "The number of bytes written to the tape drive."),
        ("write_cnt", "node_tape_writes_completed_total", 1.0, "The number of write requests issued to the tape drive."),
        ("write_ns", "node_tape_write_time_seconds_total", 1e-9, "The amount of time spent waiting for write requests to complete."),
    ];
    let class = sys.join("class/scsi_tape");
    if !class.is_dir() {
        return Err(no_data(&class));
    }
    let mut fams: Vec<Family> = STATS
        .iter()
        .map(|(f, n, _, h)| {
            if *f == "in_flight" {
                gauge(*n, *h)
            } else {
                counter(*n, *h)
            }
        })
        .collect();
    for dev in dir_names(&class) {
        // st0, not its mode variants (st0a, st0l, st0m) or the no-rewind nodes (nst0).
        if !dev
            .strip_prefix("st")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            || filter.ignored(&dev)
        {
            continue;
        }
        let stats = class.join(&dev).join("stats");
        for ((file, _, factor, _), fam) in STATS.iter().zip(fams.iter_mut()) {
            if let Some(v) = read_attr(&stats.join(file)).and_then(|v| v.parse::<u64>().ok()) {
                fam.push(vec![("device", dev.clone())], v as f64 * factor);
            }
        }
    }
    out.extend(fams);
    Ok(())
}

pub fn fibrechannel(sys: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    const STATS: [(&str, &str, &str); 13] = [
        ("error_frames", "error_frames_total", "Number of errors in frames"),
        (
            "fcp_packet_aborts",
            "fcp_packet_aborts_total",
            "Number of aborted packets",
        ),
        (
            "invalid_crc_count",
            "invalid_crc_total",
            "Invalid Cyclic Redundancy Check count",
        ),
        (
            "invalid_tx_word_count",
            "invalid_tx_words_total",
            "Number of invalid words transmitted by host port",
        ),
        (
            "link_failure_count",
            "link_failure_total",
            "Number of times the host port link has failed",
        ),
        (
            "loss_of_signal_count",
            "loss_of_signal_total",
            "Number of times signal has been lost",
        ),
        (
            "loss_of_sync_count",
            "loss_of_sync_total",
            "Number of failures on either bit or transmission word boundaries",
        ),
        (
            "nos_count",
            "nos_total",
            "Number Not_Operational Primitive Sequence received by host port",
        ),
        ("rx_frames", "rx_frames_total", "Number of frames received"),
        (
            "rx_words",
            "rx_words_total",
            "Number of words received by host port",
        ),
        (
            "seconds_since_last_reset",
            "seconds_since_last_reset_total",
            "Number of seconds since last host port reset",
        ),
        (
            "tx_frames",
            "tx_frames_total",
            "Number of frames transmitted by host port",
        ),
        (
            "tx_words",
            "tx_words_total",
            "Number of words transmitted by host port",
        ),
    ];
    let class = sys.join("class/fc_host");
    if !class.is_dir() {
        return Err(no_data(&class));
    }
    let mut fams: Vec<Family> = STATS
        .iter()
        .map(|(_, n, h)| counter(format!("node_fibrechannel_{n}"), *h))
        .collect();
    let mut info = gauge(
        "node_fibrechannel_info",
        "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
    );
    for host in dir_names(&class) {
        let d = class.join(&host);
        let a = |f: &str| read_attr(&d.join(f)).unwrap_or_default();
        let hex = |f: &str| {
            let v = a(f);
            v.strip_prefix("0x").map(str::to_string).unwrap_or(v)
        };
        info.push(
            vec![
                ("dev_loss_tmo", a("dev_loss_tmo")),
                ("fabric_name", hex("fabric_name")),
                ("fc_host", host.clone()),
                ("port_id", hex("port_id")),
                ("port_name", hex("port_name")),
                ("port_state", a("port_state")),
                ("port_type", a("port_type")),
                ("speed", a("speed")),
                ("supported_classes", a("supported_classes")),
                ("supported_speeds", a("supported_speeds")),
                ("symbolic_name", a("symbolic_name")),
            ],
            1.0,
        );
        for ((file, _, _), fam) in STATS.iter().zip(fams.iter_mut()) {
            let raw = read_attr(&d.join("statistics").join(file));
            let v = raw.as_deref().and_then(|r| match r.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16).ok(),
                None => r.parse().ok(),
            });
            if let Some(v) = v {
                fam.push(vec![("fc_host", host.clone())], v as f64);
            }
        }
    }
    out.push(info);
    out.extend(fams);
    Ok(())
}

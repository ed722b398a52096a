//! node_exporter 1.5's own end-to-end fixtures (`../shared/data/node_exporter-1.5.0/`: its
//! `proc/` tree, `sys.ttar`, `udev.ttar`, the textfile directory and `e2e-output.txt`, which is
//! what node_exporter served for them): outpost pointed at the same files serves the same series
//! — name, labels, value, help text and type — for every default collector it implements.
//!
//! The e2e run enables collectors that are not default (buddyinfo, drbd, mountstats, …) and
//! sets flags; families of non-default collectors are not compared, and flags that change a
//! default collector's output are mirrored by the outpost setting of the same meaning (the
//! config below says which).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// The default collectors compared, each with the families it owns in the e2e output.
/// Families left out on purpose say why.
const COMPARED: &[(&str, &str)] = &[
    // node_cpu_info, _flag_info, _bug_info need --collector.cpu.info (not default).
    (
        "cpu",
        "^node_cpu_(seconds_total|guest_seconds_total|core_throttles_total|package_throttles_total|isolated)$",
    ),
    ("cpufreq", "^node_cpu_(frequency|scaling)_"),
    ("diskstats", "^node_disk_"),
    ("dmi", "^node_dmi_"),
    ("edac", "^node_edac_"),
    ("os", "^node_os_"),
    ("powersupplyclass", "^node_power_supply_"),
    ("rapl", "^node_rapl_"),
    // node_textfile_mtime_seconds is filtered by the e2e script.
    ("textfile", "^(node_textfile_scrape_error|testmetric.*)$"),
    ("bonding", "^node_bonding_"),
    ("fibrechannel", "^node_fibrechannel_"),
    ("mdadm", "^node_md_"),
    ("nvme", "^node_nvme_"),
    ("tapestats", "^node_tape_"),
    ("ipvs", "^node_ipvs_"),
    ("nfs", "^node_nfs_"),
    ("nfsd", "^node_nfsd_"),
    ("xfs", "^node_xfs_"),
    ("zfs", "^node_zfs_"),
    ("infiniband", "^node_infiniband_"),
    ("bcache", "^node_bcache_"),
    ("btrfs", "^node_btrfs_"),
    ("hwmon", "^node_hwmon_"),
    (
        "netclass",
        "^node_network_(up|info|address_assign_type|carrier|carrier_(up_|down_)?changes_total|device_id|dormant|flags|iface_id|iface_link|iface_link_mode|mtu_bytes|name_assign_type|net_dev_group|speed_bytes|transmit_queue_length|protocol_type)$",
    ),
    ("arp", "^node_arp_"),
    ("conntrack", "^node_nf_conntrack_"),
    ("entropy", "^node_entropy_"),
    ("filefd", "^node_filefd_"),
    ("netstat", "^node_netstat_"),
    ("pressure", "^node_pressure_"),
    ("schedstat", "^node_schedstat_"),
    ("selinux", "^node_selinux_"),
    ("sockstat", "^node_sockstat_"),
    ("softnet", "^node_softnet_"),
    ("udp_queues", "^node_udp_queues$"),
    ("vmstat", "^node_vmstat_"),
    ("loadavg", "^node_load(1|5|15)$"),
    // node_memory_numa_* are meminfo_numa's (not default).
    ("meminfo", "^node_memory_[A-Z]"),
    // netdev is not compared: node_exporter 1.5 reads it over netlink from the live host (the
    // e2e output holds the test machine's `lo`), not from the fixture's procfs. The live
    // parity test covers it.
    // node_softirqs_total needs --collector.stat.softirq (not default).
    (
        "stat",
        "^node_(boot_time_seconds|context_switches_total|forks_total|intr_total|procs_blocked|procs_running)$",
    ),
    ("thermal_zone", "^node_(thermal_zone_temp|cooling_device_)"),
    // node_time_seconds and node_time_zone_offset_seconds are filtered by the e2e script.
    ("time", "^node_time_clocksource_"),
];

/// Families of the e2e output that only a non-default flag produces.
const NOT_DEFAULT: &[(&str, &str)] = &[("^node_bcache_priority_stats_", "--collector.bcache.priorityStats")];

fn fixtures() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/node_exporter-1.5.0");
    assert!(
        root.join("collector/fixtures/e2e-output.txt").is_file(),
        "node_exporter's e2e fixtures are missing at {} (they come with the shared data)",
        root.display()
    );
    root
}

/// Unpacks a ttar archive of the fixtures (sys.ttar, udev.ttar) with node_exporter's own script.
fn untar(root: &Path, archive: &str, into: &Path) {
    let out = Command::new("bash")
        .arg(root.join("ttar"))
        .arg("-C")
        .arg(into)
        .arg("-x")
        .arg("-f")
        .arg(root.join("collector/fixtures").join(archive))
        .output()
        .expect("run bash ttar");
    assert!(
        out.status.success(),
        "ttar {archive}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[derive(Default, Debug)]
struct Fam {
    help: String,
    kind: String,
    series: BTreeMap<Vec<(String, String)>, f64>,
}

fn families(text: &str) -> BTreeMap<String, Fam> {
    let mut out: BTreeMap<String, Fam> = BTreeMap::new();
    for l in text.lines() {
        if let Some(h) = l.strip_prefix("# HELP ") {
            let (n, h) = h.split_once(' ').unwrap_or((h, ""));
            out.entry(n.to_string()).or_default().help = h.to_string();
        } else if let Some(t) = l.strip_prefix("# TYPE ") {
            let (n, t) = t.split_once(' ').unwrap_or((t, ""));
            out.entry(n.to_string()).or_default().kind = t.to_string();
        }
    }
    for ((name, labels), v) in parse_exposition(text) {
        out.entry(name).or_default().series.insert(labels, v);
    }
    out
}

#[test]
fn the_default_collectors_reproduce_node_exporters_e2e_output() {
    let root = fixtures();
    let fx = root.join("collector/fixtures");
    let dir = TempDir::new("ne-e2e");
    untar(&root, "sys.ttar", dir.path());
    untar(&root, "udev.ttar", dir.path());
    let port = free_port();
    let cfg = write_config(
        dir.path(),
        port,
        &format!(
            "[sample]\ninterval = \"1h\"\nproc_path = \"{}\"\nsys_path = \"{}\"\n\
             udev_data_path = \"{}\"\n\
             rootfs_path = \"{}\"\n\n\
             # --collector.textfile.directory=\"collector/fixtures/textfile/two_metric_files/\"\n\
             [sample.textfile]\ndirectory = \"{}\"\n\n\
             # --collector.netdev.device-include=\"lo\"\n\
             [sample.netdev]\ndevice_include = \"lo\"\n\
             # --collector.arp.device-exclude=\"nope\"\n\
             [sample.arp]\ndevice_exclude = \"nope\"\n\
             # --collector.netclass.ignored-devices=\"(dmz|int)\" --collector.netclass.ignore-invalid-speed\n\
             [sample.netclass]\ndevice_exclude = \"(dmz|int)\"\nignore_invalid_speed = true\n",
            fx.join("proc").display(),
            dir.path().join("sys").display(),
            dir.path().join("udev/data").display(),
            fx.display(),
            fx.join("textfile/two_metric_files").display(),
        ),
    );
    let _agent = start_outpost(&cfg, port);
    let addr = format!("127.0.0.1:{port}");
    let ours = wait_for("the first host sample", Duration::from_secs(20), || {
        let body = http_get(&addr, "/metrics").ok()?.body;
        body.contains("\nnode_load1 ").then_some(body)
    });
    let expected = std::fs::read_to_string(fx.join("e2e-output.txt")).unwrap();
    let theirs = families(&expected);
    // Label values that hold a path (rapl's `path`) name the fixture as node_exporter was given it.
    let ours = families(
        &ours
            .replace(&dir.path().display().to_string(), "collector/fixtures")
            .replace(&fx.display().to_string(), "collector/fixtures"),
    );

    let mut problems = Vec::new();
    let mut compared = 0;
    for (collector, pattern) in COMPARED {
        let re = regex::Regex::new(pattern).unwrap();
        let skipped = |n: &str| {
            NOT_DEFAULT
                .iter()
                .any(|(p, _)| regex::Regex::new(p).unwrap().is_match(n))
        };
        let names: BTreeSet<&String> = theirs
            .keys()
            .chain(ours.keys())
            .filter(|n| re.is_match(n) && !skipped(n))
            .collect();
        assert!(!names.is_empty(), "{collector}: no family matches {pattern}");
        for name in names {
            let (Some(t), Some(o)) = (theirs.get(name), ours.get(name)) else {
                problems.push(format!(
                    "{collector}: {name} only in {}",
                    if theirs.contains_key(name) {
                        "node_exporter"
                    } else {
                        "outpost"
                    }
                ));
                continue;
            };
            compared += t.series.len();
            if t.help != o.help {
                problems.push(format!("{collector}: {name} help {:?} != {:?}", o.help, t.help));
            }
            if t.kind != o.kind {
                problems.push(format!("{collector}: {name} type {} != {}", o.kind, t.kind));
            }
            for (labels, v) in &t.series {
                match o.series.get(labels) {
                    None => problems.push(format!("{collector}: missing {name}{labels:?} {v}")),
                    Some(ov) if ov != v && !(ov.is_nan() && v.is_nan()) => {
                        problems.push(format!("{collector}: {name}{labels:?} = {ov}, want {v}"))
                    }
                    Some(_) => {}
                }
            }
            for labels in o.series.keys().filter(|l| !t.series.contains_key(*l)) {
                problems.push(format!("{collector}: extra {name}{labels:?}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences from node_exporter's e2e output ({compared} series compared):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

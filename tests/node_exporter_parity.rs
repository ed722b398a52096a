//! outpost's host metrics against a real `prometheus-node-exporter` (Debian package) on the
//! same machine: the same families, types, help texts and label sets, and the same values
//! (counters bracketed by two outpost samples taken before and after node_exporter's read).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;

/// The node_exporter collectors outpost implements, with node_exporter 1.5's upstream
/// defaults for the filesystem and netdev filters (Debian patches both defaults).
const COLLECTORS: &[&str] = &[
    "arp",
    "conntrack",
    "cpu",
    "cpufreq",
    "diskstats",
    "dmi",
    "edac",
    "entropy",
    "filefd",
    "filesystem",
    "hwmon",
    "loadavg",
    "meminfo",
    "netclass",
    "netdev",
    "netstat",
    "os",
    "powersupplyclass",
    "pressure",
    "rapl",
    "schedstat",
    "selinux",
    "sockstat",
    "softnet",
    "stat",
    "textfile",
    "thermal_zone",
    "time",
    "timex",
    "udp_queues",
    "uname",
    "vmstat",
];

fn start_node_exporter(port: u16) -> Proc {
    let mut args = vec![
        "--collector.disable-defaults".to_string(),
        format!(
            "--collector.filesystem.mount-points-exclude={}",
            outpost::config::sample::DEFAULT_MOUNT_POINTS_EXCLUDE
        ),
        format!(
            "--collector.filesystem.fs-types-exclude={}",
            outpost::config::sample::DEFAULT_FS_TYPES_EXCLUDE
        ),
        "--collector.netdev.device-exclude=".to_string(),
    ];
    args.extend(COLLECTORS.iter().map(|c| format!("--collector.{c}")));
    node_exporter(port, &args)
}

type Samples = BTreeMap<Key, f64>;

fn family<'a>(s: &'a Samples, name: &str) -> BTreeMap<&'a Vec<(String, String)>, f64> {
    s.iter()
        .filter(|((n, _), _)| n == name)
        .map(|((_, l), v)| (l, *v))
        .collect()
}

fn helps(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# HELP "))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, h)| (n.to_string(), h.to_string()))
        .collect()
}

fn one(s: &Samples, name: &str) -> f64 {
    *s.get(&(name.to_string(), Vec::new()))
        .unwrap_or_else(|| panic!("{name} missing"))
}

#[test]
fn host_metrics_match_node_exporter() {
    let ne_port = free_port();
    let _ne = start_node_exporter(ne_port);
    let dir = TempDir::new("parity");
    let port = free_port();
    let cfg = write_config(dir.path(), port, "[sample]\ninterval = \"500ms\"\n");
    let _agent = start_outpost(&cfg, port);
    let o_addr = format!("127.0.0.1:{port}");
    let n_addr = format!("127.0.0.1:{ne_port}");

    // o1 sampled before node_exporter reads, o2 after: counters must be bracketed.
    let (o1_text, n_text, o2_text) =
        wait_for("a bracketing pair of samples", Duration::from_secs(20), || {
            let o1 = http_get(&o_addr, "/metrics").ok()?.body;
            let n = http_get(&n_addr, "/metrics").ok()?.body;
            std::thread::sleep(Duration::from_millis(700));
            let o2 = http_get(&o_addr, "/metrics").ok()?.body;
            let t = |text: &str| one(&parse_exposition(text), "node_time_seconds");
            (t(&o1) < t(&n) && t(&n) < t(&o2)).then_some((o1, n, o2))
        });
    let (o1, n, o2) = (
        parse_exposition(&o1_text),
        parse_exposition(&n_text),
        parse_exposition(&o2_text),
    );

    // Families, types and help texts: every node_* family node_exporter reports for these
    // collectors, outpost reports too, with the same type and help.
    let ours: BTreeSet<&String> = o2
        .keys()
        .map(|(n, _)| n)
        .filter(|n| n.starts_with("node_"))
        .collect();
    let theirs: BTreeSet<&String> = n
        .keys()
        .map(|(n, _)| n)
        .filter(|n| {
            n.starts_with("node_") && !n.starts_with("node_scrape_") && *n != "node_exporter_build_info"
        })
        .collect();
    let missing: Vec<_> = theirs.difference(&ours).collect();
    assert!(
        missing.is_empty(),
        "families node_exporter has and outpost lacks: {missing:?}"
    );
    let (our_types, their_types) = (parse_types(&o2_text), parse_types(&n_text));
    let (our_help, their_help) = (helps(&o2_text), helps(&n_text));
    for name in &theirs {
        assert_eq!(our_types.get(*name), their_types.get(*name), "TYPE of {name}");
        assert_eq!(our_help.get(*name), their_help.get(*name), "HELP of {name}");
    }

    // Label sets: identical for every family both have.
    for name in &theirs {
        let a: BTreeSet<_> = family(&o2, name).into_keys().collect();
        let b: BTreeSet<_> = family(&n, name).into_keys().collect();
        assert_eq!(a, b, "label sets of {name}");
    }

    // Values.
    let mut checked = 0;
    for ((name, labels), nv) in &n {
        if !theirs.contains(name) {
            continue;
        }
        let key = (name.clone(), labels.clone());
        let (Some(&a), Some(&b)) = (o1.get(&key), o2.get(&key)) else {
            panic!("{name}{labels:?} missing from an outpost sample");
        };
        let (lo, hi) = (a.min(b), a.max(b));
        let ctx = format!("{name}{labels:?}: outpost {a}..{b}, node_exporter {nv}");
        let counter = their_types.get(name).map(String::as_str) == Some("counter");
        let exact = [
            "node_boot_time_seconds",
            "node_memory_MemTotal_bytes",
            "node_filesystem_size_bytes",
            "node_filesystem_files",
            "node_filesystem_readonly",
            "node_filesystem_device_error",
            "node_uname_info",
        ];
        if counter {
            // USER_HZ rounding: one tick of slack for CPU seconds.
            let eps = if name.starts_with("node_cpu") { 0.011 } else { 0.0 };
            assert!(lo - eps <= *nv && *nv <= hi + eps, "counter not bracketed: {ctx}");
        } else if exact.contains(&name.as_str()) {
            assert_eq!(a, *nv, "{ctx}");
        } else if name == "node_time_seconds" {
            assert!(lo <= *nv && *nv <= hi, "{ctx}");
        } else if name.starts_with("node_load") {
            assert!((lo - 0.5..=hi + 0.5).contains(nv), "{ctx}");
        } else if name.ends_with("_bytes") {
            let tol = 64.0 * 1024.0 * 1024.0;
            assert!(lo - tol <= *nv && *nv <= hi + tol, "{ctx}");
        } else if name.starts_with("node_procs_") {
            assert!((nv - a).abs() <= 16.0, "{ctx}");
        } else {
            let tol = (nv.abs() * 0.05).max(1024.0);
            assert!(lo - tol <= *nv && *nv <= hi + tol, "{ctx}");
        }
        checked += 1;
    }
    assert!(checked > 100, "only {checked} samples compared");

    // Collector success as node_exporter reports it: 0 where this host lacks the files (no
    // btrfs, no NFS …), 1 elsewhere.
    for c in COLLECTORS {
        let key = (
            "node_scrape_collector_success".to_string(),
            vec![("collector".to_string(), c.to_string())],
        );
        assert_eq!(o2.get(&key), n.get(&key), "node_scrape_collector_success of {c}");
    }

    // The families the product promises are all there.
    for want in [
        "node_cpu_seconds_total",
        "node_memory_MemAvailable_bytes",
        "node_filesystem_avail_bytes",
        "node_filesystem_files_free",
        "node_filesystem_readonly",
        "node_network_receive_bytes_total",
        "node_network_transmit_drop_total",
        "node_load15",
        "node_boot_time_seconds",
        "node_time_seconds",
        "node_uname_info",
    ] {
        assert!(ours.contains(&want.to_string()), "{want} missing");
    }
    let modes: BTreeSet<String> = family(&o2, "node_cpu_seconds_total")
        .keys()
        .filter_map(|l| l.iter().find(|(k, _)| k == "mode").map(|(_, v)| v.clone()))
        .collect();
    assert_eq!(
        modes,
        ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]
            .map(String::from)
            .into()
    );
}

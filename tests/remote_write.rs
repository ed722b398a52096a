//! remote_write against a real Prometheus 2.42 (Debian package) started with
//! `--web.enable-remote-write-receiver` and an out-of-order window: the series arrive with the
//! right labels and values, node_exporter-style rules and PromQL work on them, a vanished
//! series ends at once (stale marker), and an outage — with a `kill -9` of the agent inside it
//! — is filled from the backlog while live data goes first.
//!
//! Error paths a real Prometheus does not produce on demand (400, 429 with Retry-After, 500,
//! slow answers) run against the scripted receiver in `common::prom`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::prom::*;
use common::*;
use outpost::sinks::remote_write::proto::{decode, WriteRequest};

const RULES: &str = r#"groups:
  - name: node-exporter-style
    rules:
      - alert: HostMemoryUsageHigh
        expr: (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) * 100 > 0
        labels:
          severity: warning
      - record: instance:node_cpu_busy:rate1m
        expr: sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[1m]))
"#;

fn config(dir: &Path, port: u16, id: &str, sample_extra: &str, rw: &str) -> PathBuf {
    let path = dir.join("outpost.toml");
    std::fs::write(
        &path,
        format!(
            "[agent]\nid = \"{id}\"\ndata_dir = \"{}\"\n\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [sample]\ninterval = \"1s\"\n{sample_extra}\n\n[store]\ncommit_interval = \"200ms\"\n\n\
             [remote_write]\nretry_min = \"100ms\"\nretry_max = \"1s\"\n{rw}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn series_rules_and_staleness_in_a_real_prometheus() {
    let dir = TempDir::new("rw-prom");
    let prom = Prometheus::new(dir.path(), RULES);
    let sys = fake_sys(dir.path());
    let port = free_port();
    let cfg = config(
        dir.path(),
        port,
        "gw-rw",
        &format!("sys_path = \"{}\"", sys.display()),
        &format!(
            "url = \"{}\"\nexternal_labels = {{ site = \"lab\" }}\n",
            prom.write_url()
        ),
    );
    let _agent = start_outpost(&cfg, port);

    // Values and labels as node_exporter users expect them.
    let total = wait_for("MemTotal in Prometheus", Duration::from_secs(30), || {
        prom.value(r#"node_memory_MemTotal_bytes{job="node",instance="gw-rw",site="lab"}"#)
    });
    assert_eq!(total, mem_total_bytes());
    let series = prom.query(r#"node_memory_MemTotal_bytes{instance="gw-rw"}"#);
    let labels: BTreeSet<&str> = series[0]["metric"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(labels, BTreeSet::from(["__name__", "instance", "job", "site"]));

    // rate() over counters, and a recording rule written for node_exporter.
    let cpus = wait_for(
        "rate(node_cpu_seconds_total[1m])",
        Duration::from_secs(30),
        || {
            let r = prom.query(r#"rate(node_cpu_seconds_total{instance="gw-rw"}[1m])"#);
            (!r.is_empty()).then_some(r)
        },
    );
    let modes: BTreeSet<String> = cpus
        .iter()
        .map(|s| s["metric"]["mode"].as_str().unwrap().to_string())
        .collect();
    assert!(modes.contains("idle") && modes.contains("user"), "{modes:?}");
    for s in &cpus {
        let v: f64 = s["value"][1].as_str().unwrap().parse().unwrap();
        assert!(
            (0.0..=1.5).contains(&v),
            "a per-cpu rate in seconds per second: {s}"
        );
    }
    wait_for("the recording rule's result", Duration::from_secs(30), || {
        prom.value(r#"instance:node_cpu_busy:rate1m{instance="gw-rw"}"#)
    });

    // The alert rule loads, evaluates against outpost's data and fires for this gateway.
    let alert = wait_for("HostMemoryUsageHigh firing", Duration::from_secs(30), || {
        let alerts = prom.api("alerts", "");
        alerts["alerts"].as_array().and_then(|a| {
            a.iter()
                .find(|x| {
                    x["labels"]["alertname"] == "HostMemoryUsageHigh"
                        && x["labels"]["instance"] == "gw-rw"
                        && x["state"] == "firing"
                })
                .cloned()
        })
    });
    let used: f64 = alert["value"].as_str().unwrap().parse().unwrap();
    assert!(used > 0.0 && used < 100.0, "memory used {used}%");
    let rules = prom.api("rules", "");
    for r in rules["groups"][0]["rules"].as_array().unwrap() {
        assert_eq!(r["health"], "ok", "{r}");
    }

    // The agent's own metrics travel too.
    let sent = wait_for(
        "outpost_remote_write_samples_total",
        Duration::from_secs(30),
        || prom.value(r#"outpost_remote_write_samples_total{instance="gw-rw"}"#),
    );
    assert!(sent > 0.0);

    // Unplug the sensor: the stale marker ends the series at once (without it, Prometheus
    // would show the last value for five minutes).
    let temp = r#"node_hwmon_temp_celsius{instance="gw-rw",chip="testchip",sensor="temp1"}"#;
    assert_eq!(prom.value(temp), Some(42.0));
    std::fs::remove_dir_all(sys.join("class/hwmon/hwmon0")).unwrap();
    let t = Instant::now();
    wait_for(
        "the unplugged sensor's series to end",
        Duration::from_secs(20),
        || prom.query(temp).is_empty().then_some(()),
    );
    assert!(t.elapsed() < Duration::from_secs(20));
    // The marker is in the TSDB as the series' last sample (PromQL shows it as absence).
    let raw = prom.query(&format!("{temp}[1m]"));
    assert!(!raw[0]["values"].as_array().unwrap().is_empty());
}

/// Timestamps (seconds) of the samples of `series` that Prometheus holds in `[from, to]`.
fn sample_times(prom: &Prometheus, series: &str, from: f64, to: f64) -> Vec<f64> {
    let window = (to - from).ceil() as u64 + 1;
    let data = prom.api_at("query", &format!("{series}[{window}s]"), to);
    let Some(s) = data["result"].as_array().and_then(|r| r.first()).cloned() else {
        return Vec::new();
    };
    s["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[0].as_f64().unwrap())
        .filter(|t| *t >= from && *t <= to)
        .collect()
}

#[test]
fn an_outage_is_filled_from_the_backlog_behind_live_data() {
    let outage: u64 = std::env::var("OUTPOST_TEST_OUTAGE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let dir = TempDir::new("rw-outage");
    let mut prom = Prometheus::new(dir.path(), "");
    let port = free_port();
    // A slow backfill, so "live first" is visible from outside.
    let cfg = config(
        dir.path(),
        port,
        "gw-out",
        "",
        &format!("url = \"{}\"\nbackfill_rate = \"8KiB\"\n", prom.write_url()),
    );
    let mut agent = start_outpost(&cfg, port);
    let probe = r#"node_boot_time_seconds{instance="gw-out"}"#;
    wait_for("data in Prometheus", Duration::from_secs(30), || {
        prom.value(probe)
    });

    prom.stop();
    let t0 = now_s();
    // Half-way through the outage the agent dies without warning and comes back.
    std::thread::sleep(Duration::from_secs(outage / 2));
    agent.signal("KILL");
    agent.wait_exit(Duration::from_secs(5));
    drop(agent);
    let agent = start_outpost(&cfg, port);
    std::thread::sleep(Duration::from_secs(outage - outage / 2));
    let t1 = now_s();
    prom.start();
    let restarted = Instant::now();

    // Watch both ends: when the newest data arrives, and when the gap is complete.
    let expected = (t1 - t0 - 4.0).floor() as usize;
    let mut live_at = None;
    let mut filled_at = None;
    while restarted.elapsed() < Duration::from_secs(240) && filled_at.is_none() {
        let now = restarted.elapsed();
        let latest = prom.value(&format!("timestamp({probe})")).unwrap_or(0.0);
        if live_at.is_none() && latest > t1 {
            live_at = Some(now);
        }
        if sample_times(&prom, probe, t0 + 2.0, t1 - 2.0).len() >= expected {
            filled_at = Some(now);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let filled_at = filled_at.unwrap_or_else(|| {
        panic!(
            "the gap was not filled: {} of {expected} samples",
            sample_times(&prom, probe, t0 + 2.0, t1 - 2.0).len()
        )
    });
    let live_at = live_at.expect("live data never arrived");
    eprintln!("after the restart: live data at {live_at:?}, the gap filled at {filled_at:?}");
    assert!(
        live_at < filled_at,
        "live data first: live at {live_at:?}, gap filled at {filled_at:?}"
    );

    // Every series has its samples over the gap: one per second, less the agent's restart.
    let gap = (t0 + 2.0, t1 - 2.0);
    let times = sample_times(&prom, probe, gap.0, gap.1);
    let steps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let max_step = steps.iter().cloned().fold(0.0, f64::max);
    assert!(
        max_step <= 4.0,
        "a hole of {max_step} s in the backlog (the restart takes ~1 s)"
    );
    let counts = prom.api_at(
        "query",
        &format!(
            "count_over_time(node_cpu_seconds_total{{instance=\"gw-out\"}}[{}s])",
            (gap.1 - gap.0) as u64
        ),
        gap.1,
    );
    let counts = counts["result"].as_array().unwrap();
    assert!(!counts.is_empty());
    for c in counts {
        let n: f64 = c["value"][1].as_str().unwrap().parse().unwrap();
        assert!(
            n as usize >= expected - 1,
            "{} has {n} of ~{expected} samples",
            c["metric"]
        );
    }
    drop(agent);
}

/// Every (series, timestamp) in a request body.
fn samples(body: &[u8]) -> BTreeSet<(String, i64)> {
    let req: WriteRequest = decode(body).expect("a valid remote-write body");
    let mut out = BTreeSet::new();
    for ts in &req.timeseries {
        let name: Vec<String> = ts
            .labels
            .iter()
            .map(|l| format!("{}={}", l.name, l.value))
            .collect();
        for s in &ts.samples {
            out.insert((name.join(","), s.timestamp));
        }
    }
    out
}

fn agent_metric(port: u16, series: &str) -> f64 {
    let body = http_get(&format!("127.0.0.1:{port}"), "/metrics").unwrap().body;
    metric(&body, series).unwrap_or_else(|| panic!("{series} missing"))
}

#[test]
fn permanent_refusals_are_counted_and_passed_over() {
    let dir = TempDir::new("rw-refuse");
    let receiver = Receiver::start(|i, _| match i {
        0 => Answer::status(400).body("bad things in the request"),
        1 => Answer::status(500).body("too old sample"),
        _ => Answer::status(204),
    });
    let password = dir.path().join("password");
    std::fs::write(&password, "s3cret\n").unwrap();
    let port = free_port();
    let cfg = config(
        dir.path(),
        port,
        "gw-refuse",
        "",
        &format!(
            "url = \"{}\"\nusername = \"gw\"\npassword_file = \"{}\"\nheaders = {{ X-Scope-OrgID = \"tenant-7\" }}\n",
            receiver.url("/api/v1/write"),
            password.display()
        ),
    );
    let _agent = start_outpost(&cfg, port);
    let reqs = wait_for("five requests", Duration::from_secs(30), || {
        let r = receiver.received();
        (r.len() >= 5).then_some(r)
    });

    // The protocol's headers.
    let first = &reqs[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/api/v1/write");
    assert_eq!(first.header("Content-Encoding"), Some("snappy"));
    assert_eq!(first.header("Content-Type"), Some("application/x-protobuf"));
    assert_eq!(first.header("X-Prometheus-Remote-Write-Version"), Some("0.1.0"));
    assert!(first.header("User-Agent").unwrap().starts_with("outpost/"));
    assert_eq!(first.header("X-Scope-OrgID"), Some("tenant-7"));
    // base64("gw:s3cret")
    assert_eq!(first.header("Authorization"), Some("Basic Z3c6czNjcmV0"));

    // Refused for good: never sent again, counted by reason.
    let refused: Vec<BTreeSet<(String, i64)>> = reqs[..2].iter().map(|r| samples(&r.body)).collect();
    for later in &reqs[2..] {
        let s = samples(&later.body);
        for (i, r) in refused.iter().enumerate() {
            assert!(s.is_disjoint(r), "request {i}'s refused samples were sent again");
        }
    }
    let rejected = |reason: &str| {
        agent_metric(
            port,
            &format!("outpost_remote_write_rejected_samples_total{{reason=\"{reason}\"}}"),
        )
    };
    wait_for("rejections counted", Duration::from_secs(10), || {
        (rejected("bad_request") > 0.0).then_some(())
    });
    assert_eq!(rejected("bad_request") as usize, refused[0].len());
    assert_eq!(rejected("too_old") as usize, refused[1].len());
    assert!(agent_metric(port, "outpost_remote_write_samples_total") > 0.0);
    assert_eq!(
        agent_metric(port, "outpost_remote_write_requests_total{code=\"400\"}"),
        1.0
    );
    let log = std::fs::read_to_string(dir.path().join("outpost.log")).unwrap();
    assert!(
        log.contains("bad things in the request"),
        "the body is logged:\n{log}"
    );
}

#[test]
fn retries_honour_retry_after_and_survive_5xx_and_slow_answers() {
    let dir = TempDir::new("rw-retry");
    let receiver = Receiver::start(|i, _| match i {
        0 => Answer::status(429).header("Retry-After", "2"),
        1 => Answer::status(503).body("overloaded"),
        // Slower than the agent's timeout: the agent gives up and sends again.
        2 => Answer::status(204).delay(Duration::from_secs(3)),
        _ => Answer::status(204),
    });
    let port = free_port();
    let cfg = config(
        dir.path(),
        port,
        "gw-retry",
        "",
        &format!("url = \"{}\"\ntimeout = \"1s\"\n", receiver.url("/write")),
    );
    let mut agent = start_outpost(&cfg, port);
    wait_for("ten requests", Duration::from_secs(40), || {
        (receiver.received().len() >= 10).then_some(())
    });
    // Let what was refused or timed out come through, then stop taking new data.
    std::thread::sleep(Duration::from_secs(3));
    let code = |c: &str| {
        agent_metric(
            port,
            &format!("outpost_remote_write_requests_total{{code=\"{c}\"}}"),
        )
    };
    assert_eq!((code("429"), code("503")), (1.0, 1.0));
    assert!(
        code("error") >= 1.0,
        "the timeout counts as a request without an answer"
    );
    agent.signal("TERM");
    agent.wait_exit(Duration::from_secs(5));
    let reqs = receiver.received();

    // Retry-After: 2 holds every lane of the sink.
    let after_429 = reqs[1..].iter().map(|r| r.at - reqs[0].at).min().unwrap();
    assert!(
        after_429 >= Duration::from_millis(1900),
        "next request {after_429:?} after the 429"
    );

    // Everything answered with 429, 503 or too late is delivered by a later 2xx request.
    let delivered: BTreeSet<(String, i64)> = reqs[3..].iter().flat_map(|r| samples(&r.body)).collect();
    for (i, r) in reqs[..3].iter().enumerate() {
        let missing = samples(&r.body).difference(&delivered).count();
        assert_eq!(missing, 0, "request {i}: {missing} samples never delivered");
    }
    // No hole in the data: one boot-time sample a second from the first to the last.
    let times: Vec<i64> = delivered
        .iter()
        .filter(|(s, _)| s.starts_with("__name__=node_boot_time_seconds,"))
        .map(|(_, t)| *t)
        .collect();
    let max_step = times.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(max_step <= 1500, "a hole of {max_step} ms");
}

/// node_exporter's own example rules (shipped with Debian's package) and node-mixin style
/// alerts and dashboard queries over the new collectors, in a real Prometheus fed by outpost:
/// they load, evaluate healthy and return this gateway's series, unchanged.
#[test]
fn node_exporter_rules_and_dashboard_queries_work_unchanged() {
    let example = std::path::Path::new("/usr/share/doc/prometheus-node-exporter/examples/example-rules.yml");
    let example = std::fs::read_to_string(example).unwrap_or_else(|e| {
        panic!(
            "{}: {e} — install prometheus-node-exporter (scripts/test.sh does)",
            example.display()
        )
    });
    let mixin = r#"  - name: node-mixin-style
    rules:
      - alert: NodeClockNotSynchronising
        expr: min_over_time(node_timex_sync_status[5m]) == 0 and node_timex_maxerror_seconds >= 16
      - alert: NodeFileDescriptorLimit
        expr: node_filefd_allocated * 100 / node_filefd_maximum > 70
      - alert: NodeNetworkInterfaceFlapping
        expr: changes(node_network_up{device!~"veth.+"}[2m]) > 2
      - alert: NodeDiskIOSaturation
        expr: rate(node_disk_io_time_weighted_seconds_total[5m]) > 10
      - alert: NodeHighNumberConntrackEntriesUsed
        expr: (node_nf_conntrack_entries / node_nf_conntrack_entries_limit) > 0.75
      - alert: NodeTextFileCollectorScrapeError
        expr: node_textfile_scrape_error == 1
"#;
    let rules = format!("{}\n{mixin}", example.trim_end());
    let dir = TempDir::new("rw-mixin");
    let prom = Prometheus::new(dir.path(), &rules);
    let port = free_port();
    let cfg = config(
        dir.path(),
        port,
        "gw-mixin",
        "",
        &format!("url = \"{}\"\n", prom.write_url()),
    );
    let _agent = start_outpost(&cfg, port);
    for q in [
        r#"instance:node_cpus:count{instance="gw-mixin"}"#,
        r#"instance:node_cpu_utilization:ratio{instance="gw-mixin"}"#,
        r#"rate(node_disk_io_time_seconds_total{instance="gw-mixin"}[1m])"#,
        r#"rate(node_disk_read_bytes_total{instance="gw-mixin"}[1m])"#,
        r#"node_network_up{instance="gw-mixin"}"#,
        r#"node_network_carrier{instance="gw-mixin"}"#,
        r#"node_timex_sync_status{instance="gw-mixin"}"#,
        r#"node_filefd_allocated{instance="gw-mixin"} / node_filefd_maximum{instance="gw-mixin"}"#,
        r#"rate(node_vmstat_pgmajfault{instance="gw-mixin"}[1m])"#,
        r#"rate(node_netstat_Tcp_RetransSegs{instance="gw-mixin"}[1m])"#,
        r#"node_sockstat_TCP_inuse{instance="gw-mixin"}"#,
        r#"rate(node_softnet_processed_total{instance="gw-mixin"}[1m])"#,
        r#"node_os_info{instance="gw-mixin"}"#,
        r#"rate(node_pressure_cpu_waiting_seconds_total{instance="gw-mixin"}[1m])"#,
        r#"node_entropy_available_bits{instance="gw-mixin"}"#,
        r#"node_scrape_collector_success{instance="gw-mixin",collector="diskstats"}"#,
    ] {
        wait_for(q, Duration::from_secs(40), || {
            let r = prom.query(q);
            (!r.is_empty()).then_some(())
        });
    }
    let rules = prom.api("rules", "");
    let groups = rules["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{rules}");
    for g in groups {
        for r in g["rules"].as_array().unwrap() {
            assert_eq!(r["health"], "ok", "{r}");
        }
    }
}

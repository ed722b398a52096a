//! `[[scrape]]` against real exporters from Debian on loopback — `prometheus-node-exporter`,
//! and the own `/metrics` of `prometheus-pushgateway` and `prometheus` (which answers in
//! OpenMetrics when asked) — forwarded by remote_write into a real Prometheus 2.42: labels
//! as Prometheus would give them, counters continuous across a restart of the agent, `up` at 0
//! and the series ended (stale markers) when a target dies.
//!
//! Targets that answer garbage, too slowly, too much, or with an error run against the
//! scripted HTTP server in `common::prom`, next to a good target whose scrapes must go on.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::prom::*;
use common::*;

const ID: &str = "gw-scrape";

fn config(dir: &Path, port: u16, body: &str) -> PathBuf {
    let path = dir.join("outpost.toml");
    std::fs::write(
        &path,
        format!(
            "[agent]\nid = \"{ID}\"\ndata_dir = \"{}\"\n\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [sample]\ninterval = \"1s\"\n\n[store]\ncommit_interval = \"200ms\"\n\n{body}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    path
}

fn label_names(series: &serde_json::Value) -> BTreeSet<String> {
    series["metric"].as_object().unwrap().keys().cloned().collect()
}

#[test]
fn exporters_arrive_in_prometheus_and_counters_survive_a_restart() {
    let dir = TempDir::new("scrape-real");
    let prom = Prometheus::new(dir.path(), "");
    let pg = Pushgateway::new(dir.path());
    let ne_port = free_port();
    let _ne = node_exporter(ne_port, &[]);
    let port = free_port();
    let cfg = config(
        dir.path(),
        port,
        &format!(
            r#"[remote_write]
url = "{}"
retry_min = "100ms"
retry_max = "1s"

[[scrape]]
job = "node"
targets = ["127.0.0.1:{ne_port}"]
interval = "1s"

[[scrape]]
job = "pushgateway"
targets = ["{}"]
interval = "1s"

[[scrape]]
job = "prometheus"
targets = ["{}"]
interval = "1s"
labels = {{ site = "lab" }}
[[scrape.metric_relabel_configs]]
source_labels = ["__name__"]
regex = "go_.*"
action = "drop"
"#,
            prom.write_url(),
            pg.addr(),
            prom.addr()
        ),
    );
    let mut agent = start_outpost(&cfg, port);

    for (job, addr) in [
        ("node", format!("127.0.0.1:{ne_port}")),
        ("pushgateway", pg.addr()),
        ("prometheus", prom.addr()),
    ] {
        let q = format!(r#"up{{job="{job}",instance="{addr}",gateway="{ID}"}}"#);
        let up = wait_for(&format!("{q} in Prometheus"), Duration::from_secs(30), || {
            prom.value(&q)
        });
        assert_eq!(up, 1.0, "{q}");
    }

    // node_exporter's value, with exactly the labels Prometheus itself would give it plus the
    // gateway; the agent's own host series of the same name stay apart (instance = its id).
    let q = format!(r#"node_memory_MemTotal_bytes{{job="node",instance="127.0.0.1:{ne_port}"}}"#);
    let total = wait_for("scraped MemTotal", Duration::from_secs(20), || prom.value(&q));
    assert_eq!(total, mem_total_bytes());
    let series = prom.query(&q);
    assert_eq!(
        label_names(&series[0]),
        ["__name__", "gateway", "instance", "job"]
            .map(String::from)
            .into()
    );
    wait_for("the agent's own host series too", Duration::from_secs(20), || {
        prom.value(&format!(r#"node_memory_MemTotal_bytes{{instance="{ID}"}}"#))
    });

    // Prometheus' /metrics is OpenMetrics: histograms arrive as _bucket/_sum/_count series, the
    // static label is on them, and the relabelling rule dropped go_* for that job only.
    let q = r#"prometheus_http_request_duration_seconds_bucket{job="prometheus",le="+Inf",site="lab"}"#;
    wait_for("a scraped histogram bucket", Duration::from_secs(20), || {
        (!prom.query(q).is_empty()).then_some(())
    });
    assert!(prom.query(r#"go_goroutines{job="prometheus"}"#).is_empty());
    assert!(!prom.query(r#"go_goroutines{job="pushgateway"}"#).is_empty());
    assert_eq!(
        prom.value(r#"scrape_samples_scraped{job="node"} > 0"#)
            .map(|v| v > 100.0),
        Some(true)
    );

    // A restart of the agent: the exporter's counters go on without a reset and without a
    // stale marker (the agent marks nothing on shutdown, as Prometheus does).
    let before = now_s();
    agent.signal("TERM");
    assert!(
        agent.wait_exit(Duration::from_secs(10)).is_some(),
        "agent did not stop"
    );
    std::thread::sleep(Duration::from_secs(2));
    let _agent = start_outpost(&cfg, port);
    let q = format!(
        r#"count_over_time(node_cpu_seconds_total{{job="node",instance="127.0.0.1:{}",cpu="0",mode="idle"}}[5s])"#,
        ne_port
    );
    wait_for("samples after the restart", Duration::from_secs(30), || {
        let t = now_s();
        let r = prom.api_at("query", &q, t);
        let n = r["result"][0]["value"][1].as_str()?.parse::<f64>().ok()?;
        (t > before + 8.0 && n >= 3.0).then_some(())
    });
    let window = (now_s() - before + 20.0).ceil() as u64;
    for counter in [
        format!(r#"node_cpu_seconds_total{{job="node",instance="127.0.0.1:{ne_port}"}}"#),
        r#"prometheus_http_requests_total{job="prometheus"}"#.to_string(),
    ] {
        let resets = prom.value(&format!("max(resets({counter}[{window}s]))"));
        assert_eq!(resets, Some(0.0), "resets of {counter} over the restart");
    }
    // The series spans the restart: samples before it and after it.
    let r = prom.api(
        "query",
        &format!(
            r#"node_cpu_seconds_total{{job="node",instance="127.0.0.1:{ne_port}",cpu="0",mode="idle"}}[{window}s]"#
        ),
    );
    let stamps: Vec<f64> = r["result"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[0].as_f64().unwrap())
        .collect();
    assert!(stamps.iter().any(|t| *t < before), "{stamps:?}");
    assert!(stamps.iter().any(|t| *t > before + 2.0), "{stamps:?}");
}

#[test]
fn a_dead_target_goes_down_and_its_series_end_at_once() {
    let dir = TempDir::new("scrape-dies");
    let prom = Prometheus::new(dir.path(), "");
    let ne_port = free_port();
    let ne = node_exporter(
        ne_port,
        &[
            "--collector.disable-defaults".into(),
            "--collector.meminfo".into(),
        ],
    );
    let port = free_port();
    let cfg = config(
        dir.path(),
        port,
        &format!(
            "[remote_write]\nurl = \"{}\"\nretry_min = \"100ms\"\nretry_max = \"1s\"\n\n\
             [[scrape]]\njob = \"node\"\ntargets = [\"127.0.0.1:{ne_port}\"]\ninterval = \"1s\"\n",
            prom.write_url()
        ),
    );
    let _agent = start_outpost(&cfg, port);
    // (The agent's own host series has job="node" too, with instance = the gateway id.)
    let mem = format!(r#"node_memory_MemTotal_bytes{{job="node",instance="127.0.0.1:{ne_port}"}}"#);
    let mem = mem.as_str();
    wait_for("the scraped series", Duration::from_secs(30), || prom.value(mem));
    wait_for("up = 1", Duration::from_secs(20), || {
        prom.value(r#"up{job="node"}"#).filter(|v| *v == 1.0)
    });

    ne.signal("KILL");
    let died = now_s();
    wait_for("up = 0", Duration::from_secs(20), || {
        prom.value(r#"up{job="node"}"#).filter(|v| *v == 0.0)
    });
    // Without a stale marker the last value would be returned for five more minutes.
    wait_for(
        "the series ended by a stale marker",
        Duration::from_secs(20),
        || prom.query(mem).is_empty().then_some(()),
    );
    assert!(now_s() - died < 20.0);
    let body = http_get(&format!("127.0.0.1:{port}"), "/metrics").unwrap().body;
    let failures = metric(
        &body,
        r#"outpost_scrapes_total{scrape_job="node",result="unreachable"}"#,
    );
    assert!(
        failures.is_some_and(|n| n >= 1.0),
        "{failures:?}\n{}",
        body.lines()
            .filter(|l| l.contains("scrapes"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn bad_targets_fail_alone_and_openmetrics_is_negotiated() {
    let dir = TempDir::new("scrape-bad");
    let garbage = Receiver::start(|_, _| Answer::status(200).body("this is not {metrics\n"));
    let slow = Receiver::start(|_, _| Answer::status(200).body("slow 1\n").delay(Duration::from_secs(4)));
    let huge_body = "big_series_with_a_long_name{label=\"value\"} 1\n".repeat(50_000);
    let huge = Receiver::start(move |_, _| Answer::status(200).body(&huge_body));
    let failing = Receiver::start(|_, _| Answer::status(503).body("maintenance"));
    // An exposed timestamp a minute ago, in OpenMetrics seconds.
    let stamped_ms = (now_s() as i64 - 60) * 1000 + 500;
    let om_body = format!(
        "# TYPE dev_reads counter\ndev_reads_total{{bus=\"1\"}} 5 # {{trace_id=\"a\"}} 1\n\
         # TYPE dev_boot gauge\ndev_boot{{bus=\"1\"}} 7 {}.5\n# EOF\n",
        stamped_ms / 1000
    );
    let device = Receiver::start(move |_, _| {
        Answer::status(200)
            .header(
                "Content-Type",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )
            .body(&om_body)
    });
    let port = free_port();
    let host = |r: &Receiver| format!("127.0.0.1:{}", r.port);
    let cfg = config(
        dir.path(),
        port,
        &format!(
            r#"[[scrape]]
job = "garbage"
targets = ["{}"]
interval = "1s"

[[scrape]]
job = "slow"
targets = ["{}"]
interval = "2s"
timeout = "1s"

[[scrape]]
job = "huge"
targets = ["{}"]
interval = "1s"
body_size_limit = "1MiB"

[[scrape]]
job = "failing"
targets = ["{}"]
interval = "1s"

[[scrape]]
job = "device"
targets = ["{}"]
interval = "1s"
"#,
            host(&garbage),
            host(&slow),
            host(&huge),
            host(&failing),
            host(&device)
        ),
    );
    let mut agent = start_outpost(&cfg, port);
    let addr = format!("127.0.0.1:{port}");
    let counts = wait_for("every job scraped a few times", Duration::from_secs(30), || {
        let body = http_get(&addr, "/metrics").ok()?.body;
        let get = |job: &str, result: &str| {
            metric(
                &body,
                &format!(r#"outpost_scrapes_total{{scrape_job="{job}",result="{result}"}}"#),
            )
            .unwrap_or(0.0)
        };
        let c = [
            get("garbage", "invalid"),
            get("slow", "timeout"),
            get("huge", "too_large"),
            get("failing", "http_error"),
            get("device", "ok"),
            metric(&body, "outpost_sample_cycles_total").unwrap_or(0.0),
        ];
        (c[..4].iter().all(|n| *n >= 2.0) && c[4] >= 6.0).then_some(c)
    });
    // The slow target (4 s per answer) held neither the device target nor the host sampler.
    assert!(counts[5] >= 5.0, "{counts:?}");
    let accept = device.received()[0]
        .header("accept")
        .unwrap_or_default()
        .to_string();
    assert!(
        accept.starts_with("application/openmetrics-text;version=1.0.0"),
        "{accept}"
    );
    assert!(device.received()[0]
        .header("x-prometheus-scrape-timeout-seconds")
        .is_some());
    agent.signal("TERM");
    agent.wait_exit(Duration::from_secs(10));

    // What was stored: up per target, the device's series with the target labels, the
    // exposed timestamp kept on its own record.
    let out = std::process::Command::new(outpost_bin())
        .args(["store", "export", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut up = std::collections::BTreeMap::new();
    let mut reads = None;
    let mut boot_ts = BTreeSet::new();
    for line in text.lines() {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        let data = &rec["data"];
        for f in data["families"].as_array().unwrap() {
            for s in f["samples"].as_array().unwrap() {
                let job = s["labels"]["job"].as_str().unwrap_or_default().to_string();
                match f["name"].as_str().unwrap() {
                    "up" => {
                        up.insert(job, s["value"].as_f64().unwrap());
                    }
                    "dev_reads_total" => reads = Some(s.clone()),
                    "dev_boot" => {
                        boot_ts.insert(data["timestamp_ms"].as_i64().unwrap());
                    }
                    _ => {}
                }
            }
        }
    }
    for job in ["garbage", "slow", "huge", "failing"] {
        assert_eq!(up.get(job), Some(&0.0), "up of {job}: {up:?}");
    }
    assert_eq!(up.get("device"), Some(&1.0));
    let reads = reads.expect("dev_reads_total stored");
    assert_eq!(reads["value"], 5.0);
    assert_eq!(
        reads["labels"],
        serde_json::json!({"bus": "1", "gateway": ID, "instance": host(&device), "job": "device"})
    );
    assert_eq!(boot_ts, BTreeSet::from([stamped_ms]), "exposed timestamp kept");
}

#[test]
fn scraped_targets_are_pushed_as_groups_of_their_own() {
    let dir = TempDir::new("scrape-pg");
    let pg = Pushgateway::new(dir.path());
    let ne_port = free_port();
    let ne = node_exporter(ne_port, &[]);
    let port = free_port();
    let target = format!("127.0.0.1:{ne_port}");
    let cfg = config(
        dir.path(),
        port,
        &format!(
            "[pushgateway]\nurl = \"http://{}\"\ninterval = \"1s\"\ngrouping = {{ line = \"3\" }}\n\n\
             [[scrape]]\njob = \"node\"\ntargets = [\"{target}\"]\ninterval = \"1s\"\n",
            pg.addr()
        ),
    );
    let mut agent = start_outpost(&cfg, port);
    let find = |groups: &[serde_json::Value], instance: &str| {
        groups
            .iter()
            .find(|g| g["labels"]["instance"] == instance)
            .cloned()
    };
    // Both groups are accepted: the host's (job=node, instance=id) and the target's, though
    // they share metric names (one type and help per name across groups).
    let g = wait_for("the target's group", Duration::from_secs(30), || {
        find(&pg.groups(), &target)
    });
    assert_eq!(g["labels"]["job"], "node");
    assert_eq!(g["labels"]["gateway"], ID);
    assert_eq!(g["labels"]["line"], "3");
    assert!(find(&pg.groups(), ID).is_some(), "the host group too");
    let series =
        format!(r#"node_memory_MemTotal_bytes{{gateway="{ID}",instance="{target}",job="node",line="3"}}"#);
    let text = http_get(&pg.addr(), "/metrics").unwrap().body;
    assert_eq!(metric(&text, &series), Some(mem_total_bytes()), "{series}");
    assert!(
        text.contains(&format!(
            r#"up{{gateway="{ID}",instance="{target}",job="node",line="3"}} 1"#
        )),
        "up in the target's group"
    );

    // The target dies: its group is replaced by one holding up = 0 and nothing else of it.
    drop(ne);
    wait_for("up = 0 in the group", Duration::from_secs(20), || {
        let text = http_get(&pg.addr(), "/metrics").ok()?.body;
        let down = text.contains(&format!(
            r#"up{{gateway="{ID}",instance="{target}",job="node",line="3"}} 0"#
        ));
        (down && metric(&text, &series).is_none()).then_some(())
    });

    // A clean shutdown deletes both groups.
    agent.signal("TERM");
    agent.wait_exit(Duration::from_secs(10));
    let left: Vec<_> = pg
        .groups()
        .iter()
        .map(|g| g["labels"]["instance"].clone())
        .collect();
    assert!(left.is_empty(), "groups left: {left:?}");
}

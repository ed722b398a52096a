//! The MQTT uplink against a real mosquitto (Debian package) on a free loopback port, observed
//! with the real `mosquitto_sub` (mosquitto-clients): batches and status arrive, and a broker
//! outage — with a `kill -9` of the agent in the middle of it — loses nothing durable.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::broker::*;
use common::*;

fn config(dir: &Path, broker: u16, port: u16) -> PathBuf {
    config_with(dir, broker, port, "")
}

fn config_with(dir: &Path, broker: u16, port: u16, mqtt_extra: &str) -> PathBuf {
    let path = dir.join("outpost.toml");
    std::fs::write(
        &path,
        format!(
            "[agent]\nid = \"gw1\"\ndata_dir = \"{}\"\n\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [sample]\ninterval = \"200ms\"\n\n[store]\ncommit_interval = \"200ms\"\n\n\
             [mqtt]\nurl = \"mqtt://127.0.0.1:{broker}\"\nreconnect_min = \"200ms\"\nreconnect_max = \"2s\"\nlinger = \"100ms\"\n{mqtt_extra}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn batches_and_status_reach_a_real_broker() {
    let dir = TempDir::new("mqtt");
    let mut broker = Broker::new(dir.path());
    let out = dir.path().join("sub.txt");
    let _sub = subscribe(broker.port, "test-sub-1", &out);
    let port = free_port();
    let cfg = config(dir.path(), broker.port, port);
    let mut agent = start_outpost(&cfg, port);
    let seqs = wait_for("20 records over MQTT", Duration::from_secs(30), || {
        let s = received(&out);
        (s.len() >= 20).then_some(s)
    });
    let first = *seqs.keys().next().unwrap();
    let last = *seqs.keys().next_back().unwrap();
    assert_eq!(first, 1);
    assert_eq!(seqs.len() as u64, last, "gaps in {seqs:?}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("outpost/gw1/status {") && text.contains("\"state\":\"online\""));
    let batch = text
        .lines()
        .find(|l| l.starts_with("outpost/gw1/metrics "))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&batch["outpost/gw1/metrics ".len()..]).unwrap();
    assert_eq!(v["gateway"], "gw1");
    let fam = &v["records"][0]["data"]["families"];
    assert!(fam
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "node_cpu_seconds_total"));

    // Acknowledged records leave the store.
    let body = http_get(&format!("127.0.0.1:{port}"), "/metrics").unwrap().body;
    let backlog = metric(&body, "outpost_store_sink_backlog_records{sink=\"mqtt\"}").unwrap();
    assert!(backlog < 20.0, "backlog {backlog}: acknowledged records kept");

    // A clean stop says offline, retained.
    agent.signal("TERM");
    assert_eq!(agent.wait_exit(Duration::from_secs(3)), Some(Some(0)));
    std::thread::sleep(Duration::from_millis(300));
    let last_status = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .rfind(|l| l.starts_with("outpost/gw1/status "))
        .map(str::to_string)
        .unwrap();
    assert!(last_status.contains("\"state\":\"offline\""), "{last_status}");
    broker.stop();
}

#[test]
fn a_broker_outage_and_a_drain_with_kill_9_in_them_lose_nothing_durable() {
    let dir = TempDir::new("mqtt-outage");
    let mut broker = Broker::new(dir.path());
    let out = dir.path().join("sub.txt");
    let sub = subscribe(broker.port, "test-sub-2", &out);
    let port = free_port();
    // A slow backfill (about 3 snapshots/s while 5/s are sampled) so the backlog is still
    // draining while live data flows.
    let cfg = config_with(dir.path(), broker.port, port, "backfill_rate = \"20KiB\"");
    let addr = format!("127.0.0.1:{port}");
    let agent = start_outpost(&cfg, port);
    wait_for("first records", Duration::from_secs(20), || {
        (received(&out).len() >= 5).then_some(())
    });

    // Outage: the broker goes away; the agent keeps sampling into the store.
    unsubscribe(sub);
    broker.stop();
    std::thread::sleep(Duration::from_secs(2));
    // kill -9 in the middle of the outage, and start again.
    agent.signal("KILL");
    drop(agent);
    let agent = start_outpost(&cfg, port);
    std::thread::sleep(Duration::from_secs(2));
    let durable = metric(
        &http_get(&addr, "/metrics").unwrap().body,
        "outpost_store_durable_sequence",
    )
    .unwrap() as u64;

    broker.start();
    let _sub = subscribe(broker.port, "test-sub-2", &out);
    // kill -9 again in the middle of the drain (the backlog takes about 10 s at this rate).
    let before = received(&out).len();
    wait_for("the drain under way", Duration::from_secs(20), || {
        (received(&out).len() >= before + 5).then_some(())
    });
    agent.signal("KILL");
    drop(agent);
    let _agent = start_outpost(&cfg, port);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let seqs = loop {
        let s = received(&out);
        let missing: Vec<u64> = (1..=durable).filter(|q| !s.contains_key(q)).collect();
        if missing.is_empty() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            panic!(
                "after 60 s, {} of the {durable} durable records never arrived: {:?}\nagent log:\n{}",
                missing.len(),
                &missing[..missing.len().min(20)],
                std::fs::read_to_string(dir.path().join("outpost.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let duplicates: u32 = seqs.values().map(|n| n - 1).sum();
    eprintln!(
        "outage: {} records through seq {durable} delivered, {duplicates} duplicates",
        seqs.len()
    );
    // Duplicates come only from batches unacknowledged at the outage or the kill.
    assert!(duplicates <= 200, "{duplicates} duplicates");

    // Live first: the agent logged where the backlog ends; records after it (live) started
    // arriving before the backlog was complete.
    let log = std::fs::read_to_string(dir.path().join("outpost.log")).unwrap();
    let boundaries: Vec<u64> = log
        .lines()
        .filter_map(|l| l.split("records up to seq ").nth(1))
        .filter_map(|r| r.split(')').next()?.parse().ok())
        .collect();
    // The last connection's boundary for live first; the first one's for the order of the
    // backlog (records sent live by the killed agent are backlog for the next one).
    let (Some(&first_boundary), Some(&boundary)) = (boundaries.first(), boundaries.last()) else {
        panic!("no backlog boundary logged:\n{log}")
    };
    let order = arrival_order(&out);
    let first_live = order
        .iter()
        .position(|s| *s > boundary)
        .expect("live records arrived");
    let last_backlog = order.iter().rposition(|s| *s <= boundary).unwrap();
    eprintln!(
        "live first: backlog up to seq {boundary}; first live record at position {first_live}, backlog complete at {last_backlog}"
    );
    assert!(
        first_live < last_backlog,
        "live data waited for the backlog: first live at {first_live}, last backlog at {last_backlog}"
    );
    // The backlog itself arrived in order.
    let backlog: Vec<u64> = order.iter().copied().filter(|s| *s <= first_boundary).collect();
    assert!(backlog.windows(2).all(|w| w[0] < w[1]), "backlog out of order");
}

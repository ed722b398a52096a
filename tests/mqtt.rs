//! The MQTT uplink against a real mosquitto (Debian package) on a free loopback port, observed
//! with the real `mosquitto_sub` (mosquitto-clients): batches and status arrive, and a broker
//! outage — with a `kill -9` of the agent in the middle of it — loses nothing durable.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

struct Broker {
    port: u16,
    conf: PathBuf,
    proc: Option<Proc>,
}

impl Broker {
    /// A broker with persistence, so queued messages of a persistent subscriber survive a
    /// restart of the broker.
    fn new(dir: &Path) -> Broker {
        let port = free_port();
        let conf = dir.join("mosquitto.conf");
        let store = dir.join("mosquitto-db");
        std::fs::create_dir_all(&store).unwrap();
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nmax_queued_messages 100000\n",
                store.display()
            ),
        )
        .unwrap();
        let mut b = Broker {
            port,
            conf,
            proc: None,
        };
        b.start();
        b
    }

    fn start(&mut self) {
        let bin = require(&["mosquitto"], "mosquitto");
        let proc = Proc::spawn(
            "mosquitto",
            Command::new(bin)
                .arg("-c")
                .arg(&self.conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let addr = format!("127.0.0.1:{}", self.port);
        wait_for("mosquitto listening", Duration::from_secs(10), || {
            std::net::TcpStream::connect(&addr).ok()
        });
        self.proc = Some(proc);
    }

    /// Stops with SIGTERM, so mosquitto writes its persistence file.
    fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.signal("TERM");
            assert!(
                p.wait_exit(Duration::from_secs(10)).is_some(),
                "mosquitto did not stop"
            );
        }
    }
}

/// `mosquitto_sub` with a persistent session (QoS 1), appending `topic payload` lines to a file.
/// Run under `stdbuf -oL`: a subscriber acknowledges a message to the broker before its stdio
/// buffer reaches the file, so a block-buffered one that is stopped loses messages the broker
/// rightly considers delivered.
fn subscribe(port: u16, id: &str, out: &Path) -> Proc {
    let bin = require(&["mosquitto_sub"], "mosquitto-clients");
    let stdbuf = require(&["stdbuf"], "coreutils");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .unwrap();
    let proc = Proc::spawn(
        "mosquitto_sub",
        Command::new(stdbuf)
            .arg("-oL")
            .arg(bin)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-t",
                "outpost/#",
                "-q",
                "1",
                "-v",
            ])
            .args(["-c", "-i", id])
            .stdout(Stdio::from(file))
            .stderr(Stdio::null()),
    );
    std::thread::sleep(Duration::from_millis(300));
    proc
}

/// Stops a subscriber gracefully (DISCONNECT, output flushed); its session stays on the broker.
fn unsubscribe(mut sub: Proc) {
    sub.signal("TERM");
    assert!(
        sub.wait_exit(Duration::from_secs(5)).is_some(),
        "mosquitto_sub did not stop"
    );
}

/// Sequence numbers of the metrics batches received, with how often each arrived.
fn received(out: &Path) -> BTreeMap<u64, u32> {
    let mut seqs = BTreeMap::new();
    // As bytes: a subscriber stopped mid-line may leave half a UTF-8 character behind.
    let bytes = std::fs::read(out).unwrap_or_default();
    for line in bytes.split(|b| *b == b'\n') {
        let Some(payload) = line.strip_prefix(b"outpost/gw1/metrics ") else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
            continue;
        };
        for r in v["records"].as_array().into_iter().flatten() {
            if let Some(seq) = r["seq"].as_u64() {
                *seqs.entry(seq).or_default() += 1;
            }
        }
    }
    seqs
}

fn config(dir: &Path, broker: u16, port: u16) -> PathBuf {
    let path = dir.join("outpost.toml");
    std::fs::write(
        &path,
        format!(
            "[agent]\nid = \"gw1\"\ndata_dir = \"{}\"\n\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [sample]\ninterval = \"200ms\"\n\n[store]\ncommit_interval = \"200ms\"\n\n\
             [mqtt]\nurl = \"mqtt://127.0.0.1:{broker}\"\nreconnect_min = \"200ms\"\nreconnect_max = \"2s\"\nlinger = \"100ms\"\n",
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
fn a_broker_outage_with_a_kill_9_in_it_loses_nothing_durable() {
    let dir = TempDir::new("mqtt-outage");
    let mut broker = Broker::new(dir.path());
    let out = dir.path().join("sub.txt");
    let sub = subscribe(broker.port, "test-sub-2", &out);
    let port = free_port();
    let cfg = config(dir.path(), broker.port, port);
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
    let _agent = start_outpost(&cfg, port);
    std::thread::sleep(Duration::from_secs(2));
    let durable = metric(
        &http_get(&addr, "/metrics").unwrap().body,
        "outpost_store_durable_sequence",
    )
    .unwrap() as u64;

    broker.start();
    let _sub = subscribe(broker.port, "test-sub-2", &out);
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
}

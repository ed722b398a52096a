//! A real mosquitto (Debian package) on a free loopback port, and the real `mosquitto_sub`
//! and `mosquitto_pub` (mosquitto-clients) to watch and drive it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::*;

pub struct Broker {
    pub port: u16,
    conf: PathBuf,
    proc: Option<Proc>,
}

impl Broker {
    /// A broker with persistence, so queued messages of a persistent subscriber survive a
    /// restart of the broker.
    pub fn new(dir: &Path) -> Broker {
        Broker::with(dir, "")
    }

    /// A broker with extra lines for its listener (TLS settings).
    pub fn with(dir: &Path, listener_extra: &str) -> Broker {
        let port = free_port();
        let conf = dir.join("mosquitto.conf");
        // Started as root, mosquitto drops to the `mosquitto` user, which cannot write the
        // test's persistence directory or read its keys; stay the user the tests run as.
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "root".into());
        let store = dir.join("mosquitto-db");
        std::fs::create_dir_all(&store).unwrap();
        std::fs::write(
            &conf,
            format!(
                "user {user}\nlistener {port} 127.0.0.1\n{listener_extra}\nallow_anonymous true\npersistence true\npersistence_location {}/\nmax_queued_messages 100000\nlog_dest file {}\n",
                store.display(),
                dir.join("mosquitto.log").display()
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

    pub fn start(&mut self) {
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
    pub fn stop(&mut self) {
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
pub fn subscribe(port: u16, id: &str, out: &Path) -> Proc {
    subscribe_with(port, id, out, &[])
}

/// [`subscribe`] with extra `mosquitto_sub` arguments (TLS files).
pub fn subscribe_with(port: u16, id: &str, out: &Path, extra: &[&str]) -> Proc {
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
            .args(extra)
            .stdout(Stdio::from(file))
            .stderr(Stdio::null()),
    );
    std::thread::sleep(Duration::from_millis(300));
    proc
}

/// Stops a subscriber gracefully (DISCONNECT, output flushed); its session stays on the broker.
pub fn unsubscribe(mut sub: Proc) {
    sub.signal("TERM");
    assert!(
        sub.wait_exit(Duration::from_secs(5)).is_some(),
        "mosquitto_sub did not stop"
    );
}

/// Sequence numbers of every metrics record received, in arrival order, duplicates included.
fn metrics_seqs(out: &Path) -> Vec<u64> {
    let mut seqs = Vec::new();
    // As bytes: a subscriber stopped mid-line may leave half a UTF-8 character behind.
    let bytes = std::fs::read(out).unwrap_or_default();
    for line in bytes.split(|b| *b == b'\n') {
        let Some(payload) = line.strip_prefix(b"outpost/gw1/metrics ") else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
            continue;
        };
        seqs.extend(
            v["records"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["seq"].as_u64()),
        );
    }
    seqs
}

/// Sequence numbers of the metrics records received, with how often each arrived.
pub fn received(out: &Path) -> BTreeMap<u64, u32> {
    let mut seqs = BTreeMap::new();
    for seq in metrics_seqs(out) {
        *seqs.entry(seq).or_default() += 1;
    }
    seqs
}

/// Sequence numbers of metrics records in the order they first arrived.
pub fn arrival_order(out: &Path) -> Vec<u64> {
    let mut seen = std::collections::HashSet::new();
    metrics_seqs(out)
        .into_iter()
        .filter(|s| seen.insert(*s))
        .collect()
}

/// Publishes one message with `mosquitto_pub` (QoS 1), retained when asked.
pub fn publish(port: u16, topic: &str, payload: &str, retain: bool) {
    let bin = require(&["mosquitto_pub"], "mosquitto-clients");
    let mut cmd = Command::new(bin);
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-q",
        "1",
        "-t",
        topic,
        "-m",
        payload,
    ]);
    if retain {
        cmd.arg("-r");
    }
    let out = cmd.output().expect("run mosquitto_pub");
    assert!(
        out.status.success(),
        "mosquitto_pub failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The retained message on `topic`, if any (waits up to a second for it).
pub fn retained(port: u16, topic: &str) -> Option<String> {
    let bin = require(&["mosquitto_sub"], "mosquitto-clients");
    let out = Command::new(bin)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            topic,
            "-C",
            "1",
            "-W",
            "1",
            "--retained-only",
        ])
        .output()
        .expect("run mosquitto_sub");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!text.is_empty()).then_some(text)
}

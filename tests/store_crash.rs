//! Crash tests with the real binary: `outpost run` is `kill -9`'d at random moments while it
//! appends, and `outpost store export` while it drains. After every restart the store opens,
//! and every record that was durable before a kill is delivered exactly once or more, with
//! duplicates bounded by one batch per kill.
//!
//! `OUTPOST_CRASH_CYCLES` raises the number of kill cycles (scripts/crash-soak.sh).

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn cycles(default: usize) -> usize {
    std::env::var("OUTPOST_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small xorshift generator: random kill moments, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(42)
            | 1;
        eprintln!("crash test seed {seed}");
        Rng(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Runs `outpost store export` to completion (or until killed) into `out`; its log goes to
/// `export.log` beside it.
fn export(cfg: &std::path::Path, out: &std::path::Path) -> Proc {
    let open = |p: &std::path::Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap()
    };
    Proc::spawn(
        "outpost store export",
        Command::new(outpost_bin())
            .args(["store", "export", "--config"])
            .arg(cfg)
            .stdout(Stdio::from(open(out)))
            .stderr(Stdio::from(open(&out.with_file_name("export.log")))),
    )
}

/// Sequence numbers in an export output, ignoring a line cut short by a kill. The file is read
/// as bytes: a kill can cut a multi-byte UTF-8 character in half (record data is text with
/// replacement characters), and reading it as a `String` would then fail for the whole file.
fn exported(out: &std::path::Path) -> Vec<u64> {
    let bytes = std::fs::read(out).unwrap_or_default();
    bytes
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("seq").and_then(|s| s.as_u64()))
        .collect()
}

#[test]
fn kill_9_while_appending_loses_nothing_durable() {
    let dir = TempDir::new("crash-append");
    let port = free_port();
    let cfg = write_config(
        dir.path(),
        port,
        "[sample]\ninterval = \"100ms\"\n\n[store]\ncommit_interval = \"200ms\"\n",
    );
    let addr = format!("127.0.0.1:{port}");
    let mut rng = Rng::new();
    let mut durable_before_kill = Vec::new();
    for cycle in 0..cycles(30) {
        let agent = start_outpost(&cfg, port);
        std::thread::sleep(Duration::from_millis(200 + rng.below(800)));
        // The store opens on its own thread (after a kill, with an integrity check), so it may
        // still be opening on a loaded machine: wait for it rather than race it.
        let body = wait_for(
            &format!("cycle {cycle}: store healthy"),
            Duration::from_secs(20),
            || {
                let body = http_get(&addr, "/metrics").ok()?.body;
                (metric(&body, "outpost_store_healthy")? == 1.0).then_some(body)
            },
        );
        let durable = metric(&body, "outpost_store_durable_sequence").expect("durable sequence") as u64;
        durable_before_kill.push(durable);
        std::thread::sleep(Duration::from_millis(rng.below(300)));
        agent.signal("KILL");
        drop(agent);
    }
    // Everything: the export sees every sequence number once, contiguous from 1.
    let out = dir.path().join("export.jsonl");
    let mut p = export(&cfg, &out);
    assert_eq!(
        p.wait_exit(Duration::from_secs(60)),
        Some(Some(0)),
        "export failed"
    );
    let seqs = exported(&out);
    let last = *seqs.last().expect("records exported");
    assert_eq!(
        seqs,
        (1..=last).collect::<Vec<_>>(),
        "gaps or duplicates in the store"
    );
    let max_durable = *durable_before_kill.iter().max().unwrap();
    assert!(
        last >= max_durable,
        "durable record lost: {max_durable} was durable before a kill, only {last} survived"
    );
    eprintln!(
        "{} kill cycles, {} records, last durable before kills {max_durable}",
        durable_before_kill.len(),
        seqs.len()
    );
}

#[test]
fn kill_9_while_draining_delivers_everything_at_least_once() {
    let dir = TempDir::new("crash-drain");
    let port = free_port();
    let cfg = write_config(dir.path(), port, "");
    // A backlog of 60,000 records of 200 B, written through the library.
    let data = dir.path().join("data");
    {
        let cfg = outpost::config::load(Some(&cfg), None).unwrap();
        let mut store = outpost::store::Store::open(&data, cfg.store.clone(), None);
        for i in 0..60_000u64 {
            let class = outpost::store::Class::ALL[(i % 3) as usize];
            store.append(class, 1_800_000_000_000 + i as i64, vec![(i % 251) as u8; 200]);
            if i % 5000 == 4999 {
                store.commit().unwrap();
            }
        }
        store.commit().unwrap();
        store.close();
    }
    // One output file per run, so a line cut short by a kill cannot swallow the next run's
    // first line.
    let outputs: Vec<std::path::PathBuf> = (0..=cycles(25))
        .map(|i| dir.path().join(format!("export-{i}.jsonl")))
        .collect();
    let mut rng = Rng::new();
    let mut kills = 0;
    let mut runs = 0;
    for out in &outputs[..outputs.len() - 1] {
        // Kill once the export is writing, at a random moment after that.
        let mut p = export(&cfg, out);
        runs += 1;
        let started = std::time::Instant::now();
        while std::fs::metadata(out).map(|m| m.len()).unwrap_or(0) == 0
            && started.elapsed() < Duration::from_secs(10)
            && p.child.try_wait().ok().flatten().is_none()
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(rng.below(20)));
        if p.child.try_wait().ok().flatten().is_some() {
            // Finished on its own (the backlog is drained): nothing left to interrupt.
            break;
        }
        let _ = p.child.kill();
        drop(p);
        kills += 1;
    }
    assert!(
        kills >= 10.min(cycles(25)),
        "only {kills} kills hit a running export"
    );
    let last = &outputs[outputs.len() - 1];
    let mut p = export(&cfg, last);
    assert_eq!(
        p.wait_exit(Duration::from_secs(120)),
        Some(Some(0)),
        "final export failed"
    );
    let mut seqs = Vec::new();
    let mut per_run = Vec::new();
    for out in outputs[..runs].iter().chain([last]) {
        let s = exported(out);
        per_run.push(format!(
            "{}: {} records {:?}..{:?}",
            out.file_name().unwrap().to_string_lossy(),
            s.len(),
            s.first(),
            s.last()
        ));
        seqs.extend(s);
    }
    let mut counts: BTreeMap<u64, u32> = BTreeMap::new();
    for s in &seqs {
        *counts.entry(*s).or_default() += 1;
    }
    let missing: Vec<u64> = (1..=60_000).filter(|s| !counts.contains_key(s)).collect();
    if !missing.is_empty() {
        let stats = Command::new(outpost_bin())
            .args(["store", "stats", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        panic!(
            "{} records never delivered (first: {:?}); runs:\n{}\nexport log:\n{}\nstore stats:\n{}\nquarantine: {:?}",
            missing.len(),
            &missing[..missing.len().min(10)],
            per_run.join("\n"),
            std::fs::read_to_string(dir.path().join("export.log")).unwrap_or_default(),
            String::from_utf8_lossy(&stats.stdout),
            std::fs::read_dir(data.join("quarantine")).map(|d| d.count()).ok()
        );
    }
    assert_eq!(counts.len(), 60_000, "unexpected sequence numbers");
    let duplicates = seqs.len() - counts.len();
    // An export acknowledges per batch of at most 1000 records: a kill can repeat one batch.
    assert!(
        duplicates <= kills * 1000,
        "{duplicates} duplicates after {kills} kills: more than one batch per kill"
    );
    eprintln!("{kills} kills mid-drain: 60000 records delivered, {duplicates} duplicates");
    // And the store is empty afterwards: everything delivered was acknowledged and deleted.
    let stats = Command::new(outpost_bin())
        .args(["store", "stats", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&stats.stdout);
    assert!(text.contains("metrics               0"), "{text}");
}

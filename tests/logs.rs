//! The log pipeline end to end, with real files, real processes and a receiver that behaves
//! as Logstash's `http` input: rotation (rename+create and copytruncate) under `kill -9` and
//! an outage, the receiver's refusals (401, 429, 413), stdin sidecar mode, the LogHub samples,
//! and redaction.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::logstash::{Options, Receiver};
use common::*;

/// A small xorshift generator; the seed is printed so a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("OUTPOST_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| now_s().to_bits() | 1);
        eprintln!("random seed {seed} (set OUTPOST_TEST_SEED to repeat)");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn line(name: &str, seq: u64) -> String {
    // About 150 bytes, like a typical gateway log line.
    format!(
        "2026-12-03T14:05:09.123Z INFO {name} seq={seq:08} worker=7 msg=\"request handled\" path=/api/v1/telemetry status=200 bytes=5123 took=12ms pad=xxxxxxxxxx\n"
    )
}

/// The `seq=` number of a line this test wrote.
fn seq_of(message: &str) -> Option<(String, u64)> {
    let mut it = message.split_whitespace();
    let _ts = it.next()?;
    let _lvl = it.next()?;
    let name = it.next()?.to_string();
    let seq = it.next()?.strip_prefix("seq=")?.parse().ok()?;
    Some((name, seq))
}

fn logs_config(dir: &Path, port: u16, source: &str, logstash: &str) -> PathBuf {
    write_config(
        dir,
        port,
        &format!("[store]\ncommit_interval = \"1s\"\n\n{source}\n\n{logstash}\n"),
    )
}

/// A test directory with an empty `logs/` in it.
fn logs_dir(tag: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(tag);
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    (dir, logs)
}

/// A `[[logs.source]]` of type file named `name`, reading `<logs>/<pattern>` from the start
/// of each file and polling every 50 ms, plus `extra` keys.
fn file_source(name: &str, logs: &Path, pattern: &str, extra: &str) -> String {
    format!(
        "[[logs.source]]\nname = \"{name}\"\ntype = \"file\"\npaths = [\"{}/{pattern}\"]\n\
         start_at = \"beginning\"\npoll_interval = \"50ms\"\n{extra}",
        logs.display()
    )
}

/// `[logstash]` to `url` sending at once (`linger = "0s"`), plus `extra` keys.
fn logstash_to(url: &str, extra: &str) -> String {
    format!("[logstash]\nurl = \"{url}\"\nlinger = \"0s\"\n{extra}")
}

/// Writes lines to `rename.log` (rotated by rename+create) and `copy.log` (rotated by
/// copytruncate) at `rate` lines/s in total until `stop`; returns how many lines each got.
fn writer(dir: PathBuf, rate: u64, total: u64, every: u64) -> std::thread::JoinHandle<BTreeMap<String, u64>> {
    std::thread::spawn(move || {
        let open = |p: &Path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .expect("open log")
        };
        let rename = dir.join("rename.log");
        let copy = dir.join("copy.log");
        let (mut a, mut b) = (open(&rename), open(&copy));
        let start = Instant::now();
        let mut counts = BTreeMap::new();
        let mut generation = 0;
        for i in 0..total {
            let name = if i % 2 == 0 { "rename" } else { "copy" };
            let n = counts.entry(name.to_string()).or_insert(0u64);
            *n += 1;
            let text = line(name, *n);
            if name == "rename" {
                a.write_all(text.as_bytes()).unwrap();
            } else {
                b.write_all(text.as_bytes()).unwrap();
            }
            if i > 0 && i % every == 0 {
                generation += 1;
                // rename + create
                std::fs::rename(&rename, dir.join(format!("rename.log.{generation}"))).unwrap();
                a = open(&rename);
                // copytruncate, as logrotate does it: copy, then truncate in place
                std::fs::copy(&copy, dir.join(format!("copy.log.{generation}"))).unwrap();
                b.set_len(0).unwrap();
            }
            let due = start + Duration::from_micros(i * 1_000_000 / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        counts
    })
}

#[test]
fn rotation_kill9_and_an_outage_lose_no_line() {
    let (dir, logs) = logs_dir("logs-rotation");
    let receiver = Receiver::start(Options::default());
    let port = free_port();
    let cfg = logs_config(
        dir.path(),
        port,
        &file_source(
            "app",
            &logs,
            "*.log",
            "scan_interval = \"200ms\"\nrotate_wait = \"1s\"\n",
        ),
        &logstash_to(&receiver.url(), "retry_min = \"100ms\"\nretry_max = \"1s\"\n"),
    );
    let mut rng = Rng::new();
    // 1,000 lines/s for 30 s, rotating every 3,000 lines (1,500 per file).
    let w = writer(logs.clone(), 1000, 30_000, 3000);
    let mut agent = start_outpost(&cfg, port);
    let mut kills = 0;
    let started = Instant::now();
    while kills < 20 {
        std::thread::sleep(Duration::from_millis(300 + rng.below(1200)));
        agent.signal("KILL");
        let _ = agent.wait_exit(Duration::from_secs(5));
        kills += 1;
        // The receiver is down from the 6th to the 10th kill.
        receiver.set_down((6..10).contains(&kills));
        agent = start_outpost(&cfg, port);
    }
    receiver.set_down(false);
    eprintln!("20 kills in {:.1} s", started.elapsed().as_secs_f64());
    let written = w.join().unwrap();
    let total: u64 = written.values().sum();
    let mut last = 0;
    let seen = wait_for("every line at the receiver", Duration::from_secs(90), || {
        let events = receiver.snapshot();
        let unique: BTreeSet<(String, u64)> = events
            .iter()
            .filter_map(|e| seq_of(e["message"].as_str()?))
            .collect();
        if unique.len() != last {
            last = unique.len();
        }
        (unique.len() as u64 >= total).then_some(events)
    });
    let mut unique = BTreeSet::new();
    let mut by_file: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for e in &seen {
        let (name, seq) = seq_of(e["message"].as_str().unwrap()).expect("a line this test wrote");
        assert_eq!(e["source"], "app");
        assert!(e["file"].as_str().unwrap().contains(&name), "{e}");
        // Which physical file (generation) the line was in: the writer rotates after its
        // 3,000th line of both, which is rename's (1,500 g + 1)th and copy's (1,500 g)th.
        let generation = if name == "rename" {
            (seq.saturating_sub(1)).div_ceil(1500).max(1)
        } else {
            seq.div_ceil(1500)
        };
        by_file
            .entry(format!("{name}.{generation}"))
            .or_default()
            .push((e["seq"].as_u64().unwrap(), seq));
        unique.insert((name, seq));
    }
    for (name, n) in &written {
        let missing: Vec<u64> = (1..=*n)
            .filter(|s| !unique.contains(&(name.clone(), *s)))
            .collect();
        assert!(
            missing.is_empty(),
            "{name}: {} lines lost, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(10)]
        );
    }
    // In order per file: by the source's sequence number, each physical file's lines never
    // go back (two generations of one name are read side by side after a rotation).
    for (name, mut v) in by_file {
        v.sort();
        for pair in v.windows(2) {
            assert!(pair[1].1 >= pair[0].1, "{name}: out of order: {pair:?}");
        }
    }
    let dups = seen.len() as u64 - total;
    eprintln!(
        "{total} lines written, {} delivered, {dups} duplicates over {kills} kills ({:.0} per kill)",
        seen.len(),
        dups as f64 / kills as f64
    );
    // Duplicates come from what was delivered but not yet acknowledged in the store when the
    // agent died: at most a commit window (1 s = 1,000 lines) plus a request in flight.
    assert!(dups <= kills * 2000, "{dups} duplicates");
    agent.signal("TERM");
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(Some(0)));
}

#[test]
fn a_reused_inode_with_other_content_is_read_from_its_start() {
    let (dir, logs) = logs_dir("logs-inode");
    let receiver = Receiver::start(Options::default());
    let port = free_port();
    let cfg = logs_config(
        dir.path(),
        port,
        &file_source("app", &logs, "app.log", "scan_interval = \"100ms\"\n"),
        &logstash_to(&receiver.url(), ""),
    );
    let path = logs.join("app.log");
    let first: String = (1..=50).map(|i| line("first", i)).collect();
    std::fs::write(&path, &first).unwrap();
    let mut agent = start_outpost(&cfg, port);
    wait_for("the first file", Duration::from_secs(20), || {
        (receiver.len() >= 50).then_some(())
    });
    agent.signal("TERM");
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(Some(0)));
    // Same inode, other content, longer than before: truncate and rewrite in place.
    let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).unwrap());
    let second: String = (1..=80).map(|i| line("second", i)).collect();
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(0).unwrap();
    f.write_all(second.as_bytes()).unwrap();
    drop(f);
    assert_eq!(
        ino,
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).unwrap())
    );
    let _agent = start_outpost(&cfg, port);
    wait_for("the second file from its start", Duration::from_secs(20), || {
        let n = receiver
            .snapshot()
            .iter()
            .filter(|e| e["message"].as_str().is_some_and(|m| m.contains(" second ")))
            .count();
        (n >= 80).then_some(())
    });
    let seconds: BTreeSet<u64> = receiver
        .snapshot()
        .iter()
        .filter_map(|e| seq_of(e["message"].as_str()?))
        .filter(|(n, _)| n == "second")
        .map(|(_, s)| s)
        .collect();
    assert_eq!(seconds, (1..=80).collect());
}

#[test]
fn logstash_refusals_and_an_outage_lose_nothing() {
    let (dir, logs) = logs_dir("logs-logstash");
    let receiver = Receiver::start(Options {
        credentials: Some("shipper:s3cret".into()),
        max_body: Some(4 * 1024),
    });
    std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
    let port = free_port();
    let cfg = logs_config(
        dir.path(),
        port,
        &file_source(
            "app",
            &logs,
            "app.log",
            "scan_interval = \"100ms\"\nmax_line_bytes = \"64KiB\"\n",
        ),
        &format!(
            "[logstash]\nurl = \"{}\"\nusername = \"shipper\"\npassword_file = \"{}\"\nlinger = \"200ms\"\n\
             retry_min = \"100ms\"\nretry_max = \"500ms\"\nmax_events = 500\n",
            receiver.url(),
            dir.path().join("pw").display()
        ),
    );
    let path = logs.join("app.log");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let agent = start_outpost(&cfg, port);
    let mut n = 0u64;
    let mut write = |count: u64, f: &mut std::fs::File| {
        for _ in 0..count {
            n += 1;
            f.write_all(line("app", n).as_bytes()).unwrap();
        }
        n
    };
    // Bodies over 4 KiB get 413: the requests are split until they pass.
    let mut total = write(2000, &mut f);
    wait_for("2,000 events through 413 splits", Duration::from_secs(30), || {
        (receiver.len() as u64 >= total).then_some(())
    });
    assert!(
        receiver
            .counts
            .too_large
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0
    );
    // One incompressible event over the limit on its own: cut once, marked, delivered.
    let mut rng = Rng::new();
    let noise: String = (0..12_000)
        .map(|_| char::from(b'a' + rng.below(26) as u8))
        .collect();
    f.write_all(format!("BIG {noise}\n").as_bytes()).unwrap();
    wait_for("the oversized event, truncated", Duration::from_secs(30), || {
        receiver.snapshot().into_iter().find(|e| {
            e["message"].as_str().is_some_and(|m| m.starts_with("BIG "))
                && e["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == "truncated"))
        })
    });
    // A 429 storm: the receiver's queue is full for 30 requests.
    receiver.fill(30);
    write(1000, &mut f);
    // An outage, while lines keep coming.
    std::thread::sleep(Duration::from_millis(500));
    receiver.set_down(true);
    let outage: u64 = std::env::var("OUTPOST_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(outage) {
        write(100, &mut f);
        std::thread::sleep(Duration::from_millis(200));
    }
    receiver.set_down(false);
    total = write(100, &mut f);
    wait_for("every event after the outage", Duration::from_secs(60), || {
        let unique: BTreeSet<u64> = receiver
            .snapshot()
            .iter()
            .filter_map(|e| seq_of(e["message"].as_str()?))
            .map(|(_, s)| s)
            .collect();
        (unique.len() as u64 >= total).then_some(())
    });
    let c = &receiver.counts;
    use std::sync::atomic::Ordering::SeqCst;
    eprintln!(
        "requests {}, 413 {}, 429 {}, 401 {}, dropped connections {}, gzip {}",
        c.requests.load(SeqCst),
        c.too_large.load(SeqCst),
        c.too_many.load(SeqCst),
        c.unauthorized.load(SeqCst),
        c.dropped_connections.load(SeqCst),
        c.gzip.load(SeqCst)
    );
    assert_eq!(
        c.unauthorized.load(SeqCst),
        0,
        "the password file's credentials are sent"
    );
    assert!(c.too_many.load(SeqCst) >= 30);
    assert!(c.gzip.load(SeqCst) > 0);
    // The documented fields.
    let e = receiver
        .snapshot()
        .into_iter()
        .find(|e| e["message"].as_str().is_some_and(|m| m.contains("seq=00000001")))
        .unwrap();
    assert_eq!(e["@timestamp"], "2026-12-03T14:05:09.123Z", "{e}");
    assert_eq!(e["level"], "info");
    assert_eq!(e["source"], "app");
    assert_eq!(e["file"], path.display().to_string());
    assert!(
        e["host"]["name"].is_string() && e["gateway"].is_string() && e["ingest_timestamp"].is_string(),
        "{e}"
    );
    let body = http_get(&format!("127.0.0.1:{port}"), "/metrics").unwrap().body;
    assert!(
        metric(&body, "outpost_logstash_requests_total{code=\"413\"}").unwrap_or(0.0) > 0.0,
        "{body}"
    );
    assert!(
        metric(&body, "outpost_log_events_total{source=\"app\",level=\"info\"}").unwrap_or(0.0)
            >= total as f64
    );
    drop(agent);
}

#[test]
fn wrong_credentials_are_rejected_counted_and_logged_once() {
    let (dir, logs) = logs_dir("logs-401");
    let receiver = Receiver::start(Options {
        credentials: Some("shipper:right".into()),
        max_body: None,
    });
    std::fs::write(dir.path().join("pw"), "wrong\n").unwrap();
    let port = free_port();
    let cfg = logs_config(
        dir.path(),
        port,
        &file_source("app", &logs, "app.log", ""),
        &format!(
            "[logstash]\nurl = \"{}\"\nusername = \"shipper\"\npassword_file = \"{}\"\nlinger = \"0s\"\nmax_events = 10\n",
            receiver.url(),
            dir.path().join("pw").display()
        ),
    );
    let text: String = (1..=100).map(|i| line("app", i)).collect();
    std::fs::write(logs.join("app.log"), text).unwrap();
    let _agent = start_outpost(&cfg, port);
    let addr = format!("127.0.0.1:{port}");
    wait_for(
        "100 events rejected as unauthorized",
        Duration::from_secs(30),
        || {
            let body = http_get(&addr, "/metrics").ok()?.body;
            (metric(
                &body,
                "outpost_logstash_rejected_events_total{reason=\"unauthorized\"}",
            )? >= 100.0)
                .then_some(())
        },
    );
    assert_eq!(receiver.len(), 0);
    let log = std::fs::read_to_string(dir.path().join("outpost.log")).unwrap();
    assert_eq!(log.matches("refused").count(), 1, "once per episode:\n{log}");
}

/// `cat input.log | outpost run --config CFG` through a real shell pipe; the agent's exit
/// code (it must exit by itself within 40 s). Its log goes to `outpost.log`.
fn cat_into_outpost(dir: &Path, cfg: &Path, input: &str) -> Option<i32> {
    let file = dir.join("input.log");
    std::fs::write(&file, input).unwrap();
    let log = std::fs::File::create(dir.join("outpost.log")).unwrap();
    let mut child = Command::new("sh")
        .args(["-c", "cat \"$1\" | \"$2\" run --config \"$3\"", "sh"])
        .arg(&file)
        .arg(outpost_bin())
        .arg(cfg)
        .stdin(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "the agent did not exit after stdin ended"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn stdin_sidecar_delivers_every_line_and_exits_0() {
    let dir = TempDir::new("logs-stdin");
    let receiver = Receiver::start(Options::default());
    let port = free_port();
    let cfg = logs_config(
        dir.path(),
        port,
        "[[logs.source]]\nname = \"pipe\"\ntype = \"stdin\"\n[logs]\ndrain_timeout = \"20s\"\n",
        &logstash_to(&receiver.url(), ""),
    );
    let input: String = (1..=5000).map(|i| line("pipe", i)).collect();
    assert_eq!(cat_into_outpost(dir.path(), &cfg, &input), Some(0));
    let unique: BTreeSet<u64> = receiver
        .snapshot()
        .iter()
        .filter_map(|e| seq_of(e["message"].as_str()?))
        .map(|(_, s)| s)
        .collect();
    assert_eq!(unique.len(), 5000);
    let log = std::fs::read_to_string(dir.path().join("outpost.log")).unwrap();
    let last = log.lines().last().unwrap_or("");
    assert!(
        last.contains("everything read was delivered"),
        "last line: {last}"
    );
}

#[test]
fn stdin_with_the_receiver_down_keeps_what_it_could_not_deliver() {
    let dir = TempDir::new("logs-stdin-down");
    let receiver = Receiver::start(Options::default());
    receiver.set_down(true);
    let port = free_port();
    let cfg = logs_config(
        dir.path(),
        port,
        "[[logs.source]]\nname = \"pipe\"\ntype = \"stdin\"\n[logs]\ndrain_timeout = \"1s\"\n",
        &format!("[logstash]\nurl = \"{}\"\n", receiver.url()),
    );
    let input: String = (1..=300).map(|i| line("pipe", i)).collect();
    assert_eq!(cat_into_outpost(dir.path(), &cfg, &input), Some(0));
    let log = std::fs::read_to_string(dir.path().join("outpost.log")).unwrap();
    let last = log.lines().last().unwrap_or("");
    assert!(last.contains("not delivered yet"), "last line: {last}");
    // They are in the store: `store export` shows them.
    let out = Command::new(outpost_bin())
        .args(["store", "export", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let logs = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["class"] == "logs")
        .count();
    assert_eq!(logs, 300, "{}", String::from_utf8_lossy(&out.stderr));
}

/// The LogHub samples (loghub, He et al.; research licence), read in place from ../shared.
fn loghub() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/loghub");
    assert!(p.is_dir(), "the LogHub samples are expected at {}", p.display());
    p.canonicalize().unwrap()
}

#[test]
fn loghub_samples_arrive_intact() {
    let dir = TempDir::new("logs-loghub");
    let receiver = Receiver::start(Options::default());
    let port = free_port();
    let root = loghub();
    let cfg = logs_config(
        dir.path(),
        port,
        &format!(
            "[[logs.source]]\nname = \"loghub\"\ntype = \"file\"\npaths = [\"{}/*/*_2k.log\"]\nstart_at = \"beginning\"\n\
             poll_interval = \"50ms\"\npartial_line_wait = \"300ms\"\nmultiline = {{ builtin = false }}\n",
            root.display()
        ),
        &logstash_to(&receiver.url(), ""),
    );
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let redactor = outpost::model::redact::Redactor::new(&[]);
    for entry in std::fs::read_dir(&root).unwrap() {
        let d = entry.unwrap().path();
        if !d.is_dir() {
            continue;
        }
        let name = d.file_name().unwrap().to_string_lossy().to_string();
        let file = d.join(format!("{name}_2k.log"));
        let bytes = std::fs::read(&file).unwrap();
        // The documented normalisation: lines split at \n, a \r before it dropped, blank
        // lines skipped, invalid UTF-8 replaced, secrets masked.
        let lines: Vec<String> = bytes
            .split(|b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.is_empty())
            .map(|l| {
                let s = String::from_utf8_lossy(l).into_owned();
                redactor.text(&s).unwrap_or(s)
            })
            .collect();
        expected.insert(file.display().to_string(), lines);
    }
    assert_eq!(expected.len(), 16, "16 LogHub systems");
    let total: usize = expected.values().map(Vec::len).sum();
    let _agent = start_outpost(&cfg, port);
    wait_for("every LogHub line", Duration::from_secs(60), || {
        (receiver.len() >= total).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let mut got: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for e in receiver.snapshot() {
        got.entry(e["file"].as_str().unwrap().to_string())
            .or_default()
            .push((
                e["seq"].as_u64().unwrap(),
                e["message"].as_str().unwrap().to_string(),
            ));
    }
    for (file, want) in &expected {
        let mut have = got.remove(file).unwrap_or_default();
        have.sort();
        let before = have.len();
        have.dedup();
        assert_eq!(before, have.len(), "{file}: duplicates without a crash");
        let have: Vec<String> = have.into_iter().map(|(_, m)| m).collect();
        assert_eq!(have.len(), want.len(), "{file}: line count");
        for (i, (h, w)) in have.iter().zip(want).enumerate() {
            assert_eq!(h, w, "{file}: line {}", i + 1);
        }
    }
    assert!(got.is_empty(), "events from unexpected files: {:?}", got.keys());
}

#[test]
fn secrets_never_reach_the_store_logstash_or_mqtt() {
    let (dir, logs) = logs_dir("logs-redact");
    let receiver = Receiver::start(Options::default());
    let broker = common::broker::Broker::new(dir.path());
    let port = free_port();
    let secrets = [
        "hunter2",
        "eyJhbGciOiJIUzI1NiJ9.payload.sig",
        "AKIAZZZZ",
        "c00kieval",
        "s3ssion-77",
    ];
    let text = format!(
        "user=bob password={} ok\n\
         {{\"level\":\"warn\",\"msg\":\"auth\",\"api_key\":\"{}\"}}\n\
         GET /x Authorization: Bearer {}\n\
         set-cookie: cookie={}; path=/\n\
         session_id={} logged in\n",
        secrets[0], secrets[2], secrets[1], secrets[3], secrets[4]
    );
    std::fs::write(logs.join("app.log"), &text).unwrap();
    let cfg = logs_config(
        dir.path(),
        port,
        &format!(
            "[logs]\nredact_keys = [\"session_id\"]\n[[logs.source]]\nname = \"app\"\ntype = \"file\"\npaths = [\"{}/app.log\"]\n\
             start_at = \"beginning\"\npoll_interval = \"50ms\"\n",
            logs.display()
        ),
        &format!(
            "[logstash]\nurl = \"{}\"\nlinger = \"0s\"\n\n[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\ncompression = \"none\"\n",
            receiver.url(),
            broker.port
        ),
    );
    let sub_out = dir.path().join("sub.txt");
    let _sub = common::broker::subscribe(broker.port, "redact-test", &sub_out);
    let agent = start_outpost(&cfg, port);
    wait_for("5 events at the receiver", Duration::from_secs(20), || {
        (receiver.len() >= 5).then_some(())
    });
    let mqtt = wait_for("the logs topic", Duration::from_secs(20), || {
        let out = std::fs::read_to_string(&sub_out).unwrap_or_default();
        out.contains("/logs ").then_some(out)
    });
    let shipped = serde_json::to_string(&receiver.snapshot()).unwrap();
    agent.signal("TERM");
    drop(agent);
    let export = Command::new(outpost_bin())
        .args(["store", "export", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let stored = String::from_utf8_lossy(&export.stdout).to_string();
    // The store file itself, byte for byte.
    let mut raw = Vec::new();
    for e in std::fs::read_dir(dir.path().join("data")).unwrap().flatten() {
        if e.path().is_file() {
            raw.extend(std::fs::read(e.path()).unwrap_or_default());
        }
    }
    for s in secrets {
        assert!(!shipped.contains(s), "{s} reached Logstash: {shipped}");
        assert!(!mqtt.contains(s), "{s} reached MQTT");
        assert!(!stored.contains(s), "{s} is in the store export");
        assert!(
            !raw.windows(s.len()).any(|w| w == s.as_bytes()),
            "{s} is in the store's files"
        );
    }
    assert!(shipped.contains("[REDACTED]"));
    assert!(mqtt.contains("REDACTED"), "{mqtt}");
}

/// A journal entry in the journal export format; `binary` makes MESSAGE the binary form.
fn export_entry(out: &mut Vec<u8>, realtime_us: u64, fields: &[(&str, &str)], binary: Option<&[u8]>) {
    out.extend_from_slice(
        format!(
            "__REALTIME_TIMESTAMP={realtime_us}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n",
            realtime_us % 1_000_000_000
        )
        .as_bytes(),
    );
    for (k, v) in fields {
        out.extend_from_slice(format!("{k}={v}\n").as_bytes());
    }
    if let Some(b) = binary {
        out.extend_from_slice(b"MESSAGE\n");
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        out.extend_from_slice(b);
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// Writes a journal file from export-format entries with systemd-journal-remote.
fn write_journal(path: &Path, export: &[u8]) -> bool {
    let Some(bin) = [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists()) else {
        panic!("this test needs systemd-journal-remote (Debian package systemd-journal-remote)");
    };
    let mut child = Command::new(bin)
        .arg(format!("--output={}", path.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(export).unwrap();
    child.wait().unwrap().success()
}

fn journalctl_present() -> bool {
    let ok = Command::new("journalctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: journalctl is not installed here (Debian package systemd); the journald source cannot be exercised");
    }
    ok
}

#[test]
fn journald_entries_arrive_mapped_and_resume_after_the_cursor() {
    if !journalctl_present() {
        return;
    }
    let dir = TempDir::new("logs-journald");
    let journal = dir.path().join("journal");
    std::fs::create_dir_all(&journal).unwrap();
    let mut export = Vec::new();
    export_entry(
        &mut export,
        1_796_306_709_123_456,
        &[
            ("MESSAGE", "Failed password for root from 10.0.0.9"),
            ("PRIORITY", "3"),
            ("_SYSTEMD_UNIT", "app.service"),
            ("SYSLOG_IDENTIFIER", "app"),
            ("_PID", "42"),
            ("_HOSTNAME", "gw-7"),
        ],
        None,
    );
    export_entry(
        &mut export,
        1_796_306_710_000_000,
        &[
            ("MESSAGE", "not mine"),
            ("PRIORITY", "6"),
            ("_SYSTEMD_UNIT", "other.service"),
        ],
        None,
    );
    export_entry(
        &mut export,
        1_796_306_711_000_000,
        &[
            ("PRIORITY", "4"),
            ("_SYSTEMD_UNIT", "app.service"),
            ("SYSLOG_IDENTIFIER", "app"),
        ],
        Some(b"binary \xff\xfe payload"),
    );
    assert!(
        write_journal(&journal.join("one.journal"), &export),
        "systemd-journal-remote failed"
    );
    let receiver = Receiver::start(Options::default());
    let port = free_port();
    let cfg = logs_config(
        dir.path(),
        port,
        &format!(
            "[[logs.source]]\nname = \"journal\"\ntype = \"journald\"\njournal_directory = \"{}\"\nunits = [\"app.service\"]\nstart_at = \"beginning\"\n",
            journal.display()
        ),
        &logstash_to(&receiver.url(), ""),
    );
    let mut agent = start_outpost(&cfg, port);
    wait_for("two app.service entries", Duration::from_secs(20), || {
        (receiver.len() >= 2).then_some(())
    });
    let events = receiver.snapshot();
    let e = &events[0];
    assert_eq!(e["message"], "Failed password for root from 10.0.0.9", "{e}");
    assert_eq!(e["level"], "error");
    assert_eq!(e["unit"], "app.service");
    assert_eq!(e["service"], "app");
    assert_eq!(e["pid"], 42);
    assert_eq!(e["host"]["name"], "gw-7");
    assert_eq!(e["@timestamp"], "2026-12-03T14:05:09.123Z");
    assert_eq!(events[1]["message"], "binary \u{fffd}\u{fffd} payload");
    assert_eq!(events[1]["level"], "warning");
    assert!(events[1]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "invalid_utf8"));
    agent.signal("TERM");
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(Some(0)));
    // New entries while the agent is down: after the restart, exactly those.
    let mut more = Vec::new();
    export_entry(
        &mut more,
        1_796_306_712_000_000,
        &[
            ("MESSAGE", "after the restart"),
            ("PRIORITY", "6"),
            ("_SYSTEMD_UNIT", "app.service"),
        ],
        None,
    );
    assert!(write_journal(&journal.join("two.journal"), &more));
    let _agent = start_outpost(&cfg, port);
    wait_for("the new entry", Duration::from_secs(20), || {
        (receiver.len() >= 3).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let messages: Vec<String> = receiver
        .snapshot()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(messages.len(), 3, "nothing read twice: {messages:?}");
    assert_eq!(messages[2], "after the restart");
}

#[test]
fn a_missing_journalctl_is_reported_and_the_agent_runs_on() {
    let dir = TempDir::new("logs-nojournal");
    let port = free_port();
    let cfg = logs_config(
        dir.path(),
        port,
        "[[logs.source]]\nname = \"journal\"\ntype = \"journald\"\njournalctl = \"/nonexistent/journalctl\"\n",
        "",
    );
    let _agent = start_outpost(&cfg, port);
    let addr = format!("127.0.0.1:{port}");
    wait_for("the problem counted", Duration::from_secs(20), || {
        let body = http_get(&addr, "/metrics").ok()?.body;
        metric(
            &body,
            "outpost_log_source_errors_total{source=\"journal\",reason=\"journalctl\"}",
        )
    });
    let log = std::fs::read_to_string(dir.path().join("outpost.log")).unwrap();
    assert!(log.contains("cannot run /nonexistent/journalctl"), "{log}");
    // Still serving.
    assert_eq!(http_get(&addr, "/metrics").unwrap().status, 200);
}

#[test]
fn log_sources_changed_over_remote_config_restart_from_their_positions() {
    let (dir, logs) = logs_dir("logs-remote");
    let broker = common::broker::Broker::new(dir.path());
    let receiver = Receiver::start(Options::default());
    let port = free_port();
    let source = |name: &str, file: &str, service: &str| {
        format!(
            "{{\"name\": \"{name}\", \"type\": \"file\", \"paths\": [\"{}\"], \"start_at\": \"beginning\", \
             \"poll_interval\": \"50ms\", \"service\": \"{service}\"}}",
            logs.join(file).display()
        )
    };
    let cfg = logs_config(
        dir.path(),
        port,
        &format!(
            "[[logs.source]]\nname = \"a\"\ntype = \"file\"\npaths = [\"{}\"]\nstart_at = \"beginning\"\npoll_interval = \"50ms\"\n\
             [mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\nreconnect_min = \"200ms\"\n",
            logs.join("a.log").display(),
            broker.port
        ),
        &logstash_to(&receiver.url(), ""),
    );
    let mut a = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join("a.log"))
        .unwrap();
    let mut b = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join("b.log"))
        .unwrap();
    let _agent = start_outpost(&cfg, port);
    let (mut na, mut nb) = (0u64, 0u64);
    let mut write = |n: u64, na: &mut u64, nb: &mut u64| {
        for _ in 0..n {
            *na += 1;
            a.write_all(line("a", *na).as_bytes()).unwrap();
            *nb += 1;
            b.write_all(line("b", *nb).as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    write(300, &mut na, &mut nb);
    let gateway = wait_for("the first events", Duration::from_secs(20), || {
        Some(receiver.snapshot().first()?["gateway"].as_str()?.to_string())
    });
    let topic = format!("outpost/{gateway}/config");
    // Version 1: source a changed (its service), source b added — while lines keep coming.
    common::broker::publish(
        broker.port,
        &topic,
        &format!(
            "{{\"version\": 1, \"logs\": {{\"source\": [{}, {}]}}}}",
            source("a", "a.log", "renamed"),
            source("b", "b.log", "b")
        ),
        true,
    );
    write(300, &mut na, &mut nb);
    // Version 2: source a removed.
    std::thread::sleep(Duration::from_secs(1));
    common::broker::publish(
        broker.port,
        &topic,
        &format!(
            "{{\"version\": 2, \"logs\": {{\"source\": [{}]}}}}",
            source("b", "b.log", "b")
        ),
        true,
    );
    std::thread::sleep(Duration::from_secs(1));
    write(300, &mut na, &mut nb);
    let count = |name: &str| -> Vec<u64> {
        let mut v: Vec<u64> = receiver
            .snapshot()
            .iter()
            .filter_map(|e| seq_of(e["message"].as_str()?))
            .filter(|(n, _)| n == name)
            .map(|(_, s)| s)
            .collect();
        v.sort();
        v
    };
    // b: every line once (it started at version 1 and read its file from the start).
    wait_for("every line of b", Duration::from_secs(30), || {
        (count("b").len() as u64 >= nb).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(count("b"), (1..=nb).collect::<Vec<_>>());
    // a: the lines written before its removal, each once: the restart at version 1 resumed
    // from its position (no line twice), the removal stopped it.
    let got_a = count("a");
    // (The last line may still wait in the multi-line assembler when the source is removed:
    // a stopped source leaves its pending record to be read again, not cut short.)
    assert!(got_a.len() as u64 >= 599, "a: {} lines", got_a.len());
    let mut dedup = got_a.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), got_a.len(), "a: read twice across the restart");
    assert_eq!(got_a, (1..=got_a.len() as u64).collect::<Vec<_>>(), "a: a gap");
    assert!((got_a.len() as u64) < na, "a kept reading after its removal");
}

#[test]
fn tcp_json_lines_mode_delivers_one_event_per_line() {
    let (dir, logs) = logs_dir("logs-tcp");
    // A Logstash `tcp` input with `codec => json_lines`: one JSON object per line.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::<serde_json::Value>::new()));
    let sink = std::sync::Arc::clone(&got);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let sink = std::sync::Arc::clone(&sink);
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(conn).lines().map_while(Result::ok) {
                    if let Ok(v) = serde_json::from_str(&line) {
                        sink.lock().unwrap().push(v);
                    }
                }
            });
        }
    });
    let port = free_port();
    let cfg = logs_config(
        dir.path(),
        port,
        &file_source("app", &logs, "app.log", ""),
        &format!("[logstash]\nurl = \"tcp://{addr}\"\nlinger = \"0s\"\n"),
    );
    let text: String = (1..=200).map(|i| line("app", i)).collect();
    std::fs::write(logs.join("app.log"), text).unwrap();
    let _agent = start_outpost(&cfg, port);
    wait_for("200 events over TCP", Duration::from_secs(20), || {
        (got.lock().unwrap().len() >= 200).then_some(())
    });
    let events = got.lock().unwrap().clone();
    let seqs: Vec<u64> = events
        .iter()
        .filter_map(|e| seq_of(e["message"].as_str()?))
        .map(|(_, s)| s)
        .collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
    assert_eq!(events[0]["source"], "app");
}

#[test]
fn huge_lines_invalid_utf8_and_binary_garbage_are_kept_marked_and_counted() {
    let (dir, logs) = logs_dir("logs-bad");
    let receiver = Receiver::start(Options::default());
    let port = free_port();
    let cfg = logs_config(
        dir.path(),
        port,
        &file_source(
            "bad",
            &logs,
            "*.log",
            "max_line_bytes = \"4KiB\"\nformat = \"json\"\n",
        ),
        &logstash_to(&receiver.url(), ""),
    );
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"{\"msg\":\"first\",\"level\":\"info\"}\n");
    // 1 MB in one line, with a multi-byte character across the cut.
    bytes.extend_from_slice(&"é".repeat(500_000).into_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(b"invalid \xff\xfe utf-8\n");
    bytes.extend_from_slice(&[0u8, 1, 2, 0x7f, 0xc3, 0x28, b'x', b'\n']);
    bytes.extend_from_slice(b"{\"msg\":\"last\",\"level\":\"error\"}\n");
    std::fs::write(logs.join("app.log"), &bytes).unwrap();
    let _agent = start_outpost(&cfg, port);
    wait_for("five events", Duration::from_secs(20), || {
        (receiver.len() >= 5).then_some(())
    });
    let events = receiver.snapshot();
    let tags = |e: &serde_json::Value| -> Vec<String> {
        e["tags"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    assert_eq!(events[0]["message"], "first");
    let huge = events[1]["message"].as_str().unwrap();
    assert!(
        huge.len() <= 4096 && huge.len() > 4000 && huge.chars().all(|c| c == 'é'),
        "{}",
        huge.len()
    );
    assert!(tags(&events[1]).contains(&"truncated".to_string()));
    assert_eq!(events[2]["message"], "invalid \u{fffd}\u{fffd} utf-8");
    assert!(tags(&events[2]).contains(&"invalid_utf8".to_string()));
    assert!(tags(&events[2]).contains(&"parse_failure".to_string()));
    assert!(tags(&events[3]).contains(&"invalid_utf8".to_string()));
    assert_eq!(events[4]["message"], "last");
    assert_eq!(events[4]["level"], "error");
    let addr = format!("127.0.0.1:{port}");
    wait_for("the counters", Duration::from_secs(10), || {
        let body = http_get(&addr, "/metrics").ok()?.body;
        let t = metric(&body, "outpost_log_truncated_total{source=\"bad\"}")?;
        let u = metric(&body, "outpost_log_invalid_utf8_total{source=\"bad\"}")?;
        let p = metric(&body, "outpost_log_parse_failures_total{source=\"bad\"}")?;
        (t == 1.0 && u == 2.0 && p == 3.0).then_some(())
    });
}

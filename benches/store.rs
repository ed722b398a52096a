//! Store benchmarks, one phase per process so each phase's RSS and I/O counters are its own.
//! `cargo bench --bench store -- PHASE DIR` (scripts/bench-store.sh runs them all):
//!
//! - `append200` / `append2k`: sustained appends of 200 B / 2 KB records with the default
//!   commit policy (1 s or 256 KiB), commits on the same thread as in the store thread;
//!   records/s, and write amplification = bytes this process wrote to the block device
//!   (`/proc/self/io` write_bytes) ÷ payload bytes.
//! - `fill1m`: builds a backlog of 1,000,000 records of 200 B; `drain`: reads and acknowledges
//!   all of it in batches of 1000 (records/s).
//! - `fill1g`: builds a 1 GB backlog of 2 KB records; `hold`: opens it in a fresh process,
//!   keeps appending for a few seconds, and reports RSS.
//! - `filllogs`: a backlog of 1,000,000 log records, real lines from LogHub (cycled), for the
//!   MQTT drain benchmark (scripts/bench-mqtt.sh).
//! - `snapshot`: 200 commits of one 6,700-byte metrics record each, as the default sampling
//!   rate produces them; bytes written per commit.
//!
//! `--features store-sled` with `OUTPOST_BENCH_BACKEND=sled` runs the same on sled.

use std::path::Path;
use std::time::Instant;

use outpost::config::StoreConfig;
use outpost::store::{BackendKind, Class, Store};

fn cfg() -> StoreConfig {
    let backend = match std::env::var("OUTPOST_BENCH_BACKEND").as_deref() {
        #[cfg(feature = "store-sled")]
        Ok("sled") => BackendKind::Sled,
        _ => BackendKind::Redb,
    };
    StoreConfig {
        backend,
        max_bytes: 4 << 30,
        min_free_disk: 0,
        ..StoreConfig::default()
    }
}

fn write_bytes() -> u64 {
    outpost::store::stats::process_write_bytes().unwrap_or(0)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Appends `n` records of `size` bytes as fast as the commit policy allows.
fn append(dir: &Path, n: u64, size: usize, report: &str) {
    let c = cfg();
    let mut store = Store::open(dir, c.clone(), None);
    let w0 = write_bytes();
    let start = Instant::now();
    let mut record = vec![0u8; size];
    for i in 0..n {
        record[..8].copy_from_slice(&i.to_le_bytes());
        store.append(Class::ALL[(i % 3) as usize], now_ms(), record.clone());
        if store.commit_due() {
            store.commit().expect("commit");
        }
    }
    store.commit().expect("commit");
    let secs = start.elapsed().as_secs_f64();
    store.close();
    let written = write_bytes() - w0;
    let payload = n * size as u64;
    if !report.is_empty() {
        println!(
            "{report}: backend {} {n} records x {size} B in {secs:.2} s = {:.0} records/s; \
             written {written} B for {payload} B payload: write amplification {:.2}; RSS {} KiB",
            c.backend.name(),
            n as f64 / secs,
            written as f64 / payload as f64,
            rss_kib()
        );
    }
}

/// LogHub's 2k samples (Linux, Apache, OpenSSH, ...), read from ../shared/data/loghub or
/// $OUTPOST_LOGHUB; never copied into the project.
fn loghub_lines() -> Vec<Vec<u8>> {
    let root = std::env::var("OUTPOST_LOGHUB").unwrap_or_else(|_| "../shared/data/loghub".into());
    let mut lines = Vec::new();
    for system in ["Linux", "Apache", "OpenSSH", "HDFS", "Zookeeper", "Proxifier"] {
        let path = Path::new(&root).join(system).join(format!("{system}_2k.log"));
        if let Ok(text) = std::fs::read(&path) {
            lines.extend(
                text.split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(|l| l.to_vec()),
            );
        }
    }
    assert!(
        !lines.is_empty(),
        "no LogHub samples under {root} (set OUTPOST_LOGHUB)"
    );
    lines
}

fn fill_logs(dir: &Path, n: usize) {
    let lines = loghub_lines();
    let mut store = Store::open(dir, cfg(), None);
    let start = Instant::now();
    let mut bytes = 0usize;
    for i in 0..n {
        let line = lines[i % lines.len()].clone();
        bytes += line.len();
        store.append(Class::Logs, now_ms(), line);
        if store.commit_due() {
            store.commit().expect("commit");
        }
    }
    store.commit().expect("commit");
    store.close();
    println!(
        "filllogs: {n} log records ({} distinct LogHub lines), {:.0} B average, in {:.1} s",
        lines.len(),
        bytes as f64 / n as f64,
        start.elapsed().as_secs_f64()
    );
}

fn drain(dir: &Path) {
    let c = cfg();
    let mut store = Store::open(dir, c.clone(), None);
    store.register_sink("bench", &Class::ALL, true);
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        let batch = store.read("bench", 1000, 4 << 20).expect("read");
        let Some(last) = batch.last().map(|r| r.seq) else {
            break;
        };
        n += batch.len() as u64;
        store.ack("bench", last);
        if store.commit_due() {
            store.commit().expect("commit");
        }
    }
    store.commit().expect("commit");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "drain: backend {} {n} records read and acknowledged in {secs:.2} s = {:.0} records/s; RSS {} KiB",
        c.backend.name(),
        n as f64 / secs,
        rss_kib()
    );
    store.close();
}

fn hold(dir: &Path) {
    let c = cfg();
    let start = Instant::now();
    let mut store = Store::open(dir, c.clone(), None);
    let open_secs = start.elapsed().as_secs_f64();
    let after_open = rss_kib();
    let record = vec![7u8; 2000];
    // Keep appending at a gateway-like pace for a few seconds (commits included).
    let until = Instant::now() + std::time::Duration::from_secs(3);
    while Instant::now() < until {
        for _ in 0..100 {
            store.append(Class::Logs, now_ms(), record.clone());
        }
        if store.commit_due() {
            store.commit().expect("commit");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let st = store.stats();
    println!(
        "hold: backend {} holding {} records, {} MB (disk {} MB); opened in {open_secs:.2} s; \
         RSS {after_open} KiB after open, {} KiB while appending",
        c.backend.name(),
        st.records.iter().sum::<u64>(),
        st.bytes.iter().sum::<u64>() / 1_000_000,
        st.disk_bytes / 1_000_000,
        rss_kib()
    );
    store.close();
}

fn snapshots(dir: &Path) {
    let c = cfg();
    let mut store = Store::open(dir, c.clone(), None);
    let record = vec![3u8; 6700];
    for _ in 0..20 {
        store.append(Class::Metrics, now_ms(), record.clone());
        store.commit().expect("commit");
    }
    let w0 = write_bytes();
    for _ in 0..200 {
        store.append(Class::Metrics, now_ms(), record.clone());
        store.commit().expect("commit");
    }
    let per_commit = (write_bytes() - w0) / 200;
    println!(
        "snapshot: backend {} one 6700 B record per commit: {per_commit} B written per commit \
         ({:.1}x), {:.0} MB/day at one commit per 10 s",
        c.backend.name(),
        per_commit as f64 / 6700.0,
        per_commit as f64 * 8640.0 / 1e6
    );
    store.close();
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let (Some(phase), Some(dir)) = (args.first(), args.get(1)) else {
        eprintln!(
            "usage: store PHASE DIR  (phases: append200 append2k fill1m drain fill1g hold snapshot filllogs)"
        );
        return;
    };
    let dir = Path::new(dir);
    std::fs::create_dir_all(dir).expect("bench dir");
    match phase.as_str() {
        "append200" => append(dir, 300_000, 200, "append200"),
        "append2k" => append(dir, 60_000, 2000, "append2k"),
        "fill1m" => append(dir, 1_000_000, 200, "fill1m"),
        "drain" => drain(dir),
        "fill1g" => append(dir, 500_000, 2000, "fill1g"),
        "hold" => hold(dir),
        "snapshot" => snapshots(dir),
        "filllogs" => fill_logs(dir, 1_000_000),
        other => eprintln!("unknown phase {other}"),
    }
}

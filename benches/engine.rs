//! The signature engine's speed and memory, with ripgrep as the reference for raw regex
//! scanning, on the same corpus in the same run.
//!
//! Corpus: the raw lines of the 16 LogHub 2k samples (`../shared/data/loghub/*/*_2k.log`;
//! LogHub, research licence), repeated to at least 1,000,000 lines, written to a temporary
//! file for ripgrep. Catalog: examples/signatures/error_signatures.yml (50 signatures).
//!
//! - `classify`: the matcher alone (the RegexSet fast path, the slow path where needed) over
//!   every line, one thread: lines/s, median of 5 runs.
//! - `ripgrep`: `rg -c -j1` with the catalog's patterns (look-around removed: the matcher's
//!   fast-path approximation, a superset) and the allowlist over the same file: lines/s,
//!   median of 5 (process start included; ~1 ms).
//! - `e2e`: classification, canonicalization (v1 with learning, the default), fingerprint
//!   and window update for every line (`--all-levels`: every line is grouped, the worst
//!   case), one thread: lines/s, median of 5.
//! - `rss`: 100,000 distinct fingerprints offered to an engine capped at the default 5,000:
//!   peak RSS before and after, fingerprints kept and evicted.
//!
//! Run through scripts/bench-engine.sh (release profile).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use outpost::config::signatures::{resolve, RawGrouping, RawSignatures};
use outpost::config::Problems;
use outpost::engine::matcher::{SlowWork, Verdict};
use outpost::engine::{matcher, Engine};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn engine(max_fingerprints: Option<u32>) -> Engine {
    let raw = RawSignatures {
        catalog_file: Some(
            root()
                .join("examples/signatures/error_signatures.yml")
                .display()
                .to_string(),
        ),
        grouping: Some(RawGrouping::default()),
        max_fingerprints,
        ..Default::default()
    };
    let mut p = Problems::default();
    let cfg = resolve(&mut p, Some(&raw), None).unwrap_or_else(|| panic!("{p}"));
    Engine::new(cfg, "bench", &[]).expect("engine")
}

fn corpus() -> Vec<String> {
    let dir = root().join("../shared/data/loghub");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    names.sort();
    let mut base = Vec::new();
    for d in names {
        let name = d.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(d.join(format!("{name}_2k.log"))).unwrap();
        base.extend(String::from_utf8_lossy(&bytes).lines().map(str::to_string));
    }
    let mut lines = Vec::with_capacity(1_000_000 + base.len());
    while lines.len() < 1_000_000 {
        lines.extend(base.iter().cloned());
    }
    lines
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    format!(
        "{cpu}, {} CPUs",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    )
}

fn classify(lines: &[String]) -> (f64, usize) {
    let e = engine(None);
    let m = matcher::Matcher::new(&e.cfg.catalog, e.cfg.max_scan_bytes).unwrap();
    let mut runs = Vec::new();
    let mut hits = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let mut w = SlowWork::default();
        hits = 0;
        for l in lines {
            if matches!(m.classify(l, &mut w), Verdict::Signature(_) | Verdict::Noise) {
                hits += 1;
            }
        }
        runs.push(lines.len() as f64 / t.elapsed().as_secs_f64());
    }
    (median(runs), hits)
}

fn ripgrep(lines: &[String]) -> Option<(f64, usize)> {
    let e = engine(None);
    let path = std::env::temp_dir().join(format!("outpost-engine-corpus-{}.log", std::process::id()));
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    let mut args: Vec<String> = vec!["-c".into(), "-j1".into(), "--no-mmap".into()];
    for s in &e.cfg.catalog.signatures {
        args.push("-e".into());
        args.push(matcher::strip_lookaround(&s.pattern));
    }
    for a in &e.cfg.catalog.allowlist {
        args.push("-e".into());
        args.push(a.clone());
    }
    args.push(path.display().to_string());
    let mut runs = Vec::new();
    let mut count = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let out = Command::new("rg").args(&args).output().ok()?;
        let secs = t.elapsed().as_secs_f64();
        count = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
        runs.push(lines.len() as f64 / secs);
    }
    let _ = std::fs::remove_file(&path);
    Some((median(runs), count))
}

fn e2e(lines: &[String]) -> f64 {
    let mut runs = Vec::new();
    for _ in 0..5 {
        let e = engine(None);
        let t = Instant::now();
        let mut clock = 1_796_119_200_000i64;
        for l in lines {
            clock += 1;
            let c = e.classify(l, None, true);
            let _ = e.observe(&c, l, clock, None);
        }
        runs.push(lines.len() as f64 / t.elapsed().as_secs_f64());
    }
    median(runs)
}

/// Where end-to-end time goes: canonicalization alone, learning alone, classification alone.
fn parts(lines: &[String]) {
    use outpost::engine::canon;
    let t = Instant::now();
    let cased: Vec<String> = lines.iter().map(|l| canon::v1_cased(l)).collect();
    let v1 = t.elapsed().as_secs_f64();
    let mut learner = outpost::engine::learn::Learner::default();
    let t = Instant::now();
    for c in &cased {
        std::hint::black_box(learner.assign("unclassified", "", c, 5000));
    }
    let learn = t.elapsed().as_secs_f64();
    let e = engine(None);
    let t = Instant::now();
    for l in lines {
        std::hint::black_box(e.classify(l, None, false));
    }
    let cls = t.elapsed().as_secs_f64();
    let n = lines.len() as f64;
    println!(
        "parts: µs/line: v1 canonicalization {:.2}, learning {:.2}, classify (no grouping) {:.2}",
        v1 / n * 1e6,
        learn / n * 1e6,
        cls / n * 1e6
    );
}

fn hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn rss() {
    let e = engine(None);
    let before = hwm_kib();
    let words = |mut i: u64| {
        let mut s = String::new();
        loop {
            s.push((b'a' + (i % 26) as u8) as char);
            i /= 26;
            if i == 0 {
                break s;
            }
        }
    };
    let mut t = 1_796_119_200_000i64;
    for i in 0..100_000u64 {
        t += 10;
        let msg = format!(
            "{} failed to open {} because the device went away",
            words(i),
            words(i * 7)
        );
        let c = e.classify(&msg, None, true);
        let _ = e.observe(&c, &msg, t, None);
    }
    let after = hwm_kib();
    let g = e.groups.lock().unwrap();
    println!(
        "rss: 100000 distinct fingerprints offered, cap {}: kept {}, evicted {}, templates {}; peak RSS {} KiB before, {} KiB after (+{} KiB)",
        e.cfg.max_fingerprints,
        g.groups.len(),
        g.evicted,
        g.learner.len(),
        before,
        after,
        after - before
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let modes: Vec<&str> = if args.is_empty() {
        vec!["classify", "ripgrep", "e2e", "rss"]
    } else {
        args.iter().map(String::as_str).collect()
    };
    println!("machine: {}", machine());
    let lines = if modes.iter().any(|m| *m != "rss") {
        corpus()
    } else {
        Vec::new()
    };
    let mut cls = None;
    let mut rg = None;
    for m in modes {
        match m {
            "classify" => {
                let (r, hits) = classify(&lines);
                println!(
                    "classify: {} lines, {hits} matched a signature or the allowlist: {:.0} lines/s (median of 5, one thread)",
                    lines.len(),
                    r
                );
                cls = Some(r);
            }
            "ripgrep" => match ripgrep(&lines) {
                Some((r, n)) => {
                    println!("ripgrep: rg -c -j1 with the same patterns: {n} lines matched, {r:.0} lines/s (median of 5)");
                    rg = Some(r);
                }
                None => println!("ripgrep: rg not found (Debian package ripgrep)"),
            },
            "e2e" => println!(
                "e2e: classify + canonicalize (v1, learning) + fingerprint + window, every line grouped: {:.0} lines/s (median of 5, one thread)",
                e2e(&lines)
            ),
            "rss" => rss(),
            "parts" => parts(&lines),
            other => eprintln!("unknown mode {other}: classify, ripgrep, e2e, rss"),
        }
    }
    if let (Some(c), Some(r)) = (cls, rg) {
        println!("classify / ripgrep: {:.2}", c / r);
    }
}

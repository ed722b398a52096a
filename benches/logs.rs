//! Log shipping against its peer, syslog-ng (Debian's `syslog-ng-core` + `syslog-ng-mod-http`:
//! a file source, an `http()` destination with a reliable disk-buffer), on the same machine in
//! the same run, both into the same Logstash-`http`-input-shaped receiver
//! (tests/common/logstash.rs, counting only).
//!
//! - `ceiling`: the receiver's own ceiling (JSON arrays of 500 events posted back to back).
//! - `throughput [LINES] [RUNS]`: a file of ~150-byte lines read from the start and delivered;
//!   lines/s (median of RUNS) and peak RSS for each, and the ratio.
//! - `crash [SECONDS]`: 500 lines/s for SECONDS, `kill -9` of the shipper every 1–3 s and the
//!   receiver down for a stretch: lines lost and duplicated, side by side.
//! - `disk [SECONDS]`: outpost alone at 50 lines/s: bytes written to disk (`/proc/PID/io`)
//!   per hour, and that divided by the bytes of the lines.
//!
//! Run through scripts/bench-logs.sh, which builds the release binary first.

#[path = "../tests/common/logstash.rs"]
#[allow(dead_code)]
mod logstash;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use logstash::{Options, Receiver};

fn outpost_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_outpost"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn line(seq: u64) -> String {
    format!(
        "2026-12-03T14:05:09.123Z INFO app seq={seq:09} worker=7 msg=\"request handled\" path=/api/v1/telemetry status=200 bytes=5123 took=12ms pad=xxxxxxx\n"
    )
}

fn seq_of(m: &str) -> Option<u64> {
    m.split_whitespace().nth(3)?.strip_prefix("seq=")?.parse().ok()
}

/// VmRSS and VmHWM of a process, KiB.
fn rss(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    (get("VmRSS:"), get("VmHWM:"))
}

/// CPU seconds (user + system) a process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(rest) = s.rfind(')').map(|i| &s[i + 1..]) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (t(11) + t(12)) / hz
}

fn write_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes: ")?.trim().parse().ok())
        .unwrap_or(0)
}

#[derive(Clone, Copy, PartialEq)]
enum Shipper {
    Outpost,
    SyslogNg,
}

impl Shipper {
    fn name(self) -> &'static str {
        match self {
            Shipper::Outpost => "outpost",
            Shipper::SyslogNg => "syslog-ng",
        }
    }

    /// Writes the shipper's config for `file` → `url` under `dir`.
    fn configure(self, dir: &Path, file: &Path, url: &str, extra: &str) {
        std::fs::create_dir_all(dir).unwrap();
        match self {
            Shipper::Outpost => std::fs::write(
                dir.join("outpost.toml"),
                format!(
                    "[agent]\ndata_dir = \"{}\"\n[metrics]\nlisten = \"127.0.0.1:{}\"\n{extra}\n{}\n\
                     [[logs.source]]\nname = \"app\"\ntype = \"file\"\npaths = [\"{}\"]\nstart_at = \"beginning\"\npoll_interval = \"50ms\"\n\
                     [logstash]\nurl = \"{url}\"\nlinger = \"200ms\"\n{}\nretry_min = \"200ms\"\nretry_max = \"1s\"\n",
                    dir.join("data").display(),
                    free_port(),
                    std::env::var("OUTPOST_BENCH_EXTRA").unwrap_or_default().replace("\\n", "\n"),
                    file.display(),
                    std::env::var("OUTPOST_BENCH_LOGSTASH").unwrap_or_default().replace("\\n", "\n"),
                ),
            )
            .unwrap(),
            Shipper::SyslogNg => {
                std::fs::create_dir_all(dir.join("buf")).unwrap();
                std::fs::write(
                    dir.join("syslog-ng.conf"),
                    format!(
                        "@version: 3.38\n\
                         options {{ stats-freq(0); log-fifo-size(100000); time-reopen(1); }};\n\
                         source s_file {{ file(\"{}\" follow-freq(0.05) flags(no-parse) log-fetch-limit(1000) log-iw-size(10000)); }};\n\
                         destination d_http {{ http(url(\"{url}/\") method(\"POST\") headers(\"Content-Type: application/json\")\n\
                           body-prefix(\"[\") delimiter(\",\") body-suffix(\"]\") body(\"$(format-json message=$MESSAGE host=$HOST)\")\n\
                           batch-lines(500) batch-bytes(1048576) batch-timeout(200) workers(1) timeout(10)\n\
                           disk-buffer(reliable(yes) dir(\"{}\") disk-buf-size(1073741824) mem-buf-size(10485760))); }};\n\
                         log {{ source(s_file); destination(d_http); }};\n",
                        file.display(),
                        dir.join("buf").display()
                    ),
                )
                .unwrap();
            }
        }
    }

    fn start(self, dir: &Path) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("shipper.log"))
            .unwrap();
        match self {
            Shipper::Outpost => Command::new(outpost_bin())
                .arg("run")
                .arg("--config")
                .arg(dir.join("outpost.toml"))
                .stdin(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .unwrap(),
            Shipper::SyslogNg => Command::new("syslog-ng")
                .arg("--foreground")
                .arg("--no-caps")
                .arg(format!("--cfgfile={}", dir.join("syslog-ng.conf").display()))
                .arg(format!("--persist-file={}", dir.join("persist").display()))
                .arg(format!("--pidfile={}", dir.join("pid").display()))
                .arg(format!("--control={}", dir.join("ctl").display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start syslog-ng (Debian package syslog-ng-core): {e}")),
        }
    }
}

fn ceiling() -> f64 {
    let receiver = Receiver::start(Options::default());
    receiver.count_only.store(true, Ordering::SeqCst);
    let events: Vec<String> = (0..500)
        .map(|i| serde_json::json!({"message": line(i).trim_end(), "host": {"name": "gw"}}).to_string())
        .collect();
    let body = format!("[{}]", events.join(","));
    let mut conn = std::net::TcpStream::connect(&receiver.addr).unwrap();
    conn.set_nodelay(true).unwrap();
    let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
    let req = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < Duration::from_secs(3) {
        conn.write_all(req.as_bytes()).unwrap();
        // Status line, headers, 2-byte body.
        let mut l = String::new();
        loop {
            l.clear();
            std::io::BufRead::read_line(&mut reader, &mut l).unwrap();
            if l == "\r\n" {
                break;
            }
        }
        let mut ok = [0u8; 2];
        std::io::Read::read_exact(&mut reader, &mut ok).unwrap();
        sent += 500;
    }
    let rate = sent as f64 / start.elapsed().as_secs_f64();
    println!("receiver ceiling: {rate:.0} events/s (500-event JSON arrays, one connection)");
    rate
}

fn throughput(lines: u64, runs: usize) {
    let base = std::env::temp_dir().join(format!("outpost-bench-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let file = base.join("app.log");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for i in 1..=lines {
            f.write_all(line(i).as_bytes()).unwrap();
        }
    }
    let bytes = std::fs::metadata(&file).unwrap().len();
    println!(
        "{lines} lines, {:.1} MB ({} bytes/line), file source from the start → receiver",
        bytes as f64 / 1e6,
        bytes / lines
    );
    let mut results = Vec::new();
    for shipper in [Shipper::Outpost, Shipper::SyslogNg] {
        let mut rates = Vec::new();
        let mut peaks = Vec::new();
        let mut cpus = Vec::new();
        for run in 0..runs {
            let receiver = Receiver::start(Options::default());
            receiver.count_only.store(true, Ordering::SeqCst);
            let dir = base.join(format!("{}-{run}", shipper.name()));
            shipper.configure(&dir, &file, &receiver.url(), "");
            let start = Instant::now();
            let mut child = shipper.start(&dir);
            let mut peak = 0;
            while (receiver.len() as u64) < lines {
                let (now, hwm) = rss(child.id());
                peak = peak.max(now).max(hwm);
                if start.elapsed() > Duration::from_secs(600) {
                    println!(
                        "  {} run {run}: only {} of {lines} after 600 s",
                        shipper.name(),
                        receiver.len()
                    );
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let secs = start.elapsed().as_secs_f64();
            let cpu = cpu_seconds(child.id());
            let _ = child.kill();
            let _ = child.wait();
            let rate = receiver.len() as f64 / secs;
            let per_line = cpu / lines as f64 * 1e6;
            println!(
                "  {} run {run}: {rate:.0} lines/s ({:.2} s), {per_line:.2} µs CPU/line, peak RSS {:.1} MiB",
                shipper.name(),
                secs,
                peak as f64 / 1024.0
            );
            rates.push(rate);
            peaks.push(peak as f64);
            cpus.push(per_line);
        }
        let (r, p, c) = (median(&mut rates), median(&mut peaks), median(&mut cpus));
        println!(
            "{}: median {r:.0} lines/s, {c:.2} µs CPU/line, peak RSS {:.1} MiB",
            shipper.name(),
            p / 1024.0
        );
        results.push((r, p, c));
    }
    println!(
        "outpost / syslog-ng: {:.2}x the throughput, {:.2}x the CPU per line, {:.2}x the peak RSS",
        results[0].0 / results[1].0,
        results[0].2 / results[1].2,
        results[0].1 / results[1].1
    );
    let _ = std::fs::remove_dir_all(&base);
}

/// Random numbers for kill times (xorshift; the seed is printed).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn crash(seconds: u64) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!(
        "kill -9 every 1-3 s for {seconds} s at 500 lines/s, receiver down for a fifth of it (seed {seed})"
    );
    for shipper in [Shipper::Outpost, Shipper::SyslogNg] {
        let mut rng = Rng(seed);
        let base = std::env::temp_dir().join(format!(
            "outpost-bench-crash-{}-{}",
            shipper.name(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let file = base.join("app.log");
        std::fs::write(&file, "").unwrap();
        let receiver = Receiver::start(Options::default());
        shipper.configure(&base, &file, &receiver.url(), "");
        let total = seconds * 500;
        let writer = {
            let file = file.clone();
            std::thread::spawn(move || {
                let mut f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
                let start = Instant::now();
                for i in 1..=total {
                    f.write_all(line(i).as_bytes()).unwrap();
                    let due = start + Duration::from_micros(i * 2000);
                    if let Some(w) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(w);
                    }
                }
            })
        };
        let mut child = shipper.start(&base);
        let start = Instant::now();
        let mut kills = 0;
        while start.elapsed() < Duration::from_secs(seconds) {
            std::thread::sleep(Duration::from_millis(1000 + rng.below(2000)));
            let _ = child.kill();
            let _ = child.wait();
            kills += 1;
            let t = start.elapsed().as_secs_f64() / seconds as f64;
            receiver.set_down((0.4..0.6).contains(&t));
            child = shipper.start(&base);
        }
        receiver.set_down(false);
        writer.join().unwrap();
        // Let it catch up: until nothing new arrives for 10 s.
        let mut last = (receiver.len(), Instant::now());
        while last.1.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(200));
            if receiver.len() != last.0 {
                last = (receiver.len(), Instant::now());
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        let events = receiver.snapshot();
        let unique: BTreeSet<u64> = events
            .iter()
            .filter_map(|e| seq_of(e["message"].as_str()?))
            .collect();
        let lost = total - unique.iter().filter(|s| **s <= total).count() as u64;
        let dups = events.len() as u64 - unique.len() as u64;
        println!(
            "{}: {total} lines written, {kills} kills: {lost} lost ({:.2}%), {dups} duplicated ({:.2}%)",
            shipper.name(),
            lost as f64 * 100.0 / total as f64,
            dups as f64 * 100.0 / total as f64
        );
        let _ = std::fs::remove_dir_all(&base);
    }
}

/// `outpost_store_appended_bytes_total{class="logs"}` of the agent configured under `dir`.
fn stored_log_bytes(dir: &Path) -> u64 {
    let cfg = std::fs::read_to_string(dir.join("outpost.toml")).unwrap_or_default();
    let Some(addr) = cfg.lines().find_map(|l| {
        l.strip_prefix("listen = \"")?
            .strip_suffix('"')
            .map(str::to_string)
    }) else {
        return 0;
    };
    let Ok(mut conn) = std::net::TcpStream::connect(&addr) else {
        return 0;
    };
    let _ = conn.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
    let mut body = String::new();
    let _ = std::io::Read::read_to_string(&mut conn, &mut body);
    body.lines()
        .find(|l| l.starts_with("outpost_store_appended_bytes_total{class=\"logs\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or(0.0) as u64
}

fn disk(seconds: u64) {
    for (label, extra) in [
        (
            "logs alone ([sample] interval = 1h)",
            "[sample]\ninterval = \"1h\"\n",
        ),
        ("with host metrics every 10 s (default)", ""),
    ] {
        let base = std::env::temp_dir().join(format!("outpost-bench-disk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let file = base.join("app.log");
        std::fs::write(&file, "").unwrap();
        let receiver = Receiver::start(Options::default());
        receiver.count_only.store(true, Ordering::SeqCst);
        Shipper::Outpost.configure(&base, &file, &receiver.url(), extra);
        let mut child = Shipper::Outpost.start(&base);
        std::thread::sleep(Duration::from_secs(3));
        let before = write_bytes(child.id());
        let stored_before = stored_log_bytes(&base);
        let mut f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
        let start = Instant::now();
        let mut payload = 0u64;
        let mut i = 0u64;
        while start.elapsed() < Duration::from_secs(seconds) {
            i += 1;
            let l = line(i);
            payload += l.len() as u64;
            f.write_all(l.as_bytes()).unwrap();
            let due = start + Duration::from_millis(i * 20);
            if let Some(w) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(w);
            }
        }
        let written = write_bytes(child.id()) - before;
        let secs = start.elapsed().as_secs_f64();
        // The stored payload: the agent's own count of log record bytes appended.
        let stored = stored_log_bytes(&base) - stored_before;
        let _ = child.kill();
        let _ = child.wait();
        println!(
            "outpost, 50 lines/s, {label}: {:.1} MB written per hour; lines {:.1} MB/h ({:.2}x), stored log events {:.1} MB/h ({:.2}x)",
            written as f64 / secs * 3600.0 / 1e6,
            payload as f64 / secs * 3600.0 / 1e6,
            written as f64 / payload as f64,
            stored as f64 / secs * 3600.0 / 1e6,
            written as f64 / stored.max(1) as f64
        );
        let _ = std::fs::remove_dir_all(&base);
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    match args.first().map(String::as_str) {
        Some("ceiling") => {
            ceiling();
        }
        Some("throughput") => throughput(n(1, 1_000_000), n(2, 3) as usize),
        Some("crash") => crash(n(1, 60)),
        Some("disk") => disk(n(1, 120)),
        _ => {
            ceiling();
            throughput(1_000_000, 3);
        }
    }
}

//! Helpers shared by the integration tests: the real `outpost` binary, real servers from
//! Debian packages on free loopback ports, a minimal HTTP client and an exposition parser.
#![allow(dead_code)]

pub mod broker;
pub mod prom;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn outpost_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_outpost"))
}

/// A free TCP port on loopback (bound, then released for the server to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// Finds an executable a test needs, or fails the test with what to install.
pub fn require(names: &[&str], package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "this test needs `{}` from the Debian package {package}; install it with \
         `sudo apt-get install {package}` or run scripts/install-deps.sh",
        names[0]
    );
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("outpost-test-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // OUTPOST_KEEP_TEST_DIRS=1 keeps them for a post-mortem.
        if std::env::var_os("OUTPOST_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A child process killed on drop, so a failing test leaves no server behind.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            child,
            name: name.to_string(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill -{sig} {} failed", self.name);
    }

    /// Waits for exit up to `timeout`; returns the exit code (None if killed by a signal).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<Option<i32>> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Debian's `prometheus-node-exporter` on a loopback port with extra flags and waits
/// until its /metrics answers.
pub fn node_exporter(port: u16, args: &[String]) -> Proc {
    let bin = require(
        &["prometheus-node-exporter", "node_exporter"],
        "prometheus-node-exporter",
    );
    let proc = Proc::spawn(
        "node_exporter",
        Command::new(bin)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(args)
            .stderr(Stdio::null()),
    );
    let addr = format!("127.0.0.1:{port}");
    wait_for("node_exporter /metrics", Duration::from_secs(15), || {
        http_get(&addr, "/metrics").ok().filter(|r| r.status == 200)
    });
    proc
}

/// Now, in Unix seconds.
pub fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Polls `f` until it returns Some, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends raw request bytes and reads the whole response (the servers close the connection).
pub fn http_raw(addr: &str, request: &[u8]) -> std::io::Result<HttpResponse> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(request)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no header end in {text:?}")))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(body)? } else { body.to_string() };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &str) -> std::io::Result<String> {
    let mut out = String::new();
    loop {
        let (size, tail) = rest
            .split_once("\r\n")
            .ok_or_else(|| std::io::Error::other("truncated chunk"))?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| std::io::Error::other(format!("bad chunk size {size:?}")))?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = tail
            .get(..size)
            .ok_or_else(|| std::io::Error::other("short chunk"))?;
        out.push_str(chunk);
        rest = tail.get(size + 2..).unwrap_or("");
    }
}

pub fn http_get(addr: &str, path: &str) -> std::io::Result<HttpResponse> {
    http_raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// A sample key: metric name and its labels, sorted.
pub type Key = (String, Vec<(String, String)>);

/// Parses the text exposition format (the subset both outpost and node_exporter emit).
pub fn parse_exposition(text: &str) -> BTreeMap<Key, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), Vec::new()),
            Some((name, rest)) => (name.to_string(), parse_labels(rest.trim_end_matches('}'))),
        };
        out.insert((name, labels), value);
    }
    out
}

fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "label value must be quoted in {s:?}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.push((name.trim_start_matches(',').to_string(), value));
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels.sort();
    labels
}

/// `# TYPE` lines: metric name → type.
pub fn parse_types(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect()
}

/// Writes a config file for a test agent: given TOML plus a data dir and listen address.
pub fn write_config(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let path = dir.join("outpost.toml");
    let text = format!(
        "[agent]\ndata_dir = \"{}\"\n\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n{extra}\n",
        dir.join("data").display()
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// Starts `outpost run` on a config and waits until /metrics answers 200.
/// The agent's log goes to `outpost.log` next to the config (appended across restarts).
pub fn start_outpost(config: &Path, port: u16) -> Proc {
    let log = config.with_file_name("outpost.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .expect("open agent log");
    let proc = Proc::spawn(
        "outpost",
        Command::new(outpost_bin())
            .args(["run", "--config"])
            .arg(config)
            .stderr(Stdio::from(log)),
    );
    let addr = format!("127.0.0.1:{port}");
    wait_for("outpost /metrics", Duration::from_secs(15), || {
        http_get(&addr, "/metrics").ok().filter(|r| r.status == 200)
    });
    proc
}

/// The value of the first sample whose series is exactly `series` (name plus labels as written).
pub fn metric(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
pub mod logstash;

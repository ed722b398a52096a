//! Real Prometheus 2.42 (remote-write receiver on, an out-of-order window set) and a real
//! Pushgateway from Debian's packages on free loopback ports, with a PromQL client; and a
//! scripted HTTP receiver for the error paths a real server will not produce on demand.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;

/// MemTotal of this machine in bytes, as node_exporter reports it.
pub fn mem_total_bytes() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap()
        * 1024.0
}

/// A fake sysfs under `dir` with one hwmon chip (`testchip`, temp1 = 42 °C), so a test can
/// unplug a sensor by removing `sys/class/hwmon/hwmon0`. Returns the sysfs root.
pub fn fake_sys(dir: &Path) -> PathBuf {
    let chip = dir.join("sys/class/hwmon/hwmon0");
    std::fs::create_dir_all(&chip).unwrap();
    std::fs::write(chip.join("name"), "testchip\n").unwrap();
    std::fs::write(chip.join("temp1_input"), "42000\n").unwrap();
    dir.join("sys")
}

/// Percent-encoding of a query parameter value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub struct Prometheus {
    pub port: u16,
    args: Vec<String>,
    proc: Option<Proc>,
    log: PathBuf,
}

impl Prometheus {
    /// Prometheus with `--web.enable-remote-write-receiver`, a 1-day out-of-order window, rule
    /// evaluation every second and `rules` (YAML, may be empty) as its rule file.
    pub fn new(dir: &Path, rules: &str) -> Prometheus {
        let port = free_port();
        let conf = dir.join("prometheus.yml");
        let rules_file = dir.join("rules.yml");
        std::fs::write(&rules_file, rules).unwrap();
        std::fs::write(
            &conf,
            format!(
                "global:\n  evaluation_interval: 1s\nrule_files:\n  - {}\nstorage:\n  tsdb:\n    out_of_order_time_window: 1d\n",
                rules_file.display()
            ),
        )
        .unwrap();
        let args = vec![
            format!("--config.file={}", conf.display()),
            format!("--storage.tsdb.path={}", dir.join("prom-data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--web.enable-remote-write-receiver".into(),
        ];
        let mut p = Prometheus {
            port,
            args,
            proc: None,
            log: dir.join("prometheus.log"),
        };
        p.start();
        p
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn write_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v1/write", self.port)
    }

    pub fn start(&mut self) {
        let bin = require(&["prometheus"], "prometheus");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let proc = Proc::spawn(
            "prometheus",
            Command::new(bin)
                .args(&self.args)
                .stdout(Stdio::null())
                .stderr(Stdio::from(log)),
        );
        let addr = self.addr();
        wait_for("prometheus ready", Duration::from_secs(60), || {
            http_get(&addr, "/-/ready").ok().filter(|r| r.status == 200)
        });
        self.proc = Some(proc);
    }

    /// SIGTERM, so the TSDB closes cleanly and the same data directory opens again.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.signal("TERM");
            assert!(
                p.wait_exit(Duration::from_secs(30)).is_some(),
                "prometheus did not stop"
            );
        }
    }

    /// `GET /api/v1/<path>?query=<q>[&time=..]`, the `data` of a successful answer.
    pub fn api(&self, path: &str, query: &str) -> serde_json::Value {
        let url = if query.is_empty() {
            format!("/api/v1/{path}")
        } else {
            format!("/api/v1/{path}?query={}", urlencode(query))
        };
        let r = http_get(&self.addr(), &url).unwrap_or_else(|e| panic!("prometheus {url}: {e}"));
        let v: serde_json::Value =
            serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("prometheus {url}: {e}: {}", r.body));
        assert_eq!(v["status"], "success", "prometheus {url}: {}", r.body);
        v["data"].clone()
    }

    /// An instant query evaluated at `time` (Unix seconds): the `data` of the answer.
    pub fn api_at(&self, path: &str, query: &str, time: f64) -> serde_json::Value {
        let url = format!("/api/v1/{path}?query={}&time={time:.3}", urlencode(query));
        let r = http_get(&self.addr(), &url).unwrap_or_else(|e| panic!("prometheus {url}: {e}"));
        let v: serde_json::Value =
            serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("prometheus {url}: {e}: {}", r.body));
        assert_eq!(v["status"], "success", "prometheus {url}: {}", r.body);
        v["data"].clone()
    }

    /// The result vector (or matrix) of an instant query.
    pub fn query(&self, q: &str) -> Vec<serde_json::Value> {
        self.api("query", q)["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The single value of an instant query that returns one series, if it does.
    pub fn value(&self, q: &str) -> Option<f64> {
        let r = self.query(q);
        r.first()?["value"][1].as_str()?.parse().ok()
    }
}

pub struct Pushgateway {
    pub port: u16,
    _proc: Proc,
}

impl Pushgateway {
    pub fn new(dir: &Path) -> Pushgateway {
        let bin = require(
            &["prometheus-pushgateway", "pushgateway"],
            "prometheus-pushgateway",
        );
        let port = free_port();
        let log = std::fs::File::create(dir.join("pushgateway.log")).unwrap();
        let proc = Proc::spawn(
            "pushgateway",
            Command::new(bin)
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                // Debian's default persists to /var/lib/prometheus/pushgateway.data: a test
                // would read the groups an earlier run pushed and could pass on stale data.
                .arg(format!(
                    "--persistence.file={}",
                    dir.join("pushgateway.data").display()
                ))
                .stdout(Stdio::null())
                .stderr(Stdio::from(log)),
        );
        let addr = format!("127.0.0.1:{port}");
        wait_for("pushgateway ready", Duration::from_secs(30), || {
            http_get(&addr, "/-/ready").ok().filter(|r| r.status == 200)
        });
        Pushgateway { port, _proc: proc }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The groups the Pushgateway holds (`/api/v1/metrics`).
    pub fn groups(&self) -> Vec<serde_json::Value> {
        let r = http_get(&self.addr(), "/api/v1/metrics").expect("pushgateway api");
        let v: serde_json::Value = serde_json::from_str(&r.body).expect("pushgateway json");
        v["data"].as_array().cloned().unwrap_or_default()
    }
}

/// One request as the scripted receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the receiver answers: status, extra headers, body, and a delay before answering.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }
    pub fn body(mut self, body: &str) -> Answer {
        self.body = body.into();
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Answer {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn delay(mut self, d: Duration) -> Answer {
        self.delay = d;
        self
    }
}

type Script = Box<dyn FnMut(usize, &Received) -> Answer + Send>;

/// An HTTP/1.1 server on a free loopback port that records every request and answers as the
/// script says (called with the request's index, from 0). Keep-alive is supported, as HTTP
/// clients reuse connections. Runs until the test ends.
pub struct Receiver {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start(script: impl FnMut(usize, &Received) -> Answer + Send + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Mutex<Script>> = Arc::new(Mutex::new(Box::new(script)));
        let reqs = Arc::clone(&requests);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let reqs = Arc::clone(&reqs);
                let script = Arc::clone(&script);
                std::thread::spawn(move || serve(conn, reqs, script));
            }
        });
        Receiver { port, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(conn: TcpStream, reqs: Arc<Mutex<Vec<Received>>>, script: Arc<Mutex<Script>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let mut writer = match conn.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let req = Received {
            at: Instant::now(),
            method,
            path,
            headers,
            body,
        };
        let index = {
            let mut r = reqs.lock().unwrap();
            r.push(req.clone());
            r.len() - 1
        };
        let answer = (script.lock().unwrap())(index, &req);
        std::thread::sleep(answer.delay);
        let mut out = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
            answer.status,
            answer.body.len()
        );
        for (k, v) in &answer.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&answer.body);
        if writer.write_all(out.as_bytes()).is_err() {
            return;
        }
    }
}

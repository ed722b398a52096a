//! A receiver that behaves as Logstash's `http` input documents it (Logstash is not packaged
//! for Debian): a JSON array body is split into events, a JSON object is one event; gzip
//! bodies (`Content-Encoding: gzip`) are inflated; with credentials set, a request without
//! them gets 401; while its queue is full it answers 429; a body over its size limit gets 413.
//! Tests can take it down (connections are accepted and dropped unanswered) and bring it back.
//! It sets TCP_NODELAY on its connections so delayed ACKs do not make it the bottleneck.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct Counts {
    pub requests: AtomicU64,
    pub unauthorized: AtomicU64,
    pub too_many: AtomicU64,
    pub too_large: AtomicU64,
    pub gzip: AtomicU64,
    pub dropped_connections: AtomicU64,
}

pub struct Receiver {
    pub addr: String,
    pub events: Arc<Mutex<Vec<serde_json::Value>>>,
    pub counts: Arc<Counts>,
    down: Arc<AtomicBool>,
    /// Answer 429 to this many requests (a full queue), then accept again.
    full: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    /// Keep only the count of events (benchmarks), not the events.
    pub count_only: Arc<AtomicBool>,
    pub received: Arc<AtomicUsize>,
}

#[derive(Clone, Default)]
pub struct Options {
    /// `user:password` the requests must carry (basic auth).
    pub credentials: Option<String>,
    /// Bodies (as sent) over this many bytes get 413.
    pub max_body: Option<usize>,
}

impl Receiver {
    pub fn start(opts: Options) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        Self::on(listener, opts)
    }

    pub fn on(listener: TcpListener, opts: Options) -> Receiver {
        let addr = listener.local_addr().expect("addr").to_string();
        let r = Receiver {
            addr,
            events: Arc::default(),
            counts: Arc::default(),
            down: Arc::default(),
            full: Arc::default(),
            stop: Arc::default(),
            count_only: Arc::default(),
            received: Arc::default(),
        };
        let (events, counts, down, full, stop, count_only, received) = (
            Arc::clone(&r.events),
            Arc::clone(&r.counts),
            Arc::clone(&r.down),
            Arc::clone(&r.full),
            Arc::clone(&r.stop),
            Arc::clone(&r.count_only),
            Arc::clone(&r.received),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                if down.load(Ordering::SeqCst) {
                    counts.dropped_connections.fetch_add(1, Ordering::SeqCst);
                    drop(conn);
                    continue;
                }
                let st = State {
                    events: Arc::clone(&events),
                    counts: Arc::clone(&counts),
                    down: Arc::clone(&down),
                    full: Arc::clone(&full),
                    count_only: Arc::clone(&count_only),
                    received: Arc::clone(&received),
                    opts: opts.clone(),
                };
                std::thread::spawn(move || serve(conn, st));
            }
        });
        r
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn fill(&self, requests: u32) {
        self.full.store(requests, Ordering::SeqCst);
    }

    pub fn len(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }

    pub fn snapshot(&self) -> Vec<serde_json::Value> {
        self.events.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

struct State {
    events: Arc<Mutex<Vec<serde_json::Value>>>,
    counts: Arc<Counts>,
    down: Arc<AtomicBool>,
    full: Arc<AtomicU32>,
    count_only: Arc<AtomicBool>,
    received: Arc<AtomicUsize>,
    opts: Options,
}

fn respond(conn: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let msg = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(msg.as_bytes())
}

fn serve(conn: TcpStream, st: State) {
    let _ = conn.set_nodelay(true);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut w = match conn.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut r = BufReader::with_capacity(256 * 1024, conn);
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.trim().is_empty() {
            continue;
        }
        let mut length = 0usize;
        let mut gzip = false;
        let mut auth: Option<String> = None;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let Some((name, value)) = h.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "content-encoding" => gzip = value.eq_ignore_ascii_case("gzip"),
                "authorization" => auth = Some(value.to_string()),
                _ => {}
            }
        }
        let mut body = vec![0u8; length];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        if st.down.load(Ordering::SeqCst) {
            st.counts.dropped_connections.fetch_add(1, Ordering::SeqCst);
            return;
        }
        st.counts.requests.fetch_add(1, Ordering::SeqCst);
        if let Some(cred) = &st.opts.credentials {
            let want = format!("Basic {}", outpost::net::http::base64(cred.as_bytes(), false));
            if auth.as_deref() != Some(want.as_str()) {
                st.counts.unauthorized.fetch_add(1, Ordering::SeqCst);
                if respond(&mut w, "401 Unauthorized", "unauthorized").is_err() {
                    return;
                }
                continue;
            }
        }
        if st
            .full
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            st.counts.too_many.fetch_add(1, Ordering::SeqCst);
            if respond(&mut w, "429 Too Many Requests", "queue full").is_err() {
                return;
            }
            continue;
        }
        if st.opts.max_body.is_some_and(|m| body.len() > m) {
            st.counts.too_large.fetch_add(1, Ordering::SeqCst);
            if respond(&mut w, "413 Payload Too Large", "too large").is_err() {
                return;
            }
            continue;
        }
        let plain = if gzip {
            st.counts.gzip.fetch_add(1, Ordering::SeqCst);
            match outpost::sinks::payload::gunzip(&body) {
                Some(b) => b,
                None => {
                    let _ = respond(&mut w, "400 Bad Request", "bad gzip");
                    continue;
                }
            }
        } else {
            body
        };
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&plain);
        let events = match parsed {
            Ok(serde_json::Value::Array(a)) => a,
            Ok(o @ serde_json::Value::Object(_)) => vec![o],
            _ => {
                // The http input keeps an unparsable body as one event's message.
                vec![serde_json::json!({ "message": String::from_utf8_lossy(&plain) })]
            }
        };
        st.received.fetch_add(events.len(), Ordering::SeqCst);
        if !st.count_only.load(Ordering::SeqCst) {
            st.events.lock().unwrap().extend(events);
        }
        if respond(&mut w, "200 OK", "ok").is_err() {
            return;
        }
    }
}

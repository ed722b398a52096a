//! The delivery engine on its own, with the sink docs/ARCHITECTURE.md describes for Logstash:
//! an encoder that sends log records as one JSON array per request, `HttpPost`, and a small
//! receiver that behaves as the Logstash `http` input documents (a JSON array is split into
//! events; 429 when its queue is full; 401 without the configured credentials). The store is
//! the real one (redb, in a temporary directory).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::config::StoreConfig;
use crate::store::{Append, StoreThread};

/// Log records as one JSON array of `{"message": …}` events per request.
struct JsonLines;

impl Encoder for JsonLines {
    fn read_limits(&self) -> (usize, usize) {
        (50, 1 << 20)
    }

    fn encode(&mut self, records: &[Record], _live: bool) -> Encoded {
        let events: Vec<serde_json::Value> = records
            .iter()
            .map(|r| serde_json::json!({ "message": String::from_utf8_lossy(&r.data) }))
            .collect();
        Encoded {
            requests: vec![Request {
                body: serde_json::to_vec(&events).expect("plain data"),
                items: events.len() as u64,
                tally: Vec::new(),
            }],
            dropped: Vec::new(),
        }
    }
}

/// What the receiver does with the next request.
#[derive(Clone, Copy)]
enum Answer {
    Full,
    Unauthorized,
    Accept,
}

/// A Logstash-`http`-input-shaped receiver: answers from `script` (then accepts), keeps
/// every accepted event's message, and counts the requests it refused.
struct Receiver {
    url: String,
    events: Arc<Mutex<Vec<String>>>,
    refused: Arc<Mutex<u32>>,
}

fn receiver(script: Vec<Answer>) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let events = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(Mutex::new(0));
    let (ev, rf) = (Arc::clone(&events), Arc::clone(&refused));
    std::thread::spawn(move || {
        let mut script = script.into_iter();
        for stream in listener.incoming().take(200) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let status = match script.next().unwrap_or(Answer::Accept) {
                Answer::Full => "429 Too Many Requests",
                Answer::Unauthorized => "401 Unauthorized",
                Answer::Accept => {
                    let array: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("a JSON array");
                    let mut ev = ev.lock().unwrap();
                    for e in array {
                        ev.push(e["message"].as_str().unwrap_or_default().to_string());
                    }
                    "200 OK"
                }
            };
            if !status.starts_with("200") {
                *rf.lock().unwrap() += 1;
            }
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
        }
    });
    Receiver { url, events, refused }
}

fn endpoint(url: &str) -> Endpoint {
    Endpoint {
        url: url.to_string(),
        headers: Vec::new(),
        authorization: None,
        tls: None,
        timeout: Duration::from_secs(5),
    }
}

const NAMES: Names = Names {
    sink: "logstash",
    unit: "events",
    reject_reasons: &["unauthorized"],
    drop_reasons: &[],
    drop_help: "Events not sent, by reason.",
};

/// Appends `n` log lines, runs the sink until the receiver holds `want` events or 10 s
/// passed, and returns what the receiver got, the stats' families and the store's backlog.
fn deliver(
    script: Vec<Answer>,
    n: usize,
    want: usize,
) -> (Vec<String>, u32, Vec<crate::model::Family>, usize) {
    let dir = std::env::temp_dir().join(format!(
        "outpost-forward-{}-{}",
        std::process::id(),
        crate::net::pace::random_u64()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cfg = StoreConfig {
        commit_interval: Duration::from_millis(20),
        ..StoreConfig::default()
    };
    let store = StoreThread::spawn(dir.clone(), cfg, None).expect("store thread");
    let handle = store.handle();
    let rx = receiver(script);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stats = Arc::new(ForwardStats::new(NAMES));
    let backlog = rt.block_on(async {
        let mut last = None;
        for i in 0..n {
            let line = format!("line {i}");
            match handle.append(Class::Logs, crate::model::now_ms(), line.into_bytes()) {
                Append::Accepted(t) => last = Some(t),
                other => panic!("append: {other:?}"),
            }
        }
        // All durable before the sink starts: one lane (the backlog), so one order.
        let last = last.expect("appended");
        while !handle.is_durable(last) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let stop = Stop::new();
        let sink = Forward {
            settings: Settings {
                classes: &[Class::Logs],
                backfill_rate: 0,
                retry_min: Duration::from_millis(10),
                retry_max: Duration::from_millis(50),
                linger: Duration::ZERO,
                ordered: false,
            },
            store: handle.clone(),
            stats: Arc::clone(&stats),
            encoder: JsonLines,
            transport: Arc::new(HttpPost::new(
                &endpoint(&rx.url),
                &[("Content-Type", "application/json")],
            )),
        };
        let task = tokio::spawn(sink.run(stop.clone()));
        let started = tokio::time::Instant::now();
        while rx.events.lock().unwrap().len() < want && started.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Let the last acknowledgement reach the store and a commit happen.
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.stop();
        let _ = task.await;
        handle
            .read_between("logstash", 0, u64::MAX, 1000, 1 << 20)
            .await
            .map(|r| r.len())
            .unwrap_or(usize::MAX)
    });
    store.shutdown(std::time::Instant::now() + Duration::from_secs(2));
    let _ = std::fs::remove_dir_all(&dir);
    let mut families = Vec::new();
    crate::telemetry::Report::report(&*stats, &mut families);
    let events = rx.events.lock().unwrap().clone();
    let refused = *rx.refused.lock().unwrap();
    (events, refused, families, backlog)
}

fn value(families: &[crate::model::Family], name: &str, label: Option<&str>) -> f64 {
    let f = families
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name}"));
    f.samples
        .iter()
        .find(|s| label.is_none_or(|l| s.labels.iter().any(|(_, v)| v == l)))
        .map(|s| s.value)
        .unwrap_or_else(|| panic!("{name} {label:?}"))
}

#[test]
fn a_full_receiver_is_retried_and_every_event_arrives_once_in_order() {
    let (events, refused, families, backlog) =
        deliver(vec![Answer::Full, Answer::Full, Answer::Full], 120, 120);
    let want: Vec<String> = (0..120).map(|i| format!("line {i}")).collect();
    assert_eq!(events, want, "every line once, in order, after three 429s");
    assert_eq!(refused, 3);
    assert_eq!(backlog, 0, "everything delivered is acknowledged in the store");
    assert_eq!(value(&families, "outpost_logstash_events_total", None), 120.0);
    assert_eq!(
        value(&families, "outpost_logstash_requests_total", Some("429")),
        3.0
    );
    assert!(value(&families, "outpost_logstash_last_success_timestamp_seconds", None) > 0.0);
}

#[test]
fn a_refusal_for_good_is_counted_and_passed_over() {
    // The first batch is refused with 401 (not retried); the rest still arrives.
    let (events, refused, families, backlog) = deliver(vec![Answer::Unauthorized], 120, 70);
    assert_eq!(refused, 1);
    assert_eq!(
        backlog, 0,
        "the refused batch is acknowledged too: it must not block the queue"
    );
    let rejected = value(
        &families,
        "outpost_logstash_rejected_events_total",
        Some("unauthorized"),
    );
    assert!(rejected >= 1.0, "{rejected}");
    assert_eq!(
        events.len() as f64 + rejected,
        120.0,
        "each line delivered or counted"
    );
    assert_eq!(events.last().map(String::as_str), Some("line 119"));
}

//! The Logstash sink: stored log events to Logstash, as an encoder on the delivery engine
//! ([`super::forward`]): lanes, live first, backfill rate, retries with jitter and
//! `Retry-After`, and the once-per-episode logs are the engine's.
//!
//! What is Logstash's own: the body is a JSON array of events ([`EventJson`], split into
//! events by the `http` input's JSON codec), gzip-compressed by default, at most `max_events`
//! events and `max_bytes` bytes per request, lingering up to `linger` for a fuller request. A
//! 413 splits the request in halves; a single event still too large is sent once more with
//! its message cut (tagged `truncated`), then counted as rejected. With `tcp://` the same
//! events go as JSON lines over one TCP connection ([`TcpLines`]): delivered means the kernel
//! took the bytes, nothing more.

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::forward::{self, Encoded, Forward, ForwardStats, HttpPost, Names, Request, Settings, Transport};
use super::payload::{gunzip, gzip_level, EventJson};
use crate::config::logstash::{LogstashConfig, LogstashTarget};
use crate::model::event::Event;
use crate::net::http::Outcome;
use crate::shutdown::Stop;
use crate::store::{Class, Record, StoreHandle};
use crate::telemetry::Telemetry;

pub const SINK: &str = "logstash";

pub const NAMES: Names = Names {
    sink: SINK,
    unit: "events",
    reject_reasons: &[
        "bad_request",
        "http_4xx",
        "not_found",
        "too_large",
        "unauthorized",
    ],
    drop_reasons: &["undecodable"],
    drop_help: "Log events not sent, by reason (undecodable: a damaged stored event).",
};

/// A message cut for a 413 keeps this many bytes at least.
const MIN_MESSAGE: usize = 1024;

/// Log events to JSON request bodies.
pub struct JsonEvents {
    pub max_events: usize,
    pub max_bytes: usize,
    pub gzip: bool,
    /// JSON lines (the tcp input) instead of a JSON array.
    pub lines: bool,
}

impl JsonEvents {
    pub fn new(cfg: &LogstashConfig) -> JsonEvents {
        let lines = matches!(cfg.target, LogstashTarget::Tcp { .. });
        JsonEvents {
            max_events: cfg.max_events,
            max_bytes: cfg.max_bytes,
            gzip: cfg.gzip && !lines,
            lines,
        }
    }

    fn finish(&self, objects: &[Vec<u8>]) -> Request {
        let mut body = Vec::with_capacity(objects.iter().map(|o| o.len() + 1).sum::<usize>() + 2);
        if self.lines {
            for o in objects {
                body.extend_from_slice(o);
                body.push(b'\n');
            }
        } else {
            body.push(b'[');
            for (i, o) in objects.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(o);
            }
            body.push(b']');
        }
        if self.gzip {
            // Level 1: a gateway's CPU is worth more than the last few percent of bytes.
            body = gzip_level(&body, 1);
        }
        Request {
            body,
            items: objects.len() as u64,
            tally: Vec::new(),
        }
    }

    /// The JSON objects of a request body.
    fn objects(&self, req: &Request) -> Option<Vec<serde_json::Value>> {
        let plain = if self.gzip {
            gunzip(&req.body)?
        } else {
            req.body.clone()
        };
        if self.lines {
            plain
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).ok())
                .collect()
        } else {
            serde_json::from_slice(&plain).ok()
        }
    }
}

impl forward::Encoder for JsonEvents {
    fn read_limits(&self) -> (usize, usize) {
        // Stored events are about half their JSON size.
        (self.max_events, self.max_bytes)
    }

    fn encode(&mut self, records: &[Record], _live: bool) -> Encoded {
        let mut out = Encoded::default();
        let mut objects: Vec<Vec<u8>> = Vec::new();
        let mut size = 2;
        for r in records {
            let event = match Event::decode(&r.data) {
                Ok(e) => e,
                Err(e) => {
                    log::error!(
                        "logstash: stored event {} does not decode ({e}); skipping it",
                        r.seq
                    );
                    out.dropped.push(("undecodable", 1));
                    continue;
                }
            };
            let json = serde_json::to_vec(&EventJson::from(event)).expect("plain data serializes");
            if !objects.is_empty()
                && (size + json.len() + 1 > self.max_bytes || objects.len() >= self.max_events)
            {
                out.requests.push(self.finish(&objects));
                objects.clear();
                size = 2;
            }
            size += json.len() + 1;
            objects.push(json);
        }
        if !objects.is_empty() {
            out.requests.push(self.finish(&objects));
        }
        out
    }

    fn split(&mut self, req: &Request) -> Option<Vec<Request>> {
        let objects = self.objects(req)?;
        let encode = |o: &serde_json::Value| serde_json::to_vec(o).expect("plain data serializes");
        if objects.len() > 1 {
            let (a, b) = objects.split_at(objects.len() / 2);
            let a: Vec<Vec<u8>> = a.iter().map(encode).collect();
            let b: Vec<Vec<u8>> = b.iter().map(encode).collect();
            return Some(vec![self.finish(&a), self.finish(&b)]);
        }
        // One event too large: cut its message once, and mark it.
        let mut o = objects.into_iter().next()?;
        let tags = o
            .get("tags")
            .and_then(|t| t.as_array())
            .cloned()
            .unwrap_or_default();
        if tags.iter().any(|t| t == "truncated_for_size") {
            return None;
        }
        let message = o.get("message")?.as_str()?.to_string();
        let keep = (message.len() / 4).max(MIN_MESSAGE).min(message.len());
        if keep >= message.len() {
            return None;
        }
        let cut = crate::model::event::floor_char_boundary(&message, keep);
        o["message"] = serde_json::Value::String(message[..cut].to_string());
        let mut tags = tags;
        for t in ["truncated", "truncated_for_size"] {
            if !tags.iter().any(|x| x == t) {
                tags.push(serde_json::Value::String(t.into()));
            }
        }
        o["tags"] = serde_json::Value::Array(tags);
        Some(vec![self.finish(&[encode(&o)])])
    }
}

/// JSON lines over one TCP connection, reconnected when it breaks.
pub struct TcpLines {
    address: String,
    target: String,
    timeout: Duration,
    conn: Mutex<Option<TcpStream>>,
}

impl TcpLines {
    pub fn new(address: &str, timeout: Duration) -> TcpLines {
        TcpLines {
            address: address.to_string(),
            target: format!("tcp://{address}"),
            timeout,
            conn: Mutex::new(None),
        }
    }

    fn connect(&self) -> std::io::Result<TcpStream> {
        use std::net::ToSocketAddrs;
        let mut last = std::io::Error::other("no address");
        for a in self.address.to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, self.timeout) {
                Ok(s) => {
                    s.set_write_timeout(Some(self.timeout))?;
                    s.set_nodelay(true)?;
                    return Ok(s);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

impl Transport for TcpLines {
    fn send(&self, body: &[u8]) -> Outcome {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            match self.connect() {
                Ok(s) => *guard = Some(s),
                Err(e) => {
                    return Outcome::Retry {
                        status: None,
                        after: None,
                        message: format!("cannot connect: {e}"),
                    }
                }
            }
        }
        let Some(s) = guard.as_mut() else {
            return Outcome::Retry {
                status: None,
                after: None,
                message: "no connection".into(),
            };
        };
        match s.write_all(body).and_then(|_| s.flush()) {
            Ok(()) => Outcome::Delivered(200),
            Err(e) => {
                *guard = None;
                Outcome::Retry {
                    status: None,
                    after: None,
                    message: format!("write failed: {e}"),
                }
            }
        }
    }

    fn target(&self) -> &str {
        &self.target
    }
}

/// The sink as the runtime starts it.
pub struct LogstashSink {
    pub cfg: LogstashConfig,
    pub store: StoreHandle,
    pub telemetry: Arc<Telemetry>,
}

impl LogstashSink {
    /// Runs until `stop` trips; what was not delivered stays stored.
    pub async fn run(self, stop: Stop) {
        let stats = self.telemetry.register_with(SINK, || ForwardStats::new(NAMES));
        let settings = Settings {
            classes: &[Class::Logs],
            backfill_rate: self.cfg.backfill_rate,
            retry_min: self.cfg.retry_min,
            retry_max: self.cfg.retry_max,
            linger: self.cfg.linger,
            ordered: false,
        };
        let encoder = JsonEvents::new(&self.cfg);
        match &self.cfg.target {
            LogstashTarget::Http(endpoint) => {
                let headers: &[(&'static str, &'static str)] = if self.cfg.gzip {
                    &[("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
                } else {
                    &[("Content-Type", "application/json")]
                };
                Forward {
                    settings,
                    store: self.store,
                    stats,
                    encoder,
                    transport: Arc::new(HttpPost::new(endpoint, headers)),
                }
                .run(stop)
                .await
            }
            LogstashTarget::Tcp { address, timeout } => {
                Forward {
                    settings,
                    store: self.store,
                    stats,
                    encoder,
                    transport: Arc::new(TcpLines::new(address, *timeout)),
                }
                .run(stop)
                .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::Value;
    use forward::Encoder;

    fn record(seq: u64, message: &str) -> Record {
        let mut e = crate::model::event::tests::sample();
        e.message = message.into();
        e.seq = seq;
        e.timestamp_ms = 1_796_306_709_123;
        e.fields = vec![("code".into(), Value::Int(5))];
        Record {
            seq,
            class: Class::Logs,
            ts_ms: e.timestamp_ms,
            data: e.encode(),
        }
    }

    #[test]
    fn bodies_are_json_arrays_within_limits_and_split_on_413() {
        let mut enc = JsonEvents {
            max_events: 3,
            max_bytes: 1 << 20,
            gzip: true,
            lines: false,
        };
        let recs: Vec<Record> = (1..=7).map(|i| record(i, &format!("line {i}"))).collect();
        let out = enc.encode(&recs, true);
        assert_eq!(
            out.requests.iter().map(|r| r.items).collect::<Vec<_>>(),
            [3, 3, 1]
        );
        let first: serde_json::Value =
            serde_json::from_slice(&gunzip(&out.requests[0].body).unwrap()).unwrap();
        assert_eq!(first[0]["@timestamp"], "2026-12-03T14:05:09.123Z");
        assert_eq!(first[0]["message"], "line 1");
        assert_eq!(first[0]["level"], "error");
        assert_eq!(first[0]["host"]["name"], "gw");
        assert_eq!(first[0]["gateway"], "gw-1");
        assert_eq!(first[0]["fields"]["code"], 5);
        let halves = enc.split(&out.requests[0]).unwrap();
        assert_eq!(halves.iter().map(|r| r.items).collect::<Vec<_>>(), [1, 2]);
        // One event too large: cut once, then given up.
        let big = enc
            .encode(&[record(9, &"x".repeat(10_000))], true)
            .requests
            .remove(0);
        let cut = enc.split(&big).unwrap().remove(0);
        let v: serde_json::Value = serde_json::from_slice(&gunzip(&cut.body).unwrap()).unwrap();
        assert_eq!(v[0]["message"].as_str().unwrap().len(), 2500);
        assert!(v[0]["tags"].as_array().unwrap().iter().any(|t| t == "truncated"));
        assert!(enc.split(&cut).is_none());
    }
}

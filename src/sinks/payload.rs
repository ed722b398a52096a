//! JSON form of stored records, shared by every sink that speaks JSON (MQTT, Logstash) and by
//! `outpost store export`: `{"seq", "class", "ts_ms", "data"}`, with metrics snapshots decoded
//! into families (`{"name", "type", "samples": [{"labels": {..}, "value"}]}`) and log events
//! into [`EventJson`] — the one JSON shape of a log event, documented in docs/LOGS.md — and
//! alert decisions into their JSON form (`model::alert::Decision::to_json`, docs/ENGINE.md).

use serde::Serialize;

use crate::model::event::{flags, rfc3339_ms, Event, Value};
use crate::model::stored::{decode_snapshot, StoredSnapshot};
use crate::store::{Class, Record};

#[derive(Serialize)]
#[serde(untagged)]
enum Data {
    Metrics(StoredSnapshot),
    Log(Box<EventJson>),
    Alert(serde_json::Value),
    Undecodable { error: String },
}

#[derive(Serialize)]
struct Line<'a> {
    seq: u64,
    class: &'a str,
    ts_ms: i64,
    data: Data,
}

fn line(r: &Record) -> Line<'_> {
    let data = match r.class {
        Class::Metrics => match decode_snapshot(&r.data) {
            Ok(s) => Data::Metrics(s),
            Err(e) => Data::Undecodable { error: e.to_string() },
        },
        Class::Logs => match Event::decode(&r.data) {
            Ok(e) => Data::Log(Box::new(EventJson::from(e))),
            Err(e) => Data::Undecodable { error: e.to_string() },
        },
        Class::Alerts => match crate::model::alert::Decision::decode(&r.data) {
            Ok(d) => Data::Alert(d.to_json()),
            Err(error) => Data::Undecodable { error },
        },
    };
    Line {
        seq: r.seq,
        class: r.class.name(),
        ts_ms: r.ts_ms,
        data,
    }
}

/// One record as a JSON object.
pub fn record_json(r: &Record) -> String {
    serde_json::to_string(&line(r)).expect("plain data serializes")
}

#[derive(Serialize)]
struct Batch<'a> {
    gateway: &'a str,
    class: &'a str,
    first_seq: u64,
    last_seq: u64,
    records: Vec<Line<'a>>,
}

/// A batch of records of one class, as one MQTT payload.
pub fn batch_json(gateway: &str, class: Class, records: &[&Record]) -> Vec<u8> {
    let batch = Batch {
        gateway,
        class: class.name(),
        first_seq: records.first().map(|r| r.seq).unwrap_or(0),
        last_seq: records.last().map(|r| r.seq).unwrap_or(0),
        records: records.iter().map(|r| line(r)).collect(),
    };
    serde_json::to_vec(&batch).expect("plain data serializes")
}

/// Structured fields as a JSON object, values keeping their types.
#[derive(Debug)]
pub struct Fields(pub Vec<(String, Value)>);

impl Serialize for Fields {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            match v {
                Value::Str(x) => m.serialize_entry(k, x)?,
                Value::Int(x) => m.serialize_entry(k, x)?,
                Value::Float(x) => m.serialize_entry(k, x)?,
                Value::Bool(x) => m.serialize_entry(k, x)?,
            }
        }
        m.end()
    }
}

#[derive(Debug, Serialize)]
pub struct Host {
    pub name: String,
}

/// A log event as JSON: Logstash's and Elasticsearch's names where they have one
/// (`@timestamp`, `message`, `host.name`, `tags`), the event's own otherwise. Structured
/// fields are nested under `fields` (a log line's keys cannot collide with these names).
#[derive(Debug, Serialize)]
pub struct EventJson {
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<&'static str>,
    pub host: Host,
    pub gateway: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The source's sequence number: with `source` and `gateway`, a de-duplication key.
    pub seq: u64,
    pub ingest_timestamp: String,
    #[serde(skip_serializing_if = "fields_empty")]
    pub fields: Fields,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<&'static str>,
}

fn fields_empty(f: &Fields) -> bool {
    f.0.is_empty()
}

impl From<Event> for EventJson {
    fn from(e: Event) -> EventJson {
        let mut tags = Vec::new();
        for (flag, tag) in [
            (flags::TRUNCATED, "truncated"),
            (flags::INVALID_UTF8, "invalid_utf8"),
            (flags::PARSE_FAILED, "parse_failure"),
            (flags::MULTILINE, "multiline"),
            (flags::REDACTED, "redacted"),
        ] {
            if e.has(flag) {
                tags.push(tag);
            }
        }
        if !e.has(flags::TIME_FROM_LINE) {
            tags.push("time_from_ingest");
        }
        EventJson {
            timestamp: rfc3339_ms(e.timestamp_ms),
            message: e.message,
            level: e.level.map(|l| l.as_str()),
            host: Host { name: e.host },
            gateway: e.gateway,
            source: e.source,
            service: e.service,
            file: e.file,
            unit: e.unit,
            pid: e.pid,
            seq: e.seq,
            ingest_timestamp: rfc3339_ms(e.ingest_ms),
            fields: Fields(e.fields),
            tags,
        }
    }
}

/// `data` as a gzip member (RFC 1952): consumers detect it by its first two bytes, 1f 8b,
/// which JSON never starts with. Level 6, the zlib default.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    gzip_level(data, 6)
}

/// [`gzip`] at another level (1: fastest, 9: smallest).
pub fn gzip_level(data: &[u8], level: u8) -> Vec<u8> {
    let deflated = miniz_oxide::deflate::compress_to_vec(data, level);
    let mut out = Vec::with_capacity(deflated.len() + 18);
    // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown)
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crate::store::record::crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// The data of a gzip member made by [`gzip`] (or any single-member gzip without extra header
/// fields); `None` when it is not one.
pub fn gunzip(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 18 || data[..3] != [0x1f, 0x8b, 8] || data[3] != 0 {
        return None;
    }
    miniz_oxide::inflate::decompress_to_vec(&data[10..data.len() - 8]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_readable_by_gzip() {
        let data = br#"{"gateway":"gw1","records":[]}"#.repeat(50);
        let gz = gzip(&data);
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        assert!(gz.len() < data.len() / 5);
        // The system's gzip is the reference reader.
        let Ok(mut child) = std::process::Command::new("gzip")
            .arg("-dc")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            panic!("gzip (Debian package gzip) is needed for this test");
        };
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&gz).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, data);
    }
}

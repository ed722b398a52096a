//! JSON form of stored records, shared by every sink that speaks JSON (MQTT now, Logstash
//! later) and by `outpost store export`: `{"seq", "class", "ts_ms", "data"}`, with metrics
//! snapshots decoded into families (`{"name", "type", "samples": [{"labels": {..}, "value"}]}`).

use serde::Serialize;

use crate::model::stored::{decode_snapshot, StoredSnapshot};
use crate::store::{Class, Record};

#[derive(Serialize)]
#[serde(untagged)]
enum Data {
    Metrics(StoredSnapshot),
    Text(String),
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
        _ => Data::Text(String::from_utf8_lossy(&r.data).into_owned()),
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

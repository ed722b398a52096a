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

/// `data` as a gzip member (RFC 1952): consumers detect it by its first two bytes, 1f 8b,
/// which JSON never starts with. Level 6, the zlib default.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let deflated = miniz_oxide::deflate::compress_to_vec(data, 6);
    let mut out = Vec::with_capacity(deflated.len() + 18);
    // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown)
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crate::store::record::crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
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

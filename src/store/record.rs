//! What the store holds: records of three classes, packed into checksummed chunks.
//!
//! A chunk is the unit of writing and deleting: all records of one class appended between two
//! commits (split at [`CHUNK_TARGET`] bytes), encoded with postcard and guarded by a CRC-32 of
//! its own, so a chunk damaged on disk is detected and dropped (and counted) instead of being
//! decoded into garbage. Sequence numbers are global across classes and increasing (see the
//! contract in `mod.rs`), so consumers can de-duplicate and order records from several classes.

use serde::{Deserialize, Serialize};

/// Eviction order is the declaration order: metrics go first, alerts last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Class {
    Metrics = 0,
    Logs = 1,
    Alerts = 2,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Metrics, Class::Logs, Class::Alerts];

    pub fn name(self) -> &'static str {
        match self {
            Class::Metrics => "metrics",
            Class::Logs => "logs",
            Class::Alerts => "alerts",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// One appended item: a metrics snapshot, a log event or an alert, as opaque bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub class: Class,
    /// When the data was produced (Unix ms); drives `max_age`.
    pub ts_ms: i64,
    pub data: Vec<u8>,
}

/// Target encoded size of one chunk. Large values are stored in power-of-two page runs by redb,
/// so staying just under 64 KiB keeps a full chunk in one 64 KiB allocation.
pub const CHUNK_TARGET: usize = 64 * 1024 - 512;

/// What the index keeps about a chunk, so that bounds, stats and reads need no chunk decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkMeta {
    pub first_seq: u64,
    pub last_seq: u64,
    pub count: u32,
    /// Encoded size of the chunk value.
    pub bytes: u32,
    pub min_ts: i64,
    pub max_ts: i64,
}

#[derive(Deserialize)]
struct ChunkBody {
    records: Vec<(u64, i64, Bytes)>,
}

/// The same chunk, borrowing the records' data for writing.
#[derive(Serialize)]
struct ChunkRef<'a> {
    records: Vec<(u64, i64, BytesRef<'a>)>,
}

/// Record data as postcard bytes: a varint length and the raw bytes — exactly what postcard
/// writes for a `Vec<u8>` (a sequence of `u8`s), but copied as one slice instead of decoded
/// byte by byte, which was a tenth of the agent's CPU when shipping logs.
struct Bytes(Vec<u8>);

struct BytesRef<'a>(&'a [u8]);

impl Serialize for BytesRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Bytes, A::Error> {
                let mut out = Vec::with_capacity(a.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(b) = a.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(Bytes(out))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

/// A chunk value failed its checksum or did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptChunk(pub String);

/// CRC-32 (IEEE 802.3, the zlib/gzip one), with the CPU's CRC instructions where it has them.
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// Encodes records of one class (in sequence order) into a chunk value and its index entry.
pub fn encode_chunk(records: &[Record]) -> (Vec<u8>, ChunkMeta) {
    let body = ChunkRef {
        records: records
            .iter()
            .map(|r| (r.seq, r.ts_ms, BytesRef(&r.data)))
            .collect(),
    };
    let mut value = postcard::to_allocvec(&body).expect("encoding into a Vec cannot fail");
    let crc = crc32(&value);
    value.extend_from_slice(&crc.to_le_bytes());
    let meta = ChunkMeta {
        first_seq: records.first().map(|r| r.seq).unwrap_or(0),
        last_seq: records.last().map(|r| r.seq).unwrap_or(0),
        count: records.len() as u32,
        bytes: value.len() as u32,
        min_ts: records.iter().map(|r| r.ts_ms).min().unwrap_or(0),
        max_ts: records.iter().map(|r| r.ts_ms).max().unwrap_or(0),
    };
    (value, meta)
}

pub fn decode_chunk(class: Class, value: &[u8]) -> Result<Vec<Record>, CorruptChunk> {
    if value.len() < 4 {
        return Err(CorruptChunk(format!("{} bytes, too short", value.len())));
    }
    let (body, crc) = value.split_at(value.len() - 4);
    let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let got = crc32(body);
    if want != got {
        return Err(CorruptChunk(format!("checksum {got:08x}, expected {want:08x}")));
    }
    let body: ChunkBody = postcard::from_bytes(body).map_err(|e| CorruptChunk(format!("decode: {e}")))?;
    Ok(body
        .records
        .into_iter()
        .map(|(seq, ts_ms, data)| Record {
            seq,
            class,
            ts_ms,
            data: data.0,
        })
        .collect())
}

pub fn encode_meta(meta: &ChunkMeta) -> Vec<u8> {
    postcard::to_allocvec(meta).expect("encoding into a Vec cannot fail")
}

pub fn decode_meta(value: &[u8]) -> Result<ChunkMeta, CorruptChunk> {
    postcard::from_bytes(value).map_err(|e| CorruptChunk(format!("index entry: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn chunk_format_is_unchanged() {
        // Written as postcard of (seq, ts, Vec<u8>) before; read back byte for byte.
        #[derive(Serialize)]
        struct Old {
            records: Vec<(u64, i64, Vec<u8>)>,
        }
        let recs = vec![Record {
            seq: 300,
            class: Class::Metrics,
            ts_ms: -5,
            data: (0..=255).collect(),
        }];
        let old = postcard::to_allocvec(&Old {
            records: vec![(300, -5, (0..=255).collect())],
        })
        .unwrap();
        let (value, _) = encode_chunk(&recs);
        assert_eq!(&value[..value.len() - 4], &old[..]);
        assert_eq!(decode_chunk(Class::Metrics, &value).unwrap(), recs);
    }

    #[test]
    fn chunks_round_trip_and_detect_damage() {
        let recs: Vec<Record> = (10..20)
            .map(|i| Record {
                seq: i,
                class: Class::Logs,
                ts_ms: 1000 + i as i64,
                data: vec![i as u8; 50],
            })
            .collect();
        let (value, meta) = encode_chunk(&recs);
        assert_eq!((meta.first_seq, meta.last_seq, meta.count), (10, 19, 10));
        assert_eq!((meta.min_ts, meta.max_ts), (1010, 1019));
        assert_eq!(decode_chunk(Class::Logs, &value).unwrap(), recs);
        for i in [0, value.len() / 2, value.len() - 1] {
            let mut bad = value.clone();
            bad[i] ^= 0x40;
            assert!(
                decode_chunk(Class::Logs, &bad).is_err(),
                "flip at {i} not detected"
            );
        }
        assert!(decode_chunk(Class::Logs, &value[..value.len() - 7]).is_err());
        assert!(decode_chunk(Class::Logs, &[]).is_err());
    }
}

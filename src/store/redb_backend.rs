//! The default backend: redb, one table of chunks and one of index entries (keyed by class in
//! the top byte and first sequence number below it, so one commit touches two trees however
//! many classes it writes) and a metadata table, all changed in one write transaction per
//! commit (`Durability::Immediate`: durable when `commit` returns). redb checksums its pages and, after an unclean shutdown,
//! rolls back to the last complete commit; we additionally ask for a full integrity check in
//! that case, because a damaged file may otherwise make a later read panic.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::backend::{Backend, BackendError, WriteBatch};
use super::record::{decode_meta, encode_meta, ChunkMeta, Class};

const CHUNKS: TableDefinition<u64, &[u8]> = TableDefinition::new("chunks");
const INDEX: TableDefinition<u64, &[u8]> = TableDefinition::new("index");

/// Sequence numbers stay below 2^56; the class goes in the top byte.
fn key(class: Class, first_seq: u64) -> u64 {
    ((class as u64) << 56) | (first_seq & ((1 << 56) - 1))
}
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

pub struct RedbBackend {
    db: Database,
    path: std::path::PathBuf,
}

fn err(e: impl Into<redb::Error>) -> BackendError {
    match e.into() {
        redb::Error::Corrupted(m) => BackendError::Corrupted(m),
        redb::Error::UpgradeRequired(v) => BackendError::Corrupted(format!("file format version {v}")),
        redb::Error::Io(e) => BackendError::from_io(e),
        redb::Error::ValueTooLarge(n) => BackendError::Corrupted(format!("value of {n} bytes")),
        // The handle is unusable after an earlier I/O error, or another process has the file:
        // nothing is known about the data, so keep it and retry.
        e @ (redb::Error::PreviousIo | redb::Error::DatabaseAlreadyOpen | redb::Error::LockPoisoned(_)) => {
            BackendError::Io(std::io::Error::other(e.to_string()))
        }
        // Anything else (table type mismatches, unexpected table errors, ...) on a file only
        // outpost writes means the file is not what outpost wrote.
        other => BackendError::Corrupted(other.to_string()),
    }
}

impl RedbBackend {
    pub fn open(path: &Path, cache_bytes: u64, check: bool) -> Result<Self, BackendError> {
        let db = Database::builder()
            .set_cache_size(cache_bytes as usize)
            .set_check_integrity_on_open(check)
            .create(path)
            .map_err(err)?;
        // Create the tables so read transactions find them.
        let txn = db.begin_write().map_err(err)?;
        txn.open_table(CHUNKS).map_err(err)?;
        txn.open_table(INDEX).map_err(err)?;
        txn.open_table(META).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(RedbBackend {
            db,
            path: path.to_path_buf(),
        })
    }
}

impl Backend for RedbBackend {
    fn name(&self) -> &'static str {
        "redb"
    }

    fn load_index(&self) -> Result<[Vec<ChunkMeta>; 3], BackendError> {
        let txn = self.db.begin_read().map_err(err)?;
        let mut out: [Vec<ChunkMeta>; 3] = Default::default();
        let table = txn.open_table(INDEX).map_err(err)?;
        for entry in table.iter().map_err(err)? {
            let (k, v) = entry.map_err(err)?;
            let class = Class::ALL
                .get((k.value() >> 56) as usize)
                .ok_or_else(|| BackendError::Corrupted(format!("index key {:x}", k.value())))?;
            let meta = decode_meta(v.value()).map_err(|e| BackendError::Corrupted(e.0))?;
            out[class.index()].push(meta);
        }
        Ok(out)
    }

    fn read_chunk(&self, class: Class, first_seq: u64) -> Result<Option<Vec<u8>>, BackendError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(CHUNKS).map_err(err)?;
        Ok(table
            .get(key(class, first_seq))
            .map_err(err)?
            .map(|v| v.value().to_vec()))
    }

    fn meta(&self) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(META).map_err(err)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(err)? {
            let (k, v) = entry.map_err(err)?;
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn commit(&mut self, batch: WriteBatch) -> Result<(), BackendError> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            if !batch.puts.is_empty() || !batch.deletes.is_empty() {
                let mut chunks = txn.open_table(CHUNKS).map_err(err)?;
                let mut index = txn.open_table(INDEX).map_err(err)?;
                for (class, first) in &batch.deletes {
                    chunks.remove(key(*class, *first)).map_err(err)?;
                    index.remove(key(*class, *first)).map_err(err)?;
                }
                for (class, meta, value) in &batch.puts {
                    chunks
                        .insert(key(*class, meta.first_seq), value.as_slice())
                        .map_err(err)?;
                    index
                        .insert(key(*class, meta.first_seq), encode_meta(meta).as_slice())
                        .map_err(err)?;
                }
            }
            if !batch.meta.is_empty() {
                let mut meta = txn.open_table(META).map_err(err)?;
                for (k, v) in &batch.meta {
                    meta.insert(k.as_str(), v.as_slice()).map_err(err)?;
                }
            }
        }
        txn.commit().map_err(err)
    }

    fn disk_bytes(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }
}

//! The optional sled backend (cargo feature `store-sled`), kept so the choice of redb as the
//! default stays measured rather than assumed. One tree with prefixed keys — `c` chunks,
//! `i` index entries (both `prefix, class, first_seq big-endian`), `m` metadata — so a commit
//! is a single atomic `apply_batch`, made durable with `flush` (fsync).

use std::path::Path;

use super::backend::{Backend, BackendError, WriteBatch};
use super::record::{decode_meta, encode_meta, ChunkMeta, Class};

pub struct SledBackend {
    db: sled::Db,
}

fn err(e: sled::Error) -> BackendError {
    match e {
        sled::Error::Io(e) => BackendError::from_io(e),
        sled::Error::Corruption { at, .. } => BackendError::Corrupted(format!("corruption at {at:?}")),
        other => BackendError::Corrupted(other.to_string()),
    }
}

fn key(prefix: u8, class: Class, seq: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[0] = prefix;
    k[1] = class as u8;
    k[2..].copy_from_slice(&seq.to_be_bytes());
    k
}

impl SledBackend {
    /// Opens (or reopens) the database. The data directory's own lock already keeps other
    /// processes out, so a sled file-lock conflict can only be this process's previous handle:
    /// sled's background writer threads keep the file open for a moment after the `Db` is
    /// dropped (sled's own tests block on the lock for this reason). Reopening after a write
    /// error therefore waits up to two seconds for that handle to go.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Self, BackendError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            let opened = sled::Config::new()
                .path(path)
                .cache_capacity(cache_bytes)
                .mode(sled::Mode::LowSpace)
                .open();
            match opened {
                Ok(db) => return Ok(SledBackend { db }),
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(err(e)),
            }
        }
    }
}

impl Backend for SledBackend {
    fn name(&self) -> &'static str {
        "sled"
    }

    fn load_index(&self) -> Result<[Vec<ChunkMeta>; 3], BackendError> {
        let mut out: [Vec<ChunkMeta>; 3] = Default::default();
        for c in Class::ALL {
            for entry in self.db.scan_prefix([b'i', c as u8]) {
                let (_, v) = entry.map_err(err)?;
                out[c.index()].push(decode_meta(&v).map_err(|e| BackendError::Corrupted(e.0))?);
            }
        }
        Ok(out)
    }

    fn read_chunk(&self, class: Class, first_seq: u64) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self
            .db
            .get(key(b'c', class, first_seq))
            .map_err(err)?
            .map(|v| v.to_vec()))
    }

    fn meta(&self) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        let mut out = Vec::new();
        for entry in self.db.scan_prefix([b'm']) {
            let (k, v) = entry.map_err(err)?;
            out.push((String::from_utf8_lossy(&k[1..]).into_owned(), v.to_vec()));
        }
        Ok(out)
    }

    fn commit(&mut self, batch: WriteBatch) -> Result<(), BackendError> {
        let mut b = sled::Batch::default();
        for (class, first) in &batch.deletes {
            b.remove(&key(b'c', *class, *first)[..]);
            b.remove(&key(b'i', *class, *first)[..]);
        }
        for (class, meta, value) in &batch.puts {
            b.insert(&key(b'c', *class, meta.first_seq)[..], value.as_slice());
            b.insert(&key(b'i', *class, meta.first_seq)[..], encode_meta(meta));
        }
        for (k, v) in &batch.meta {
            let mut mk = Vec::with_capacity(k.len() + 1);
            mk.push(b'm');
            mk.extend_from_slice(k.as_bytes());
            b.insert(mk, v.as_slice());
        }
        self.db.apply_batch(b).map_err(err)?;
        self.db.flush().map_err(err)?;
        Ok(())
    }

    fn disk_bytes(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

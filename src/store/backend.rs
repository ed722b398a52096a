//! The interface between the queue logic and a storage engine.
//!
//! The queue ([`super::queue`]) decides what to write and delete; a backend only has to apply
//! a [`WriteBatch`] atomically and durably, and read chunks and metadata back. That is small
//! enough to implement twice (redb, sled) and test identically.

use std::fmt;

use super::record::{ChunkMeta, Class};

/// Everything one commit changes, applied all-or-nothing.
#[derive(Debug, Default)]
pub struct WriteBatch {
    /// New chunks: class, index entry, encoded value.
    pub puts: Vec<(Class, ChunkMeta, Vec<u8>)>,
    /// Chunks to delete: class and first sequence number.
    pub deletes: Vec<(Class, u64)>,
    /// Metadata entries to set (cursors, next sequence number, format version).
    pub meta: Vec<(String, Vec<u8>)>,
}

impl WriteBatch {
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty() && self.meta.is_empty()
    }
}

#[derive(Debug)]
pub enum BackendError {
    /// The files are damaged or not a store of this version: quarantine and start fresh.
    Corrupted(String),
    /// No space left on the device.
    Full(std::io::Error),
    /// Any other I/O problem (permissions, read-only filesystem, device errors). The handle is
    /// not trusted afterwards: the store closes it and reopens.
    Io(std::io::Error),
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::Corrupted(m) => write!(f, "store files are damaged: {m}"),
            BackendError::Full(e) => write!(f, "disk full: {e}"),
            BackendError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for BackendError {}

impl BackendError {
    pub fn from_io(e: std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => BackendError::Full(e),
            // A short or malformed read of our own file: the file is damaged, not the disk.
            _ if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
            {
                BackendError::Corrupted(e.to_string())
            }
            _ => BackendError::Io(e),
        }
    }
}

pub trait Backend: Send {
    fn name(&self) -> &'static str;
    /// Every chunk's index entry, per class, in sequence order.
    fn load_index(&self) -> Result<[Vec<ChunkMeta>; 3], BackendError>;
    fn read_chunk(&self, class: Class, first_seq: u64) -> Result<Option<Vec<u8>>, BackendError>;
    fn meta(&self) -> Result<Vec<(String, Vec<u8>)>, BackendError>;
    /// Applies the batch atomically; durable when this returns Ok.
    fn commit(&mut self, batch: WriteBatch) -> Result<(), BackendError>;
    /// Bytes the backend occupies on disk.
    fn disk_bytes(&self) -> u64;
}

pub use crate::config::store::BackendKind;

/// Opens (or creates) the backend's files. `check` asks for a full integrity check, used after
/// an unclean shutdown.
pub fn open(
    kind: BackendKind,
    path: &std::path::Path,
    cache_bytes: u64,
    check: bool,
) -> Result<Box<dyn Backend>, BackendError> {
    match kind {
        BackendKind::Redb => Ok(Box::new(super::redb_backend::RedbBackend::open(
            path,
            cache_bytes,
            check,
        )?)),
        #[cfg(feature = "store-sled")]
        BackendKind::Sled => Ok(Box::new(super::sled_backend::SledBackend::open(
            path,
            cache_bytes,
        )?)),
    }
}

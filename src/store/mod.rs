//! The store: a durable queue that keeps metrics, logs and alerts while the uplink is down.
//!
//! # Contract
//!
//! **Records.** Sources append records of three classes (metrics, logs, alerts). Each gets a
//! sequence number, global across classes and increasing: a number that became durable is
//! never handed out again, not after a crash, not after the store was lost to damage (the
//! `store.seq` reservation); only numbers of records lost before their commit, which no sink
//! can have seen, may be reused. Sinks read records of the classes they want from
//! their own cursor, in sequence order, send them, and acknowledge them. A sink may also read
//! from a later position and acknowledge that range first (live data ahead of the backlog);
//! its cursor is then "everything up to N, plus these ranges" and advances as gaps close. A
//! record is deleted when every configured sink that wants its class has acknowledged it (per
//! chunk: a chunk goes when all its records are acknowledged); with no sink configured,
//! records are kept (within the bounds) until one is.
//!
//! **Appended means durable.** An append is in memory until the next commit writes it; only
//! then is it *appended*. Commits are group commits: every `[store] commit_interval`
//! (default 1 s) or as soon as `commit_bytes` (default 256 KiB) are pending, whichever comes
//! first, one atomic transaction writes the pending records as checksummed chunks, the chunk
//! deletions acknowledgements caused, and the sink cursors, then fsyncs. There is no fsync per
//! record. Sources that can re-read their input (file offsets, journal cursors) have their
//! checkpoint written in the same commit as their records (below), so end to end nothing
//! read is lost.
//!
//! **What a power cut can lose:** records appended since the last completed commit — at most
//! `commit_interval` worth of data, or `commit_bytes`, whichever is smaller — plus, for
//! records held in memory while the disk was failing, up to the in-memory bound (4 × commit_bytes,
//! at least 4 MiB; overflow is dropped and counted as `write_error`). Acknowledgements since
//! the last commit may be lost too, which re-delivers those records: duplicates, bounded by one
//! commit window, never loss. A *killed* process (`kill -9`, OOM, a panic) keeps them: each is
//! appended to `acks.journal` as it happens (no fsync; the page cache survives the process),
//! replayed at the next open for records the store holds durably, and truncated by the next
//! commit that writes the cursors.
//!
//! **Checkpoints.** A source that can re-read its input (file offsets, journal cursors) stores
//! its position with [`StoreHandle::append_batch`]: the position is written in the same commit
//! as the records handed over before it, so it is durable exactly when they are. A crash
//! cannot lose such records (the source reads them again), so they, their checkpoints,
//! acknowledgements and the deletions those cause may wait `commit_interval_rereadable`
//! (5 s) for a commit; only what nothing else can recover (metrics, stdin, the agent's own
//! log) starts the `commit_interval` clock. Fewer commits: each redb commit rewrites ~40 KB of
//! pages whatever it carries.
//!
//! **Bounds.** Before each commit: records older than `max_age` (per class) are evicted; then,
//! while the store would exceed `max_bytes`, or the filesystem would drop below
//! `min_free_disk`, whole chunks are evicted — metrics first, then logs, alerts last, oldest
//! first within a class. Sampling never waits for this. Every eviction is counted in
//! `outpost_store_dropped_records_total{class,reason}` and logged once when an episode starts
//! and once when it ends.
//!
//! **Recovery.** A damaged store (torn or corrupted file, wrong format version, a panic inside
//! the storage engine) is moved aside into a bounded quarantine and replaced by a fresh one;
//! the agent never refuses to start because of its store, and a panic costs one restart, not a
//! crash loop (see [`recovery`]). A disk that cannot be written (read-only, I/O errors, full)
//! leaves the agent running; new records wait in memory (bounded) while the store retries.
//!
//! **Layout.** `store.redb` (or `store.sled/` with the `store-sled` feature) in the data
//! directory; per class a table of chunks and a table of index entries keyed by the chunk's
//! first sequence number, and a metadata table (format version, next sequence number, cursors).

pub mod backend;
pub mod datadir;
pub mod queue;
pub mod record;
mod recovery;
mod redb_backend;
pub mod service;
#[cfg(feature = "store-sled")]
mod sled_backend;
pub mod stats;

pub use crate::config::store::BackendKind;
pub use queue::Store;
pub use record::{Class, Record};
pub use service::{Append, StoreError, StoreHandle, StoreThread, Ticket};
pub use stats::StoreStats;
#[cfg(test)]
mod tests;

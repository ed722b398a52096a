//! The durable queue with per-sink cursors, on top of any [`Backend`].
//!
//! Appends go to a pending buffer and get their sequence number at once; [`Store::commit`]
//! writes the buffer as chunks in one atomic, durable batch together with the chunk deletions
//! and cursor updates that acknowledgements caused. Bounds are enforced at each commit, before
//! writing: age first, then size (`max_bytes`, and the free-disk watermark), evicting whole
//! chunks by class priority, oldest first. A backend error never loses the pending buffer: the
//! handle is dropped, the store retries opening it with backoff, and the buffer waits (bounded)
//! in memory meanwhile.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::backend::{Backend, BackendError, WriteBatch};
use super::datadir::DataDir;
use super::record::{decode_chunk, encode_chunk, ChunkMeta, Class, Record, CHUNK_TARGET};
use super::recovery;
use super::stats::{DropReason, StoreStats};
use crate::config::StoreConfig;
use crate::model::now_ms;

/// Version of the layout of chunks, index entries and metadata. A store written with another
/// version is quarantined, never misread.
pub const FORMAT_VERSION: u32 = 1;

/// Metadata keys of source checkpoints: `source/<source name>`.
const CHECKPOINT_PREFIX: &str = "source/";

/// Sequence numbers reserved ahead in `store.seq`, so that a store replaced after damage
/// continues above every number the lost one handed out (consumers de-duplicate by it).
const SEQ_RESERVATION: u64 = 10_000_000;
const SEQ_FLOOR: &str = "store.seq";
/// Acknowledgements since the last commit, one `sink after last` line each, written (not
/// synced) as they happen: a process that is killed keeps them in the page cache, so a
/// restart does not send again what its receivers already confirmed. A power cut may lose
/// them, which costs duplicates (bounded by one commit window), never data.
const ACK_JOURNAL: &str = "acks.journal";

/// A sink's durable position: every record of its classes with `seq <= acked` is acknowledged,
/// and so is every record inside one of `ranges` (disjoint, sorted, all above `acked + 1`).
/// Ranges let a sink acknowledge new data before old (live first, backlog behind it); the
/// cursor advances over them as the gaps close.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub acked: u64,
    pub ranges: Vec<(u64, u64)>,
}

impl Cursor {
    pub fn at(acked: u64) -> Cursor {
        Cursor {
            acked,
            ranges: Vec::new(),
        }
    }

    pub fn is_acked(&self, seq: u64) -> bool {
        seq <= self.acked || self.ranges.iter().any(|(a, b)| *a <= seq && seq <= *b)
    }

    /// Whether every sequence number in `first..=last` is acknowledged.
    pub fn covers(&self, first: u64, last: u64) -> bool {
        last <= self.acked
            || self
                .ranges
                .iter()
                .any(|(a, b)| *a <= first.max(self.acked + 1) && last <= *b)
    }

    /// Acknowledges `first..=last`, merging ranges and advancing the cursor over closed gaps.
    pub fn add(&mut self, first: u64, last: u64) {
        if last <= self.acked || first > last {
            return;
        }
        let first = first.max(self.acked + 1);
        self.ranges.push((first, last));
        self.ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.ranges.len());
        for (a, b) in self.ranges.drain(..) {
            match merged.last_mut() {
                Some((_, pb)) if a <= pb.saturating_add(1) => *pb = (*pb).max(b),
                _ => merged.push((a, b)),
            }
        }
        self.ranges = merged;
        while let Some(&(a, b)) = self.ranges.first() {
            if a <= self.acked + 1 {
                self.acked = self.acked.max(b);
                self.ranges.remove(0);
            } else {
                break;
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Sink {
    classes: [bool; 3],
    cursor: Cursor,
    /// Highest sequence handed out by `read` (in memory only; a restart re-reads from `acked`).
    read_pos: u64,
    /// Counts for the configured-sink decision: transient readers (export) do not hold data.
    holds_data: bool,
}

/// Why the store cannot write right now.
#[derive(Debug)]
pub struct Unavailable {
    pub reason: String,
    pub retry_at: Instant,
    pub backoff: Duration,
}

pub struct Store {
    dir: PathBuf,
    /// The data directory's lock; taken here when the runtime could not take it at start
    /// (directory not writable yet).
    lock: Option<DataDir>,
    cfg: StoreConfig,
    backend: Option<Box<dyn Backend>>,
    unavailable: Option<Unavailable>,
    index: [BTreeMap<u64, ChunkMeta>; 3],
    stored_bytes: [u64; 3],
    /// Appended, not yet committed; oldest first (evictions pop from the front).
    pending: [VecDeque<Record>; 3],
    pending_bytes: u64,
    /// Since when records that nothing else can recover have waited (`commit_interval`).
    pending_since: Option<Instant>,
    /// Since when what can be recovered without the store has waited: records of sources
    /// that re-read their input, their checkpoints, acknowledgements, deletions
    /// (`commit_interval_rereadable`).
    lazy_since: Option<Instant>,
    /// The last re-readable append: when such records stop coming (a burst ended), they are
    /// committed after `commit_interval` instead of waiting for `commit_interval_rereadable`.
    lazy_last: Option<Instant>,
    pending_deletes: Vec<(Class, u64)>,
    cursors_dirty: bool,
    /// Source checkpoints (a file offset, a journal cursor), latest first: what a restarted
    /// source resumes from. Those in `pending_checkpoints` are written by the next commit, in
    /// the same transaction as every record appended before them.
    checkpoints: BTreeMap<String, Vec<u8>>,
    pending_checkpoints: BTreeMap<String, Vec<u8>>,
    next_seq: u64,
    durable_seq: u64,
    sinks: BTreeMap<String, Sink>,
    pub(super) stats: StoreStats,
    /// Eviction episodes in progress: records dropped so far, per (class, reason).
    episodes: HashMap<(Class, DropReason), u64>,
    /// The reservation recorded in `store.seq`.
    seq_floor: u64,
    /// Whether the store's metadata records its format version yet.
    format_written: bool,
    /// The open [`ACK_JOURNAL`] (append mode).
    ack_journal: Option<std::fs::File>,
    /// Test hook: the next N commits fail with this error before reaching the backend.
    #[cfg(test)]
    pub(super) inject: Option<(u32, fn() -> BackendError)>,
}

/// Free bytes for unprivileged users on the filesystem holding `dir`.
pub fn free_disk(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: valid C string; statvfs64-compatible buffer is plain data.
    let mut buf: libc::statfs64 = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs64(c.as_ptr(), &mut buf) } != 0 {
        return None;
    }
    Some(buf.f_bavail as u64 * buf.f_bsize as u64)
}

impl Store {
    /// Opens the store under `dir`. Never fails: a damaged store is quarantined and replaced,
    /// and a store that cannot be opened at all (read-only disk, I/O errors) leaves the agent
    /// running with appends buffered in memory while it retries.
    pub fn open(dir: &Path, cfg: StoreConfig, lock: Option<DataDir>) -> Store {
        let mut store = Store {
            dir: dir.to_path_buf(),
            lock,
            cfg,
            backend: None,
            unavailable: None,
            index: Default::default(),
            stored_bytes: [0; 3],
            pending: Default::default(),
            pending_bytes: 0,
            pending_since: None,
            lazy_since: None,
            lazy_last: None,
            pending_deletes: Vec::new(),
            cursors_dirty: false,
            checkpoints: BTreeMap::new(),
            pending_checkpoints: BTreeMap::new(),
            next_seq: 1,
            durable_seq: 0,
            sinks: BTreeMap::new(),
            stats: StoreStats::default(),
            episodes: HashMap::new(),
            seq_floor: 0,
            format_written: false,
            ack_journal: None,
            #[cfg(test)]
            inject: None,
        };
        store.stats.backend = store.cfg.backend.name();
        store.try_open();
        store
    }

    fn try_open(&mut self) {
        let reopen = self.unavailable.is_some();
        if self.lock.is_none() {
            match DataDir::open(&self.dir) {
                Ok(lock) => self.lock = Some(lock),
                Err(e) => return self.set_unavailable(e.to_string()),
            }
        }
        match recovery::open_backend(&self.dir, &self.cfg, &mut self.stats, reopen) {
            Ok(backend) => {
                if let Err(e) = self.load(backend) {
                    log::error!("store: cannot load {}: {e}; quarantining it", self.dir.display());
                    recovery::quarantine(&self.dir, &self.cfg, "unreadable", &mut self.stats);
                    match recovery::open_backend(&self.dir, &self.cfg, &mut self.stats, true) {
                        Ok(b) => {
                            if let Err(e) = self.load(b) {
                                self.set_unavailable(format!("fresh store unusable: {e}"));
                            }
                        }
                        Err(e) => self.set_unavailable(e.to_string()),
                    }
                }
            }
            Err(e) => self.set_unavailable(e.to_string()),
        }
    }

    fn set_unavailable(&mut self, reason: String) {
        let backoff = self
            .unavailable
            .as_ref()
            .map(|u| (u.backoff * 2).min(Duration::from_secs(60)))
            .unwrap_or(Duration::from_secs(1));
        if self.unavailable.as_ref().map(|u| u.reason.as_str()) != Some(reason.as_str()) {
            log::error!(
                "store unavailable: {reason}; keeping up to {} KiB of new data in memory and retrying",
                self.max_pending() / 1024
            );
        }
        self.backend = None;
        self.stats.healthy = false;
        self.unavailable = Some(Unavailable {
            reason,
            retry_at: Instant::now() + backoff,
            backoff,
        });
    }

    fn load(&mut self, backend: Box<dyn Backend>) -> Result<(), BackendError> {
        let _guard = recovery::InStore::enter(&self.dir);
        let mut version = None;
        let mut next_seq = 1u64;
        let mut cursors = BTreeMap::new();
        for (k, v) in backend.meta()? {
            match k.as_str() {
                "format" => version = postcard::from_bytes::<u32>(&v).ok(),
                "next_seq" => {
                    next_seq = postcard::from_bytes(&v)
                        .map_err(|e| BackendError::Corrupted(format!("next_seq: {e}")))?
                }
                other => {
                    if let Some(source) = other.strip_prefix(CHECKPOINT_PREFIX) {
                        // What this process set since (an outage of the disk) is newer.
                        if !self.pending_checkpoints.contains_key(source) {
                            self.checkpoints.insert(source.to_string(), v);
                        }
                    } else if let Some(sink) = other.strip_prefix("cursor/") {
                        let c: Cursor = postcard::from_bytes(&v)
                            .map_err(|e| BackendError::Corrupted(format!("cursor {sink}: {e}")))?;
                        cursors.insert(sink.to_string(), c);
                    }
                }
            }
        }
        let index = backend.load_index()?;
        let is_new = version.is_none() && index.iter().all(|i| i.is_empty());
        match version {
            Some(FORMAT_VERSION) => {}
            None if is_new => {}
            other => {
                return Err(BackendError::Corrupted(format!(
                    "format version {other:?}, this outpost writes {FORMAT_VERSION}"
                )))
            }
        }
        self.seq_floor = std::fs::read_to_string(self.dir.join(SEQ_FLOOR))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        self.format_written = version.is_some();
        let empty = index.iter().all(|i| i.is_empty());
        if empty && self.pending.iter().all(|p| p.is_empty()) {
            // An empty store (everything delivered, or a store lost to damage) cannot say which
            // numbers were handed out: continue above the reservation in store.seq.
            next_seq = next_seq.max(self.seq_floor);
        }
        let mut max_seq = 0;
        for c in Class::ALL {
            self.index[c.index()].clear();
            self.stored_bytes[c.index()] = 0;
            for meta in &index[c.index()] {
                max_seq = max_seq.max(meta.last_seq);
                self.stored_bytes[c.index()] += meta.bytes as u64;
                self.index[c.index()].insert(meta.first_seq, *meta);
            }
        }
        // Deletions decided before an outage are still pending: keep them out of the index.
        for (c, first) in &self.pending_deletes {
            if let Some(meta) = self.index[c.index()].remove(first) {
                self.stored_bytes[c.index()] -= meta.bytes as u64;
            }
        }
        // Never reuse a sequence number, also not one handed out before an outage.
        self.next_seq = self.next_seq.max(next_seq).max(max_seq + 1);
        if self.next_seq + 1000 >= self.seq_floor {
            // Jumped to (or near) the reservation: take the next one before handing numbers out,
            // so a crash before the first commit cannot lead to the same jump twice.
            self.reserve_seqs();
        }
        self.durable_seq = if self.pending.iter().all(|p| p.is_empty()) {
            self.next_seq - 1
        } else {
            self.durable_seq.max(max_seq)
        };
        // Acknowledgements made after the last commit by a process that was killed: only
        // for records this store holds durably (a number above them may be handed out again).
        let journal = self.dir.join(ACK_JOURNAL);
        let mut replayed = 0;
        for line in std::fs::read_to_string(&journal).unwrap_or_default().lines() {
            let mut f = line.split(' ');
            let (Some(sink), Some(after), Some(last)) = (
                f.next(),
                f.next().and_then(|v| v.parse::<u64>().ok()),
                f.next().and_then(|v| v.parse::<u64>().ok()),
            ) else {
                continue; // a torn last line
            };
            let last = last.min(max_seq);
            if last > after {
                cursors
                    .entry(sink.to_string())
                    .or_insert_with(|| Cursor::at(0))
                    .add(after + 1, last);
                replayed += 1;
            }
        }
        if replayed > 0 {
            self.cursors_dirty = true;
        }
        self.ack_journal = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal)
            .map_err(|e| {
                log::warn!(
                    "store: cannot open {}: {e}; a kill -9 will re-send more",
                    journal.display()
                )
            })
            .ok();
        for (name, cursor) in cursors {
            match self.sinks.get_mut(&name) {
                Some(s) => {
                    s.cursor.add(1, cursor.acked);
                    for (a, b) in &cursor.ranges {
                        s.cursor.add(*a, *b);
                    }
                    s.read_pos = s.read_pos.max(s.cursor.acked);
                }
                None => {
                    self.sinks.insert(
                        name,
                        Sink {
                            classes: [false; 3],
                            read_pos: cursor.acked,
                            cursor,
                            holds_data: false,
                        },
                    );
                }
            }
        }
        self.backend = Some(backend);
        if self.unavailable.take().is_some() {
            log::info!("store available again at {}", self.dir.display());
        }
        self.stats.healthy = true;
        Ok(())
    }

    /// Registers a sink that reads the given classes. `holds_data`: records are kept until this
    /// sink acknowledged them (configured sinks); a transient reader (`store export`) does not.
    pub fn register_sink(&mut self, name: &str, classes: &[Class], holds_data: bool) {
        let mut wanted = [false; 3];
        for c in classes {
            wanted[c.index()] = true;
        }
        let oldest = self
            .oldest_seq()
            .map(|s| s.saturating_sub(1))
            .unwrap_or(self.durable_seq);
        let sink = self.sinks.entry(name.to_string()).or_insert(Sink {
            classes: wanted,
            // A new sink starts with the oldest data kept.
            cursor: Cursor::at(oldest.min(self.durable_seq)),
            read_pos: oldest.min(self.durable_seq),
            holds_data,
        });
        sink.classes = wanted;
        sink.holds_data = holds_data;
        sink.read_pos = sink.read_pos.max(sink.cursor.acked);
    }

    fn oldest_seq(&self) -> Option<u64> {
        Class::ALL
            .iter()
            .filter_map(|c| self.index[c.index()].values().next().map(|m| m.first_seq))
            .min()
    }

    /// Appends a record of a source that can read it again after a crash (its checkpoint is
    /// set after it): it may wait `commit_interval_rereadable` for its commit.
    pub fn append_rereadable(&mut self, class: Class, ts_ms: i64, data: Vec<u8>) -> u64 {
        let since = self.pending_since;
        let seq = self.append(class, ts_ms, data);
        self.pending_since = since;
        let now = Instant::now();
        self.lazy_since.get_or_insert(now);
        self.lazy_last = Some(now);
        seq
    }

    /// Appends one record; returns its sequence number. Durable after the next commit.
    pub fn append(&mut self, class: Class, ts_ms: i64, data: Vec<u8>) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending_bytes += data.len() as u64 + 16;
        self.stats.appended_bytes[class.index()] += data.len() as u64;
        self.pending[class.index()].push_back(Record {
            seq,
            class,
            ts_ms,
            data,
        });
        self.pending_since.get_or_insert_with(Instant::now);
        self.stats.appended[class.index()] += 1;
        if self.pending_bytes > self.max_pending() {
            self.shed_pending();
        }
        seq
    }

    fn max_pending(&self) -> u64 {
        (self.cfg.commit_bytes * 4).max(4 << 20)
    }

    /// While the disk cannot take writes, keep memory bounded: drop the oldest pending records,
    /// lowest priority class first.
    fn shed_pending(&mut self) {
        while self.pending_bytes > self.max_pending() {
            let Some(c) = Class::ALL
                .into_iter()
                .find(|c| !self.pending[c.index()].is_empty())
            else {
                break;
            };
            if let Some(r) = self.pending[c.index()].pop_front() {
                self.pending_bytes -= r.data.len() as u64 + 16;
                self.count_drop(c, DropReason::WriteError, 1);
            }
        }
    }

    /// Records a source's checkpoint, written by the next commit together with every record
    /// appended before it: once it is durable, so is everything it covers.
    pub fn set_checkpoint(&mut self, source: &str, value: Vec<u8>) {
        self.checkpoints.insert(source.to_string(), value.clone());
        self.pending_checkpoints.insert(source.to_string(), value);
        self.lazy_since.get_or_insert_with(Instant::now);
    }

    /// The latest checkpoint of a source (this process's, else the stored one).
    pub fn checkpoint(&self, source: &str) -> Option<Vec<u8>> {
        self.checkpoints.get(source).cloned()
    }

    /// Whether the commit policy says it is time to write.
    pub fn commit_due(&self) -> bool {
        let has_work = self.pending_bytes > 0
            || !self.pending_deletes.is_empty()
            || self.cursors_dirty
            || !self.pending_checkpoints.is_empty();
        if !has_work {
            return false;
        }
        if let Some(u) = &self.unavailable {
            return Instant::now() >= u.retry_at;
        }
        if self.pending_since.is_none() && self.lazy_since.is_none() {
            return true; // work without a clock (a replayed journal, an eviction): now
        }
        self.pending_bytes >= self.cfg.commit_bytes
            || self
                .pending_since
                .is_some_and(|t| t.elapsed() >= self.cfg.commit_interval)
            || self
                .lazy_since
                .is_some_and(|t| t.elapsed() >= self.cfg.commit_interval_rereadable)
            || self
                .lazy_last
                .is_some_and(|t| t.elapsed() >= self.cfg.commit_interval)
    }

    /// When the next commit is due at the latest (for the store thread's sleep).
    pub fn next_deadline(&self) -> Option<Instant> {
        if let Some(u) = &self.unavailable {
            return Some(u.retry_at);
        }
        if self.pending_bytes > 0
            || !self.pending_deletes.is_empty()
            || self.cursors_dirty
            || !self.pending_checkpoints.is_empty()
        {
            let strict = self.pending_since.map(|t| t + self.cfg.commit_interval);
            let lazy = self
                .lazy_since
                .map(|t| t + self.cfg.commit_interval_rereadable)
                .into_iter()
                .chain(self.lazy_last.map(|t| t + self.cfg.commit_interval))
                .min();
            return Some(match (strict, lazy) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => Instant::now(),
            });
        }
        None
    }

    /// Test hook: retry a failed backend now instead of after the backoff.
    #[cfg(test)]
    pub(super) fn retry_now(&mut self) {
        if let Some(u) = &mut self.unavailable {
            u.retry_at = Instant::now();
        }
    }

    pub fn durable_seq(&self) -> u64 {
        self.durable_seq
    }

    pub fn is_available(&self) -> bool {
        self.backend.is_some()
    }

    fn count_drop(&mut self, class: Class, reason: DropReason, records: u64) {
        if records == 0 {
            return;
        }
        *self.stats.dropped.entry((class, reason)).or_default() += records;
        let ep = self.episodes.entry((class, reason)).or_default();
        if *ep == 0 {
            log::warn!(
                "store: dropping {} records ({}); further drops of this kind are logged when the episode ends",
                class.name(),
                reason.describe()
            );
        }
        *ep += records;
    }

    fn evict_chunk(&mut self, class: Class, first: u64, reason: DropReason) {
        if let Some(meta) = self.index[class.index()].remove(&first) {
            self.stored_bytes[class.index()] -= meta.bytes as u64;
            self.pending_deletes.push((class, first));
            self.count_drop(class, reason, meta.count as u64);
        }
    }

    fn total_stored(&self) -> u64 {
        self.stored_bytes.iter().sum()
    }

    /// Applies `max_age`, `max_bytes` and the free-disk watermark before a write. Priority is
    /// strict: every metric, stored or incoming, goes before the first log, and every log
    /// before the first alert; within a class the oldest goes first.
    fn enforce_bounds(&mut self) {
        let now = now_ms();
        for c in Class::ALL {
            let limit = now - self.cfg.max_age[c.index()].as_millis() as i64;
            let expired: Vec<u64> = self.index[c.index()]
                .values()
                .take_while(|m| m.max_ts < limit)
                .map(|m| m.first_seq)
                .collect();
            for first in expired {
                self.evict_chunk(c, first, DropReason::MaxAge);
            }
            let before = self.pending[c.index()].len();
            let mut freed = 0u64;
            self.pending[c.index()].retain(|r| {
                let keep = r.ts_ms >= limit;
                if !keep {
                    freed += r.data.len() as u64 + 16;
                }
                keep
            });
            self.pending_bytes -= freed;
            let gone = (before - self.pending[c.index()].len()) as u64;
            self.count_drop(c, DropReason::MaxAge, gone);
        }
        let mut cap = self.cfg.max_bytes;
        let mut reason = DropReason::MaxBytes;
        if let Some(free) = free_disk(&self.dir) {
            let incoming = self.pending_bytes;
            if free < self.cfg.min_free_disk + incoming {
                // The backend reuses freed pages, so evicting as much as we add keeps the file
                // from growing into the reserve.
                let short = self.cfg.min_free_disk + incoming - free;
                let disk_cap = (self.total_stored() + incoming).saturating_sub(short.min(incoming));
                if disk_cap < cap {
                    cap = disk_cap;
                    reason = DropReason::DiskFull;
                }
            }
        }
        for c in Class::ALL {
            while self.total_stored() + self.pending_bytes > cap {
                if let Some(first) = self.index[c.index()].keys().next().copied() {
                    self.evict_chunk(c, first, reason);
                } else if let Some(r) = self.pending[c.index()].pop_front() {
                    self.pending_bytes -= r.data.len() as u64 + 16;
                    self.count_drop(c, reason, 1);
                } else {
                    break;
                }
            }
        }
    }

    fn end_quiet_episodes(&mut self, dropped_before: &BTreeMap<(Class, DropReason), u64>) {
        let ended: Vec<(Class, DropReason)> = self
            .episodes
            .keys()
            .filter(|k| {
                dropped_before.get(k).copied().unwrap_or(0) == self.stats.dropped.get(k).copied().unwrap_or(0)
            })
            .copied()
            .collect();
        for k in ended {
            if let Some(n) = self.episodes.remove(&k) {
                log::warn!(
                    "store: {} eviction episode ({}) ended: {n} records dropped",
                    k.0.name(),
                    k.1.describe()
                );
            }
        }
    }

    /// Writes pending records, deletions and cursors in one durable batch.
    pub fn commit(&mut self) -> Result<(), BackendError> {
        if self.backend.is_none() {
            if self
                .unavailable
                .as_ref()
                .is_some_and(|u| Instant::now() < u.retry_at)
            {
                return Err(BackendError::Io(std::io::Error::other("store unavailable")));
            }
            self.try_open();
            if self.backend.is_none() {
                return Err(BackendError::Io(std::io::Error::other("store unavailable")));
            }
        }
        let dropped_before = self.stats.dropped.clone();
        self.enforce_bounds();
        let mut batch = WriteBatch::default();
        let mut new_chunks: Vec<(Class, ChunkMeta)> = Vec::new();
        for c in Class::ALL {
            let records = self.pending[c.index()].make_contiguous();
            let mut start = 0;
            while start < records.len() {
                let mut end = start;
                let mut size = 0usize;
                while end < records.len()
                    && (end == start || size + records[end].data.len() + 24 <= CHUNK_TARGET)
                {
                    size += records[end].data.len() + 24;
                    end += 1;
                }
                let (value, meta) = encode_chunk(&records[start..end]);
                new_chunks.push((c, meta));
                batch.puts.push((c, meta, value));
                start = end;
            }
        }
        batch.deletes = self.pending_deletes.clone();
        // Metadata is written only when it changes: every page a commit touches is flash wear.
        if !self.format_written {
            batch.meta.push((
                "format".into(),
                postcard::to_allocvec(&FORMAT_VERSION).expect("vec"),
            ));
        }
        // The next sequence number follows from the newest chunk; only when that chunk is
        // gone (all acknowledged and deleted) must it be written down.
        let newest = Class::ALL
            .iter()
            .filter_map(|c| self.index[c.index()].values().next_back().map(|m| m.last_seq))
            .chain(new_chunks.iter().map(|(_, m)| m.last_seq))
            .max()
            .unwrap_or(0);
        if newest + 1 < self.next_seq {
            batch.meta.push((
                "next_seq".into(),
                postcard::to_allocvec(&self.next_seq).expect("vec"),
            ));
        }
        if self.cursors_dirty {
            for (name, sink) in &self.sinks {
                batch.meta.push((
                    format!("cursor/{name}"),
                    postcard::to_allocvec(&sink.cursor).expect("vec"),
                ));
            }
        }
        for (source, value) in &self.pending_checkpoints {
            batch
                .meta
                .push((format!("{CHECKPOINT_PREFIX}{source}"), value.clone()));
        }
        if self.next_seq + 1000 >= self.seq_floor {
            self.reserve_seqs();
        }
        let started = Instant::now();
        #[cfg(test)]
        let injected = match &mut self.inject {
            Some((n, make)) if *n > 0 => {
                *n -= 1;
                Some(make())
            }
            _ => None,
        };
        #[cfg(not(test))]
        let injected: Option<BackendError> = None;
        let result = match injected {
            Some(e) => Err(e),
            None => {
                let _guard = recovery::InStore::enter(&self.dir);
                self.backend.as_mut().expect("checked above").commit(batch)
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                for (c, meta) in new_chunks {
                    self.stored_bytes[c.index()] += meta.bytes as u64;
                    self.index[c.index()].insert(meta.first_seq, meta);
                }
                for c in Class::ALL {
                    self.pending[c.index()].clear();
                }
                self.pending_bytes = 0;
                self.pending_since = None;
                self.lazy_since = None;
                self.lazy_last = None;
                self.pending_deletes.clear();
                if self.cursors_dirty {
                    // The cursors are durable now: the journal's lines are not needed.
                    if let Some(j) = self.ack_journal.as_ref() {
                        let _ = j.set_len(0);
                    }
                }
                self.cursors_dirty = false;
                self.pending_checkpoints.clear();
                self.format_written = true;
                self.durable_seq = self.next_seq - 1;
                self.stats.commits += 1;
                self.stats.commit_seconds += seconds;
                self.stats.last_commit_seconds = seconds;
                self.end_quiet_episodes(&dropped_before);
                Ok(())
            }
            Err(e) => {
                self.stats.write_errors += 1;
                // Evicted chunks were removed from the index already; the deletes stay pending.
                if let BackendError::Full(_) = e {
                    log::error!("store: {e}; evicting to make room");
                }
                let msg = e.to_string();
                if matches!(e, BackendError::Corrupted(_)) {
                    recovery::quarantine(&self.dir, &self.cfg, "corrupt", &mut self.stats);
                    self.index = Default::default();
                    self.stored_bytes = [0; 3];
                    self.pending_deletes.clear();
                    // The fresh store gets the sources' positions again: what they read before
                    // is lost with the quarantined file either way, and re-reading it from the
                    // start would flood the sinks with duplicates.
                    self.pending_checkpoints = self.checkpoints.clone();
                }
                self.set_unavailable(msg);
                Err(e)
            }
        }
    }

    /// Writes the next reservation to `store.seq` (once per `SEQ_RESERVATION` records).
    fn reserve_seqs(&mut self) {
        use std::io::Write;
        let floor = self.next_seq + SEQ_RESERVATION;
        let tmp = self.dir.join("store.seq.tmp");
        let written = std::fs::File::create(&tmp)
            .and_then(|mut f| {
                f.write_all(floor.to_string().as_bytes())?;
                f.sync_all()
            })
            .and_then(|_| std::fs::rename(&tmp, self.dir.join(SEQ_FLOOR)));
        match written {
            Ok(()) => self.seq_floor = floor,
            Err(e) => log::warn!("store: cannot write {SEQ_FLOOR}: {e}"),
        }
    }

    /// Up to `max_records` records (and about `max_bytes`) for `sink`, in sequence order, after
    /// what it has already been given. Damaged chunks are dropped and counted, not returned.
    pub fn read(
        &mut self,
        sink: &str,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<Record>, BackendError> {
        let Some(pos) = self.sinks.get(sink).map(|s| s.read_pos) else {
            return Ok(Vec::new());
        };
        let out = self.read_after(sink, pos, max_records, max_bytes)?;
        if let (Some(last), Some(s)) = (out.last(), self.sinks.get_mut(sink)) {
            s.read_pos = last.seq;
        }
        Ok(out)
    }

    /// Like [`Store::read`], but from any position and without moving the sink's read position:
    /// the records of `sink`'s classes with `seq > after` that it has not acknowledged. A sink
    /// that sends live data first keeps its own positions (one at the tail, one in the backlog).
    pub fn read_after(
        &mut self,
        sink: &str,
        after: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<Record>, BackendError> {
        self.read_between(sink, after, u64::MAX, max_records, max_bytes)
    }

    /// Like [`Store::read_after`], but only records with `seq <= until`: the backlog of a
    /// sink that sends everything after `until` as live data.
    pub fn read_between(
        &mut self,
        sink: &str,
        after: u64,
        until: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<Record>, BackendError> {
        let Some(s) = self.sinks.get(sink) else {
            return Ok(Vec::new());
        };
        let classes = s.classes;
        let cursor = &s.cursor;
        let pos = after.max(cursor.acked);
        let Some(backend) = self.backend.as_ref() else {
            return Err(BackendError::Io(std::io::Error::other("store unavailable")));
        };
        let mut out: Vec<Record> = Vec::new();
        let mut corrupt: Vec<(Class, u64)> = Vec::new();
        for c in Class::ALL.into_iter().filter(|c| classes[c.index()]) {
            let index = &self.index[c.index()];
            let start = index
                .range(..=pos)
                .next_back()
                .filter(|(_, m)| m.last_seq > pos)
                .map(|(k, _)| *k)
                .unwrap_or(pos + 1);
            let (mut got, mut bytes) = (0usize, 0usize);
            for (first, meta) in index.range(start..) {
                if got >= max_records || bytes >= max_bytes || *first > until {
                    break;
                }
                if cursor.covers(meta.first_seq, meta.last_seq) {
                    continue; // acknowledged out of order, waiting for the cursor to pass it
                }
                let value = {
                    let _guard = recovery::InStore::enter(&self.dir);
                    backend.read_chunk(c, *first)?
                };
                let records = match value.map(|v| decode_chunk(c, &v)) {
                    Some(Ok(r)) => r,
                    Some(Err(e)) => {
                        log::error!(
                            "store: {} chunk {first}..={} is damaged ({}); dropping it",
                            c.name(),
                            meta.last_seq,
                            e.0
                        );
                        corrupt.push((c, *first));
                        continue;
                    }
                    None => {
                        corrupt.push((c, *first));
                        continue;
                    }
                };
                for r in records
                    .into_iter()
                    .filter(|r| r.seq > pos && r.seq <= until && !cursor.is_acked(r.seq))
                {
                    got += 1;
                    bytes += r.data.len();
                    out.push(r);
                }
            }
        }
        for (c, first) in corrupt {
            self.evict_chunk(c, first, DropReason::Corrupt);
        }
        out.sort_by_key(|r| r.seq);
        let mut bytes = 0usize;
        let mut keep = 0usize;
        for r in &out {
            if keep >= max_records || (keep > 0 && bytes + r.data.len() > max_bytes) {
                break;
            }
            bytes += r.data.len();
            keep += 1;
        }
        out.truncate(keep);
        Ok(out)
    }

    /// Takes new bounds and commit settings; they apply from the next commit. The backend,
    /// its cache and the quarantine bound are fixed for the life of the open store.
    pub fn reconfigure(&mut self, new: &StoreConfig) {
        self.cfg.commit_interval = new.commit_interval;
        self.cfg.commit_interval_rereadable = new.commit_interval_rereadable;
        self.cfg.commit_bytes = new.commit_bytes;
        self.cfg.max_bytes = new.max_bytes;
        self.cfg.max_age = new.max_age;
        self.cfg.min_free_disk = new.min_free_disk;
    }

    /// Rewinds a sink's read position to its acknowledged cursor (after a failed send).
    pub fn rewind(&mut self, sink: &str) {
        if let Some(s) = self.sinks.get_mut(sink) {
            s.read_pos = s.cursor.acked;
        }
    }

    /// Acknowledges every record of `sink`'s classes up to `seq`. Chunks every data-holding
    /// sink has acknowledged are deleted at the next commit.
    pub fn ack(&mut self, sink: &str, seq: u64) {
        self.ack_range(sink, 0, seq);
    }

    /// Acknowledges the records of `sink`'s classes with `after < seq <= last`: a batch that
    /// [`Store::read_after`] returned for `after` and that ended at `last` (such a batch holds
    /// every unacknowledged record of the sink in that interval, so numbers of other classes,
    /// or of records dropped under the bounds, are covered too). It may lie ahead of older
    /// unacknowledged records: live data first, the backlog behind it.
    pub fn ack_range(&mut self, sink: &str, after: u64, last: u64) {
        let first = after.saturating_add(1);
        let durable = self.durable_seq;
        let Some(s) = self.sinks.get_mut(sink) else { return };
        let last = last.min(durable);
        let before = s.cursor.clone();
        s.cursor.add(first, last);
        if s.cursor == before {
            return;
        }
        s.read_pos = s.read_pos.max(s.cursor.acked);
        self.cursors_dirty = true;
        self.lazy_since.get_or_insert_with(Instant::now);
        if let Some(j) = self.ack_journal.as_mut() {
            use std::io::Write;
            let _ = j.write_all(format!("{sink} {after} {last}\n").as_bytes());
        }
        let classes = s.classes;
        for c in Class::ALL.into_iter().filter(|c| classes[c.index()]) {
            // Deletable when every sink that keeps this class acknowledged the whole chunk; a
            // class no configured sink keeps is released by whoever reads it (export).
            let holders: Vec<&Cursor> = self
                .sinks
                .values()
                .filter(|x| x.holds_data && x.classes[c.index()])
                .map(|x| &x.cursor)
                .collect();
            let acker = &self.sinks[sink].cursor;
            let done: Vec<u64> = self.index[c.index()]
                .range(..=last)
                .filter(|(_, m)| {
                    if holders.is_empty() {
                        acker.covers(m.first_seq, m.last_seq)
                    } else {
                        holders.iter().all(|h| h.covers(m.first_seq, m.last_seq))
                    }
                })
                .map(|(k, _)| *k)
                .collect();
            for first in done {
                if let Some(meta) = self.index[c.index()].remove(&first) {
                    self.stored_bytes[c.index()] -= meta.bytes as u64;
                    self.pending_deletes.push((c, first));
                }
            }
        }
    }

    /// Records and bytes per class, per-sink backlog, and the counters.
    pub fn stats(&self) -> StoreStats {
        let mut s = self.stats.clone();
        s.disk_bytes = self.backend.as_ref().map(|b| b.disk_bytes()).unwrap_or(0);
        s.durable_seq = self.durable_seq;
        s.pending_records = self.pending.iter().map(|p| p.len() as u64).sum();
        s.unavailable = self.unavailable.as_ref().map(|u| u.reason.clone());
        for c in Class::ALL {
            let idx = &self.index[c.index()];
            s.records[c.index()] = idx.values().map(|m| m.count as u64).sum();
            s.bytes[c.index()] = self.stored_bytes[c.index()];
            s.oldest_ts[c.index()] = idx.values().next().map(|m| m.min_ts);
        }
        s.sinks = self
            .sinks
            .iter()
            .filter(|(_, sink)| sink.classes.iter().any(|w| *w))
            .map(|(name, sink)| {
                let mut records = 0u64;
                let mut bytes = 0u64;
                let mut oldest: Option<i64> = None;
                for c in Class::ALL.into_iter().filter(|c| sink.classes[c.index()]) {
                    for m in self.index[c.index()]
                        .values()
                        .filter(|m| !sink.cursor.covers(m.first_seq, m.last_seq))
                    {
                        // Partially acknowledged chunks count whole: an upper bound.
                        records += m.count as u64;
                        bytes += m.bytes as u64;
                        oldest = Some(oldest.map_or(m.min_ts, |o| o.min(m.min_ts)));
                    }
                }
                (
                    name.clone(),
                    super::stats::SinkBacklog {
                        classes: sink.classes,
                        records,
                        bytes,
                        oldest_ts: oldest,
                        acked: sink.cursor.acked,
                    },
                )
            })
            .collect();
        s
    }

    /// Commits what is pending and marks the shutdown clean.
    pub fn close(mut self) {
        if self.pending_bytes > 0
            || !self.pending_deletes.is_empty()
            || self.cursors_dirty
            || !self.pending_checkpoints.is_empty()
        {
            if let Err(e) = self.commit() {
                log::error!(
                    "store: final commit failed: {e}; {} records not written",
                    self.pending.iter().map(VecDeque::len).sum::<usize>()
                );
            }
        }
        let clean = self.backend.is_some();
        drop(self.backend.take());
        if clean {
            recovery::mark_clean(&self.dir);
        }
    }
}

//! The store's thread: it owns the [`Store`], so commits (fsync) and slow opens (integrity
//! checks after a crash) never run on the async runtime, and sampling never waits for the disk.
//! Producers hand records over through a bounded channel without blocking; if the store falls
//! that far behind, the record is dropped and counted (`reason="overload"`), never queued
//! without bound.
//!
//! The producer's contract is typed: [`StoreHandle::append`] answers [`Append::Accepted`]
//! with a [`Ticket`] (durable once [`StoreHandle::is_durable`] says so — a file tail advances
//! its checkpoint only then), [`Append::Dropped`] (overload, counted) or [`Append::Stopped`]
//! (the store is shutting down); reads and acknowledgements fail with a [`StoreError`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::queue::Store;
use super::record::{Class, Record};
use super::stats::{DropReason, StoreStats};
use crate::config::StoreConfig;
use crate::model::Family;
use crate::telemetry::Report;

/// Why a store request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store thread has stopped (the agent is shutting down).
    Stopped,
    /// The store cannot serve the request (damaged and being replaced, disk unusable); why.
    Unavailable(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Stopped => f.write_str("store stopped"),
            StoreError::Unavailable(why) => write!(f, "store unavailable: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// A record's place in the producer's order of appends: durable once
/// [`StoreHandle::is_durable`] says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(pub u64);

/// What became of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a producer that re-reads its input must keep the ticket for its checkpoint"]
pub enum Append {
    /// Handed to the store; durable when the commit that writes it is done.
    Accepted(Ticket),
    /// The store is too far behind: dropped and counted (`reason="overload"`).
    Dropped,
    /// The store has stopped: the record was not taken (re-read it after the restart).
    Stopped,
}
use super::datadir::DataDir;

enum Command {
    Append {
        class: Class,
        ts_ms: i64,
        data: Vec<u8>,
    },
    /// Records of a source that can re-read its input, and its checkpoint after them: one
    /// message, so the checkpoint lands in the same commit as (or a later one than) the
    /// records it covers.
    AppendBatch {
        class: Class,
        items: Vec<(i64, Vec<u8>)>,
        checkpoint: Option<(String, Vec<u8>)>,
    },
    Checkpoint {
        source: String,
        reply: mpsc::Sender<Option<Vec<u8>>>,
    },
    Register {
        sink: String,
        classes: Vec<Class>,
    },
    Read {
        sink: String,
        after: u64,
        until: u64,
        max_records: usize,
        max_bytes: usize,
        reply: tokio::sync::oneshot::Sender<Result<Vec<Record>, StoreError>>,
    },
    /// New bounds and commit settings (remote config); the backend and cache stay.
    Reconfigure(StoreConfig),
    Ack {
        sink: String,
        after: u64,
        last: u64,
    },
    Shutdown,
}

#[derive(Default)]
struct Shared {
    stats: Mutex<StoreStats>,
    /// Appends accepted by the channel, and how many of them the store has made durable
    /// (or dropped under its bounds): a producer that can re-read its input advances its own
    /// checkpoint only when `durable >= its ticket`.
    sent: AtomicU64,
    received: AtomicU64,
    durable: AtomicU64,
    /// The store's highest durable sequence number.
    durable_seq: AtomicU64,
    /// Set once the store thread has opened the store (or found it unavailable) and published
    /// its state: before that, `durable_seq` is 0 whatever the store holds.
    opened: std::sync::atomic::AtomicBool,
    overload: [AtomicU64; 3],
    /// Bytes of source batches sent to the store thread and not taken yet: sources wait above
    /// [`BATCH_BYTES_IN_FLIGHT`], so the channel holds a bounded amount of memory, not
    /// `CHANNEL` batches.
    batch_bytes: AtomicU64,
}

/// See `Shared::batch_bytes`.
const BATCH_BYTES_IN_FLIGHT: u64 = 512 << 10;

#[derive(Clone)]
pub struct StoreHandle {
    tx: SyncSender<Command>,
    shared: Arc<Shared>,
}

pub struct StoreThread {
    handle: StoreHandle,
    join: JoinHandle<()>,
}

const CHANNEL: usize = 256;

impl StoreThread {
    pub fn spawn(dir: PathBuf, cfg: StoreConfig, lock: Option<DataDir>) -> std::io::Result<StoreThread> {
        let (tx, rx) = mpsc::sync_channel(CHANNEL);
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let join = std::thread::Builder::new()
            .name("outpost-store".into())
            .spawn(move || {
                let shared = thread_shared;
                let mut lock = lock;
                let mut cfg = cfg;
                // A damaged file can make the storage engine panic. With panic = "abort"
                // (release) the process ends, systemd restarts it, and the panic marker gets the
                // store quarantined; where panics unwind, the same happens here without the
                // restart: the store is opened again, sees the marker, and is quarantined.
                loop {
                    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        serve(&dir, &mut cfg, lock.take(), &rx, &shared)
                    }));
                    match run {
                        Ok(()) => break,
                        Err(_) => log::error!("store: panicked; reopening it (it will be quarantined)"),
                    }
                }
            })?;
        Ok(StoreThread {
            handle: StoreHandle { tx, shared },
            join,
        })
    }

    pub fn handle(&self) -> StoreHandle {
        self.handle.clone()
    }

    /// Asks for a final commit and waits for it until `deadline`.
    pub fn shutdown(self, deadline: Instant) -> bool {
        let _ = self.handle.tx.try_send(Command::Shutdown);
        while !self.join.is_finished() {
            if Instant::now() >= deadline {
                log::warn!(
                    "store: final commit still running at shutdown; leaving it to the crash-safe path"
                );
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.join.join();
        true
    }
}

fn publish(store: &Store, shared: &Shared) {
    shared.durable_seq.store(store.durable_seq(), Ordering::SeqCst);
    *shared.stats.lock().unwrap_or_else(|e| e.into_inner()) = store.stats();
    shared.opened.store(true, Ordering::SeqCst);
}

/// The store thread's loop: apply commands, commit when due, publish stats.
fn serve(
    dir: &std::path::Path,
    cfg: &mut StoreConfig,
    lock: Option<DataDir>,
    rx: &mpsc::Receiver<Command>,
    shared: &Shared,
) {
    let mut store = Store::open(dir, cfg.clone(), lock);
    publish(&store, shared);
    let mut last_publish = Instant::now();
    loop {
        let wait = store
            .next_deadline()
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1));
        match rx.recv_timeout(wait) {
            Ok(Command::Append { class, ts_ms, data }) => {
                store.append(class, ts_ms, data);
                shared.received.fetch_add(1, Ordering::SeqCst);
            }
            Ok(Command::AppendBatch {
                class,
                items,
                checkpoint,
            }) => {
                let bytes: u64 = items.iter().map(|(_, d)| d.len() as u64).sum();
                shared.batch_bytes.fetch_sub(bytes, Ordering::SeqCst);
                for (ts_ms, data) in items {
                    if checkpoint.is_some() {
                        store.append_rereadable(class, ts_ms, data);
                    } else {
                        store.append(class, ts_ms, data);
                    }
                }
                if let Some((source, value)) = checkpoint {
                    store.set_checkpoint(&source, value);
                }
                shared.received.fetch_add(1, Ordering::SeqCst);
            }
            Ok(Command::Checkpoint { source, reply }) => {
                let _ = reply.send(store.checkpoint(&source));
            }
            Ok(Command::Register { sink, classes }) => store.register_sink(&sink, &classes, true),
            Ok(Command::Read {
                sink,
                after,
                until,
                max_records,
                max_bytes,
                reply,
            }) => {
                let r = store
                    .read_between(&sink, after, until, max_records, max_bytes)
                    .map_err(|e| StoreError::Unavailable(e.to_string()));
                let _ = reply.send(r);
            }
            Ok(Command::Ack { sink, after, last }) => {
                store.ack_range(&sink, after, last);
                // Acknowledgements may wait for their commit; what sinks have delivered is
                // shown at once (the stdin drain waits on it).
                if last_publish.elapsed() >= Duration::from_millis(100) {
                    publish(&store, shared);
                    last_publish = Instant::now();
                }
            }
            Ok(Command::Reconfigure(new)) => {
                store.reconfigure(&new);
                *cfg = new;
            }
            Ok(Command::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if store.commit_due() {
            let received = shared.received.load(Ordering::SeqCst);
            if store.commit().is_ok() {
                shared.durable.store(received, Ordering::SeqCst);
            }
            publish(&store, shared);
            last_publish = Instant::now();
        } else if last_publish.elapsed() >= Duration::from_secs(5) {
            publish(&store, shared);
            last_publish = Instant::now();
        }
    }
    store.close();
    shared
        .durable
        .store(shared.received.load(Ordering::SeqCst), Ordering::SeqCst);
}

impl StoreHandle {
    /// Hands a record to the store without blocking (see [`Append`]).
    pub fn append(&self, class: Class, ts_ms: i64, data: Vec<u8>) -> Append {
        match self.tx.try_send(Command::Append { class, ts_ms, data }) {
            Ok(()) => Append::Accepted(Ticket(self.shared.sent.fetch_add(1, Ordering::SeqCst) + 1)),
            Err(TrySendError::Full(_)) => {
                if self.shared.overload[class.index()].fetch_add(1, Ordering::SeqCst) == 0 {
                    log::warn!(
                        "store: cannot keep up; dropping {} records (counted as overload)",
                        class.name()
                    );
                }
                Append::Dropped
            }
            Err(TrySendError::Disconnected(_)) => Append::Stopped,
        }
    }

    /// Hands a source's records and its checkpoint after them to the store, waiting while the
    /// store is behind (backpressure: a source that can re-read its input never drops). For
    /// source threads; returns [`Append::Stopped`] when `stop` trips or the store has stopped.
    pub fn append_batch(
        &self,
        class: Class,
        items: Vec<(i64, Vec<u8>)>,
        checkpoint: Option<(String, Vec<u8>)>,
        stop: &crate::shutdown::Stop,
    ) -> Append {
        let bytes: u64 = items.iter().map(|(_, d)| d.len() as u64).sum();
        let mut cmd = Command::AppendBatch {
            class,
            items,
            checkpoint,
        };
        loop {
            if self.shared.batch_bytes.load(Ordering::SeqCst) > BATCH_BYTES_IN_FLIGHT {
                if stop.is_stopped() {
                    return Append::Stopped;
                }
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            // Counted before the send, so the store thread never subtracts first.
            self.shared.batch_bytes.fetch_add(bytes, Ordering::SeqCst);
            match self.tx.try_send(cmd) {
                Ok(()) => {
                    return Append::Accepted(Ticket(self.shared.sent.fetch_add(1, Ordering::SeqCst) + 1))
                }
                Err(TrySendError::Full(c)) => {
                    self.shared.batch_bytes.fetch_sub(bytes, Ordering::SeqCst);
                    if stop.is_stopped() {
                        return Append::Stopped;
                    }
                    cmd = c;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.shared.batch_bytes.fetch_sub(bytes, Ordering::SeqCst);
                    return Append::Stopped;
                }
            }
        }
    }

    /// A source's latest checkpoint (blocking; for source threads). Answered once the store is
    /// open, so it is what the last run made durable, or what this run set since.
    pub fn checkpoint(&self, source: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let (reply, rx) = mpsc::channel();
        let mut cmd = Command::Checkpoint {
            source: source.to_string(),
            reply,
        };
        loop {
            match self.tx.try_send(cmd) {
                Ok(()) => break,
                Err(TrySendError::Full(c)) => {
                    cmd = c;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(TrySendError::Disconnected(_)) => return Err(StoreError::Stopped),
            }
        }
        rx.recv().map_err(|_| StoreError::Stopped)
    }

    /// Whether the record of this ticket is durable (or was evicted under the store's bounds,
    /// which is counted): a producer that can re-read its input may move past it.
    pub fn is_durable(&self, ticket: Ticket) -> bool {
        self.durable() >= ticket.0
    }

    /// Sends a command without blocking the runtime: a full channel means the store thread
    /// is busy (a commit), so wait a moment and try again.
    async fn send(&self, cmd: Command) -> Result<(), StoreError> {
        let mut cmd = Some(cmd);
        while let Some(c) = cmd.take() {
            match self.tx.try_send(c) {
                Ok(()) => {}
                Err(TrySendError::Full(c)) => {
                    cmd = Some(c);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(TrySendError::Disconnected(_)) => return Err(StoreError::Stopped),
            }
        }
        Ok(())
    }

    /// Registers a sink that keeps data until it acknowledged it (a configured uplink).
    pub async fn register_sink(&self, sink: &str, classes: &[Class]) -> Result<(), StoreError> {
        self.send(Command::Register {
            sink: sink.to_string(),
            classes: classes.to_vec(),
        })
        .await
    }

    /// The sink's unacknowledged durable records with `after < seq <= until` (see
    /// [`Store::read_between`]). Waits for the store thread, never blocking the runtime.
    pub async fn read_between(
        &self,
        sink: &str,
        after: u64,
        until: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<Record>, StoreError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Read {
            sink: sink.to_string(),
            after,
            until,
            max_records,
            max_bytes,
            reply,
        })
        .await?;
        rx.await.map_err(|_| StoreError::Stopped)?
    }

    /// Acknowledges `after < seq <= last` for `sink` (see [`Store::ack_range`]).
    pub async fn ack_range(&self, sink: &str, after: u64, last: u64) -> Result<(), StoreError> {
        self.send(Command::Ack {
            sink: sink.to_string(),
            after,
            last,
        })
        .await
    }

    /// Applies new bounds and commit settings (everything but the backend and the cache).
    pub async fn reconfigure(&self, cfg: StoreConfig) -> Result<(), StoreError> {
        self.send(Command::Reconfigure(cfg)).await
    }

    /// Waits until the store thread has opened the store (an integrity check after a crash
    /// can take a while), so [`StoreHandle::durable_seq`] says what the store holds. A sink
    /// that splits live data from its backlog at that number must wait for this first.
    pub async fn opened(&self) {
        while !self.shared.opened.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The highest sequence number that is durable (as of the last commit).
    pub fn durable_seq(&self) -> u64 {
        self.shared.durable_seq.load(Ordering::SeqCst)
    }

    /// Tickets up to this one are durable.
    fn durable(&self) -> u64 {
        self.shared.durable.load(Ordering::SeqCst)
    }

    pub fn stats(&self) -> StoreStats {
        let mut s = self
            .shared
            .stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for c in Class::ALL {
            let n = self.shared.overload[c.index()].load(Ordering::SeqCst);
            if n > 0 {
                *s.dropped.entry((c, DropReason::Overload)).or_default() += n;
            }
        }
        s
    }
}

/// The store's numbers are the agent's `outpost_store_*` metrics.
impl Report for StoreHandle {
    fn report(&self, out: &mut Vec<Family>) {
        out.extend(self.stats().families());
    }
}

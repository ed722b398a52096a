//! The store's thread: it owns the [`Store`], so commits (fsync) and slow opens (integrity
//! checks after a crash) never run on the async runtime, and sampling never waits for the disk.
//! Producers hand records over through a bounded channel without blocking; if the store falls
//! that far behind, the record is dropped and counted (`reason="overload"`), never queued
//! without bound.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::queue::Store;
use super::record::Class;
use super::stats::{DropReason, StoreStats};
use crate::config::validate::StoreConfig;
use crate::datadir::DataDir;

enum Command {
    Append { class: Class, ts_ms: i64, data: Vec<u8> },
    Shutdown,
}

#[derive(Default)]
struct Shared {
    stats: Mutex<StoreStats>,
    /// Appends accepted by the channel, and how many of them the store has made durable
    /// (or dropped under its bounds): a producer that can re-read its input advances its own
    /// checkpoint only when `durable >= its ticket`.
    sent: AtomicU64,
    durable: AtomicU64,
    overload: [AtomicU64; 3],
}

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
                let mut store = Store::open(&dir, cfg, lock);
                let publish = |store: &Store, shared: &Shared| {
                    *shared.stats.lock().unwrap_or_else(|e| e.into_inner()) = store.stats();
                };
                publish(&store, &shared);
                let mut received = 0u64;
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
                            received += 1;
                        }
                        Ok(Command::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                        Err(RecvTimeoutError::Timeout) => {}
                    }
                    if store.commit_due() {
                        if store.commit().is_ok() {
                            shared.durable.store(received, Ordering::SeqCst);
                        }
                        publish(&store, &shared);
                        last_publish = Instant::now();
                    } else if last_publish.elapsed() >= Duration::from_secs(5) {
                        publish(&store, &shared);
                        last_publish = Instant::now();
                    }
                }
                store.close();
                shared.durable.store(received, Ordering::SeqCst);
            })?;
        Ok(StoreThread {
            handle: StoreHandle { tx, shared },
            join,
        })
    }

    pub fn handle(&self) -> StoreHandle {
        self.handle.clone()
    }

    /// Asks for a final commit and waits for it at most `timeout`.
    pub fn shutdown(self, timeout: Duration) -> bool {
        let _ = self.handle.tx.try_send(Command::Shutdown);
        let deadline = Instant::now() + timeout;
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

impl StoreHandle {
    /// Hands a record to the store without blocking. Returns the ticket to compare with
    /// [`StoreHandle::durable`], or `None` if the record was dropped (store overloaded).
    pub fn append(&self, class: Class, ts_ms: i64, data: Vec<u8>) -> Option<u64> {
        match self.tx.try_send(Command::Append { class, ts_ms, data }) {
            Ok(()) => Some(self.shared.sent.fetch_add(1, Ordering::SeqCst) + 1),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                if self.shared.overload[class.index()].fetch_add(1, Ordering::SeqCst) == 0 {
                    log::warn!(
                        "store: cannot keep up; dropping {} records (counted as overload)",
                        class.name()
                    );
                }
                None
            }
        }
    }

    /// Tickets up to this one are durable.
    pub fn durable(&self) -> u64 {
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

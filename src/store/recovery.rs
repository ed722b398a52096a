//! Opening the store so that no damaged file can stop the agent.
//!
//! Three markers in the data directory drive it:
//! - `store.dirty` exists while the store is open; found at start, it means the last run did
//!   not shut down cleanly (crash, `kill -9`, power cut), and the store is opened with a full
//!   integrity check instead of trusting it.
//! - `store.panicked` is written by a panic hook when a panic happens inside store code (a
//!   damaged file can make a storage engine panic, and with `panic = "abort"` nothing else
//!   runs). Found at start, the store is quarantined, so a bad file costs one restart, never a
//!   crash loop.
//! - `quarantine/<unix-time>-<reason>/` holds damaged stores moved aside for inspection,
//!   bounded in count and bytes.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{SystemTime, UNIX_EPOCH};

use super::backend::{self, Backend, BackendError};
use super::stats::StoreStats;
use crate::config::StoreConfig;

const DIRTY: &str = "store.dirty";
const PANICKED: &str = "store.panicked";
const QUARANTINE: &str = "quarantine";
const QUARANTINE_KEEP: usize = 3;

static HOOK: Once = Once::new();

thread_local! {
    /// The data directory of the store this thread is working in, while it is.
    static CURRENT: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

/// Marks the current thread as inside the store code of `dir` while alive.
pub struct InStore {
    previous: Option<PathBuf>,
}

impl InStore {
    pub fn enter(dir: &Path) -> InStore {
        let previous = CURRENT.with(|c| c.replace(Some(dir.to_path_buf())));
        InStore { previous }
    }
}

impl Drop for InStore {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Runs on the panicking thread, before the abort in release builds.
            if let Some(dir) = CURRENT.try_with(|c| c.borrow().clone()).ok().flatten() {
                let _ = std::fs::write(dir.join(PANICKED), format!("{info}\n"));
            }
            previous(info);
        }));
    });
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn size_of(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|entries| entries.flatten().map(|e| size_of(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

fn remove(path: &Path) {
    let _ = std::fs::remove_dir_all(path).or_else(|_| std::fs::remove_file(path));
}

/// Moves the store's files aside into the bounded quarantine and counts the recovery.
pub fn quarantine(dir: &Path, cfg: &StoreConfig, reason: &str, stats: &mut StoreStats) {
    let file = dir.join(cfg.backend.file_name());
    let bytes = size_of(&file);
    *stats.recoveries.entry(reason.to_string()).or_default() += 1;
    let qdir = dir.join(QUARANTINE);
    let target = qdir.join(format!("{}-{reason}", unix_now()));
    let moved = std::fs::create_dir_all(&target)
        .and_then(|_| std::fs::rename(&file, target.join(cfg.backend.file_name())));
    match moved {
        Ok(()) => log::error!(
            "store: {reason}: moved the store ({bytes} bytes) to {} and starting a fresh one; \
             the records in it are not delivered",
            target.display()
        ),
        Err(e) => {
            log::error!(
                "store: {reason}: cannot move {} aside ({e}); deleting it",
                file.display()
            );
            remove(&file);
            remove(&target);
        }
    }
    let _ = std::fs::remove_file(dir.join(PANICKED));
    // Bound the quarantine: newest entries first, by count and bytes.
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&qdir)
        .map(|e| e.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    entries.reverse();
    let mut total = 0u64;
    for (i, entry) in entries.iter().enumerate() {
        let size = size_of(entry);
        total += size;
        if i >= QUARANTINE_KEEP || total > cfg.quarantine_max_bytes {
            log::warn!("store: quarantine over its bound; deleting {}", entry.display());
            remove(entry);
            total -= size;
        }
    }
}

/// Opens the backend, quarantining a damaged store and replacing it with a fresh one.
/// Errors that say nothing about the files (permissions, read-only or full disk) are returned
/// as they are: the data may be fine, so it is kept and the open retried later.
/// `reopen`: the store is being reopened in this process after an I/O error (its own dirty
/// marker is expected then, and the integrity check is still worth running).
pub fn open_backend(
    dir: &Path,
    cfg: &StoreConfig,
    stats: &mut StoreStats,
    reopen: bool,
) -> Result<Box<dyn Backend>, BackendError> {
    install_panic_hook();
    let path = dir.join(cfg.backend.file_name());
    if dir.join(PANICKED).exists() {
        let why = std::fs::read_to_string(dir.join(PANICKED)).unwrap_or_default();
        log::error!(
            "store: the last run panicked inside the store ({}); quarantining it",
            why.trim()
        );
        quarantine(dir, cfg, "panic", stats);
    }
    let dirty = dir.join(DIRTY).exists();
    if dirty && reopen {
        log::info!("store: reopening after an error; checking the store's integrity");
    } else if dirty {
        stats.unclean_starts += 1;
        log::warn!("store: the last run did not shut down cleanly; checking the store's integrity");
    }
    std::fs::write(dir.join(DIRTY), std::process::id().to_string()).map_err(BackendError::from_io)?;
    let opened = {
        let _guard = InStore::enter(dir);
        backend::open(cfg.backend, &path, cfg.cache_bytes, dirty)
    };
    match opened {
        Ok(b) => Ok(b),
        Err(BackendError::Corrupted(m)) => {
            log::error!("store: {} is damaged: {m}", path.display());
            quarantine(dir, cfg, "corrupt", stats);
            let _guard = InStore::enter(dir);
            backend::open(cfg.backend, &path, cfg.cache_bytes, false)
        }
        Err(e) => Err(e),
    }
}

/// Records a clean shutdown.
pub fn mark_clean(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(DIRTY));
}

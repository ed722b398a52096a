//! The data directory: created on start and held with an exclusive lock.
//!
//! Two agents writing one store would corrupt it, and a second `outpost run` started by hand
//! next to the systemd service is an easy mistake; `flock` on `outpost.lock` turns it into a
//! clear error instead. The lock dies with the process (also on `kill -9`), so a crash never
//! leaves a stale lock behind.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub enum DataDirError {
    Create { path: PathBuf, source: std::io::Error },
    Lock { path: PathBuf, source: std::io::Error },
    InUse { path: PathBuf, holder: String },
}

impl fmt::Display for DataDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataDirError::Create { path, source } => {
                write!(f, "cannot create data directory {}: {source}", path.display())
            }
            DataDirError::Lock { path, source } => write!(f, "cannot lock {}: {source}", path.display()),
            DataDirError::InUse { path, holder } => write!(
                f,
                "data directory {} is in use by another outpost process{holder}; \
                 stop it or give this one another [agent] data_dir",
                path.display()
            ),
        }
    }
}

impl std::error::Error for DataDirError {}

pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

impl DataDir {
    pub fn open(path: &Path) -> Result<DataDir, DataDirError> {
        std::fs::create_dir_all(path).map_err(|source| DataDirError::Create {
            path: path.to_path_buf(),
            source,
        })?;
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let lock_path = path.join("outpost.lock");
        let lock_err = |source| DataDirError::Lock {
            path: lock_path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(lock_err)?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let holder = std::fs::read_to_string(&lock_path)
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .map(|pid| format!(" (pid {pid})"))
                    .unwrap_or_default();
                return Err(DataDirError::InUse { path, holder });
            }
            return Err(lock_err(err));
        }
        file.set_len(0).map_err(lock_err)?;
        write!(file, "{}", std::process::id()).map_err(lock_err)?;
        Ok(DataDir { path, _lock: file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_open_is_refused_until_the_first_is_dropped() {
        let dir = std::env::temp_dir().join(format!("outpost-datadir-{}", std::process::id()));
        let first = DataDir::open(&dir).unwrap();
        match DataDir::open(&dir) {
            Err(DataDirError::InUse { holder, .. }) => {
                assert!(holder.contains(&std::process::id().to_string()))
            }
            other => panic!("expected InUse, got {:?}", other.err()),
        }
        drop(first);
        assert!(DataDir::open(&dir).is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }
}

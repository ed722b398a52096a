//! Small helpers shared by the host collectors: reading pseudo-files and the typed error that
//! says which file failed and how.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why one collector failed in one cycle. The sampler counts it and keeps going.
#[derive(Debug)]
pub enum CollectError {
    Read { path: PathBuf, source: io::Error },
    Parse { path: PathBuf, detail: String },
}

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CollectError::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            CollectError::Parse { path, detail } => write!(f, "cannot parse {}: {detail}", path.display()),
        }
    }
}

impl std::error::Error for CollectError {}

impl CollectError {
    pub fn parse(path: &Path, detail: impl Into<String>) -> Self {
        CollectError::Parse {
            path: path.to_path_buf(),
            detail: detail.into(),
        }
    }
}

/// Reads a whole pseudo-file into `buf` (cleared first), reusing its allocation across cycles.
pub fn read_into(path: &Path, buf: &mut String) -> Result<(), CollectError> {
    use std::io::Read;
    buf.clear();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_string(buf))
        .map(|_| ())
        .map_err(|source| CollectError::Read {
            path: path.to_path_buf(),
            source,
        })
}

/// Reads a small sysfs attribute, trimmed. `None` when it is absent or unreadable: sysfs
/// attributes of optional hardware come and go, which is not an error of the collector.
pub fn read_attr(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

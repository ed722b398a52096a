//! Small helpers shared by the host collectors: reading pseudo-files and the typed error that
//! says which file failed and how.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why one collector failed in one cycle. The sampler counts it and keeps going.
#[derive(Debug)]
pub enum CollectError {
    Read {
        path: PathBuf,
        source: io::Error,
    },
    Parse {
        path: PathBuf,
        detail: String,
    },
    /// The host has no such data (see [`no_data`]).
    NoData {
        path: PathBuf,
    },
}

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CollectError::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            CollectError::Parse { path, detail } => write!(f, "cannot parse {}: {detail}", path.display()),
            CollectError::NoData { path } => write!(f, "{NO_DATA}{} does not exist", path.display()),
        }
    }
}

impl std::error::Error for CollectError {}

/// How a [`CollectError::NoData`] message starts.
pub const NO_DATA: &str = "no data: ";

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
    // Through `take`: `File`'s own read_to_string asks `statx` for a size first, which
    // pseudo-files report as 0 anyway — one wasted syscall per file per cycle.
    std::fs::File::open(path)
        .and_then(|f| f.take(u64::MAX).read_to_string(buf))
        .map(|_| ())
        .map_err(|source| CollectError::Read {
            path: path.to_path_buf(),
            source,
        })
}

/// Reads a small sysfs attribute, trimmed. `None` when it is absent or unreadable: sysfs
/// attributes of optional hardware come and go, which is not an error of the collector.
pub fn read_attr(path: &Path) -> Option<String> {
    use std::io::Read;
    // One read into a stack buffer: sysfs answers a whole attribute (at most a page) at once,
    // and `read_to_string` would add a `statx` and a second read per file.
    let mut buf = [0u8; 4096];
    let n = std::fs::File::open(path).ok()?.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).trim().to_string())
}

/// Reads a whole file: a collector's required input.
pub fn read_file(path: &Path) -> Result<String, CollectError> {
    read_pseudo(path).map_err(|source| CollectError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// A whole pseudo-file, without the `statx` `std::fs::read_to_string` makes first.
fn read_pseudo(path: &Path) -> io::Result<String> {
    use std::io::Read;
    let mut s = String::with_capacity(4096);
    std::fs::File::open(path)?.take(u64::MAX).read_to_string(&mut s)?;
    Ok(s)
}

/// The file a collector needs is not on this host (no such kernel feature, filesystem or
/// hardware). The collector reports nothing and `node_scrape_collector_success` 0, logged at
/// debug level: node_exporter's `ErrNoData`.
pub fn no_data(path: &Path) -> CollectError {
    CollectError::NoData {
        path: path.to_path_buf(),
    }
}

/// Reads a collector's input file, or says the host has no data for it when it is absent.
pub fn read_or_no_data(path: &Path) -> Result<String, CollectError> {
    read_pseudo(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => no_data(path),
        _ => CollectError::Read {
            path: path.to_path_buf(),
            source,
        },
    })
}

/// A sysfs attribute parsed as a number; `None` when absent or not a number.
pub fn attr_f64(path: &Path) -> Option<f64> {
    read_attr(path).and_then(|v| v.parse::<f64>().ok())
}

/// The entries of a directory, sorted by name; an absent directory is empty.
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A family of gauges.
pub fn gauge(name: impl Into<String>, help: impl Into<String>) -> crate::model::Family {
    crate::model::Family::new(name, help, crate::model::MetricKind::Gauge)
}

/// A family of counters.
pub fn counter(name: impl Into<String>, help: impl Into<String>) -> crate::model::Family {
    crate::model::Family::new(name, help, crate::model::MetricKind::Counter)
}

/// A family of untyped samples (node_exporter's choice for raw kernel fields).
pub fn untyped(name: impl Into<String>, help: impl Into<String>) -> crate::model::Family {
    crate::model::Family::new(name, help, crate::model::MetricKind::Untyped)
}

/// A number in a kernel table: decimal, or hexadecimal with `hex`.
pub fn num(path: &Path, field: &str, hex: bool) -> Result<f64, CollectError> {
    let v = if hex {
        u64::from_str_radix(field, 16).ok()
    } else {
        field.parse::<u64>().ok()
    };
    v.map(|v| v as f64)
        .ok_or_else(|| CollectError::parse(path, format!("bad number {field:?}")))
}

/// Go's `strings.ToValidUTF8(s, "\u{FFFD}")`: each run of invalid bytes becomes one
/// replacement character (`String::from_utf8_lossy` would put one per bad sequence).
pub fn valid_utf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut in_run = false;
    for chunk in bytes.utf8_chunks() {
        if !chunk.valid().is_empty() {
            out.push_str(chunk.valid());
            in_run = false;
        }
        if !chunk.invalid().is_empty() && !in_run {
            out.push('\u{FFFD}');
            in_run = true;
        }
    }
    out
}

/// A sysfs directory held open, so that its attributes are opened relative to it: one short
/// `openat` instead of resolving `/sys/class/net/eth0/…`'s symlinks again for every file, and
/// one `read` into a stack buffer instead of `read_to_string`'s `statx` and growing reads. The
/// collectors that read many attributes per device (netclass, hwmon, power supplies) use it.
pub struct AttrDir(std::os::fd::OwnedFd);

impl AttrDir {
    pub fn open(path: &Path) -> Option<AttrDir> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        // SAFETY: `c` is a valid NUL-terminated path; the returned descriptor is owned below.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        Some(AttrDir(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }))
    }

    /// An attribute's content, trimmed; `None` when absent or unreadable (`EINVAL` from a
    /// link that is down, `EACCES`). Attributes longer than 4 KiB are cut (sysfs has none).
    pub fn attr(&self, name: &str) -> Option<String> {
        let mut buf = [0u8; 4096];
        let n = self.read(name, &mut buf)?;
        Some(String::from_utf8_lossy(&buf[..n]).trim().to_string())
    }

    fn read(&self, name: &str, buf: &mut [u8]) -> Option<usize> {
        use std::os::fd::AsRawFd;
        let c = std::ffi::CString::new(name).ok()?;
        // SAFETY: valid directory descriptor and NUL-terminated relative name.
        let fd = unsafe { libc::openat(self.0.as_raw_fd(), c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: `fd` is open and owned here; `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        // SAFETY: closing the descriptor opened above, once.
        unsafe { libc::close(fd) };
        usize::try_from(n).ok()
    }
}

/// A field filter (`[sample.netstat] fields`) with its answers remembered: the kernel writes
/// the same field names every cycle, so the regex runs once per name for the sampler's life
/// (a bounded memo: a kernel has a few hundred such names).
pub struct Selection {
    re: regex::Regex,
    memo: std::collections::HashMap<String, bool>,
}

impl Selection {
    pub fn new(re: regex::Regex) -> Self {
        Selection {
            re,
            memo: Default::default(),
        }
    }

    pub fn keep(&mut self, key: &str) -> bool {
        if let Some(&k) = self.memo.get(key) {
            return k;
        }
        let k = self.re.is_match(key);
        if self.memo.len() < 4096 {
            self.memo.insert(key.to_string(), k);
        }
        k
    }
}

/// Families created on first use, for collectors whose family names come from the data (hwmon
/// sensor types, zfs kstats, RAPL zones, netclass and bcache attributes). Looked up by `&str`,
/// so a family that exists costs no allocation for its name.
#[derive(Default)]
pub struct Families(std::collections::BTreeMap<String, crate::model::Family>);

impl Families {
    pub fn push(
        &mut self,
        name: &str,
        help: impl Into<String>,
        kind: crate::model::MetricKind,
        labels: crate::model::Labels,
        v: f64,
    ) {
        match self.0.get_mut(name) {
            Some(f) => f.push(labels, v),
            None => {
                let mut f = crate::model::Family::new(name, help, kind);
                f.push(labels, v);
                self.0.insert(name.to_string(), f);
            }
        }
    }

    pub fn into_vec(self) -> impl Iterator<Item = crate::model::Family> {
        self.0.into_values()
    }
}

//! Filesystems as node_exporter's `filesystem` collector reports them:
//! `node_filesystem_{size,free,avail}_bytes`, `node_filesystem_files{,_free}`,
//! `node_filesystem_readonly` and `node_filesystem_device_error`, labelled
//! `device,fstype,mountpoint`, with node_exporter 1.5's default excludes.
//!
//! Mounts are read from `/proc/1/mounts` (the host's view: under systemd's `ProtectSystem` the
//! agent's own namespace shows every mount read-only), falling back to `/proc/self/mounts`.
//! `statfs` can hang forever on a dead network mount, so it runs on a helper thread and waits at
//! most `statfs_timeout`; a mount that timed out is reported with `device_error` 1 and skipped
//! until the hung call returns. The sampling cycle itself never blocks on a mount.

use std::collections::HashSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use regex::Regex;

use super::read::{read_into, CollectError};
use crate::model::{Family, MetricKind};

/// One line of the mount table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub device: String,
    pub mountpoint: String,
    pub fstype: String,
    pub options: String,
}

/// Decodes the octal escapes the kernel uses in mount points (`\040` for a space).
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') as u32 * 64 + (b[i + 2] - b'0') as u32 * 8 + (b[i + 3] - b'0') as u32;
            if v <= 255 {
                out.push(v as u8);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_mounts(path: &Path, text: &str) -> Result<Vec<Mount>, CollectError> {
    let mut mounts = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        if f.len() < 4 {
            return Err(CollectError::parse(
                path,
                format!("malformed mount line {line:?}"),
            ));
        }
        mounts.push(Mount {
            device: f[0].to_string(),
            mountpoint: unescape(f[1]),
            fstype: f[2].to_string(),
            options: f[3].to_string(),
        });
    }
    Ok(mounts)
}

#[derive(Debug, Clone, Copy)]
struct Stats {
    bsize: f64,
    blocks: f64,
    bfree: f64,
    bavail: f64,
    files: f64,
    ffree: f64,
}

fn statfs(path: &Path) -> std::io::Result<Stats> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in mount point"))?;
    // SAFETY: `c` is a valid C string; `buf` is plain data that statfs64 fills on success.
    let mut buf: libc::statfs64 = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs64(c.as_ptr(), &mut buf) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Stats {
        bsize: buf.f_bsize as f64,
        blocks: buf.f_blocks as f64,
        bfree: buf.f_bfree as f64,
        bavail: buf.f_bavail as f64,
        files: buf.f_files as f64,
        ffree: buf.f_ffree as f64,
    })
}

struct Worker {
    jobs: Sender<PathBuf>,
    results: Receiver<std::io::Result<Stats>>,
}

/// Runs `statfs` on a helper thread so that a hung mount costs a timeout, not the sampler.
struct Statter {
    worker: Option<Worker>,
    /// Mount points with a `statfs` call in flight on some (possibly abandoned) worker.
    busy: Arc<Mutex<HashSet<PathBuf>>>,
}

enum StatResult {
    Ok(Stats),
    Err(std::io::Error),
    Stuck,
}

impl Statter {
    fn new() -> Self {
        Statter {
            worker: None,
            busy: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    fn spawn(&self) -> Option<Worker> {
        let (jobs, job_rx) = mpsc::channel::<PathBuf>();
        let (res_tx, results) = mpsc::channel();
        let busy = Arc::clone(&self.busy);
        std::thread::Builder::new()
            .name("outpost-statfs".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                for path in job_rx {
                    lock(&busy).insert(path.clone());
                    let r = statfs(&path);
                    lock(&busy).remove(&path);
                    if res_tx.send(r).is_err() {
                        break; // abandoned after a timeout
                    }
                }
            })
            .map_err(|e| log::warn!("cannot start statfs helper thread: {e}"))
            .ok()
            .map(|_| Worker { jobs, results })
    }

    fn stat(&mut self, path: &Path, timeout: Duration) -> StatResult {
        if lock(&self.busy).contains(path) {
            return StatResult::Stuck;
        }
        if self.worker.is_none() {
            self.worker = self.spawn();
        }
        let Some(w) = &self.worker else {
            // No thread to be had: do it inline rather than report nothing.
            return match statfs(path) {
                Ok(s) => StatResult::Ok(s),
                Err(e) => StatResult::Err(e),
            };
        };
        if w.jobs.send(path.to_path_buf()).is_err() {
            self.worker = None;
            return StatResult::Err(std::io::Error::other("statfs helper thread exited"));
        }
        match w.results.recv_timeout(timeout) {
            Ok(Ok(s)) => StatResult::Ok(s),
            Ok(Err(e)) => StatResult::Err(e),
            Err(RecvTimeoutError::Timeout) => {
                self.worker = None; // abandon it; it exits when its call returns
                StatResult::Stuck
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.worker = None;
                StatResult::Err(std::io::Error::other("statfs helper thread exited"))
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the set inconsistent (insert/remove only).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Filesystem {
    proc_path: PathBuf,
    mount_points_exclude: Regex,
    fs_types_exclude: Regex,
    timeout: Duration,
    statter: Statter,
    buf: String,
    stuck_logged: HashSet<String>,
}

impl Filesystem {
    pub fn new(
        proc_path: &Path,
        mount_points_exclude: Regex,
        fs_types_exclude: Regex,
        timeout: Duration,
    ) -> Self {
        Filesystem {
            proc_path: proc_path.to_path_buf(),
            mount_points_exclude,
            fs_types_exclude,
            timeout,
            statter: Statter::new(),
            buf: String::new(),
            stuck_logged: HashSet::new(),
        }
    }

    fn read_mounts(&mut self) -> Result<Vec<Mount>, CollectError> {
        let host = self.proc_path.join("1/mounts");
        let path = match read_into(&host, &mut self.buf) {
            Ok(()) => host,
            Err(e) => {
                log::debug!("{e}; falling back to the agent's own mount table");
                let own = self.proc_path.join("self/mounts");
                read_into(&own, &mut self.buf)?;
                own
            }
        };
        parse_mounts(&path, &self.buf)
    }

    pub fn collect(&mut self, out: &mut Vec<Family>) -> Result<(), CollectError> {
        let mounts = self.read_mounts()?;
        // Keep the last mount at each (device, fstype, mountpoint): stacked mounts show the top one.
        let mut selected: Vec<Mount> = Vec::new();
        for m in mounts {
            if self.mount_points_exclude.is_match(&m.mountpoint) || self.fs_types_exclude.is_match(&m.fstype)
            {
                continue;
            }
            if let Some(prev) = selected
                .iter_mut()
                .find(|p| p.device == m.device && p.fstype == m.fstype && p.mountpoint == m.mountpoint)
            {
                *prev = m;
            } else {
                selected.push(m);
            }
        }
        let g = MetricKind::Gauge;
        let mut size = Family::new("node_filesystem_size_bytes", "Filesystem size in bytes.", g);
        let mut free = Family::new("node_filesystem_free_bytes", "Filesystem free space in bytes.", g);
        let mut avail = Family::new(
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
            g,
        );
        let mut files = Family::new("node_filesystem_files", "Filesystem total file nodes.", g);
        let mut files_free = Family::new(
            "node_filesystem_files_free",
            "Filesystem total free file nodes.",
            g,
        );
        let mut ro = Family::new("node_filesystem_readonly", "Filesystem read-only status.", g);
        let mut dev_err = Family::new(
            "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.",
            g,
        );
        for m in selected {
            let labels = vec![
                ("device", m.device.clone()),
                ("fstype", m.fstype.clone()),
                ("mountpoint", m.mountpoint.clone()),
            ];
            let stats = match self.statter.stat(Path::new(&m.mountpoint), self.timeout) {
                StatResult::Ok(s) => {
                    self.stuck_logged.remove(&m.mountpoint);
                    s
                }
                StatResult::Err(e) => {
                    log::debug!("statfs {}: {e}", m.mountpoint);
                    dev_err.push(labels, 1.0);
                    continue;
                }
                StatResult::Stuck => {
                    if self.stuck_logged.insert(m.mountpoint.clone()) {
                        log::warn!(
                            "statfs on {} did not return within {:?}; reporting it as a device error until it does",
                            m.mountpoint,
                            self.timeout
                        );
                    }
                    dev_err.push(labels, 1.0);
                    continue;
                }
            };
            let readonly = m.options.split(',').any(|o| o == "ro");
            size.push(labels.clone(), stats.blocks * stats.bsize);
            free.push(labels.clone(), stats.bfree * stats.bsize);
            avail.push(labels.clone(), stats.bavail * stats.bsize);
            files.push(labels.clone(), stats.files);
            files_free.push(labels.clone(), stats.ffree);
            ro.push(labels.clone(), if readonly { 1.0 } else { 0.0 });
            dev_err.push(labels, 0.0);
        }
        out.extend([size, free, avail, files, files_free, ro, dev_err]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sample::{DEFAULT_FS_TYPES_EXCLUDE, DEFAULT_MOUNT_POINTS_EXCLUDE};

    #[test]
    fn mount_table_parsing_and_escapes() {
        let text = "/dev/sda1 /mnt/my\\040disk ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n";
        let m = parse_mounts(Path::new("m"), text).unwrap();
        assert_eq!(m[0].mountpoint, "/mnt/my disk");
        assert_eq!(m[1].fstype, "proc");
        assert!(parse_mounts(Path::new("m"), "garbage line\n").is_err());
        assert_eq!(unescape("a\\011b\\134c\\9"), "a\tb\\c\\9");
    }

    #[test]
    fn default_excludes_match_node_exporter() {
        let mp = Regex::new(DEFAULT_MOUNT_POINTS_EXCLUDE).unwrap();
        let fs = Regex::new(DEFAULT_FS_TYPES_EXCLUDE).unwrap();
        for excluded in [
            "/dev",
            "/dev/shm",
            "/proc",
            "/sys/fs/cgroup",
            "/run/credentials/x.service",
        ] {
            assert!(mp.is_match(excluded), "{excluded}");
        }
        for kept in ["/", "/boot", "/run", "/data", "/devices"] {
            assert!(!mp.is_match(kept), "{kept}");
        }
        assert!(fs.is_match("cgroup2") && fs.is_match("overlay") && !fs.is_match("ext4"));
    }

    #[test]
    fn statter_reports_real_statfs_and_errors() {
        let mut s = Statter::new();
        match s.stat(Path::new("/"), Duration::from_secs(5)) {
            StatResult::Ok(st) => assert!(st.blocks > 0.0 && st.bsize > 0.0),
            _ => panic!("statfs / failed"),
        }
        assert!(matches!(
            s.stat(Path::new("/does/not/exist"), Duration::from_secs(5)),
            StatResult::Err(_)
        ));
    }
}

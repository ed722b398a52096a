//! The file tail: globs re-scanned every `scan_interval`, several files per source, rotation
//! by rename+create and by copytruncate, and a checkpoint per file that survives `kill -9`.
//!
//! **Files are followed by identity, not by name.** A file is its `(device, inode)` plus a
//! fingerprint (CRC-32 of its first bytes, up to 1 KiB), so a reused inode with other content
//! is recognised as a new file and read from its start. A file that no glob reaches any more
//! (renamed away by rotation, or deleted) is read to its end and left after `rotate_wait`
//! without new data; the file that took its name is a new identity, read from its start. A
//! file that shrinks below the read offset (copytruncate), or whose first bytes changed, is
//! read again from its start.
//!
//! **Where reading starts.** A file with a checkpoint resumes at it. A file first seen at the
//! source's very first start begins at `start_at` (`end` by default: no flood of old lines on
//! install); any file that appears later, and every file after the first start, is read from
//! its beginning — a file created while the agent was down was written while it was down.
//! At start, a checkpointed file that no glob matches any more is looked up in its directory
//! by identity (rotated while the agent was down) and read to its end first.
//!
//! **Lines.** A line ends at `\n` (a `\r` before it is dropped); blank lines are skipped.
//! A last line without its newline is emitted once the file has not grown for
//! `partial_line_wait` (5 s): a writer that then continues that line produces a second event.
//!
//! **Checkpoint.** The source's state (next event sequence number, and per file identity,
//! fingerprint and the offset of the first byte not yet turned into an event — a partial last
//! line and a multi-line record still being assembled are not passed) travels with each batch
//! of events to the store ([`super::Pipeline::commit`]) and is durable exactly when they are.

use std::collections::HashMap;
use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::glob;
use super::multiline::Assembler;
use super::{utf8_cut, Known, Pipeline};
use crate::config::logs::{FileSource, StartAt};
use crate::model::event::flags;
use crate::shutdown::Stop;
use crate::store::record::crc32;
use crate::store::Append;

/// Bytes of a file's start that identify it.
const FINGERPRINT: usize = 1024;
/// Bytes read per file per round, so one busy file does not starve the others.
const ROUND_BYTES: usize = 1 << 20;
const READ_BUF: usize = 64 * 1024;

type Id = (u64, u64);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    next_seq: u64,
    files: Vec<FileState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FileState {
    dev: u64,
    ino: u64,
    offset: u64,
    fp_len: u32,
    fp: u32,
    path: String,
}

/// CRC-32 of the first `len` bytes (fewer if the file is shorter: then it does not match).
fn fingerprint_of(file: &File, len: usize) -> Option<u32> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match file.read_at(&mut buf[got..], got as u64) {
            Ok(0) => return None,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(crc32(&buf))
}

struct Tailed {
    id: Id,
    path: String,
    file: File,
    /// Read position.
    offset: u64,
    /// Bytes of the current partial line, which starts at `line_start`.
    partial: Vec<u8>,
    line_start: u64,
    /// Discarding the rest of an over-long line (its head was emitted).
    skipping: bool,
    asm: Assembler,
    fp_len: u32,
    fp: u32,
    /// When no glob reached the file any more (rotated away, deleted).
    gone_since: Option<Instant>,
    /// Since when the last read found nothing more (the file is read to its end).
    eof_since: Option<Instant>,
    size: u64,
}

impl Tailed {
    /// Read to its end for at least `d`.
    fn quiet_for(&self, d: Duration, now: Instant) -> bool {
        self.eof_since.is_some_and(|t| now.duration_since(t) >= d)
    }
}

impl Tailed {
    fn new(id: Id, path: String, file: File, offset: u64, size: u64, pipe: &Pipeline) -> Tailed {
        Tailed {
            id,
            path,
            file,
            offset,
            partial: Vec::new(),
            line_start: offset,
            skipping: false,
            asm: Assembler::new(&pipe.src.multiline),
            fp_len: 0,
            fp: 0,
            gone_since: None,
            eof_since: None,
            size,
        }
    }

    /// The first byte not yet turned into an event.
    fn checkpoint_offset(&self) -> u64 {
        self.asm
            .pending_start()
            .map_or(self.line_start, |s| s.min(self.line_start))
    }

    fn state(&self) -> FileState {
        FileState {
            dev: self.id.0,
            ino: self.id.1,
            offset: self.checkpoint_offset(),
            fp_len: self.fp_len,
            fp: self.fp,
            path: self.path.clone(),
        }
    }

    /// Extends the fingerprint while the file is shorter than [`FINGERPRINT`].
    fn refresh_fingerprint(&mut self) {
        if (self.fp_len as usize) < FINGERPRINT && self.size > self.fp_len as u64 {
            let len = (self.size as usize).min(FINGERPRINT);
            if let Some(fp) = fingerprint_of(&self.file, len) {
                self.fp = fp;
                self.fp_len = len as u32;
            }
        }
    }

    /// Back to the start (copytruncate, rewritten file). What was written after the last read
    /// and before the truncation is in the copy, when there is one: it is read from there.
    fn rewind(&mut self, pipe: &mut Pipeline, buf: &mut [u8]) {
        let from = self.checkpoint_offset();
        match find_copy(self, from) {
            Some((path, file, size)) => {
                let mut copy = Tailed::new(self.id, path.clone(), file, from, size, pipe);
                if copy.file.seek(SeekFrom::Start(from)).is_ok() {
                    loop {
                        match copy.file.read(buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => copy.feed(&buf[..n], pipe),
                        }
                    }
                    copy.path = self.path.clone();
                    copy.finish(pipe);
                    log::info!(
                        "logs: source {}: read the rest of {} ({} bytes) from its copy {path}",
                        pipe.src.name,
                        self.path,
                        copy.offset.saturating_sub(from)
                    );
                }
                // The pending record was read again from the copy.
                self.asm = Assembler::new(&pipe.src.multiline);
            }
            None => {
                if let Some(r) = self.asm.flush() {
                    pipe.emit(r, Some(&self.path), Known::default());
                }
            }
        }
        self.offset = 0;
        self.line_start = 0;
        self.partial.clear();
        self.skipping = false;
        self.fp_len = 0;
        self.fp = 0;
        let _ = self.file.seek(SeekFrom::Start(0));
    }

    /// Turns bytes read at `self.offset` into lines and records.
    fn feed(&mut self, data: &[u8], pipe: &mut Pipeline) {
        let max = pipe.src.max_line_bytes;
        let base = self.offset;
        let mut pos = 0;
        while let Some(nl) = data[pos..].iter().position(|&b| b == b'\n') {
            let end = pos + nl;
            if self.skipping {
                self.skipping = false;
            } else {
                let line: &[u8] = if self.partial.is_empty() {
                    &data[pos..end]
                } else {
                    self.partial.extend_from_slice(&data[pos..end]);
                    &self.partial
                };
                let (text, fl) = if line.len() > max {
                    let cut = utf8_cut(line, max);
                    let (t, f) = Pipeline::text(&line[..cut]);
                    (t, f | flags::TRUNCATED)
                } else {
                    Pipeline::text(line)
                };
                // Blank lines carry nothing (they still move the checkpoint).
                if !text.is_empty() {
                    if let Some(r) = self.asm.push(text, fl, self.line_start) {
                        pipe.emit(r, Some(&self.path), Known::default());
                    }
                }
            }
            self.partial.clear();
            self.line_start = base + end as u64 + 1;
            pos = end + 1;
        }
        let rest = &data[pos..];
        if !self.skipping && !rest.is_empty() {
            self.partial.extend_from_slice(rest);
            if self.partial.len() > max {
                // An over-long line: its head goes out now, the rest is skipped to its newline.
                let cut = utf8_cut(&self.partial, max);
                let (text, fl) = Pipeline::text(&self.partial[..cut]);
                if let Some(r) = self.asm.push(text, fl | flags::TRUNCATED, self.line_start) {
                    pipe.emit(r, Some(&self.path), Known::default());
                }
                self.partial.clear();
                self.skipping = true;
            }
        }
        self.offset = base + data.len() as u64;
    }

    /// At the end of a file that is being left: the last line without a newline counts too.
    fn finish(&mut self, pipe: &mut Pipeline) {
        if !self.partial.is_empty() && !self.skipping {
            let (text, fl) = Pipeline::text(&std::mem::take(&mut self.partial));
            if let Some(r) = self.asm.push(text, fl, self.line_start) {
                pipe.emit(r, Some(&self.path), Known::default());
            }
        }
        if let Some(r) = self.asm.flush() {
            pipe.emit(r, Some(&self.path), Known::default());
        }
        self.line_start = self.offset;
    }
}

fn identity(m: &std::fs::Metadata) -> Id {
    (m.dev(), m.ino())
}

/// Once-per-episode problem reports, keyed by what they are about.
#[derive(Default)]
struct Episodes(HashMap<String, String>);

impl Episodes {
    /// True when this is news (log it): a new problem, or another one for the same key.
    fn start(&mut self, key: &str, what: &str) -> bool {
        if self.0.get(key).map(String::as_str) == Some(what) {
            return false;
        }
        self.0.insert(key.to_string(), what.to_string());
        true
    }

    fn end(&mut self, key: &str) -> bool {
        self.0.remove(key).is_some()
    }
}

struct Tail {
    cfg: FileSource,
    files: Vec<Tailed>,
    /// Positions from the checkpoint for files not open yet (restored on open).
    known: HashMap<Id, FileState>,
    /// Whether this source has run before (it has a checkpoint): new files start at 0.
    initialised: bool,
    first_scan: bool,
    episodes: Episodes,
    buf: Vec<u8>,
}

pub fn run(mut pipe: Pipeline, cfg: FileSource, stop: Stop) {
    let state: Option<State> = pipe.checkpoint().and_then(|b| match postcard::from_bytes(&b) {
        Ok(s) => Some(s),
        Err(e) => {
            log::warn!(
                "logs: source {}: stored position unreadable ({e}); starting afresh",
                pipe.src.name
            );
            None
        }
    });
    let initialised = state.is_some();
    let mut tail = Tail {
        cfg,
        files: Vec::new(),
        known: HashMap::new(),
        initialised,
        first_scan: true,
        episodes: Episodes::default(),
        buf: vec![0; READ_BUF],
    };
    if let Some(s) = state {
        pipe.next_seq = s.next_seq.max(1);
        for f in s.files {
            tail.known.insert((f.dev, f.ino), f);
        }
    }
    log::info!(
        "logs: source {} tailing {} (start at {})",
        pipe.src.name,
        tail.cfg.paths.join(", "),
        if initialised {
            "the saved positions"
        } else if tail.cfg.start_at == StartAt::End {
            "the end"
        } else {
            "the beginning"
        }
    );
    let mut next_scan = Instant::now();
    let mut dirty = !initialised;
    let mut last_commit = Instant::now();
    loop {
        let now = Instant::now();
        if now >= next_scan {
            dirty |= tail.scan(&mut pipe);
            next_scan = now + tail.cfg.scan_interval;
        }
        let mut progressed = false;
        let mut i = 0;
        while i < tail.files.len() {
            match tail.read_round(i, &mut pipe) {
                Ok(n) => {
                    progressed |= n > 0;
                    i += 1;
                }
                Err(e) => {
                    let t = tail.files.remove(i);
                    pipe.problem("read_error");
                    if tail.episodes.start(&t.path, "read") {
                        log::warn!(
                            "logs: source {}: reading {}: {e}; retrying at the next scan",
                            pipe.src.name,
                            t.path
                        );
                    }
                    tail.known.insert(t.id, t.state());
                    dirty = true;
                }
            }
            if pipe.due() {
                if commit(&mut pipe, &tail, &stop).is_none() {
                    return;
                }
                last_commit = Instant::now();
                dirty = false;
            }
        }
        dirty |= tail.idle_checks(&mut pipe);
        if (pipe.pending() > 0 && (!progressed || pipe.due()))
            || (dirty && last_commit.elapsed() >= super::BATCH_WAIT)
        {
            if commit(&mut pipe, &tail, &stop).is_none() {
                return;
            }
            last_commit = Instant::now();
            dirty = false;
        }
        if stop.is_stopped() {
            // What was read is handed over with its checkpoint; pending multi-line records
            // are read again after the restart.
            let _ = commit(&mut pipe, &tail, &stop);
            return;
        }
        if !progressed {
            let mut wait = tail.cfg.poll_interval;
            let now = Instant::now();
            for t in &tail.files {
                if let Some(d) = t.asm.due_in(now) {
                    wait = wait.min(d.max(Duration::from_millis(5)));
                }
            }
            wait = wait.min(next_scan.saturating_duration_since(now));
            if stop.sleep_until(std::time::Instant::now() + wait) {
                let _ = commit(&mut pipe, &tail, &stop);
                return;
            }
        }
    }
}

/// Hands the batch and the source's state to the store; `None` when the store stopped.
fn commit(pipe: &mut Pipeline, tail: &Tail, stop: &Stop) -> Option<()> {
    let mut files: Vec<FileState> = tail.files.iter().map(Tailed::state).collect();
    files.extend(tail.known.values().cloned());
    let state = State {
        next_seq: pipe.next_seq,
        files,
    };
    let bytes = postcard::to_allocvec(&state).expect("encoding into a Vec cannot fail");
    match pipe.commit(Some(bytes), stop) {
        Append::Accepted(_) => Some(()),
        Append::Dropped | Append::Stopped => None,
    }
}

impl Tail {
    /// Matches the globs; opens new files, marks those no glob reaches. True when the set of
    /// files changed (the checkpoint must say so).
    fn scan(&mut self, pipe: &mut Pipeline) -> bool {
        let mut changed = false;
        let mut seen: Vec<(Id, PathBuf, std::fs::Metadata)> = Vec::new();
        let mut any_match = false;
        for pattern in &self.cfg.paths {
            for path in glob::expand(pattern) {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if self.cfg.exclude.iter().any(|x| glob::matches(x, name)) {
                    continue;
                }
                let Ok(meta) = std::fs::metadata(&path) else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                any_match = true;
                if !seen.iter().any(|(id, _, _)| *id == identity(&meta)) {
                    seen.push((identity(&meta), path, meta));
                }
            }
        }
        let key = "\0glob";
        if !any_match {
            if self.episodes.start(key, "none") {
                pipe.problem("no_match");
                log::warn!(
                    "logs: source {}: no file matches {} yet; looking again every {}",
                    pipe.src.name,
                    self.cfg.paths.join(", "),
                    crate::config::units::format_duration(self.cfg.scan_interval)
                );
            }
        } else if self.episodes.end(key) {
            log::info!("logs: source {}: files found", pipe.src.name);
        }
        // Checkpointed files that no glob matches: rotated while the agent was down?
        if self.first_scan {
            let missing: Vec<FileState> = self
                .known
                .values()
                .filter(|f| !seen.iter().any(|(id, _, _)| *id == (f.dev, f.ino)))
                .cloned()
                .collect();
            for f in missing {
                if let Some((path, meta)) = find_by_identity(Path::new(&f.path), (f.dev, f.ino)) {
                    log::info!(
                        "logs: source {}: {} was rotated to {} while the agent was down; reading it to its end",
                        pipe.src.name,
                        f.path,
                        path.display()
                    );
                    if let Some(mut t) = self.open(pipe, &path, &meta) {
                        t.gone_since = Some(Instant::now());
                        self.files.push(t);
                    }
                } else {
                    self.known.remove(&(f.dev, f.ino));
                    changed = true;
                }
            }
        }
        for (id, path, meta) in &seen {
            let p = path.to_string_lossy();
            if let Some(t) = self.files.iter_mut().find(|t| t.id == *id) {
                if t.path != p {
                    t.path = p.into_owned();
                    changed = true;
                }
                t.gone_since = None;
                continue;
            }
            if let Some(t) = self.open(pipe, path, meta) {
                self.files.push(t);
                changed = true;
            }
        }
        if !self.first_scan {
            // Positions kept for files that failed to read: gone with their file.
            let before = self.known.len();
            self.known.retain(|_, f| Path::new(&f.path).exists());
            changed |= self.known.len() != before;
        }
        let now = Instant::now();
        for t in &mut self.files {
            if t.gone_since.is_none() && !seen.iter().any(|(id, _, _)| *id == t.id) {
                t.gone_since = Some(now);
            }
        }
        self.first_scan = false;
        let lag = self
            .files
            .iter()
            .map(|t| (t.path.clone(), t.size.saturating_sub(t.offset)))
            .collect();
        pipe.env.stats.set_lag(&pipe.src.name, lag);
        changed
    }

    fn open(&mut self, pipe: &mut Pipeline, path: &Path, meta: &std::fs::Metadata) -> Option<Tailed> {
        let p = path.to_string_lossy().into_owned();
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                if self.episodes.start(&p, "open") {
                    pipe.problem("unreadable");
                    log::warn!(
                        "logs: source {}: cannot open {p}: {e}; retrying at each scan",
                        pipe.src.name
                    );
                }
                return None;
            }
        };
        if self.episodes.end(&p) {
            log::info!("logs: source {}: {p} readable again", pipe.src.name);
        }
        let id = identity(meta);
        let size = meta.len();
        let mut copied = None;
        let mut offset = match self.known.remove(&id) {
            Some(k) => {
                let same = k.fp_len == 0 || fingerprint_of(&file, k.fp_len as usize) == Some(k.fp);
                if !same || k.offset > size {
                    log::info!(
                        "logs: source {}: {p} was truncated or replaced (same inode, other content) since it was last read; reading it from its start",
                        pipe.src.name
                    );
                    pipe.problem("truncated_file");
                    copied = Some((k, true));
                    0
                } else {
                    k.offset
                }
            }
            None if self.first_scan && !self.initialised && self.cfg.start_at == StartAt::End => size,
            None => 0,
        };
        if offset > 0 && file.seek(SeekFrom::Start(offset)).is_err() {
            offset = 0;
        }
        let mut t = Tailed::new(id, p, file, offset, size, pipe);
        if let Some((k, true)) = copied {
            // Truncated while the agent was down: the copy has what followed the checkpoint.
            t.offset = k.offset;
            t.line_start = k.offset;
            t.fp_len = k.fp_len;
            t.fp = k.fp;
            t.rewind(pipe, &mut self.buf);
        }
        t.refresh_fingerprint();
        Some(t)
    }

    /// Reads what file `i` has, up to [`ROUND_BYTES`]; the bytes read.
    fn read_round(&mut self, i: usize, pipe: &mut Pipeline) -> std::io::Result<usize> {
        let t = &mut self.files[i];
        let mut total = 0;
        while total < ROUND_BYTES {
            let n = match t.file.read(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                t.eof_since.get_or_insert_with(Instant::now);
                break;
            }
            t.feed(&self.buf[..n], pipe);
            total += n;
            t.eof_since = None;
            if pipe.due() {
                break;
            }
        }
        if total > 0 {
            t.size = t.size.max(t.offset);
            if (t.fp_len as usize) < FINGERPRINT {
                t.refresh_fingerprint();
            }
        }
        Ok(total)
    }

    /// For files with nothing new: multi-line timeouts, truncation, and leaving files that
    /// were rotated away once they are read out. True when the checkpoint changed.
    fn idle_checks(&mut self, pipe: &mut Pipeline) -> bool {
        let now = Instant::now();
        let mut changed = false;
        let rotate_wait = self.cfg.rotate_wait;
        let partial_wait = self.cfg.partial_line_wait;
        let mut i = 0;
        while i < self.files.len() {
            let t = &mut self.files[i];
            if !t.partial.is_empty() && !t.skipping && t.quiet_for(partial_wait, now) {
                // A last line without its newline, and the writer is quiet: it is a line.
                let (text, fl) = Pipeline::text(&std::mem::take(&mut t.partial));
                if let Some(r) = t.asm.push(text, fl, t.line_start) {
                    pipe.emit(r, Some(&t.path), Known::default());
                }
                t.line_start = t.offset;
                changed = true;
            }
            if let Some(r) = t.asm.flush_due(now) {
                pipe.emit(r, Some(&t.path), Known::default());
            }
            if t.quiet_for(Duration::from_millis(50), now) {
                if let Ok(meta) = t.file.metadata() {
                    t.size = meta.len();
                    let rewritten = t.fp_len > 0
                        && meta.len() >= t.fp_len as u64
                        && fingerprint_of(&t.file, t.fp_len as usize) != Some(t.fp);
                    if meta.len() < t.offset || rewritten {
                        pipe.problem("truncated_file");
                        log::info!(
                            "logs: source {}: {} was truncated (copytruncate?); reading it from its start",
                            pipe.src.name,
                            t.path
                        );
                        t.rewind(pipe, &mut self.buf);
                        changed = true;
                    }
                }
            }
            let leave = t
                .gone_since
                .is_some_and(|g| now.duration_since(g) >= rotate_wait && t.quiet_for(rotate_wait, now));
            if leave {
                t.finish(pipe);
                self.files.remove(i);
                changed = true;
                continue;
            }
            i += 1;
        }
        changed
    }
}

/// The copy a copytruncate made of `t`: in its directory, another file at least `from` bytes
/// long that starts with the same bytes.
fn find_copy(t: &Tailed, from: u64) -> Option<(String, File, u64)> {
    if t.fp_len == 0 {
        return None;
    }
    let dir = Path::new(&t.path).parent()?;
    let mut found: Option<(String, File, u64, std::time::SystemTime)> = None;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let Ok(m) = e.metadata() else { continue };
        if !m.is_file() || identity(&m) == t.id || m.len() < from {
            continue;
        }
        let Ok(f) = File::open(e.path()) else { continue };
        if fingerprint_of(&f, t.fp_len as usize) != Some(t.fp) {
            continue;
        }
        // Of several candidates (older copies start the same way too), the newest.
        let mtime = m.modified().unwrap_or(std::time::UNIX_EPOCH);
        if found.as_ref().is_none_or(|(_, _, _, t)| mtime > *t) {
            found = Some((e.path().to_string_lossy().into_owned(), f, m.len(), mtime));
        }
    }
    found.map(|(p, f, n, _)| (p, f, n))
}

/// A file with this identity in the directory of `was` (where rotation leaves it).
fn find_by_identity(was: &Path, id: Id) -> Option<(PathBuf, std::fs::Metadata)> {
    let dir = was.parent()?;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        if let Ok(m) = e.metadata() {
            if m.is_file() && identity(&m) == id {
                return Some((e.path(), m));
            }
        }
    }
    None
}

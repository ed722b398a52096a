//! Log sources: the gateway's log lines become [`Event`]s in the store's `logs` class.
//!
//! ```text
//!  file tail (file.rs) ──┐  lines, with the offset each starts at
//!  journald (journald.rs)├─> Assembler (multiline.rs, per input) ─> Pipeline: parse (parse.rs),
//!  stdin (stdin.rs) ─────┤                                           redact (model/redact.rs), encode,
//!  agent's log (internal)┘                                           batch ─> store + checkpoint
//! ```
//!
//! Before an event is encoded it passes the signature engine when one runs
//! ([`Env::inspect`]), which adds its `error_*` fields; the sources do not know the engine.
//!
//! Every source runs on a thread of its own (file and pipe reads block; journald is a child
//! process) and shares one [`Pipeline`] type, so a line from a file, the journal or stdin
//! becomes the same event by the same code. **Checkpoints**: a source that can re-read its
//! input (file offsets, journal cursor) hands each batch of events to the store together with
//! its position after them ([`StoreHandle::append_batch`]); the store writes that checkpoint
//! in the same transaction as the events, so a `kill -9` or a power cut resumes exactly after
//! the last durable event: nothing skipped, and no duplicates from the source side (sinks
//! may still re-send up to one commit window they had not acknowledged). A source waits when
//! the store is behind instead of dropping.

pub mod file;
pub mod glob;
pub mod internal;
pub mod journald;
pub mod multiline;
pub mod parse;
pub mod stdin;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use self::multiline::Record as Lines;
use crate::config::logs::{LogSource, LogsConfig, SourceKind};
use crate::model::alert::InspectSlot;
use crate::model::event::{flags, Event, Level, Value};
use crate::model::redact::Redactor;
use crate::model::{now_ms, Family, MetricKind};
use crate::shutdown::Stop;
use crate::store::{Append, Class, StoreHandle};
use crate::telemetry::{lock, Report, Telemetry};

/// A batch goes to the store at this many events, or bytes, whichever first.
const BATCH_EVENTS: usize = 1024;
const BATCH_BYTES: usize = 256 * 1024;
/// A batch that is not full goes at the latest after this.
pub const BATCH_WAIT: Duration = Duration::from_millis(100);

/// What every source of one agent shares.
pub struct Env {
    pub store: StoreHandle,
    pub stats: Arc<LogStats>,
    pub redactor: Redactor,
    pub gateway: String,
    pub host: String,
    /// Set by the stdin source when its input ended and everything read is durable.
    pub stdin_done: Arc<AtomicBool>,
    /// The signature engine, when it runs: every event passes it before it is stored.
    pub inspect: InspectSlot,
}

impl Env {
    pub fn new(cfg: &LogsConfig, gateway: &str, store: StoreHandle, telemetry: &Telemetry) -> Env {
        Env {
            store,
            stats: telemetry.register::<LogStats>("logs"),
            redactor: Redactor::new(&cfg.redact_keys),
            gateway: gateway.to_string(),
            host: hostname(),
            stdin_done: Arc::new(AtomicBool::new(false)),
            inspect: InspectSlot::default(),
        }
    }
}

/// This machine's host name (`/proc/sys/kernel/hostname`), the `host` of events that do not
/// name one.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// What the input itself says about a record, beyond its text (journald's fields).
#[derive(Debug, Default)]
pub struct Known {
    pub timestamp_ms: Option<i64>,
    pub level: Option<Level>,
    pub service: Option<String>,
    pub unit: Option<String>,
    pub host: Option<String>,
    pub pid: Option<u32>,
    pub fields: Vec<(String, Value)>,
}

/// Counters one source collects between batches; added to [`LogStats`] per batch, so the
/// per-event path takes no lock.
#[derive(Default)]
struct Local {
    events: [u64; 9],
    bytes: u64,
    truncated: u64,
    invalid_utf8: u64,
    parse_failures: u64,
    redacted: u64,
}

/// Records to events and events to the store, for one source.
pub struct Pipeline {
    pub src: LogSource,
    pub env: Arc<Env>,
    batch: Vec<(i64, Vec<u8>)>,
    batch_bytes: usize,
    first_in_batch: Option<Instant>,
    /// The next event's per-source sequence number.
    pub next_seq: u64,
    local: Local,
    internal: bool,
}

impl Pipeline {
    pub fn new(src: LogSource, env: Arc<Env>) -> Pipeline {
        let internal = matches!(src.kind, SourceKind::Internal(_));
        Pipeline {
            src,
            env,
            batch: Vec::new(),
            batch_bytes: 0,
            first_in_batch: None,
            next_seq: 1,
            local: Local::default(),
            internal,
        }
    }

    /// One physical line as text: invalid UTF-8 is replaced (and flagged), a trailing `\r`
    /// dropped.
    pub fn text(line: &[u8]) -> (String, u8) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match std::str::from_utf8(line) {
            Ok(s) => (s.to_string(), 0),
            Err(_) => (String::from_utf8_lossy(line).into_owned(), flags::INVALID_UTF8),
        }
    }

    /// Turns a record into an event and adds it to the batch.
    pub fn emit(&mut self, rec: Lines, file: Option<&str>, known: Known) {
        let now = now_ms();
        let parsed = parse::parse(self.src.format, &rec.text, now);
        let mut fl = rec.flags;
        if parsed.failed {
            fl |= flags::PARSE_FAILED;
        }
        // What the input knows (journald's fields) wins over what the text seems to say.
        let timestamp_ms = match known.timestamp_ms.or(parsed.timestamp_ms) {
            Some(t) => {
                fl |= flags::TIME_FROM_LINE;
                t
            }
            None => now,
        };
        let mut fields = parsed.fields;
        fields.extend(known.fields);
        fields.extend(self.src.fields.iter().cloned());
        let mut message = parsed.message.unwrap_or(rec.text);
        if let Some(m) = self.env.redactor.text(&message) {
            message = m;
            fl |= flags::REDACTED;
        }
        if self.env.redactor.fields(&mut fields) {
            fl |= flags::REDACTED;
        }
        let level = known.level.or(parsed.level);
        let mut event = Event {
            timestamp_ms,
            ingest_ms: now,
            level,
            message,
            source: if self.internal {
                crate::model::event::INTERNAL_SOURCE.to_string()
            } else {
                self.src.name.clone()
            },
            file: file.map(str::to_string),
            unit: known.unit,
            service: self.src.service.clone().or(parsed.service).or(known.service),
            host: parsed
                .host
                .or(known.host)
                .unwrap_or_else(|| self.env.host.clone()),
            gateway: self.env.gateway.clone(),
            pid: parsed.pid.or(known.pid),
            fields,
            seq: self.next_seq,
            flags: fl,
        };
        self.next_seq += 1;
        if let Some(engine) = self.env.inspect.get() {
            engine.inspect(&mut event);
        }
        self.count(&event);
        let bytes = event.encode();
        self.batch_bytes += bytes.len();
        // The store's age bounds are about how long data waits in the store: the ingest time,
        // not the line's (an old file read now must not be evicted as soon as it is stored).
        self.batch.push((now, bytes));
        self.first_in_batch.get_or_insert_with(Instant::now);
    }

    fn count(&mut self, e: &Event) {
        let l = &mut self.local;
        l.events[e.level.map(|l| l as usize).unwrap_or(8)] += 1;
        l.bytes += e.message.len() as u64;
        l.truncated += e.has(flags::TRUNCATED) as u64;
        l.invalid_utf8 += e.has(flags::INVALID_UTF8) as u64;
        l.parse_failures += e.has(flags::PARSE_FAILED) as u64;
        l.redacted += e.has(flags::REDACTED) as u64;
    }

    pub fn pending(&self) -> usize {
        self.batch.len()
    }

    /// Whether the batch should go now: full, or old enough.
    pub fn due(&self) -> bool {
        self.batch.len() >= BATCH_EVENTS
            || self.batch_bytes >= BATCH_BYTES
            || self.first_in_batch.is_some_and(|t| t.elapsed() >= BATCH_WAIT)
    }

    /// Hands the batch, and the checkpoint after it, to the store (waiting while it is
    /// behind). `Stopped` means neither was taken: the input is read again after the restart.
    pub fn commit(&mut self, checkpoint: Option<Vec<u8>>, stop: &Stop) -> Append {
        if self.batch.is_empty() && checkpoint.is_none() {
            return Append::Accepted(crate::store::Ticket(0));
        }
        let items = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        self.first_in_batch = None;
        let cp = checkpoint.map(|c| (self.src.name.clone(), c));
        let r = self.env.store.append_batch(Class::Logs, items, cp, stop);
        if matches!(r, Append::Accepted(_)) {
            self.env
                .stats
                .add(&self.src.name, &std::mem::take(&mut self.local));
        }
        r
    }

    /// Counts a problem of this source (`reason` is a short word: `unreadable`, `no_match`,
    /// `truncated_file`, `read_error`, `journalctl`).
    pub fn problem(&self, reason: &str) {
        self.env.stats.problem(&self.src.name, reason);
    }

    /// The checkpoint the store holds for this source.
    pub fn checkpoint(&self) -> Option<Vec<u8>> {
        self.env.store.checkpoint(&self.src.name).ok().flatten()
    }
}

/// The longest prefix of at most `max` bytes that does not split a UTF-8 sequence.
pub fn utf8_cut(b: &[u8], max: usize) -> usize {
    let mut cut = max.min(b.len());
    while cut > 0 && cut < b.len() && (b[cut] & 0xC0) == 0x80 && max - cut < 4 {
        cut -= 1;
    }
    cut
}

/// What [`line_reader`] hands over: a line and whether it was cut, or the read error.
pub type LineChannel = std::sync::mpsc::Receiver<Result<(Vec<u8>, bool), std::io::Error>>;

/// Reads lines from a blocking reader on a thread of its own and hands them over a bounded
/// channel, so the source's thread can commit on time while the reader waits for input.
/// Lines longer than `max` are cut (the head is sent with `truncated = true`, the rest up to
/// the newline dropped). The channel closes at end of input; a read error is sent last.
pub fn line_reader<R: std::io::Read + Send + 'static>(
    mut input: R,
    max: usize,
    name: String,
) -> std::io::Result<LineChannel> {
    let (tx, rx) = std::sync::mpsc::sync_channel(4096);
    std::thread::Builder::new().name(name).spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut line: Vec<u8> = Vec::new();
        let mut skipping = false;
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let mut pos = 0;
            while pos < n {
                match buf[pos..n].iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        if !skipping {
                            line.extend_from_slice(&buf[pos..pos + i]);
                            if tx.send(Ok((std::mem::take(&mut line), false))).is_err() {
                                return;
                            }
                        }
                        skipping = false;
                        pos += i + 1;
                    }
                    None => {
                        if !skipping {
                            line.extend_from_slice(&buf[pos..n]);
                            if line.len() > max {
                                let mut head = std::mem::take(&mut line);
                                head.truncate(utf8_cut(&head, max));
                                if tx.send(Ok((head, true))).is_err() {
                                    return;
                                }
                                skipping = true;
                            }
                        }
                        pos = n;
                    }
                }
            }
        }
        if !line.is_empty() && !skipping {
            let _ = tx.send(Ok((line, false)));
        }
    })?;
    Ok(rx)
}

/// The log sources' own metrics: `outpost_log_*`.
#[derive(Default)]
pub struct LogStats {
    inner: Mutex<StatsInner>,
}

#[derive(Default)]
struct StatsInner {
    /// Per source: events by level (index 8: no level), bytes, truncated, invalid UTF-8,
    /// parse failures, redacted.
    sources: BTreeMap<String, ([u64; 9], [u64; 5])>,
    problems: BTreeMap<(String, String), u64>,
    /// (source, file) → bytes not read yet.
    lag: BTreeMap<(String, String), u64>,
}

impl LogStats {
    fn add(&self, source: &str, l: &Local) {
        let mut s = lock(&self.inner);
        let e = s.sources.entry(source.to_string()).or_default();
        for (a, b) in e.0.iter_mut().zip(l.events) {
            *a += b;
        }
        for (a, b) in
            e.1.iter_mut()
                .zip([l.bytes, l.truncated, l.invalid_utf8, l.parse_failures, l.redacted])
        {
            *a += b;
        }
    }

    pub fn problem(&self, source: &str, reason: &str) {
        *lock(&self.inner)
            .problems
            .entry((source.to_string(), reason.to_string()))
            .or_default() += 1;
    }

    /// Replaces a source's per-file read lag.
    pub fn set_lag(&self, source: &str, files: Vec<(String, u64)>) {
        let mut s = lock(&self.inner);
        s.lag.retain(|(src, _), _| src != source);
        for (f, n) in files {
            s.lag.insert((source.to_string(), f), n);
        }
    }

    /// Events counted so far for a source (all levels).
    pub fn events(&self, source: &str) -> u64 {
        lock(&self.inner)
            .sources
            .get(source)
            .map(|e| e.0.iter().sum())
            .unwrap_or(0)
    }
}

impl Report for LogStats {
    fn report(&self, out: &mut Vec<Family>) {
        let s = lock(&self.inner);
        let mut events = Family::new(
            "outpost_log_events_total",
            "Log events read, by source and normalised level (\"none\" when the line had none).",
            MetricKind::Counter,
        );
        let names = [
            (
                "outpost_log_bytes_total",
                "Bytes of log messages read, by source.",
            ),
            (
                "outpost_log_truncated_total",
                "Log events cut at max_line_bytes or a multi-line bound.",
            ),
            (
                "outpost_log_invalid_utf8_total",
                "Log events whose invalid UTF-8 was replaced.",
            ),
            (
                "outpost_log_parse_failures_total",
                "Log lines that did not parse in their source's format (kept as plain text).",
            ),
            (
                "outpost_log_redacted_total",
                "Log events in which secrets were masked.",
            ),
        ];
        let mut others: Vec<Family> = names
            .iter()
            .map(|(n, h)| Family::new(*n, *h, MetricKind::Counter))
            .collect();
        for (src, (levels, counts)) in s.sources.iter() {
            for (i, n) in levels.iter().enumerate() {
                let level = Level::ALL.get(i).map(|l| l.as_str()).unwrap_or("none");
                if *n > 0 || i == 3 || i == 6 {
                    events.push(
                        vec![("source", src.clone()), ("level", level.to_string())],
                        *n as f64,
                    );
                }
            }
            for (f, n) in others.iter_mut().zip(counts) {
                f.push(vec![("source", src.clone())], *n as f64);
            }
        }
        out.push(events);
        out.extend(others);
        let mut problems = Family::new(
            "outpost_log_source_errors_total",
            "Problems of log sources, by source and reason (unreadable, no_match, truncated_file, read_error, journalctl, …).",
            MetricKind::Counter,
        );
        for ((src, reason), n) in &s.problems {
            problems.push(
                vec![("source", src.clone()), ("reason", reason.clone())],
                *n as f64,
            );
        }
        out.push(problems);
        let mut lag = Family::new(
            "outpost_log_file_lag_bytes",
            "Bytes written to a tailed file that the source has not read yet.",
            MetricKind::Gauge,
        );
        for ((src, file), n) in &s.lag {
            lag.push(vec![("source", src.clone()), ("file", file.clone())], *n as f64);
        }
        out.push(lag);
        out.push(Family::single(
            "outpost_log_internal_dropped_total",
            "The agent's own log records not turned into events because the internal source was behind.",
            MetricKind::Counter,
            internal::DROPPED.load(Ordering::Relaxed) as f64,
        ));
    }
}

/// The running log sources: one thread each.
pub struct LogSources;

impl LogSources {
    /// Starts a thread per source; they end when `stop` trips (after handing what they read
    /// to the store). Returns how many are still running.
    pub fn start(cfg: &LogsConfig, env: Arc<Env>, stop: Stop) -> Arc<AtomicUsize> {
        let running = Arc::new(AtomicUsize::new(0));
        for src in &cfg.sources {
            let pipe = Pipeline::new(src.clone(), Arc::clone(&env));
            let stop = stop.clone();
            let name = format!("log-{}", src.name);
            running.fetch_add(1, Ordering::SeqCst);
            let count = Arc::clone(&running);
            let spawned = std::thread::Builder::new().name(name).spawn(move || {
                struct Done(Arc<AtomicUsize>);
                impl Drop for Done {
                    fn drop(&mut self) {
                        self.0.fetch_sub(1, Ordering::SeqCst);
                    }
                }
                let _done = Done(count);
                let source = pipe.src.name.clone();
                match pipe.src.kind.clone() {
                    SourceKind::File(f) => file::run(pipe, f, stop),
                    SourceKind::Journald(j) => journald::run(pipe, j, stop),
                    SourceKind::Stdin => stdin::run(pipe, stop),
                    SourceKind::Internal(level) => internal::run(pipe, level, stop),
                }
                log::debug!("logs: source {source} stopped");
            });
            if let Err(e) = spawned {
                running.fetch_sub(1, Ordering::SeqCst);
                log::error!("logs: cannot start source {}: {e}", src.name);
            }
        }
        running
    }

    /// Whether the stdin source has reached the end of its input with everything durable.
    pub fn stdin_done(env: &Env) -> bool {
        env.stdin_done.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_keep_utf8_whole() {
        let s = "aé€".as_bytes(); // 1 + 2 + 3 bytes
        assert_eq!(utf8_cut(s, 2), 1);
        assert_eq!(utf8_cut(s, 3), 3);
        assert_eq!(utf8_cut(s, 4), 3);
        assert_eq!(utf8_cut(s, 6), 6);
        assert_eq!(utf8_cut(s, 60), 6);
    }
}

//! The log event: one type for every log source (file, journald, stdin, the agent's own log)
//! and every consumer (the store's `logs` class, Logstash, MQTT, `store export`, the signature
//! engine).
//!
//! An event is stored as postcard bytes, one store record per event, so the store's sequence
//! numbers, cursors and acknowledgements work per event (a receiver that refuses one batch
//! costs that batch, not a chunk). New fields go at the end of [`Event`] with
//! `#[serde(default)]`-compatible meaning: postcard has no field names, so the order is the
//! format (versioned by [`EVENT_FORMAT`]).

use serde::{Deserialize, Serialize};

/// The `source` of the agent's own log records. The signature engine never alerts on these,
/// so a failing sink cannot raise an alert that fails to send that raises an alert …
pub const INTERNAL_SOURCE: &str = "outpost";

/// First byte of every stored event: the layout version.
pub const EVENT_FORMAT: u8 = 1;

/// Normalised severity, syslog's eight levels (RFC 5424 numbering: `Emergency` = 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    Emergency = 0,
    Alert = 1,
    Critical = 2,
    Error = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

impl Level {
    pub const ALL: [Level; 8] = [
        Level::Emergency,
        Level::Alert,
        Level::Critical,
        Level::Error,
        Level::Warning,
        Level::Notice,
        Level::Info,
        Level::Debug,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Emergency => "emergency",
            Level::Alert => "alert",
            Level::Critical => "critical",
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    /// A syslog priority's severity (`0..=7`; the facility bits are ignored).
    pub fn from_priority(p: u8) -> Level {
        Level::ALL[(p & 7) as usize]
    }

    /// The usual level words of log libraries, any case: `ERR`, `error`, `Warn`, `fatal`,
    /// `trace` (→ debug), `crit`, `emerg`, `panic` (→ emergency) …
    pub fn from_word(w: &str) -> Option<Level> {
        let mut buf = [0u8; 12];
        let b = w.as_bytes();
        if b.is_empty() || b.len() > buf.len() {
            return None;
        }
        for (d, s) in buf.iter_mut().zip(b) {
            *d = s.to_ascii_lowercase();
        }
        Some(match &buf[..b.len()] {
            b"emerg" | b"emergency" | b"panic" => Level::Emergency,
            b"alert" => Level::Alert,
            b"crit" | b"critical" | b"fatal" | b"ftl" => Level::Critical,
            b"err" | b"error" | b"eror" | b"erro" | b"severe" => Level::Error,
            b"warn" | b"warning" | b"wrn" => Level::Warning,
            b"notice" => Level::Notice,
            b"info" | b"inf" | b"information" | b"informational" => Level::Info,
            b"debug" | b"dbg" | b"trace" | b"trc" | b"verbose" | b"fine" | b"finer" | b"finest" => {
                Level::Debug
            }
            _ => return None,
        })
    }
}

/// A structured field's value. JSON and logfmt values keep their type; nested JSON objects
/// are flattened into dotted keys (`http.status`), arrays kept as their JSON text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Things that happened to the line on its way in (bit set).
pub mod flags {
    /// The line was longer than `max_line_bytes` (or a batch limit) and was cut.
    pub const TRUNCATED: u8 = 1;
    /// The line was not valid UTF-8; bad bytes were replaced with U+FFFD.
    pub const INVALID_UTF8: u8 = 2;
    /// The line's format did not parse; `message` is the whole line.
    pub const PARSE_FAILED: u8 = 4;
    /// `timestamp_ms` came from the line (else it is the ingest time).
    pub const TIME_FROM_LINE: u8 = 8;
    /// Several physical lines joined into one record (a stack trace).
    pub const MULTILINE: u8 = 16;
    /// Secrets were masked in this event.
    pub const REDACTED: u8 = 32;
}

/// One log record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened: from the line when it carried a time, else the ingest time (Unix ms).
    pub timestamp_ms: i64,
    /// When the agent read it (Unix ms).
    pub ingest_ms: i64,
    pub level: Option<Level>,
    pub message: String,
    /// The `[[logs.source]]` name (`outpost` for the agent's own log).
    pub source: String,
    /// The file it was read from, for file sources.
    pub file: Option<String>,
    /// The systemd unit, for journald.
    pub unit: Option<String>,
    /// The program: syslog tag / `SYSLOG_IDENTIFIER`, a JSON `service` field, or the source's
    /// configured `service`.
    pub service: Option<String>,
    /// The host the line names (syslog, journald `_HOSTNAME`), else this gateway's host name.
    pub host: String,
    /// The gateway id (`[agent] id`).
    pub gateway: String,
    pub pid: Option<u32>,
    /// Structured fields (JSON keys, logfmt pairs, RFC 5424 structured data, journald fields).
    pub fields: Vec<(String, Value)>,
    /// Per source, increasing: the order the source read them in, across restarts.
    pub seq: u64,
    /// See [`flags`].
    pub flags: u8,
}

/// A stored event did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stored log event: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

impl Event {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The stored form: [`EVENT_FORMAT`], then postcard.
    pub fn encode(&self) -> Vec<u8> {
        // A tuple is its fields one after the other: the format byte, then the event.
        postcard::to_allocvec(&(EVENT_FORMAT, self)).expect("encoding into a Vec cannot fail")
    }

    pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
        match bytes.split_first() {
            Some((&EVENT_FORMAT, rest)) => postcard::from_bytes(rest).map_err(|e| DecodeError(e.to_string())),
            Some((v, _)) => Err(DecodeError(format!("unknown format {v}"))),
            None => Err(DecodeError("empty".into())),
        }
    }

    /// A field's value by key.
    pub fn field(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// The largest index `<= at` on a character boundary of `s`.
pub fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut i = at.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Milliseconds since the epoch as RFC 3339 UTC with milliseconds (`2026-12-03T14:05:09.123Z`),
/// the `@timestamp` form Logstash and Elasticsearch read.
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An event with every kind of field, for tests elsewhere too.
    pub fn sample() -> Event {
        Event {
            timestamp_ms: 1_764_770_709_123,
            ingest_ms: 1_764_770_709_500,
            level: Some(Level::Error),
            message: "disk full".into(),
            source: "app".into(),
            file: Some("/var/log/app.log".into()),
            unit: None,
            service: Some("app".into()),
            host: "gw".into(),
            gateway: "gw-1".into(),
            pid: Some(42),
            fields: vec![("code".into(), Value::Int(28)), ("ok".into(), Value::Bool(false))],
            seq: 7,
            flags: flags::TIME_FROM_LINE,
        }
    }

    #[test]
    fn round_trips_and_rejects_garbage() {
        let e = sample();
        let bytes = e.encode();
        assert_eq!(Event::decode(&bytes).unwrap(), e);
        assert!(Event::decode(&[]).is_err());
        assert!(Event::decode(&[9, 1, 2]).is_err());
        assert!(Event::decode(&bytes[..bytes.len() / 2]).is_err());
    }

    #[test]
    fn timestamps_render_as_logstash_reads_them() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_764_770_709_123), "2025-12-03T14:05:09.123Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        for days in [-800_000i64, -1, 0, 59, 11_016, 20_000, 400_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn level_words_normalise() {
        for (w, l) in [
            ("ERROR", Level::Error),
            ("Warn", Level::Warning),
            ("fatal", Level::Critical),
            ("TRACE", Level::Debug),
            ("emerg", Level::Emergency),
            ("notice", Level::Notice),
        ] {
            assert_eq!(Level::from_word(w), Some(l), "{w}");
        }
        assert_eq!(Level::from_word("errors"), None);
        assert_eq!(Level::from_priority(3), Level::Error);
        assert_eq!(Level::from_priority(8 * 3 + 6), Level::Info);
    }
}

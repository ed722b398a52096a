//! Turning one record's text into an event's parts, per `format`: `plain` (the line as the
//! message; a leading timestamp and a level word are recognised), `json`, `logfmt` and
//! `syslog` (RFC 5424 and RFC 3164, with or without the `<PRI>`). Structured fields are kept;
//! timestamps in RFC 3339 / ISO 8601 (`T` or space, `.` or `,` before the fraction, `Z`, an
//! offset, or none = UTC), syslog's `Mmm dd hh:mm:ss` (year inferred) and epoch numbers
//! (s, ms, µs, ns by magnitude) become Unix milliseconds; level words and syslog severities
//! become [`Level`].
//!
//! A record that does not parse in its format is not dropped: its message is the whole text
//! and the event is flagged (`PARSE_FAILED`, counted).

use crate::config::logs::Format;
use crate::model::event::{days_from_civil, Level, Value};

/// What parsing found in a record; `message` is `None` when it is the whole text.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub timestamp_ms: Option<i64>,
    pub level: Option<Level>,
    pub message: Option<String>,
    pub service: Option<String>,
    pub host: Option<String>,
    pub pid: Option<u32>,
    pub fields: Vec<(String, Value)>,
    pub failed: bool,
}

pub fn parse(format: Format, text: &str, now_ms: i64) -> Parsed {
    match format {
        Format::Plain => plain(text, now_ms),
        Format::Json => json(text, now_ms).unwrap_or_else(|| failed(text, now_ms)),
        Format::Logfmt => logfmt(text, now_ms).unwrap_or_else(|| failed(text, now_ms)),
        Format::Syslog => syslog(text, now_ms).unwrap_or_else(|| failed(text, now_ms)),
    }
}

fn failed(text: &str, now_ms: i64) -> Parsed {
    Parsed {
        failed: true,
        ..plain(text, now_ms)
    }
}

/// The line is the message; a timestamp at its start and a level word near it are taken.
fn plain(text: &str, now_ms: i64) -> Parsed {
    let t = text.trim_start_matches('[');
    let timestamp_ms = rfc3339(t)
        .map(|(ms, _)| ms)
        .or_else(|| syslog_time(t, now_ms).map(|(ms, _)| ms));
    Parsed {
        timestamp_ms,
        level: level_in(text),
        ..Parsed::default()
    }
}

/// A level word near the start of a line: upper case (`ERROR`, `WARN`), bracketed (`[error]`),
/// or before a colon (`error:`), within the first 80 bytes — lower-case words in running
/// text ("an alert was sent") are not levels.
pub fn level_in(text: &str) -> Option<Level> {
    let head = &text.as_bytes()[..text.len().min(80)];
    let mut i = 0;
    while i < head.len() {
        if !head[i].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        while i < head.len() && head[i].is_ascii_alphabetic() {
            i += 1;
        }
        let word = &head[start..i];
        if !(3..=9).contains(&word.len()) {
            continue;
        }
        let upper = word.iter().all(|b| b.is_ascii_uppercase());
        let before = start.checked_sub(1).map(|j| head[j]);
        let after = head.get(i).copied();
        let marked = matches!(
            (before, after),
            (Some(b'['), Some(b']')) | (Some(b'<'), Some(b'>'))
        ) || after == Some(b':') && start == 0
            || before == Some(b'=');
        if upper || marked {
            // SAFETY-free: the word is ASCII letters.
            if let Some(l) = std::str::from_utf8(word).ok().and_then(Level::from_word) {
                return Some(l);
            }
        }
    }
    None
}

const MESSAGE_KEYS: &[&str] = &["message", "msg", "log", "text"];
const LEVEL_KEYS: &[&str] = &["level", "severity", "lvl", "loglevel", "log.level", "levelname"];
const TIME_KEYS: &[&str] = &["@timestamp", "timestamp", "time", "ts", "t", "datetime"];
const SERVICE_KEYS: &[&str] = &["service", "service.name", "app", "application"];
const HOST_KEYS: &[&str] = &["host", "hostname", "host.name"];

fn take(fields: &mut Vec<(String, Value)>, keys: &[&str]) -> Option<Value> {
    let i = fields.iter().position(|(k, _)| keys.contains(&k.as_str()))?;
    Some(fields.remove(i).1)
}

/// Takes the well-known keys out of `fields` into the event's own parts.
fn lift(mut fields: Vec<(String, Value)>, now_ms: i64) -> Parsed {
    let mut p = Parsed::default();
    if let Some(v) = take(&mut fields, MESSAGE_KEYS) {
        p.message = Some(v.to_string());
    }
    if let Some(v) = take(&mut fields, LEVEL_KEYS) {
        p.level = match &v {
            Value::Int(n) if (0..=7).contains(n) => Some(Level::from_priority(*n as u8)),
            Value::Str(s) => Level::from_word(s.trim()),
            _ => None,
        };
        if p.level.is_none() {
            fields.push(("level".into(), v));
        }
    }
    if let Some(v) = take(&mut fields, TIME_KEYS) {
        p.timestamp_ms = match &v {
            Value::Int(n) => epoch(*n as f64),
            Value::Float(x) => epoch(*x),
            Value::Str(s) => rfc3339(s)
                .map(|(ms, _)| ms)
                .or_else(|| s.parse::<f64>().ok().and_then(epoch))
                .or_else(|| syslog_time(s, now_ms).map(|(ms, _)| ms)),
            Value::Bool(_) => None,
        };
        if p.timestamp_ms.is_none() {
            fields.push(("time".into(), v));
        }
    }
    if let Some(v) = take(&mut fields, SERVICE_KEYS) {
        p.service = Some(v.to_string());
    }
    if let Some(v) = take(&mut fields, HOST_KEYS) {
        p.host = Some(v.to_string());
    }
    if let Some(Value::Int(n)) = take(&mut fields, &["pid"]) {
        p.pid = u32::try_from(n).ok();
    }
    p.fields = fields;
    p
}

/// Seconds, milliseconds, microseconds or nanoseconds since the epoch, told apart by size.
pub fn epoch(x: f64) -> Option<i64> {
    if !x.is_finite() || x <= 0.0 {
        return None;
    }
    let ms = if x < 1e11 {
        x * 1e3
    } else if x < 1e14 {
        x
    } else if x < 1e17 {
        x / 1e3
    } else {
        x / 1e6
    };
    Some(ms as i64)
}

fn json(text: &str, now_ms: i64) -> Option<Parsed> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text.trim()).ok()?;
    let mut fields = Vec::with_capacity(map.len());
    flatten("", map, &mut fields);
    Some(lift(fields, now_ms))
}

fn flatten(prefix: &str, map: serde_json::Map<String, serde_json::Value>, out: &mut Vec<(String, Value)>) {
    for (k, v) in map {
        let key = if prefix.is_empty() {
            k
        } else {
            format!("{prefix}.{k}")
        };
        let value = match v {
            serde_json::Value::Object(m) => {
                flatten(&key, m, out);
                continue;
            }
            serde_json::Value::Null => continue,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(s) => Value::Str(s),
            a @ serde_json::Value::Array(_) => Value::Str(a.to_string()),
        };
        out.push((key, value));
    }
}

/// logfmt: `key=value key="quoted value" flag`; at least one `key=value` pair.
fn logfmt(text: &str, now_ms: i64) -> Option<Parsed> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut fields = Vec::new();
    let mut pairs = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        let key = &text[ks..i];
        if key.is_empty() {
            if i < b.len() && b[i] == b'=' {
                return None;
            }
            continue;
        }
        if i >= b.len() || b[i] == b' ' {
            fields.push((key.to_string(), Value::Bool(true)));
            continue;
        }
        i += 1; // '='
        let value = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = String::new();
            let mut closed = false;
            while i < b.len() {
                match b[i] {
                    b'\\' if i + 1 < b.len() => {
                        let c = b[i + 1];
                        v.push(match c {
                            b'n' => '\n',
                            b't' => '\t',
                            c => c as char,
                        });
                        i += 2;
                    }
                    b'"' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    _ => {
                        let start = i;
                        while i < b.len() && b[i] != b'"' && b[i] != b'\\' {
                            i += 1;
                        }
                        v.push_str(&text[start..i]);
                    }
                }
            }
            if !closed {
                return None;
            }
            Value::Str(v)
        } else {
            let vs = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            typed(&text[vs..i])
        };
        pairs += 1;
        fields.push((key.to_string(), value));
    }
    if pairs == 0 {
        return None;
    }
    Some(lift(fields, now_ms))
}

fn typed(v: &str) -> Value {
    if let Ok(i) = v.parse::<i64>() {
        return Value::Int(i);
    }
    if v.contains(['.', 'e', 'E']) && v.bytes().next().is_some_and(|c| c.is_ascii_digit() || c == b'-') {
        if let Ok(x) = v.parse::<f64>() {
            if x.is_finite() {
                return Value::Float(x);
            }
        }
    }
    match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::Str(v.to_string()),
    }
}

/// RFC 5424 (`<PRI>1 TS HOST APP PROCID MSGID [SD] MSG`) or RFC 3164 (`<PRI>Mmm dd hh:mm:ss
/// HOST TAG[PID]: MSG`, also as files written by rsyslog: no `<PRI>`, maybe an RFC 3339 time).
fn syslog(text: &str, now_ms: i64) -> Option<Parsed> {
    let mut rest = text;
    let mut level = None;
    let mut facility = None;
    if let Some(r) = rest.strip_prefix('<') {
        let end = r.find('>')?;
        let pri: u8 = r[..end].parse().ok().filter(|p| *p <= 191)?;
        level = Some(Level::from_priority(pri));
        facility = Some(pri >> 3);
        rest = &r[end + 1..];
    }
    let mut p = if let Some(r) = rest.strip_prefix("1 ") {
        rfc5424(r, now_ms)?
    } else {
        rfc3164(rest, now_ms)?
    };
    if level.is_some() {
        p.level = level;
    } else if p.level.is_none() {
        p.level = p.message.as_deref().and_then(level_in);
    }
    if let Some(f) = facility {
        p.fields.push(("syslog.facility".into(), Value::Int(f as i64)));
    }
    Some(p)
}

fn nil(s: &str) -> Option<String> {
    (s != "-").then(|| s.to_string())
}

fn rfc5424(r: &str, now_ms: i64) -> Option<Parsed> {
    let mut parts = r.splitn(6, ' ');
    let ts = parts.next()?;
    let host = parts.next()?;
    let app = parts.next()?;
    let procid = parts.next()?;
    let msgid = parts.next()?;
    let rest = parts.next().unwrap_or("");
    let timestamp_ms = if ts == "-" { None } else { Some(rfc3339(ts)?.0) };
    let _ = now_ms;
    let mut fields = Vec::new();
    if let Some(id) = nil(msgid) {
        fields.push(("syslog.msgid".into(), Value::Str(id)));
    }
    let msg = if let Some(r) = rest.strip_prefix('-') {
        r
    } else if rest.starts_with('[') {
        structured_data(rest, &mut fields)?
    } else {
        return None;
    };
    let msg = msg.strip_prefix(' ').unwrap_or(msg);
    let msg = msg.strip_prefix('\u{feff}').unwrap_or(msg);
    Some(Parsed {
        timestamp_ms,
        level: None,
        message: Some(msg.to_string()),
        service: nil(app),
        host: nil(host),
        pid: procid.parse().ok(),
        fields,
        failed: false,
    })
}

/// `[id k="v" …][id2 …]`, as fields `sd.<id>.<k>`; returns the text after it.
fn structured_data<'a>(mut s: &'a str, fields: &mut Vec<(String, Value)>) -> Option<&'a str> {
    while let Some(r) = s.strip_prefix('[') {
        let id_end = r.find([' ', ']'])?;
        let id = &r[..id_end];
        let mut b = &r[id_end..];
        loop {
            b = b.trim_start_matches(' ');
            if let Some(after) = b.strip_prefix(']') {
                s = after;
                break;
            }
            let eq = b.find('=')?;
            let name = &b[..eq];
            let v = b[eq + 1..].strip_prefix('"')?;
            let mut val = String::new();
            let mut chars = v.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            val.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => val.push(c),
                }
            }
            let end = end?;
            fields.push((format!("sd.{id}.{name}"), Value::Str(val)));
            b = &v[end + 1..];
        }
    }
    Some(s)
}

fn rfc3164(r: &str, now_ms: i64) -> Option<Parsed> {
    let (timestamp_ms, used) = syslog_time(r, now_ms).or_else(|| rfc3339(r))?;
    let r = r[used..].strip_prefix(' ')?;
    let (host, r) = r.split_once(' ')?;
    // TAG[PID]: MSG — a tag is up to 48 characters without spaces, ending in ':' or '['.
    let tag_end = r.find([':', '[', ' ']).filter(|&i| i <= 48);
    let (service, pid, msg) = match tag_end {
        Some(i) if r.as_bytes()[i] == b'[' => {
            let close = r[i..].find(']')? + i;
            let pid = r[i + 1..close].parse().ok();
            let msg = r[close + 1..].strip_prefix(':').unwrap_or(&r[close + 1..]);
            (Some(r[..i].to_string()), pid, msg)
        }
        Some(i) if r.as_bytes()[i] == b':' => (Some(r[..i].to_string()), None, &r[i + 1..]),
        _ => (None, None, r),
    };
    Some(Parsed {
        timestamp_ms: Some(timestamp_ms),
        level: None,
        message: Some(msg.strip_prefix(' ').unwrap_or(msg).to_string()),
        service,
        host: Some(host.to_string()),
        pid,
        fields: Vec::new(),
        failed: false,
    })
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.,frac][Z|±HH:MM|±HHMM]` at the start of `s`: Unix ms and the bytes
/// used. Without a zone the time is taken as UTC.
pub fn rfc3339(s: &str) -> Option<(i64, usize)> {
    let b = s.as_bytes();
    let (y, mo, d) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let (h, mi, sec) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0i64;
    if matches!(b.get(i), Some(b'.' | b',')) && b.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
        i += 1;
        let mut scale = 100;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            ms += (c - b'0') as i64 * scale;
            scale /= 10;
            i += 1;
        }
    }
    let mut offset_s = 0i64;
    match b.get(i) {
        Some(b'Z' | b'z') => i += 1,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2);
            let (om, used) = if b.get(i + 3) == Some(&b':') {
                (digits(b, i + 4, 2), 6)
            } else {
                (digits(b, i + 3, 2), 5)
            };
            if let (Some(oh), Some(om)) = (oh, om) {
                offset_s = (oh * 3600 + om * 60) as i64 * if sign == b'+' { 1 } else { -1 };
                i += used;
            }
        }
        _ => {}
    }
    let days = days_from_civil(y as i64, mo, d);
    let secs = days * 86_400 + (h * 3600 + mi * 60 + sec.min(59)) as i64 - offset_s;
    Some((secs * 1000 + ms, i))
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `Mmm dd hh:mm:ss` (day space-padded or not) at the start of `s`, UTC, in the year that
/// puts it closest before `now_ms` (a December line read in January is last year's).
pub fn syslog_time(s: &str, now_ms: i64) -> Option<(i64, usize)> {
    let b = s.as_bytes();
    let mon = MONTHS.iter().position(|m| b.get(..3) == Some(&m[..]))? as u32 + 1;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let (day, at) = if b.get(4) == Some(&b' ') {
        (digits(b, 5, 1)?, 6)
    } else if b.get(5) == Some(&b' ') {
        (digits(b, 4, 1)?, 5)
    } else {
        (digits(b, 4, 2)?, 6)
    };
    if b.get(at) != Some(&b' ') {
        return None;
    }
    let t = at + 1;
    let (h, mi, sec) = (digits(b, t, 2)?, digits(b, t + 3, 2)?, digits(b, t + 6, 2)?);
    if b[t + 2] != b':' || b[t + 5] != b':' || h > 23 || mi > 59 || sec > 60 || !(1..=31).contains(&day) {
        return None;
    }
    let mut used = t + 8;
    let mut ms = 0i64;
    if b.get(used) == Some(&b'.') {
        used += 1;
        let mut scale = 100;
        while let Some(c) = b.get(used).filter(|c| c.is_ascii_digit()) {
            ms += (c - b'0') as i64 * scale;
            scale /= 10;
            used += 1;
        }
    }
    let (year, _, _) = crate::model::event::civil_from_days(now_ms.div_euclid(86_400_000));
    let at_year = |y: i64| {
        (days_from_civil(y, mon, day) * 86_400 + (h * 3600 + mi * 60 + sec.min(59)) as i64) * 1000 + ms
    };
    let mut t = at_year(year);
    if t > now_ms + 86_400_000 {
        t = at_year(year - 1);
    }
    Some((t, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_300_000_000; // 2026-12-03

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339("2026-12-03T14:05:09.123Z").unwrap().0, 1_796_306_709_123);
        assert_eq!(
            rfc3339("2026-12-03 15:05:09,123+01:00 x").unwrap(),
            (1_796_306_709_123, 29)
        );
        assert_eq!(rfc3339("2026-12-03T14:05:09").unwrap().0, 1_796_306_709_000);
        assert_eq!(
            rfc3339("2026-12-03T09:05:09.5-0500").unwrap().0,
            1_796_306_709_500
        );
        assert!(rfc3339("2026-13-03T14:05:09Z").is_none());
        assert!(rfc3339("not a time").is_none());
        assert_eq!(
            syslog_time("Dec  3 14:05:09 host", NOW).unwrap(),
            (1_796_306_709_000, 15)
        );
        // December read in January belongs to the year before.
        let jan = 1_798_761_600_000; // 2027-01-01
        assert_eq!(syslog_time("Dec 31 23:00:00", jan).unwrap().0, 1_798_758_000_000);
        assert_eq!(epoch(1_796_306_709.123), Some(1_796_306_709_123));
        assert_eq!(epoch(1_796_306_709_123.0), Some(1_796_306_709_123));
        assert_eq!(epoch(1.796_306_709_123e18), Some(1_796_306_709_123));
    }

    #[test]
    fn plain_lines_keep_the_text_and_find_time_and_level() {
        let p = parse(
            Format::Plain,
            "2026-12-03 14:05:09,123 ERROR [main] disk full",
            NOW,
        );
        assert_eq!(p.timestamp_ms, Some(1_796_306_709_123));
        assert_eq!(p.level, Some(Level::Error));
        assert_eq!(p.message, None);
        assert_eq!(
            level_in("[Sun Dec 04 04:47:44 2005] [error] mod_jk child"),
            Some(Level::Error)
        );
        assert_eq!(level_in("an alert was sent to the error queue"), None);
        assert_eq!(
            level_in("081109 203615 148 INFO dfs.DataNode$PacketResponder"),
            Some(Level::Info)
        );
    }

    #[test]
    fn json_and_logfmt_keep_fields() {
        let p = parse(
            Format::Json,
            r#"{"ts":1796306709.5,"level":"warn","msg":"slow","http":{"status":503},"tags":["a"],"user":"bob"}"#,
            NOW,
        );
        assert!(!p.failed);
        assert_eq!(p.timestamp_ms, Some(1_796_306_709_500));
        assert_eq!(p.level, Some(Level::Warning));
        assert_eq!(p.message.as_deref(), Some("slow"));
        assert!(p.fields.contains(&("http.status".into(), Value::Int(503))));
        assert!(p.fields.contains(&("tags".into(), Value::Str("[\"a\"]".into()))));
        let p = parse(
            Format::Logfmt,
            r#"time=2026-12-03T14:05:09Z level=error msg="disk \"sda\" full" free=0.5 retry"#,
            NOW,
        );
        assert!(!p.failed);
        assert_eq!(p.level, Some(Level::Error));
        assert_eq!(p.message.as_deref(), Some("disk \"sda\" full"));
        assert_eq!(
            p.fields,
            vec![
                ("free".into(), Value::Float(0.5)),
                ("retry".into(), Value::Bool(true))
            ]
        );
        let bad = parse(Format::Json, "not json", NOW);
        assert!(bad.failed);
        assert!(parse(Format::Logfmt, "just words here", NOW)
            .fields
            .iter()
            .all(|(_, v)| *v == Value::Bool(true)));
    }

    #[test]
    fn syslog_both_rfcs() {
        let p = parse(
            Format::Syslog,
            "<34>1 2026-12-03T14:05:09.003Z gw su 77 ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"App\"] 'su root' failed",
            NOW,
        );
        assert!(!p.failed, "{p:?}");
        assert_eq!(p.level, Some(Level::Critical));
        assert_eq!(
            (p.host.as_deref(), p.service.as_deref(), p.pid),
            (Some("gw"), Some("su"), Some(77))
        );
        assert_eq!(p.message.as_deref(), Some("'su root' failed"));
        assert!(p
            .fields
            .contains(&("sd.exampleSDID@32473.iut".into(), Value::Str("3".into()))));
        let p = parse(
            Format::Syslog,
            "Dec  3 14:05:09 gw sshd[812]: Accepted publickey",
            NOW,
        );
        assert!(!p.failed);
        assert_eq!((p.service.as_deref(), p.pid), (Some("sshd"), Some(812)));
        assert_eq!(p.message.as_deref(), Some("Accepted publickey"));
        assert_eq!(p.timestamp_ms, Some(1_796_306_709_000));
        let p = parse(Format::Syslog, "<13>Dec  3 14:05:09 gw kernel: oops", NOW);
        assert_eq!(p.level, Some(Level::Notice));
        assert_eq!(p.service.as_deref(), Some("kernel"));
        assert!(parse(Format::Syslog, "<999>garbage", NOW).failed);
        assert!(parse(Format::Syslog, "\u{0}\u{1}binary", NOW).failed);
    }
}

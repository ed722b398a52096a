//! `[logs]` and `[[logs.source]]`, resolved: where log events come from and how their lines
//! are read (format, multi-line records, limits, redaction).
//!
//! Every source has a `name` (unique: it keys the source's checkpoint in the store, so a
//! renamed source starts afresh) and a `type`; keys of another type are refused rather than
//! ignored, so `units` on a file source is an error, not a silent no-op.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

use super::check::{count, duration, size};
use super::schema::{RawLogSource, RawLogs, RawMultiline};
use super::Problems;
use crate::model::event::{Level, Value};

/// `[logs]`, resolved.
#[derive(Debug, Clone)]
pub struct LogsConfig {
    pub sources: Vec<LogSource>,
    /// Extra keys to mask, lower case (the built-in ones are always masked).
    pub redact_keys: Vec<String>,
    /// After a stdin source's end of input, how long the sinks get to deliver.
    pub drain_timeout: Duration,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            sources: Vec::new(),
            redact_keys: Vec::new(),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

impl LogsConfig {
    pub fn has_stdin(&self) -> bool {
        self.sources.iter().any(|s| matches!(s.kind, SourceKind::Stdin))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Plain,
    Json,
    Logfmt,
    Syslog,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Plain => "plain",
            Format::Json => "json",
            Format::Logfmt => "logfmt",
            Format::Syslog => "syslog",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    Beginning,
    End,
}

/// Multi-line records.
#[derive(Debug, Clone)]
pub struct Multiline {
    pub start: Option<Regex>,
    pub builtin: bool,
    pub max_lines: usize,
    pub max_bytes: usize,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct FileSource {
    /// Absolute paths; `*`, `?` and `[…]` match within one path component.
    pub paths: Vec<String>,
    /// File name patterns never read (rotated, compressed copies).
    pub exclude: Vec<String>,
    pub start_at: StartAt,
    pub scan_interval: Duration,
    pub poll_interval: Duration,
    pub rotate_wait: Duration,
    /// A last line without its newline is emitted after the file did not grow for this long.
    pub partial_line_wait: Duration,
}

#[derive(Debug, Clone)]
pub struct JournaldSource {
    pub units: Vec<String>,
    pub identifiers: Vec<String>,
    /// Entries of this priority or more severe.
    pub priority: Option<Level>,
    /// Read journal files from this directory instead of the system journal.
    pub directory: Option<PathBuf>,
    pub journalctl: PathBuf,
    pub start_at: StartAt,
}

#[derive(Debug, Clone)]
pub enum SourceKind {
    File(FileSource),
    Journald(JournaldSource),
    Stdin,
    /// The agent's own log records of this level or more severe.
    Internal(log::LevelFilter),
}

impl SourceKind {
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::File(_) => "file",
            SourceKind::Journald(_) => "journald",
            SourceKind::Stdin => "stdin",
            SourceKind::Internal(_) => "internal",
        }
    }
}

/// One `[[logs.source]]`, resolved.
#[derive(Debug, Clone)]
pub struct LogSource {
    pub name: String,
    pub kind: SourceKind,
    pub format: Format,
    pub service: Option<String>,
    pub max_line_bytes: usize,
    pub fields: Vec<(String, Value)>,
    pub multiline: Multiline,
}

const TYPES: &str = "\"file\", \"journald\", \"stdin\" or \"internal\"";

pub fn resolve(p: &mut Problems, r: &RawLogs) -> LogsConfig {
    let mut cfg = LogsConfig {
        drain_timeout: duration(
            p,
            "logs.drain_timeout",
            r.drain_timeout.as_deref(),
            Duration::from_secs(10),
            Duration::ZERO,
            Duration::from_secs(3600),
        ),
        ..LogsConfig::default()
    };
    for (i, k) in r.redact_keys.iter().flatten().enumerate() {
        if k.trim().is_empty() {
            p.add(&format!("logs.redact_keys[{i}]"), "must not be empty");
        } else {
            cfg.redact_keys.push(k.trim().to_ascii_lowercase());
        }
    }
    let mut names = BTreeMap::new();
    let mut singletons: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, s) in r.source.iter().enumerate() {
        let key = format!("logs.source[{i}]");
        let Some(src) = source(p, &key, s) else { continue };
        if let Some(first) = names.insert(src.name.clone(), i) {
            p.add(
                &format!("{key}.name"),
                format!("{:?} is already the name of logs.source[{first}]", src.name),
            );
        }
        if matches!(src.kind, SourceKind::Stdin | SourceKind::Internal(_)) {
            if let Some(first) = singletons.insert(src.kind.name(), i) {
                p.add(
                    &format!("{key}.type"),
                    format!(
                        "only one {} source (logs.source[{first}] is one)",
                        src.kind.name()
                    ),
                );
            }
        }
        cfg.sources.push(src);
    }
    cfg
}

fn source(p: &mut Problems, key: &str, r: &RawLogSource) -> Option<LogSource> {
    let before = p.len();
    let k = |n: &str| format!("{key}.{n}");
    let name = match r.name.as_deref() {
        None => {
            p.add(&k("name"), "required (it keys the source's read position)");
            String::new()
        }
        Some(n)
            if n.is_empty()
                || n.len() > 64
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) =>
        {
            p.add(&k("name"), format!("{n:?}: use 1 to 64 of [A-Za-z0-9._-]"));
            String::new()
        }
        Some(n) => n.to_string(),
    };
    let kind = r.kind.as_deref();
    // Keys that belong to one type only.
    let file_keys: [(&str, bool); 7] = [
        ("partial_line_wait", r.partial_line_wait.is_some()),
        ("paths", r.paths.is_some()),
        ("exclude", r.exclude.is_some()),
        ("scan_interval", r.scan_interval.is_some()),
        ("poll_interval", r.poll_interval.is_some()),
        ("rotate_wait", r.rotate_wait.is_some()),
        ("start_at", r.start_at.is_some()),
    ];
    let journal_keys: [(&str, bool); 5] = [
        ("units", r.units.is_some()),
        ("identifiers", r.identifiers.is_some()),
        ("priority", r.priority.is_some()),
        ("journal_directory", r.journal_directory.is_some()),
        ("journalctl", r.journalctl.is_some()),
    ];
    let allowed: &[&str] = match kind {
        Some("file") => &[
            "paths",
            "exclude",
            "scan_interval",
            "poll_interval",
            "rotate_wait",
            "partial_line_wait",
            "start_at",
        ],
        Some("journald") => &[
            "units",
            "identifiers",
            "priority",
            "journal_directory",
            "journalctl",
            "start_at",
        ],
        _ => &[],
    };
    if matches!(kind, Some("file" | "journald" | "stdin" | "internal")) {
        for (name, set) in file_keys.iter().chain(journal_keys.iter()) {
            if *set && !allowed.contains(name) {
                p.add(&k(name), format!("not a key of a {} source", kind.unwrap_or("")));
            }
        }
        if r.level.is_some() && kind != Some("internal") {
            p.add(
                &k("level"),
                format!("not a key of a {} source", kind.unwrap_or("")),
            );
        }
    }
    let start_at = match r.start_at.as_deref() {
        None | Some("end") => StartAt::End,
        Some("beginning") => StartAt::Beginning,
        Some(o) => {
            p.add(
                &k("start_at"),
                format!("{o:?}: expected \"end\" or \"beginning\""),
            );
            StartAt::End
        }
    };
    let source_kind = match kind {
        None => {
            p.add(&k("type"), format!("required: {TYPES}"));
            None
        }
        Some("file") => Some(SourceKind::File(file(p, key, r, start_at))),
        Some("journald") => Some(SourceKind::Journald(journald(p, key, r, start_at))),
        Some("stdin") => Some(SourceKind::Stdin),
        Some("internal") => {
            let level = match r.level.as_deref() {
                None => log::LevelFilter::Info,
                Some(l) => match l.parse::<log::LevelFilter>() {
                    Ok(f) if f != log::LevelFilter::Off => f,
                    _ => {
                        p.add(
                            &k("level"),
                            format!("{l:?}: expected error, warn, info, debug or trace"),
                        );
                        log::LevelFilter::Info
                    }
                },
            };
            Some(SourceKind::Internal(level))
        }
        Some(o) => {
            p.add(&k("type"), format!("{o:?}: expected {TYPES}"));
            None
        }
    };
    let format = match r.format.as_deref() {
        None if kind == Some("journald") => Format::Plain,
        None => Format::Plain,
        Some("plain") => Format::Plain,
        Some("json") => Format::Json,
        Some("logfmt") => Format::Logfmt,
        Some("syslog") => Format::Syslog,
        Some(o) => {
            p.add(
                &k("format"),
                format!("{o:?}: expected \"plain\", \"json\", \"logfmt\" or \"syslog\""),
            );
            Format::Plain
        }
    };
    let max_line_bytes = size(
        p,
        &k("max_line_bytes"),
        r.max_line_bytes.as_deref(),
        64 * 1024,
        256,
        16 << 20,
    ) as usize;
    let fields = r
        .fields
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
        .collect();
    let multiline = multiline(p, &k("multiline"), r.multiline.as_ref(), max_line_bytes);
    if p.len() != before {
        return None;
    }
    Some(LogSource {
        name,
        kind: source_kind?,
        format,
        service: r.service.clone(),
        max_line_bytes,
        fields,
        multiline,
    })
}

fn file(p: &mut Problems, key: &str, r: &RawLogSource, start_at: StartAt) -> FileSource {
    let k = |n: &str| format!("{key}.{n}");
    let mut paths = Vec::new();
    match r.paths.as_deref() {
        None | Some([]) => p.add(
            &k("paths"),
            "required: the files to read, e.g. [\"/var/log/app/*.log\"]",
        ),
        Some(list) => {
            for (i, path) in list.iter().enumerate() {
                if !path.starts_with('/') {
                    p.add(
                        &format!("{key}.paths[{i}]"),
                        format!("{path:?} must be an absolute path"),
                    );
                } else if let Err(e) = check_glob(path) {
                    p.add(&format!("{key}.paths[{i}]"), format!("{path:?}: {e}"));
                } else {
                    paths.push(path.clone());
                }
            }
        }
    }
    let mut exclude = Vec::new();
    for (i, pat) in r.exclude.iter().flatten().enumerate() {
        match check_glob(pat) {
            Ok(()) if !pat.contains('/') => exclude.push(pat.clone()),
            Ok(()) => p.add(&format!("{key}.exclude[{i}]"), "a file name pattern, without '/'"),
            Err(e) => p.add(&format!("{key}.exclude[{i}]"), format!("{pat:?}: {e}")),
        }
    }
    FileSource {
        paths,
        exclude,
        start_at,
        scan_interval: duration(
            p,
            &k("scan_interval"),
            r.scan_interval.as_deref(),
            Duration::from_secs(5),
            Duration::from_millis(100),
            Duration::from_secs(3600),
        ),
        poll_interval: duration(
            p,
            &k("poll_interval"),
            r.poll_interval.as_deref(),
            Duration::from_millis(250),
            Duration::from_millis(10),
            Duration::from_secs(60),
        ),
        rotate_wait: duration(
            p,
            &k("rotate_wait"),
            r.rotate_wait.as_deref(),
            Duration::from_secs(5),
            Duration::ZERO,
            Duration::from_secs(3600),
        ),
        partial_line_wait: duration(
            p,
            &k("partial_line_wait"),
            r.partial_line_wait.as_deref(),
            Duration::from_secs(5),
            Duration::from_millis(10),
            Duration::from_secs(86_400),
        ),
    }
}

fn journald(p: &mut Problems, key: &str, r: &RawLogSource, start_at: StartAt) -> JournaldSource {
    let k = |n: &str| format!("{key}.{n}");
    let priority = match r.priority.as_deref() {
        None => None,
        Some(w) => match w.parse::<u8>().ok().filter(|n| *n <= 7).map(Level::from_priority) {
            Some(l) => Some(l),
            None => match Level::from_word(w) {
                Some(l) => Some(l),
                None => {
                    p.add(&k("priority"), format!("{w:?}: expected 0-7 or emerg … debug"));
                    None
                }
            },
        },
    };
    let directory = r.journal_directory.as_deref().map(|d| {
        if !d.starts_with('/') {
            p.add(&k("journal_directory"), format!("{d:?} must be an absolute path"));
        }
        PathBuf::from(d)
    });
    for (name, list) in [("units", &r.units), ("identifiers", &r.identifiers)] {
        for (i, v) in list.iter().flatten().enumerate() {
            if v.is_empty() || v.starts_with('-') || v.contains(char::is_whitespace) {
                p.add(
                    &format!("{key}.{name}[{i}]"),
                    format!("{v:?} is not a {name} name"),
                );
            }
        }
    }
    JournaldSource {
        units: r.units.clone().unwrap_or_default(),
        identifiers: r.identifiers.clone().unwrap_or_default(),
        priority,
        directory,
        journalctl: PathBuf::from(r.journalctl.as_deref().unwrap_or("journalctl")),
        start_at,
    }
}

fn multiline(p: &mut Problems, key: &str, r: Option<&RawMultiline>, max_line: usize) -> Multiline {
    let k = |n: &str| format!("{key}.{n}");
    let empty = RawMultiline::default();
    let r = r.unwrap_or(&empty);
    let start = r.start.as_deref().and_then(|s| match Regex::new(s) {
        Ok(re) => Some(re),
        Err(e) => {
            p.add(
                &k("start"),
                format!("invalid regex: {}", super::first_line(&e.to_string())),
            );
            None
        }
    });
    Multiline {
        start,
        builtin: r.builtin.unwrap_or(true),
        max_lines: count(p, &k("max_lines"), r.max_lines, 500, 2, 100_000),
        max_bytes: size(
            p,
            &k("max_bytes"),
            r.max_bytes.as_deref(),
            (max_line as u64 * 4).max(256 * 1024),
            256,
            64 << 20,
        ) as usize,
        timeout: duration(
            p,
            &k("timeout"),
            r.timeout.as_deref(),
            Duration::from_secs(1),
            Duration::from_millis(10),
            Duration::from_secs(600),
        ),
    }
}

/// A glob is wildcards within components: `[` must close, `**` is not supported.
pub fn check_glob(g: &str) -> Result<(), String> {
    if g.contains("**") {
        return Err("`**` is not supported; list each directory level with `*`".into());
    }
    let mut open = false;
    for c in g.chars() {
        match c {
            '[' if !open => open = true,
            ']' if open => open = false,
            '/' if open => return Err("`[` without `]`".into()),
            _ => {}
        }
    }
    if open {
        return Err("`[` without `]`".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::{parse_toml, Origin};

    fn err(text: &str) -> String {
        match parse_toml(text, Origin::Embedded, None) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn sources_resolve_with_defaults() {
        let cfg = parse_toml(
            "[[logs.source]]\nname = \"app\"\ntype = \"file\"\npaths = [\"/var/log/app/*.log\"]\nformat = \"json\"\n\
             [[logs.source]]\nname = \"sys\"\ntype = \"journald\"\nunits = [\"ssh.service\"]\npriority = \"warning\"\n",
            Origin::Embedded,
            None,
        )
        .unwrap();
        assert_eq!(cfg.logs.sources.len(), 2);
        let super::SourceKind::File(f) = &cfg.logs.sources[0].kind else {
            panic!()
        };
        assert_eq!(f.start_at, super::StartAt::End);
        assert_eq!(cfg.logs.sources[0].format, super::Format::Json);
        let super::SourceKind::Journald(j) = &cfg.logs.sources[1].kind else {
            panic!()
        };
        assert_eq!(j.priority, Some(crate::model::event::Level::Warning));
    }

    #[test]
    fn every_problem_has_its_key_path() {
        let msg = err("[[logs.source]]\nname = \"a b\"\ntype = \"file\"\npaths = [\"rel/x.log\"]\nunits = [\"x\"]\n\
                       format = \"xml\"\nmultiline = { start = \"(\" }\n\
                       [[logs.source]]\nname = \"s\"\ntype = \"stdin\"\n[[logs.source]]\nname = \"t\"\ntype = \"stdin\"\n\
                       [[logs.source]]\nname = \"t\"\ntype = \"tape\"\n");
        for key in [
            "logs.source[0].name",
            "logs.source[0].paths[0]",
            "logs.source[0].units",
            "logs.source[0].format",
            "logs.source[0].multiline.start",
            "logs.source[2].type",
            "logs.source[3].type",
        ] {
            assert!(msg.contains(&format!("- {key}: ")), "{key} missing in:\n{msg}");
        }
    }
}

//! The exposition parser: Prometheus text format 0.0.4 and OpenMetrics 1.0 text.
//!
//! One pass over the body, line by line, into metric families with their samples; the scrape
//! loop then applies target labels and relabelling. The body comes from a program we do not
//! control, so the parser is total: every input either parses or yields a [`ParseError`] with
//! the line number and what was wrong — no panics, no unbounded work (the caller bounds the
//! body, `max_samples` bounds the output).
//!
//! It accepts what Prometheus' own scrape parsers accept, and refuses what they refuse where
//! accepting would change the data: duplicate label names in one sample, a sample without a
//! metric name, values and timestamps that are not numbers, a second `TYPE` (or `HELP`) for one
//! family, a `TYPE` after the family's samples, and for OpenMetrics a missing `# EOF` or
//! anything after it. An empty label value means "no such label", as in Prometheus.
//!
//! Samples are grouped into families by the metadata: `foo_bucket`, `foo_sum` and `foo_count`
//! belong to `# TYPE foo histogram`; a sample with no metadata is its own untyped family.

use std::collections::HashMap;
use std::fmt;

use crate::model::MetricKind;

/// The `Accept` header Prometheus 2.42 sends: OpenMetrics first, text 0.0.4 as fallback.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Which grammar a body follows, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when the target says so; anything else (including no header) is text 0.0.4,
    /// as Prometheus does.
    pub fn from_content_type(ct: Option<&str>) -> Format {
        match ct {
            Some(ct)
                if ct
                    .trim_start()
                    .get(..28)
                    .is_some_and(|p| p.eq_ignore_ascii_case("application/openmetrics-text")) =>
            {
                Format::OpenMetrics
            }
            _ => Format::Text,
        }
    }
}

/// A family's type as the exposition declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    StateSet,
    Info,
    /// `untyped` in text 0.0.4, `unknown` in OpenMetrics, or no `TYPE` line at all.
    Unknown,
}

impl Kind {
    fn parse(s: &str, format: Format) -> Option<Kind> {
        Some(match (s, format) {
            ("counter", _) => Kind::Counter,
            ("gauge", _) => Kind::Gauge,
            ("histogram", _) => Kind::Histogram,
            ("summary", _) => Kind::Summary,
            ("untyped", Format::Text) | ("unknown", Format::OpenMetrics) => Kind::Unknown,
            ("gaugehistogram", Format::OpenMetrics) => Kind::GaugeHistogram,
            ("stateset", Format::OpenMetrics) => Kind::StateSet,
            ("info", Format::OpenMetrics) => Kind::Info,
            _ => return None,
        })
    }

    /// The sample-name suffixes of a family of this kind (`""`: the family name itself).
    fn suffixes(self, format: Format) -> &'static [&'static str] {
        match (self, format) {
            (Kind::Counter, Format::Text) => &[""],
            (Kind::Counter, Format::OpenMetrics) => &["_total", "_created"],
            (Kind::Histogram, Format::Text) => &["_bucket", "_sum", "_count"],
            (Kind::Histogram, Format::OpenMetrics) => &["_bucket", "_sum", "_count", "_created"],
            (Kind::GaugeHistogram, _) => &["_bucket", "_gsum", "_gcount"],
            (Kind::Summary, Format::Text) => &["", "_sum", "_count"],
            (Kind::Summary, Format::OpenMetrics) => &["", "_sum", "_count", "_created"],
            (Kind::Info, _) => &["_info"],
            (Kind::Gauge | Kind::StateSet | Kind::Unknown, _) => &[""],
        }
    }

    /// How the store and the sinks type the family's samples.
    pub fn metric_kind(self) -> MetricKind {
        match self {
            Kind::Counter => MetricKind::Counter,
            Kind::Gauge | Kind::StateSet | Kind::Info => MetricKind::Gauge,
            Kind::Histogram | Kind::GaugeHistogram => MetricKind::Histogram,
            Kind::Summary => MetricKind::Summary,
            Kind::Unknown => MetricKind::Untyped,
        }
    }
}

/// Every suffix some family kind gives its samples, longest first where one ends another.
const ALL_SUFFIXES: &[&str] = &[
    "_bucket", "_gcount", "_count", "_gsum", "_sum", "_total", "_created", "_info",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The full sample name (`foo_bucket`, not `foo`).
    pub name: String,
    /// In the order written; empty values already left out.
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// An exposed timestamp (Unix ms), when the line had one.
    pub timestamp_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    pub name: String,
    pub help: String,
    pub kind: Kind,
    pub unit: String,
    pub samples: Vec<Sample>,
    /// Whether a `TYPE` line declared the kind.
    typed: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    /// In order of first appearance; families without samples left out.
    pub families: Vec<MetricFamily>,
    pub samples: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based; 0 for problems of the body as a whole.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ParseError {}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

fn is_label_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A metric name, checked.
fn metric_name(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    (!b.is_empty() && is_name_start(b[0]) && b[1..].iter().all(|&c| is_name_char(c))).then_some(s)
}

/// A float as Prometheus reads one (Go's `ParseFloat`): decimal or exponent notation, `NaN`,
/// `+Inf`, `-Inf` (any case, `Infinity` too).
fn parse_float(s: &str) -> Option<f64> {
    // Rust's parser accepts the same words; it also takes a leading '+' on numbers, as Go does.
    // Refuse what Go refuses but Rust would take: nothing known; guard against empty input.
    if s.is_empty() {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Undoes the escapes: `\\` and `\n` (HELP text), and `\"` too in label values
/// (`quotes`); other sequences stay as written, as Prometheus leaves them.
fn unescape(raw: &str, quotes: bool) -> String {
    if !raw.contains('\\') {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// One sample line, taken apart.
struct Line<'a> {
    name: &'a str,
    labels: Vec<(String, String)>,
    value: f64,
    timestamp_ms: Option<i64>,
}

struct Cursor<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor {
            s,
            b: s.as_bytes(),
            i: 0,
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn skip_blanks(&mut self) -> bool {
        let start = self.i;
        while self.peek().is_some_and(is_blank) {
            self.i += 1;
        }
        self.i > start
    }
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        // Only ASCII bytes are taken, so both ends are char boundaries.
        &self.s[start..self.i]
    }
    fn token(&mut self) -> &'a str {
        self.take_while(|b| !is_blank(b))
    }
    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    /// `{name="value",...}` after the `{`; returns the labels with empty values left out.
    fn labels(&mut self, out: &mut Vec<(String, String)>) -> Result<(), String> {
        // Names seen, including those with empty values, for the duplicate check.
        let mut seen: Vec<&'a str> = Vec::new();
        loop {
            self.skip_blanks();
            match self.peek() {
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                None => return Err("unterminated label set (missing '}')".into()),
                Some(b) if !is_label_start(b) => {
                    return Err(format!(
                        "expected a label name at column {}, found {:?}",
                        self.i + 1,
                        self.s[self.i..].chars().next().unwrap_or(' ')
                    ))
                }
                Some(_) => {}
            }
            let name = self.take_while(is_label_char);
            self.skip_blanks();
            if self.peek() != Some(b'=') {
                return Err(format!("expected '=' after label name {name:?}"));
            }
            self.i += 1;
            self.skip_blanks();
            if self.peek() != Some(b'"') {
                return Err(format!("expected '\"' to open the value of label {name:?}"));
            }
            self.i += 1;
            let value = self.label_value(name)?;
            if seen.contains(&name) {
                return Err(format!("duplicate label name {name:?}"));
            }
            if name == "__name__" {
                return Err("label \"__name__\" in a label set; the metric name goes before '{'".into());
            }
            seen.push(name);
            if !value.is_empty() {
                out.push((name.to_string(), value));
            }
            self.skip_blanks();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return Err(format!("expected ',' or '}}' after the value of label {name:?}")),
            }
        }
    }

    /// A quoted label value after its opening quote, with `\\`, `\"` and `\n` escapes;
    /// other escapes stay as written (Prometheus does the same).
    fn label_value(&mut self, name: &str) -> Result<String, String> {
        let start = self.i;
        let mut escaped = false;
        loop {
            match self.peek() {
                None => return Err(format!("unterminated value of label {name:?}")),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.i += 2;
                }
                Some(_) => self.i += 1,
            }
        }
        // A '\\' skips the byte after it, so a closing quote is never an escaped one; the
        // loop ends on an ASCII '"', a char boundary.
        let raw = &self.s[start..self.i];
        self.i += 1;
        Ok(if escaped {
            unescape(raw, true)
        } else {
            raw.to_string()
        })
    }
}

fn sample_line(line: &str, format: Format) -> Result<Line<'_>, String> {
    let mut c = Cursor::new(line);
    let name = c.take_while(is_name_char);
    match name.as_bytes().first() {
        None => {
            return Err(match c.peek() {
                Some(b'{') => "a sample without a metric name".to_string(),
                _ => format!(
                    "expected a metric name, found {:?}",
                    line.chars().next().unwrap_or(' ')
                ),
            })
        }
        Some(b) if !is_name_start(*b) => {
            return Err(format!("{name:?} is not a metric name (it starts with a digit)"))
        }
        Some(_) => {}
    }
    let mut labels = Vec::new();
    c.skip_blanks();
    if c.peek() == Some(b'{') {
        c.i += 1;
        c.labels(&mut labels)?;
        c.skip_blanks();
    } else if c.i == name.len() && !c.at_end() {
        // Something glued to the name that is neither a blank nor '{'.
        return Err(format!(
            "unexpected {:?} after metric name {name:?}",
            line[c.i..].chars().next().unwrap_or(' ')
        ));
    }
    let value_text = c.token();
    if value_text.is_empty() {
        return Err(format!("sample {name:?} has no value"));
    }
    let value =
        parse_float(value_text).ok_or_else(|| format!("invalid value {value_text:?} for {name:?}"))?;
    c.skip_blanks();
    let mut timestamp_ms = None;
    if !c.at_end() && c.peek() != Some(b'#') {
        let t = c.token();
        timestamp_ms = Some(match format {
            Format::Text => t
                .parse::<i64>()
                .map_err(|_| format!("invalid timestamp {t:?} (integer milliseconds)"))?,
            Format::OpenMetrics => {
                let secs = parse_float(t)
                    .filter(|s| s.is_finite())
                    .ok_or_else(|| format!("invalid timestamp {t:?} (seconds)"))?;
                let ms = (secs * 1000.0).round();
                if ms.abs() > i64::MAX as f64 / 2.0 {
                    return Err(format!("timestamp {t:?} is out of range"));
                }
                ms as i64
            }
        });
        c.skip_blanks();
    }
    if !c.at_end() {
        match format {
            Format::OpenMetrics if c.peek() == Some(b'#') => exemplar(&mut c)?,
            _ => {
                return Err(format!(
                    "unexpected {:?} after the sample of {name:?}",
                    &line[c.i..]
                ))
            }
        }
    }
    Ok(Line {
        name,
        labels,
        value,
        timestamp_ms,
    })
}

/// An OpenMetrics exemplar (` # {labels} value [timestamp]`): checked, then dropped — the
/// store and remote_write 1.0 have no place for exemplars.
fn exemplar(c: &mut Cursor<'_>) -> Result<(), String> {
    c.i += 1;
    c.skip_blanks();
    if c.peek() != Some(b'{') {
        return Err("exemplar without a label set".into());
    }
    c.i += 1;
    let mut labels = Vec::new();
    c.labels(&mut labels).map_err(|e| format!("exemplar: {e}"))?;
    c.skip_blanks();
    let v = c.token();
    parse_float(v).ok_or_else(|| format!("exemplar: invalid value {v:?}"))?;
    c.skip_blanks();
    if !c.at_end() {
        let t = c.token();
        parse_float(t).ok_or_else(|| format!("exemplar: invalid timestamp {t:?}"))?;
        c.skip_blanks();
    }
    if !c.at_end() {
        return Err("unexpected text after the exemplar".into());
    }
    Ok(())
}

/// Families by name while parsing, with the one the last sample went to.
struct Families {
    list: Vec<MetricFamily>,
    by_name: HashMap<String, usize>,
    last: Option<usize>,
    format: Format,
}

impl Families {
    fn get_or_add(&mut self, name: &str) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        self.list.push(MetricFamily {
            name: name.to_string(),
            help: String::new(),
            kind: Kind::Unknown,
            unit: String::new(),
            samples: Vec::new(),
            typed: false,
        });
        let i = self.list.len() - 1;
        self.by_name.insert(name.to_string(), i);
        i
    }

    fn accepts(&self, i: usize, sample: &str) -> bool {
        let f = &self.list[i];
        sample
            .strip_prefix(f.name.as_str())
            .is_some_and(|suffix| f.kind.suffixes(self.format).contains(&suffix))
    }

    /// The family a sample name belongs to, created untyped when there is none.
    fn for_sample(&mut self, name: &str) -> usize {
        if let Some(i) = self.last {
            if self.accepts(i, name) {
                return i;
            }
        }
        let found = self
            .by_name
            .get(name)
            .copied()
            .filter(|&i| self.accepts(i, name))
            .or_else(|| {
                ALL_SUFFIXES.iter().find_map(|suffix| {
                    let base = name.strip_suffix(suffix)?;
                    let &i = self.by_name.get(base)?;
                    self.accepts(i, name).then_some(i)
                })
            });
        let i = match found {
            Some(i) => i,
            // A family of that name exists but does not take this sample (`foo` after
            // `# TYPE foo histogram`): Prometheus keeps such samples; so do we, untyped.
            None => match self.by_name.get(name) {
                Some(&i) => i,
                None => self.get_or_add(name),
            },
        };
        self.last = Some(i);
        i
    }
}

/// Parses a whole body. `max_samples` bounds the output: one more is an error.
pub fn parse(body: &[u8], format: Format, max_samples: usize) -> Result<Exposition, ParseError> {
    let text = std::str::from_utf8(body).map_err(|e| ParseError {
        line: body[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1,
        message: "invalid UTF-8".into(),
    })?;
    let mut fams = Families {
        list: Vec::new(),
        by_name: HashMap::new(),
        last: None,
        format,
    };
    let mut samples = 0usize;
    let mut eof = false;
    let om = format == Format::OpenMetrics;
    // The piece after the final newline is empty and is not a line.
    let pieces = text.bytes().filter(|&b| b == b'\n').count() + 1;
    for (n, raw) in text.split('\n').enumerate() {
        let at = |message: String| ParseError { line: n + 1, message };
        let last = n + 1 == pieces;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if eof {
            if line.is_empty() && last {
                break;
            }
            return Err(at("content after \"# EOF\"".into()));
        }
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() {
            if om && !last {
                return Err(at("empty line (not allowed in OpenMetrics)".into()));
            }
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('#') {
            if om && rest == " EOF" {
                eof = true;
                continue;
            }
            metadata(rest, &mut fams).map_err(at)?;
            continue;
        }
        let s = sample_line(trimmed, format).map_err(at)?;
        samples += 1;
        if samples > max_samples {
            return Err(at(format!("more than {max_samples} samples")));
        }
        let i = fams.for_sample(s.name);
        fams.list[i].samples.push(Sample {
            name: s.name.to_string(),
            labels: s.labels,
            value: s.value,
            timestamp_ms: s.timestamp_ms,
        });
    }
    if om && !eof {
        return Err(ParseError {
            line: 0,
            message: "OpenMetrics body does not end with \"# EOF\"".into(),
        });
    }
    let mut families = fams.list;
    families.retain(|f| !f.samples.is_empty());
    Ok(Exposition { families, samples })
}

/// A `#` line (after the `#`): HELP, TYPE, UNIT, or a comment (text format only).
fn metadata(rest: &str, fams: &mut Families) -> Result<(), String> {
    let om = fams.format == Format::OpenMetrics;
    let unexpected = || {
        format!(
            "unexpected {:?} (OpenMetrics allows only HELP, TYPE, UNIT and EOF lines after '#')",
            format!("#{rest}")
        )
    };
    let mut c = Cursor::new(rest);
    if !c.skip_blanks() {
        // `#HELP ...` is a comment in text 0.0.4, an error in OpenMetrics.
        return if om { Err(unexpected()) } else { Ok(()) };
    }
    let keyword = c.token();
    let known = match keyword {
        "HELP" | "TYPE" => true,
        "UNIT" => om,
        _ => false,
    };
    if !known {
        return if om { Err(unexpected()) } else { Ok(()) };
    }
    c.skip_blanks();
    let name_text = c.token();
    let name = metric_name(name_text)
        .ok_or_else(|| format!("{keyword} line: {name_text:?} is not a metric name"))?;
    // The rest after one blank is the value (HELP text may contain blanks).
    if c.peek().is_some() {
        c.i += 1;
    }
    let value = &rest[c.i..];
    let i = fams.get_or_add(name);
    let f = &mut fams.list[i];
    match keyword {
        "HELP" => {
            if !f.help.is_empty() {
                return Err(format!("second HELP line for {name}"));
            }
            f.help = unescape(value, false);
        }
        "TYPE" => {
            if f.typed {
                return Err(format!("second TYPE line for {name}"));
            }
            if !f.samples.is_empty() {
                return Err(format!("TYPE line for {name} after its samples"));
            }
            let kind = value.trim_end_matches([' ', '\t']);
            f.kind = Kind::parse(kind, fams.format)
                .ok_or_else(|| format!("unknown metric type {kind:?} for {name}"))?;
            f.typed = true;
        }
        _ => f.unit = value.to_string(),
    }
    Ok(())
}

#[cfg(test)]
mod tests;

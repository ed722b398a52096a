//! Prometheus text exposition format 0.0.4 — the encoder.
//!
//! Used by the local `/metrics` endpoint (and later by the Pushgateway sink, which takes the
//! same format). Families are written sorted by name with `# HELP` and `# TYPE`, escaping as
//! the format specifies: in HELP `\` and newline; in label values also `"`.
//! Values use the shortest representation that round-trips, with `NaN`, `+Inf` and `-Inf`.

use std::fmt::Write;

use super::Family;

/// The `Content-Type` of this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn escape_help(out: &mut String, s: &str) {
    if !s.bytes().any(|b| b == b'\\' || b == b'\n') {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

pub fn escape_label_value(out: &mut String, s: &str) {
    if !s.bytes().any(|b| b == b'\\' || b == b'\n' || b == b'"') {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Appends a float as the format expects.
pub fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Encodes families (any order in, sorted by name out). Families without samples are skipped,
/// as client libraries do. Families with the same name must not be passed twice.
pub fn encode<'a>(families: impl IntoIterator<Item = &'a Family>, out: &mut String) {
    let mut sorted: Vec<&Family> = families.into_iter().filter(|f| !f.samples.is_empty()).collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for f in sorted {
        out.push_str("# HELP ");
        out.push_str(&f.name);
        out.push(' ');
        escape_help(out, &f.help);
        out.push_str("\n# TYPE ");
        out.push_str(&f.name);
        out.push(' ');
        out.push_str(f.kind.as_str());
        out.push('\n');
        for s in &f.samples {
            out.push_str(&f.name);
            if !s.labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in s.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(k);
                    out.push_str("=\"");
                    escape_label_value(out, v);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            write_value(out, s.value);
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MetricKind;

    #[test]
    fn escapes_and_sorts() {
        let mut b = Family::new("b_total", "Help with \\ and\nnewline.", MetricKind::Counter);
        b.push(vec![("path", "C:\\dir \"x\"\nnext".to_string())], 3.0);
        let a = Family::single("a", "A.", MetricKind::Gauge, 0.5);
        let empty = Family::new("c", "none", MetricKind::Gauge);
        let mut out = String::new();
        encode([&b, &a, &empty], &mut out);
        assert_eq!(
            out,
            "# HELP a A.\n# TYPE a gauge\na 0.5\n\
             # HELP b_total Help with \\\\ and\\nnewline.\n# TYPE b_total counter\n\
             b_total{path=\"C:\\\\dir \\\"x\\\"\\nnext\"} 3\n"
        );
    }

    #[test]
    fn special_values() {
        let mut out = String::new();
        for v in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e21,
            270553174016.0,
            -0.25,
        ] {
            write_value(&mut out, v);
            out.push(' ');
        }
        assert_eq!(out, "NaN +Inf -Inf 1000000000000000000000 270553174016 -0.25 ");
    }
}

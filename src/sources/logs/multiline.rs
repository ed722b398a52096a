//! Joining physical lines into records: a stack trace is one event, not forty.
//!
//! With `multiline.start` set, a line matching it starts a record and every other line
//! continues the current one. Without it (and `builtin = true`, the default), Java
//! continuations (`\tat …`, `Caused by: …`, `\t... 12 more`) and Python tracebacks
//! (`Traceback (most recent call last):`, the indented frames after it and the exception
//! line that ends it) join the record before them; every other line is a record of its own.
//!
//! A record is emitted when the next one starts, when it reaches `max_lines` or `max_bytes`
//! (the rest of it starts a new record, flagged as truncated), or when no line came for
//! `timeout`. The assembler keeps the offset where its pending record started, so a file
//! checkpoint never moves past a record that has not been emitted.

use std::time::{Duration, Instant};

use crate::config::logs::Multiline;
use crate::model::event::flags;

/// A record: its text (lines joined with `\n`), flags, and where it started in its input.
#[derive(Debug, PartialEq)]
pub struct Record {
    pub text: String,
    pub flags: u8,
    pub start: u64,
}

pub struct Assembler {
    cfg: Multiline,
    pending: Option<Record>,
    lines: usize,
    since: Instant,
    in_traceback: bool,
}

impl Assembler {
    pub fn new(cfg: &Multiline) -> Assembler {
        Assembler {
            cfg: cfg.clone(),
            pending: None,
            lines: 0,
            since: Instant::now(),
            in_traceback: false,
        }
    }

    fn continues(&mut self, line: &str) -> bool {
        if let Some(start) = &self.cfg.start {
            return !start.is_match(line);
        }
        if !self.cfg.builtin {
            return false;
        }
        let trimmed = line.trim_start();
        let indented = trimmed.len() != line.len();
        if line.starts_with("Traceback (most recent call last):") {
            self.in_traceback = true;
            return true;
        }
        if self.in_traceback {
            if indented {
                return true;
            }
            // The exception line ends the traceback.
            self.in_traceback = false;
            return true;
        }
        (indented && (trimmed.starts_with("at ") || trimmed.starts_with("... ")))
            || line.starts_with("Caused by: ")
            || (trimmed.starts_with("Suppressed: ") && indented)
    }

    /// Adds one line (starting at `start` in its input); returns the record it completed.
    pub fn push(&mut self, line: String, line_flags: u8, start: u64) -> Option<Record> {
        let cont = self.pending.is_some() && self.continues(&line);
        if !cont && self.cfg.start.is_none() && !line.starts_with("Traceback") {
            self.in_traceback = false;
        }
        let done = if cont {
            let p = self.pending.as_mut().expect("checked");
            if self.lines >= self.cfg.max_lines || p.text.len() + 1 + line.len() > self.cfg.max_bytes {
                // Over a bound: what we have goes out, and the rest starts a new record.
                let mut out = self.pending.take();
                if let Some(o) = out.as_mut() {
                    o.flags |= flags::TRUNCATED;
                }
                self.start(line, line_flags | flags::TRUNCATED, start);
                return out;
            }
            p.text.push('\n');
            p.text.push_str(&line);
            p.flags |= line_flags | flags::MULTILINE;
            self.lines += 1;
            self.since = Instant::now();
            None
        } else {
            let out = self.pending.take();
            self.start(line, line_flags, start);
            out
        };
        done
    }

    fn start(&mut self, line: String, line_flags: u8, start: u64) {
        self.pending = Some(Record {
            text: line,
            flags: line_flags,
            start,
        });
        self.lines = 1;
        self.since = Instant::now();
    }

    /// The pending record when it has waited `timeout` for a continuation.
    pub fn flush_due(&mut self, now: Instant) -> Option<Record> {
        if self.pending.is_some() && now.duration_since(self.since) >= self.cfg.timeout {
            self.in_traceback = false;
            return self.pending.take();
        }
        None
    }

    /// When [`Assembler::flush_due`] will have something, if anything is pending.
    pub fn due_in(&self, now: Instant) -> Option<Duration> {
        self.pending
            .as_ref()
            .map(|_| (self.since + self.cfg.timeout).saturating_duration_since(now))
    }

    /// The pending record, whatever its age (end of input).
    pub fn flush(&mut self) -> Option<Record> {
        self.in_traceback = false;
        self.pending.take()
    }

    /// Where the pending record started: a checkpoint must not pass it.
    pub fn pending_start(&self) -> Option<u64> {
        self.pending.as_ref().map(|p| p.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(start: Option<&str>) -> Multiline {
        Multiline {
            start: start.map(|s| regex::Regex::new(s).unwrap()),
            builtin: true,
            max_lines: 5,
            max_bytes: 1 << 20,
            timeout: Duration::from_millis(50),
        }
    }

    fn run(a: &mut Assembler, lines: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        let mut off = 0u64;
        for l in lines {
            if let Some(r) = a.push(l.to_string(), 0, off) {
                out.push(r.text);
            }
            off += l.len() as u64 + 1;
        }
        out.extend(a.flush().map(|r| r.text));
        out
    }

    #[test]
    fn java_and_python_traces_are_one_record() {
        let mut a = Assembler::new(&cfg(None));
        let got = run(
            &mut a,
            &[
                "12:00 ERROR boom",
                "java.lang.IllegalStateException: x",
                "\tat a.B.c(B.java:1)",
                "Caused by: java.io.IOException: y",
                "\t... 3 more",
                "12:01 INFO next",
                "Traceback (most recent call last):",
                "  File \"x.py\", line 1, in <module>",
                "    f()",
                "ValueError: bad",
                "12:02 INFO after",
            ],
        );
        assert_eq!(
            got,
            vec![
                "12:00 ERROR boom",
                "java.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)\nCaused by: java.io.IOException: y\n\t... 3 more",
                "12:01 INFO next\nTraceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n    f()\nValueError: bad",
                "12:02 INFO after",
            ]
        );
    }

    #[test]
    fn start_pattern_bounds_and_timeout() {
        let mut a = Assembler::new(&cfg(Some(r"^\d\d:\d\d ")));
        let got = run(
            &mut a,
            &["12:00 a", "x", "y", "12:01 b", "1", "2", "3", "4", "5", "6"],
        );
        assert_eq!(got, vec!["12:00 a\nx\ny", "12:01 b\n1\n2\n3\n4", "5\n6"]);
        assert_eq!(a.push("12:03 c".into(), 0, 100), None);
        assert_eq!(a.pending_start(), Some(100));
        assert!(a.flush_due(Instant::now()).is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            a.flush_due(Instant::now()).map(|r| r.text),
            Some("12:03 c".into())
        );
    }
}

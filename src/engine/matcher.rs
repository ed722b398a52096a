//! Which signature a message matches, or whether it is noise: one pass of one `RegexSet`.
//!
//! The set holds every signature's pattern and every allowlist entry, so a line that matches
//! nothing (most lines) costs one scan of the `regex` crate's lazy DFA, whatever the size of
//! the catalog; the literal prefilter the regex crate extracts from the patterns skips most
//! of even that. A pattern the `regex` crate cannot run (look-around, back-references) is
//! entered in the set **without its look-around assertions** — a pattern that matches at
//! least every line the real one matches — and only when that approximation matches does the
//! slow path run the real pattern with `fancy-regex`, under a backtrack limit
//! ([`crate::config::signatures::BACKTRACK_LIMIT`]) and on at most `max_scan_bytes` of text.
//! A pattern with no such approximation (back-references) runs on the slow path for every
//! line. The `regex` crate's
//! matching is linear in the input, so neither a pathological pattern nor a 1 MB line can
//! stall the agent.
//!
//! Priority: the first matching signature in catalog order, with immediate categories'
//! signatures ahead of all others, so that a line matching both an immediate signature and
//! another is never classified (or dropped) as the lesser one. The allowlist only applies to
//! lines no signature matched (the spec's flow), so it can never hide a critical event.

use std::time::Instant;

use regex::RegexSet;

use crate::config::signatures::{compile, Catalog, Compiled};

/// What the matcher says about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The index of the matched signature in the catalog.
    Signature(usize),
    /// The allowlist matched (and no signature).
    Noise,
    None,
}

/// Slow-path work done by one call, for the metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct SlowWork {
    pub runs: u32,
    pub aborted: u32,
    pub nanos: u64,
}

pub struct Matcher {
    set: RegexSet,
    /// Per set entry: signature index, or `None` for an allowlist entry.
    entries: Vec<Entry>,
    /// Signatures checked on every line by the slow path alone (no approximation).
    always_slow: Vec<(usize, fancy_regex::Regex)>,
    /// The order signatures win in: immediate categories first, then catalog order.
    rank: Vec<usize>,
    /// A signature's place in `rank`.
    rank_of: Vec<usize>,
    max_scan: usize,
}

struct Entry {
    signature: Option<usize>,
    /// The canonicalization family this entry detects (`canon::FAMILIES`).
    family: Option<usize>,
    /// The real pattern, when the set holds an approximation of it.
    confirm: Option<fancy_regex::Regex>,
}

/// Removes look-around groups (`(?=…)`, `(?!…)`, `(?<=…)`, `(?<!…)`) from a pattern. Removing
/// a zero-width assertion can only make a pattern match more, never less.
pub fn strip_lookaround(p: &str) -> String {
    let b = p.as_bytes();
    let mut out = String::with_capacity(p.len());
    let mut i = 0;
    let mut in_class = false;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            let n = p[i + 1..].chars().next().map(char::len_utf8).unwrap_or(0);
            out.push_str(&p[i..i + 1 + n]);
            i += 1 + n;
            continue;
        }
        if in_class {
            if c == b']' {
                in_class = false;
            }
        } else if c == b'[' {
            in_class = true;
            // `[]…]` and `[^]…]`: a leading `]` is a literal.
            let mut j = i + 1;
            if b.get(j) == Some(&b'^') {
                j += 1;
            }
            if b.get(j) == Some(&b']') {
                out.push_str(&p[i..=j]);
                i = j + 1;
                continue;
            }
        } else if c == b'('
            && (p[i..].starts_with("(?=")
                || p[i..].starts_with("(?!")
                || p[i..].starts_with("(?<=")
                || p[i..].starts_with("(?<!"))
        {
            i = group_end(b, i);
            continue;
        }
        let n = p[i..].chars().next().map(char::len_utf8).unwrap_or(1);
        out.push_str(&p[i..i + n]);
        i += n;
    }
    out
}

/// The index after the `)` closing the group that opens at `start`.
fn group_end(b: &[u8], start: usize) -> usize {
    let mut depth = 0;
    let mut i = start;
    let mut in_class = false;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'(' if !in_class => depth += 1,
            b')' if !in_class => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

impl Matcher {
    /// Compiles a checked catalog. Fails only if the set as a whole is too big for the regex
    /// crate's limits (each pattern was checked alone by the config).
    pub fn new(cat: &Catalog, max_scan: usize) -> Result<Matcher, String> {
        let mut patterns = Vec::new();
        let mut entries = Vec::new();
        let mut always_slow = Vec::new();
        let all = cat
            .signatures
            .iter()
            .enumerate()
            .map(|(i, s)| (Some(i), &s.pattern))
            .chain(cat.allowlist.iter().map(|p| (None, p)));
        for (signature, pattern) in all {
            match compile(pattern)? {
                Compiled::Fast(_) => {
                    patterns.push(pattern.clone());
                    entries.push(Entry {
                        signature,
                        family: None,
                        confirm: None,
                    });
                }
                Compiled::Slow(real) => {
                    let approx = strip_lookaround(pattern);
                    if regex::Regex::new(&approx).is_ok() {
                        patterns.push(approx);
                        entries.push(Entry {
                            signature,
                            family: None,
                            confirm: Some(real),
                        });
                    } else if let Some(i) = signature {
                        always_slow.push((i, real));
                    } else {
                        // An allowlist entry only fancy-regex runs: a signature-less entry
                        // checked on the slow path; kept as "always slow" with no index.
                        always_slow.push((usize::MAX, real));
                    }
                }
            }
        }
        // The canonical families ride along: the same scan says which one a line is in.
        for (i, (_, p)) in super::canon::FAMILIES.iter().enumerate() {
            patterns.push(p.to_string());
            entries.push(Entry {
                signature: None,
                family: Some(i),
                confirm: None,
            });
        }
        let set = regex::RegexSetBuilder::new(&patterns)
            .size_limit(32 << 20)
            .dfa_size_limit(8 << 20)
            .build()
            .map_err(|e| format!("the catalog's patterns together are too large: {e}"))?;
        let mut rank: Vec<usize> = (0..cat.signatures.len()).collect();
        rank.sort_by_key(|&i| (!cat.signatures[i].immediate, i));
        let mut rank_of = vec![0; rank.len()];
        for (pos, &sig) in rank.iter().enumerate() {
            rank_of[sig] = pos;
        }
        Ok(Matcher {
            set,
            entries,
            always_slow,
            rank,
            rank_of,
            max_scan,
        })
    }

    /// Classifies one message.
    pub fn classify(&self, text: &str, slow: &mut SlowWork) -> Verdict {
        self.classify_with_family(text, slow).0
    }

    /// Classifies one message and names its canonical family (`canon::FAMILIES` index), from
    /// the same scan.
    pub fn classify_with_family(&self, text: &str, slow: &mut SlowWork) -> (Verdict, Option<usize>) {
        let text = &text[..crate::model::event::floor_char_boundary(text, self.max_scan)];
        let mut best: Option<usize> = None; // position in `rank`
        let mut noise = false;
        let mut family: Option<usize> = None;
        let better = |best: Option<usize>, sig: usize, rank_of: &[usize]| {
            let r = rank_of.get(sig).copied().unwrap_or(usize::MAX);
            match best {
                Some(b) if b <= r => best,
                _ => Some(r),
            }
        };
        if self.set.is_match(text) {
            for idx in self.set.matches(text).iter() {
                let e = &self.entries[idx];
                if let Some(f) = e.family {
                    family = Some(family.map_or(f, |g: usize| g.min(f)));
                    continue;
                }
                if let Some(real) = &e.confirm {
                    // Only worth confirming if it could change the outcome.
                    let useful = match e.signature {
                        Some(s) => better(best, s, &self.rank_of) != best,
                        None => best.is_none() && !noise,
                    };
                    if !useful || !run_slow(real, text, slow) {
                        continue;
                    }
                }
                match e.signature {
                    Some(s) => best = better(best, s, &self.rank_of),
                    None => noise = true,
                }
            }
        }
        for (s, real) in &self.always_slow {
            let useful = if *s == usize::MAX {
                best.is_none() && !noise
            } else {
                better(best, *s, &self.rank_of) != best
            };
            if useful && run_slow(real, text, slow) {
                if *s == usize::MAX {
                    noise = true;
                } else {
                    best = better(best, *s, &self.rank_of);
                }
            }
        }
        let verdict = match best {
            Some(r) => Verdict::Signature(self.rank[r]),
            None if noise => Verdict::Noise,
            None => Verdict::None,
        };
        (verdict, family)
    }
}

/// Runs a slow-path pattern; a pattern that exceeds its backtrack limit counts as no match.
fn run_slow(re: &fancy_regex::Regex, text: &str, w: &mut SlowWork) -> bool {
    let t = Instant::now();
    let r = re.is_match(text);
    w.runs += 1;
    w.nanos += t.elapsed().as_nanos() as u64;
    match r {
        Ok(m) => m,
        Err(_) => {
            w.aborted += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::signatures::{check_catalog, parse_text, RawCatalog, RawGrouping};
    use crate::config::Problems;

    pub fn catalog(yaml: &str) -> Catalog {
        let c: RawCatalog = parse_text(yaml, false).unwrap();
        let g = if yaml.contains("critical:") {
            "immediate_categories: [critical]"
        } else {
            "{}"
        };
        let g: RawGrouping = parse_text(g, false).unwrap();
        let mut p = Problems::default();
        check_catalog(&mut p, "", &c, &g, "t".into()).unwrap_or_else(|| panic!("{p}"))
    }

    const CAT: &str = r#"noise_allowlist: ["Broken pipe|context canceled|499"]
categories:
  app:
    default_policy: notify
    signatures:
      - {id: EXIT, pattern: "Exited with code (?!0)\\d+", severity: medium, summary: exit}
      - {id: NET, pattern: "ECONNRESET|socket hang up", severity: medium, summary: net}
  critical:
    default_policy: escalate
    signatures:
      - {id: OOM, pattern: "OOMKilled|Out of memory", severity: high, summary: oom}
"#;

    fn verdict(m: &Matcher, t: &str) -> Option<String> {
        let cat = catalog(CAT);
        match m.classify(t, &mut SlowWork::default()) {
            Verdict::Signature(i) => Some(cat.signatures[i].id.clone()),
            Verdict::Noise => Some("noise".into()),
            Verdict::None => None,
        }
    }

    #[test]
    fn the_spec_cases() {
        let m = Matcher::new(&catalog(CAT), 1 << 16).unwrap();
        assert_eq!(verdict(&m, "Exited with code 0"), None);
        assert_eq!(verdict(&m, "Exited with code 137").as_deref(), Some("EXIT"));
        assert_eq!(verdict(&m, "Exited with code 01"), None);
        assert_eq!(verdict(&m, "socket hang up during query").as_deref(), Some("NET"));
        assert_eq!(verdict(&m, "write: Broken pipe").as_deref(), Some("noise"));
        assert_eq!(verdict(&m, "all good"), None);
        // The allowlist's 499 matches inside pid 14990: an immediate signature still wins,
        // and so does any signature (the spec's flow checks signatures first).
        assert_eq!(verdict(&m, "pod OOMKilled pid 14990").as_deref(), Some("OOM"));
        assert_eq!(verdict(&m, "ECONNRESET after 4990 ms").as_deref(), Some("NET"));
        // Both an ordinary and an immediate signature: the immediate one.
        assert_eq!(
            verdict(&m, "Exited with code 137 after OOMKilled").as_deref(),
            Some("OOM")
        );
    }

    #[test]
    fn look_around_is_stripped_for_the_fast_path() {
        assert_eq!(strip_lookaround(r"code (?!0)\d+"), r"code \d+");
        assert_eq!(strip_lookaround(r"(?<=a)b(?=c(d))e"), "be");
        assert_eq!(strip_lookaround(r"[(?!]x\(?!y"), r"[(?!]x\(?!y");
        assert_eq!(strip_lookaround(r"(?<name>a)"), "(?<name>a)");
    }

    #[test]
    fn back_references_run_on_the_slow_path_alone() {
        let cat = catalog(
            "categories:\n  a:\n    default_policy: notify\n    signatures:\n      - {id: DUP, pattern: '(\\w+) \\1', severity: low, summary: s}\n",
        );
        let m = Matcher::new(&cat, 1 << 16).unwrap();
        let mut w = SlowWork::default();
        assert_eq!(m.classify("hello hello", &mut w), Verdict::Signature(0));
        assert_eq!(m.classify("hello world", &mut w), Verdict::None);
        assert_eq!(w.runs, 2);
    }

    #[test]
    fn a_pathological_pattern_on_a_huge_line_is_bounded() {
        // Catastrophic backtracking for a backtracking engine: nested quantifiers with a
        // back-reference that can never match. The limit makes the slow path give up (counted,
        // no match) instead of running for hours; this test would not finish without it.
        let cat = catalog(
            "categories:\n  a:\n    default_policy: notify\n    signatures:\n      - {id: EVIL, pattern: '((a+)+)\\1b', severity: low, summary: s}\n      - {id: OK, pattern: 'needle', severity: low, summary: s}\n",
        );
        let m = Matcher::new(&cat, 64 * 1024).unwrap();
        let mut line = "a".repeat(1 << 20);
        line.push_str(" needle");
        let mut w = SlowWork::default();
        // The needle is beyond max_scan: not seen.
        assert_eq!(m.classify(&line, &mut w), Verdict::None);
        assert_eq!((w.runs, w.aborted), (1, 1), "{w:?}");
        let short = format!("{} needle", "a".repeat(100));
        assert_eq!(m.classify(&short, &mut w), Verdict::Signature(1));
    }
}

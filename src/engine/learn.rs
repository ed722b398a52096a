//! Learned templates (`[signatures] learn = true`): where the masks of `v1` leave a variable
//! word (a user name, a service name), groups that differ only there are merged, online, in
//! the manner of Drain (He et al., ICWS 2017).
//!
//! Canonical forms (before lower-casing) are split into tokens; forms with the same
//! category, token count and first token are compared with the templates learned so far: the
//! share of positions where the tokens are equal is the similarity, and a form at least
//! [`SIMILARITY`] similar to a template joins it — if every position that differs holds
//! lower-case words on both sides — and those positions become `<*>` in the template.
//! A position the template has already learned as variable takes any token. Otherwise the
//! form starts a template of its own. The case rule is what keeps enumerations
//! apart: `VM Started` / `VM Stopped`, `GET` / `POST`, `HTTPS` / `SOCKS5` are written
//! capitalised or in capitals and stay separate groups, while user and service names
//! (`root`, `admin`, `chargen`) are lower-case words and merge.
//!
//! **A fingerprint never changes for the group it names**: a template's fingerprint is
//! `sha1("{category}|{canonical}")` of the first form that started it, fixed when it is
//! created, whatever the template learns later. The templates are part of the engine's state
//! file, so a restart continues with what was learned. The cost: a fingerprint depends on
//! what this gateway saw first, so two gateways may name one template differently; without
//! learning a fingerprint is a pure function of the message (docs/ENGINE.md).
//!
//! Bounded: at most `max` templates (the least recently used tenth is dropped when full).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::canon::fingerprint;

/// The share of equal positions that makes a form join a template. One value for every log
/// (measured on the 16 LogHub samples: docs/ENGINE.md).
pub const SIMILARITY: f64 = 0.7;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Template {
    tokens: Vec<String>,
    fingerprint: String,
    used: u64,
    /// Per token: its hash, whether it may differ (a variable), whether it is a learned
    /// `<*>`; derived from `tokens`, rebuilt after loading.
    #[serde(skip)]
    shape: Vec<(u64, bool, bool)>,
    /// The template as text, lower-cased (what events report as their canonical form).
    #[serde(skip)]
    text: String,
}

/// The hash of a token, for the comparisons (equal hashes are confirmed on the text).
fn hash(t: &str) -> u64 {
    // FNV-1a: tokens are short; this is the inner loop of learning.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in t.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn shape(tokens: &[String]) -> Vec<(u64, bool, bool)> {
    tokens
        .iter()
        .map(|t| (hash(t), t == "<*>" || variable(t), t == "<*>"))
        .collect()
}

/// The learned templates.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Learner {
    /// Hash of (category, token count, first two words) → templates.
    buckets: HashMap<u64, Vec<Template>>,
    count: usize,
    clock: u64,
}

/// A lower-case word: what a variable name (user, service) looks like.
fn lower_word(t: &str) -> bool {
    t.bytes().any(|b| b.is_ascii_lowercase())
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.#".contains(&b))
}

/// What may differ at a learned position: lower-case words, masked values and tokens with
/// masked digits (identifiers: `Package_for_KB#~#`), also in brackets, and nothing at all
/// between brackets (`()` vs `(host.lan)`).
fn variable(t: &str) -> bool {
    let core = t.trim_matches(|c: char| "()[]{},;:".contains(c));
    core.is_empty()
        || lower_word(core)
        || inner_capital(core)
        || (core.starts_with('<') && core.ends_with('>'))
        || core.contains('#')
}

/// `PlcmSpIp`, `iPhone`: a capital after the first letter, among lower-case letters — an
/// identifier, not a capitalised word (`Started`) or an acronym (`HTTPS`).
fn inner_capital(t: &str) -> bool {
    let b = t.as_bytes();
    b.iter().any(u8::is_ascii_lowercase)
        && b.iter().skip(1).any(u8::is_ascii_uppercase)
        && b.iter().all(|c| c.is_ascii_alphanumeric())
}

fn key(category: &str, scope: &str, tokens: &[&str]) -> u64 {
    // The first words name the kind of message (Drain's prefix tree, depth 2); a value in
    // their place does not.
    let word = |i: usize| {
        let t = tokens.get(i).copied().unwrap_or("");
        if t.contains(['<', '#']) || (KEY_WORDS < 2 && i > 0) {
            "<*>"
        } else {
            t
        }
    };
    let mut h = hash(category) ^ hash(scope).rotate_left(17);
    for part in [hash(word(0)), hash(word(1)), tokens.len() as u64] {
        h = (h ^ part).wrapping_mul(0x0100_0000_01b3).rotate_left(17);
    }
    h
}

/// How many leading words key a bucket.
const KEY_WORDS: usize = 2;

/// Templates kept per bucket; the least recently used goes beyond (bounds the scan).
const BUCKET_MAX: usize = 64;

impl Learner {
    /// The fingerprint of `cased` (a `v1` form before lower-casing) in `category`, and its
    /// template as learned so far (lower-cased, like every canonical form).
    /// `scope` (the signature id, or "" for generic groups) keys the buckets with `category`:
    /// forms of two signatures never merge.
    pub fn assign(&mut self, category: &str, scope: &str, cased: &str, max: usize) -> (String, String) {
        self.clock += 1;
        let tokens: Vec<&str> = cased.split(' ').collect();
        let hashes: Vec<u64> = tokens.iter().map(|t| hash(t)).collect();
        // Whether each token of the form is a variable: worked out when first needed.
        let mut var: Vec<u8> = vec![0; tokens.len()];
        let k = key(category, scope, &tokens);
        let bucket = self.buckets.entry(k).or_default();
        let mut best: Option<(f64, usize)> = None;
        // Differences a form may have and still be SIMILARITY similar.
        let max_diffs = tokens.len() - (SIMILARITY * tokens.len() as f64).ceil() as usize;
        for (i, t) in bucket.iter_mut().enumerate() {
            if t.shape.len() != t.tokens.len() {
                t.shape = shape(&t.tokens);
                t.text = t.tokens.join(" ").to_lowercase();
            }
            let mut same = 0;
            let mut diffs = 0;
            let mut mergeable = true;
            // Tokens compare by their 64-bit hashes (a collision between two different
            // tokens of one position is not a practical concern).
            for (j, ((th, tvar, learned), fh)) in t.shape.iter().zip(&hashes).enumerate() {
                if th == fh {
                    same += 1;
                    continue;
                }
                diffs += 1;
                if diffs > max_diffs {
                    mergeable = false;
                    break;
                }
                // A learned `<*>` takes anything; otherwise both sides must be variable.
                if *learned {
                    continue;
                }
                if var[j] == 0 {
                    var[j] = if variable(tokens[j]) { 2 } else { 1 };
                }
                if !(*tvar && var[j] == 2) {
                    mergeable = false;
                    break;
                }
            }
            if !mergeable {
                continue;
            }
            let sim = same as f64 / tokens.len().max(1) as f64;
            if sim >= SIMILARITY && best.is_none_or(|(s, _)| sim > s) {
                best = Some((sim, i));
            }
            // Equal but for positions already learned: joining changes nothing, and no other
            // template can be a better home; stop looking.
            let settled = t
                .shape
                .iter()
                .zip(&hashes)
                .all(|((th, _, learned), fh)| th == fh || *learned);
            if settled && sim >= SIMILARITY {
                best = Some((sim, i));
                break;
            }
        }
        let (fp, template) = match best {
            Some((_, i)) => {
                let t = &mut bucket[i];
                let mut changed = false;
                for (j, fh) in hashes.iter().enumerate() {
                    let (th, _, learned) = t.shape[j];
                    if th != *fh && !learned {
                        t.tokens[j] = "<*>".to_string();
                        changed = true;
                    }
                }
                if changed {
                    t.shape = shape(&t.tokens);
                    t.text = t.tokens.join(" ").to_lowercase();
                }
                t.used = self.clock;
                (t.fingerprint.clone(), t.text.clone())
            }
            None => {
                let canonical = cased.to_lowercase();
                let fp = fingerprint(category, &canonical);
                if bucket.len() >= BUCKET_MAX {
                    let oldest = (0..bucket.len()).min_by_key(|&i| bucket[i].used).unwrap_or(0);
                    bucket.swap_remove(oldest);
                    self.count -= 1;
                }
                let tokens: Vec<String> = tokens.iter().map(|s| s.to_string()).collect();
                bucket.push(Template {
                    shape: shape(&tokens),
                    tokens,
                    fingerprint: fp.clone(),
                    used: self.clock,
                    text: canonical.clone(),
                });
                self.count += 1;
                (fp, canonical)
            }
        };
        if self.count > max {
            self.evict(max);
        }
        (fp, template)
    }

    /// Templates learned.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn evict(&mut self, max: usize) {
        let mut used: Vec<u64> = self
            .buckets
            .values()
            .flat_map(|b| b.iter().map(|t| t.used))
            .collect();
        used.sort_unstable();
        let cut = used.get(max / 10).copied().unwrap_or(0);
        for b in self.buckets.values_mut() {
            b.retain(|t| t.used > cut);
        }
        self.buckets.retain(|_, b| !b.is_empty());
        self.count = self.buckets.values().map(Vec::len).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_word_is_learned_and_the_first_fingerprint_stays() {
        let mut l = Learner::default();
        let (a, _) = l.assign("c", "", "session closed for user cyrus", 100);
        assert_eq!(a, fingerprint("c", "session closed for user cyrus"));
        let (b, t) = l.assign("c", "", "session closed for user news", 100);
        assert_eq!(a, b);
        assert_eq!(t, "session closed for user <*>");
        let (c, _) = l.assign("c", "", "session opened for user news", 100);
        assert_ne!(a, c, "3 of 5 positions equal is below the similarity");
        let (f, _) = l.assign("c", "", "session closed for user FILTER", 100);
        assert_eq!(a, f, "a position learned as variable takes any token");
        let (s1, _) = l.assign("c", "", "VM Started (Lifecycle Event)", 100);
        let (s2, _) = l.assign("c", "", "VM Stopped (Lifecycle Event)", 100);
        assert_ne!(s1, s2, "capitalised words are constants");
        let (d, _) = l.assign("c", "", "disk full on sda", 100);
        assert_ne!(a, d, "another first word, another template");
        let (e, _) = l.assign("other", "", "session closed for user cyrus", 100);
        assert_ne!(a, e, "categories never share templates");
        let (x, _) = l.assign("c", "SIG_A", "relay stuck at alpha", 100);
        let (y, _) = l.assign("c", "SIG_B", "relay stuck at bravo", 100);
        assert_ne!(x, y, "two signatures never share a template");
        let (u, _) = l.assign("c", "", "relay stuck at alpha", 100);
        let (v, _) = l.assign("c", "", "relay stuck at bravo", 100);
        assert_eq!(u, v, "within one scope the same forms merge");
    }

    #[test]
    fn learned_templates_survive_a_round_trip_and_are_bounded() {
        let mut l = Learner::default();
        for i in 0..50 {
            l.assign("c", "", &format!("w{i} a b c"), 20);
        }
        assert!(l.len() <= 20, "{}", l.len());
        let bytes = postcard::to_allocvec(&l).unwrap();
        let mut back: Learner = postcard::from_bytes(&bytes).unwrap();
        let (x, _) = l.assign("c", "", "w49 a b z", 20);
        let (y, _) = back.assign("c", "", "w49 a b z", 20);
        assert_eq!(x, y);
    }
}

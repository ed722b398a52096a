//! Groups and decisions: per fingerprint, a sliding window, a cooldown, a firing state — and
//! the decisions they produce. Pure: time comes in with each call (the events' own time), so
//! a replay decides exactly what the live agent would have.
//!
//! Per group:
//! - **window**: the times of its last `min_count` events; it **fires** when `min_count`
//!   events fall inside `window` (immediate categories: on the first event), unless its last
//!   notice is less than `cooldown` ago.
//! - **reminder**: while firing, after `repeat_interval` since the last notice, with the
//!   count since then (only if there were events).
//! - **resolved**: a firing group with no event for `resolve_after`. Flap damping: a group
//!   that fires again within `resolve_after` of its resolve doubles its own quiet period
//!   (up to 16×), so an on/off error does not ping-pong; a group quiet for a whole damped
//!   period starts over.
//! - **storm control**: at most `max_groups` fingerprints (the least recently seen tenth is
//!   evicted when full, firing groups last; counted), and a budget of
//!   `max_decisions_per_minute` for all groups together (a token bucket in engine time):
//!   a decision over budget is deferred to a later tick, never dropped.
//! - **clock guard**: an event stamped more than `max_clock_skew` away from when it was read
//!   counts at its read time, so one event from 2037 (or 1970) does not poison the windows.

use std::collections::HashMap;

use heapless::Deque;
use serde::{Deserialize, Serialize};

use crate::model::alert::{Decision, Kind, MAX_SAMPLES};

/// The settings the decisions follow, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub window_ms: i64,
    pub cooldown_ms: i64,
    pub resolve_ms: i64,
    pub repeat_ms: i64,
    pub max_groups: usize,
    pub decisions_per_minute: u32,
    pub max_skew_ms: i64,
}

/// What the catalog says about the events of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub category: String,
    pub signature: Option<String>,
    pub policy: String,
    pub severity: String,
    pub summary: String,
    pub min_count: u32,
}

/// Sample text kept per group: this many characters at most.
pub const SAMPLE_CHARS: usize = 200;
/// Once a group has its five samples, a new one replaces the oldest at most this often.
pub const SAMPLE_EVERY_MS: i64 = 1000;
/// Count buckets for the views: this many of [`BUCKET_MS`] (2 hours).
pub const BUCKETS: usize = 24;
pub const BUCKET_MS: i64 = 5 * 60 * 1000;
/// The longest a flapping group's quiet period grows: `resolve_after` × this.
const MAX_DAMPING: u32 = 16;

/// One fingerprint's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub fingerprint: String,
    pub canonical: String,
    pub meta: Meta,
    /// Times of the last `min_count` events, oldest first.
    pub recent: Vec<i64>,
    pub total: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub firing: bool,
    pub episode_start: i64,
    pub episode_count: u64,
    pub last_notice: Option<i64>,
    pub since_notice: u64,
    /// Reminders sent in this episode (a `retry` group notifies from its first one on).
    pub reminders: u32,
    pub resolved_at: Option<i64>,
    /// Quiet period multiplier (flap damping): 1, 2, 4, … 16.
    pub damping: u32,
    /// A decision this group is owed but the budget deferred.
    pub deferred: Option<Kind>,
    pub samples: Deque<String, MAX_SAMPLES>,
    /// When the newest sample was taken (one per second at most, once there are five).
    pub sample_at: i64,
    /// Events per 5-minute bucket; `buckets_end` is the index (time / BUCKET_MS) of the last.
    pub buckets: [u32; BUCKETS],
    pub buckets_end: i64,
}

impl Group {
    fn new(fingerprint: &str, canonical: &str, meta: Meta, t: i64) -> Group {
        Group {
            fingerprint: fingerprint.to_string(),
            canonical: canonical.to_string(),
            meta,
            recent: Vec::new(),
            total: 0,
            first_seen: t,
            last_seen: t,
            firing: false,
            episode_start: t,
            episode_count: 0,
            last_notice: None,
            since_notice: 0,
            reminders: 0,
            resolved_at: None,
            damping: 1,
            deferred: None,
            samples: Deque::new(),
            sample_at: i64::MIN,
            buckets: [0; BUCKETS],
            buckets_end: t.div_euclid(BUCKET_MS),
        }
    }

    fn bucket_add(&mut self, t: i64) {
        let b = t.div_euclid(BUCKET_MS);
        if b > self.buckets_end {
            let shift = (b - self.buckets_end).min(BUCKETS as i64) as usize;
            self.buckets.rotate_left(shift);
            for x in &mut self.buckets[BUCKETS - shift..] {
                *x = 0;
            }
            self.buckets_end = b;
        }
        let age = self.buckets_end - b;
        if (0..BUCKETS as i64).contains(&age) {
            let i = BUCKETS - 1 - age as usize;
            self.buckets[i] = self.buckets[i].saturating_add(1);
        }
    }

    /// Events since `since` (to 5 minutes; beyond the 2 hours the buckets cover: all events).
    pub fn count_since(&self, now: i64, since: i64) -> u64 {
        if now - since > (BUCKETS as i64 - 1) * BUCKET_MS {
            return self.total;
        }
        let from = since.div_euclid(BUCKET_MS);
        (0..BUCKETS)
            .filter(|&i| self.buckets_end - (BUCKETS - 1 - i) as i64 >= from)
            .map(|i| self.buckets[i] as u64)
            .sum()
    }

    fn in_window(&self, t: i64, window: i64) -> usize {
        self.recent.iter().filter(|&&x| x > t - window && x <= t).count()
    }

    fn decision(&self, kind: Kind, count: u64, now: i64) -> Decision {
        Decision {
            kind,
            fingerprint: self.fingerprint.clone(),
            category: self.meta.category.clone(),
            signature: self.meta.signature.clone(),
            policy: self.meta.policy.clone(),
            severity: self.meta.severity.clone(),
            summary: self.meta.summary.clone(),
            count,
            first_seen_ms: self.episode_start,
            last_seen_ms: self.last_seen,
            decided_ms: now,
            canonical: self.canonical.clone(),
            samples: self.samples.iter().cloned().collect(),
            reminders: self.reminders,
            gateway: String::new(),
            shadow: false,
        }
    }
}

/// Everything the engine decides with; serialisable as a whole (the state file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Groups {
    pub groups: HashMap<String, Group>,
    /// The engine's clock: the latest (guarded) event time, or tick time, seen.
    pub clock: i64,
    /// Decision budget: tokens (× 1000) and when they were last filled.
    tokens_milli: i64,
    tokens_at: i64,
    /// Templates learned (`[signatures] learn = true`).
    pub learner: super::learn::Learner,
    #[serde(skip)]
    pub evicted: u64,
    /// Bumped by every change (the task writes the state file when it moved).
    #[serde(skip)]
    pub changes: u64,
    #[serde(skip)]
    pub deferred: u64,
}

impl Groups {
    pub fn new() -> Groups {
        Groups {
            groups: HashMap::new(),
            clock: i64::MIN,
            tokens_milli: -1,
            tokens_at: 0,
            learner: Default::default(),
            evicted: 0,
            changes: 0,
            deferred: 0,
        }
    }

    /// The time an event counts at: its own, unless that is further than `max_skew` from
    /// when it was read (`read_ms`; `None` in replays, where the engine clock is the
    /// reference and jumps of more than a day are refused).
    pub fn event_time(&self, s: &Settings, t: i64, read_ms: Option<i64>) -> i64 {
        match read_ms {
            Some(r) if (t - r).abs() > s.max_skew_ms => r,
            Some(_) => t,
            None if self.clock != i64::MIN && (t - self.clock).abs() > 24 * 3_600_000 => self.clock,
            None => t,
        }
    }

    fn take_token(&mut self, s: &Settings, now: i64) -> bool {
        let cap = s.decisions_per_minute as i64 * 1000;
        if self.tokens_milli < 0 {
            self.tokens_milli = cap;
            self.tokens_at = now;
        }
        let elapsed = (now - self.tokens_at).max(0);
        // decisions_per_minute tokens per 60,000 ms.
        self.tokens_milli = (self.tokens_milli + elapsed * s.decisions_per_minute as i64 / 60).min(cap);
        self.tokens_at = now;
        if self.tokens_milli >= 1000 {
            self.tokens_milli -= 1000;
            true
        } else {
            false
        }
    }

    /// Counts one event of a group at time `t` (already guarded); returns a firing decision
    /// when the group fires. `sample` makes the (redacted) sample text, called only when one
    /// is kept: the first five of a group, then at most one a second.
    pub fn observe(
        &mut self,
        s: &Settings,
        fingerprint: &str,
        canonical: &str,
        meta: &Meta,
        t: i64,
        sample: impl FnOnce() -> String,
    ) -> Option<Decision> {
        self.clock = self.clock.max(t);
        self.changes += 1;
        if !self.groups.contains_key(fingerprint) && self.groups.len() >= s.max_groups {
            self.evict(s.max_groups);
        }
        let g = self
            .groups
            .entry(fingerprint.to_string())
            .or_insert_with(|| Group::new(fingerprint, canonical, meta.clone(), t));
        if g.meta != *meta {
            // The catalog changed (a new severity, say): the group speaks with the new words.
            g.meta = meta.clone();
            g.recent.truncate(meta.min_count as usize);
        }
        g.total += 1;
        g.last_seen = g.last_seen.max(t);
        g.first_seen = g.first_seen.min(t);
        let keep = g.meta.min_count.max(1) as usize;
        if g.recent.len() >= keep {
            g.recent.remove(0);
        }
        let at = g.recent.partition_point(|&x| x <= t);
        g.recent.insert(at, t);
        g.bucket_add(t);
        if !g.samples.is_full() || t >= g.sample_at.saturating_add(SAMPLE_EVERY_MS) {
            if g.samples.is_full() {
                g.samples.pop_front();
            }
            let mut text = sample();
            let cut = text
                .char_indices()
                .nth(SAMPLE_CHARS)
                .map(|(i, _)| i)
                .unwrap_or(text.len());
            text.truncate(cut);
            let _ = g.samples.push_back(text);
            g.sample_at = t;
        }
        if g.firing {
            g.episode_count += 1;
            g.since_notice += 1;
            return None;
        }
        let n = g.in_window(t, s.window_ms);
        if n < keep {
            return None;
        }
        if g.last_notice.is_some_and(|l| t - l < s.cooldown_ms) {
            return None;
        }
        // Flap damping: back within its quiet period of the resolve → a longer quiet period.
        match g.resolved_at {
            Some(r) if t - r < s.resolve_ms * g.damping as i64 => {
                g.damping = (g.damping * 2).min(MAX_DAMPING)
            }
            _ => g.damping = 1,
        }
        g.firing = true;
        g.episode_start = g.recent[g.recent.len() - n];
        g.episode_count = n as u64;
        g.since_notice = 0;
        g.reminders = 0;
        g.last_notice = Some(t);
        let fp = g.fingerprint.clone();
        if self.take_token(s, t) {
            let g = &self.groups[&fp];
            Some(g.decision(Kind::Firing, n as u64, t))
        } else {
            self.deferred += 1;
            if let Some(g) = self.groups.get_mut(&fp) {
                g.deferred = Some(Kind::Firing);
            }
            None
        }
    }

    /// Resolves, reminds and sends what was deferred, at time `now`.
    pub fn tick(&mut self, s: &Settings, now: i64) -> Vec<Decision> {
        self.clock = self.clock.max(now);
        let mut out = Vec::new();
        let mut due: Vec<(i64, String, Kind)> = Vec::new();
        for g in self.groups.values() {
            if let Some(k) = g.deferred {
                due.push((g.last_seen, g.fingerprint.clone(), k));
            } else if g.firing && now - g.last_seen >= s.resolve_ms * g.damping as i64 {
                due.push((g.last_seen, g.fingerprint.clone(), Kind::Resolved));
            } else if g.firing
                && g.since_notice > 0
                && g.last_notice
                    .is_some_and(|l| now - l >= s.repeat_ms.max(s.cooldown_ms))
            {
                due.push((g.last_seen, g.fingerprint.clone(), Kind::Reminder));
            }
        }
        // Oldest first, so what waited longest goes first when the budget is short.
        due.sort();
        for (_, fp, kind) in due {
            if !self.take_token(s, now) {
                self.deferred += 1;
                if let Some(g) = self.groups.get_mut(&fp) {
                    g.deferred.get_or_insert(kind);
                }
                continue;
            }
            let Some(g) = self.groups.get_mut(&fp) else {
                continue;
            };
            g.deferred = None;
            let d = match kind {
                Kind::Firing => g.decision(Kind::Firing, g.episode_count, now),
                Kind::Reminder => {
                    g.reminders = g.reminders.saturating_add(1);
                    let d = g.decision(Kind::Reminder, g.since_notice, now);
                    g.since_notice = 0;
                    g.last_notice = Some(now);
                    d
                }
                Kind::Resolved => {
                    if !g.firing {
                        continue;
                    }
                    g.firing = false;
                    g.resolved_at = Some(now);
                    g.recent.clear();
                    g.decision(Kind::Resolved, g.episode_count, now)
                }
            };
            self.changes += 1;
            out.push(d);
        }
        out
    }

    /// Evicts the least recently seen tenth of the groups (quiet ones before firing ones).
    fn evict(&mut self, max: usize) {
        let n = (max / 10).max(1);
        let mut order: Vec<(bool, i64, String)> = self
            .groups
            .values()
            .map(|g| (g.firing, g.last_seen, g.fingerprint.clone()))
            .collect();
        order.sort();
        for (_, _, fp) in order.into_iter().take(n) {
            self.groups.remove(&fp);
            self.evicted += 1;
        }
    }
}

impl Default for Groups {
    fn default() -> Self {
        Groups::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn settings() -> Settings {
        Settings {
            window_ms: 5 * MIN,
            cooldown_ms: 10 * MIN,
            resolve_ms: 15 * MIN,
            repeat_ms: 60 * MIN,
            max_groups: 100,
            decisions_per_minute: 60,
            max_skew_ms: 60 * MIN,
        }
    }

    fn meta(min: u32) -> Meta {
        Meta {
            category: "network_db".into(),
            signature: Some("NET_RESET".into()),
            policy: "retry".into(),
            severity: "medium".into(),
            summary: "Transient network issue".into(),
            min_count: min,
        }
    }

    fn kinds(v: &[Decision]) -> Vec<&'static str> {
        v.iter().map(|d| d.kind.as_str()).collect()
    }

    #[test]
    fn three_in_the_window_fire_once_then_cooldown() {
        let s = settings();
        let mut g = Groups::new();
        let m = meta(3);
        assert!(g.observe(&s, "f", "c", &m, 0, || "a".to_string()).is_none());
        assert!(g.observe(&s, "f", "c", &m, MIN, || "b".to_string()).is_none());
        let d = g.observe(&s, "f", "c", &m, 2 * MIN, || "c".to_string()).unwrap();
        assert_eq!((d.kind, d.count, d.first_seen_ms), (Kind::Firing, 3, 0));
        assert_eq!(d.samples, ["a", "b", "c"]);
        assert!(
            g.observe(&s, "f", "c", &m, 3 * MIN, || "d".to_string()).is_none(),
            "cooldown"
        );
    }

    #[test]
    fn events_outside_the_window_do_not_add_up() {
        let s = settings();
        let mut g = Groups::new();
        let m = meta(3);
        for t in [0, 4 * MIN, 8 * MIN, 12 * MIN] {
            assert!(
                g.observe(&s, "f", "c", &m, t, || "x".to_string()).is_none(),
                "{t}"
            );
        }
        assert!(g
            .observe(&s, "f", "c", &m, 12 * MIN + 1, || "x".to_string())
            .is_some());
    }

    #[test]
    fn immediate_fires_on_the_first_event() {
        let s = settings();
        let mut g = Groups::new();
        let d = g
            .observe(&s, "o", "oom", &meta(1), 0, || "OOMKilled".to_string())
            .unwrap();
        assert_eq!(d.count, 1);
    }

    #[test]
    fn reminders_carry_the_count_since_the_last_notice_and_quiet_resolves() {
        let s = settings();
        let mut g = Groups::new();
        let m = meta(1);
        assert!(g.observe(&s, "f", "c", &m, 0, || "x".to_string()).is_some());
        let mut t = 0;
        for _ in 0..70 {
            t += MIN;
            g.observe(&s, "f", "c", &m, t, || "x".to_string());
            let d = g.tick(&s, t);
            if !d.is_empty() {
                assert_eq!(kinds(&d), ["reminder"]);
                assert_eq!((t, d[0].count, d[0].reminders), (60 * MIN, 60, 1));
            }
        }
        assert!(g.tick(&s, t + 14 * MIN).is_empty());
        let d = g.tick(&s, t + 15 * MIN);
        assert_eq!(kinds(&d), ["resolved"]);
        assert_eq!(
            (d[0].count, d[0].reminders),
            (71, 1),
            "the episode had one reminder"
        );
        assert!(g.tick(&s, t + 30 * MIN).is_empty(), "once");
        let again = g.observe(&s, "f", "c", &m, t + 60 * MIN, || "x".to_string());
        assert_eq!(again.map(|d| d.reminders), Some(0), "a new episode counts afresh");
    }

    #[test]
    fn flapping_groups_get_longer_quiet_periods() {
        let s = Settings {
            cooldown_ms: 0,
            ..settings()
        };
        let mut g = Groups::new();
        let m = meta(1);
        let mut t = 0;
        let mut resolves = Vec::new();
        for _ in 0..4 {
            g.observe(&s, "f", "c", &m, t, || "x".to_string()).unwrap();
            // Tick every minute until it resolves.
            loop {
                t += MIN;
                if !g.tick(&s, t).is_empty() {
                    resolves.push(t);
                    break;
                }
            }
            t += MIN; // back one minute after its resolve
        }
        let quiet: Vec<i64> = resolves.windows(2).map(|w| (w[1] - w[0]) / MIN).collect();
        assert_eq!(quiet, [31, 61, 121], "{resolves:?}");
    }

    #[test]
    fn the_budget_defers_and_never_drops() {
        let s = Settings {
            decisions_per_minute: 2,
            ..settings()
        };
        let mut g = Groups::new();
        let m = meta(1);
        let mut sent = 0;
        for i in 0..5 {
            sent += g
                .observe(&s, &format!("f{i}"), "c", &m, 0, || "x".to_string())
                .is_some() as usize;
        }
        assert_eq!(sent, 2);
        assert_eq!(g.deferred, 3);
        assert_eq!(g.tick(&s, 30_000).len(), 1, "one token in 30 s");
        assert_eq!(g.tick(&s, 90_000).len(), 2);
        assert!(g.groups.values().all(|x| x.deferred.is_none()));
    }

    #[test]
    fn the_cap_evicts_quiet_groups_first_and_counts() {
        let s = Settings {
            max_groups: 10,
            ..settings()
        };
        let mut g = Groups::new();
        g.observe(&s, "hot", "c", &meta(1), 0, || "x".to_string())
            .unwrap();
        for i in 0..30 {
            g.observe(&s, &format!("q{i}"), "c", &meta(3), i + 1, || "x".to_string());
        }
        assert!(g.groups.len() <= 10);
        assert!(g.groups.contains_key("hot"), "the firing group stays");
        assert_eq!(g.evicted, 21);
    }

    #[test]
    fn a_jumping_clock_does_not_poison_windows() {
        let s = settings();
        let g = Groups::new();
        let read = 1_700_000_000_000;
        assert_eq!(g.event_time(&s, read - 1000, Some(read)), read - 1000);
        assert_eq!(g.event_time(&s, 2_140_000_000_000, Some(read)), read);
        assert_eq!(g.event_time(&s, 0, Some(read)), read);
    }

    #[test]
    fn counts_since_use_five_minute_buckets() {
        let s = settings();
        let mut g = Groups::new();
        for t in [0, 10 * MIN, 20 * MIN, 31 * MIN] {
            g.observe(&s, "f", "c", &meta(100), t, || "x".to_string());
        }
        let grp = &g.groups["f"];
        assert_eq!(grp.count_since(31 * MIN, 31 * MIN - 15 * MIN), 2);
        assert_eq!(grp.count_since(31 * MIN, 0), 4);
        assert_eq!(grp.count_since(31 * MIN, -10 * 60 * MIN), 4);
    }
}

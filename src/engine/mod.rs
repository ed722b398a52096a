//! The signature and cooldown engine: log events in, alert decisions out — on the gateway,
//! offline too (`../shared/docs/signature-engine.md`, docs/ENGINE.md).
//!
//! ```text
//!  event ─> matcher.rs: signature? ──yes──> category, policy ─┐
//!               │ no                                          │
//!               v                                             ├─> canon.rs: canonical form,
//!           allowlist? ──yes──> dropped (noise)               │   fingerprint
//!               │ no                                          │        │
//!               v                                             │        v
//!           error level? ──yes──> "unclassified" ─────────────┘   groups.rs: window, cooldown,
//!                                                                  resolve, reminders, budget
//!                                                                          │
//!                                          decisions ─> store `alerts` class (task.rs)
//! ```
//!
//! [`Engine`] is shared: the log sources' threads call it through [`Inspect`] before they
//! store an event (so the event carries `error_category`, `error_signature`, `error_policy`,
//! `error_summary`, `error_fingerprint` to the store and every sink), and the engine's task
//! ([`task`]) ticks it every second, stores the decisions and keeps the state file
//! ([`state`]). Matching and canonicalization run on the caller's thread without a lock; only
//! the group update takes one. `outpost signatures replay` drives the same [`Engine`] over a
//! file, with the events' own time, so a replay decides what the live agent would have.
//!
//! Loop prevention: the agent's own log (`source = "outpost"`, which carries everything the
//! alert path logs) is never classified.

pub mod canon;
pub mod groups;
pub mod learn;
pub mod matcher;
pub mod replay;
pub mod state;
pub mod stats;
pub mod task;
pub mod view;

use std::sync::{Arc, Mutex};

use self::groups::{Groups, Meta, Settings};
use self::matcher::{Matcher, SlowWork, Verdict};
use self::stats::EngineStats;
use crate::config::signatures::{Canonicalization, SignaturesConfig, GENERIC_CATEGORY};
use crate::model::alert::{Decision, Inspect};
use crate::model::event::{Event, Level, Value, INTERNAL_SOURCE};
use crate::model::redact::Redactor;
use crate::telemetry::lock;

/// Severity and policy of generic ("unclassified") groups.
pub const GENERIC_SEVERITY: &str = "low";
pub const GENERIC_POLICY: &str = "notify";

/// What the engine made of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    /// The matched signature's index in the catalog.
    pub signature: Option<usize>,
    /// Dropped by the allowlist.
    pub noise: bool,
    /// Grouped: category, canonical form and fingerprint (`None` when not grouped: noise,
    /// or below the generic level).
    pub group: Option<(String, String, String)>,
}

pub struct Engine {
    pub cfg: SignaturesConfig,
    matcher: Matcher,
    pub settings: Settings,
    gateway: String,
    redactor: Redactor,
    metas: Vec<Meta>,
    generic: Meta,
    pub groups: Mutex<Groups>,
    /// Decisions made on the sources' threads, for the task to store.
    outbox: Mutex<Vec<Decision>>,
    pub stats: Arc<EngineStats>,
}

impl Engine {
    /// Builds the engine for a checked config; `Err` only if the patterns together exceed the
    /// regex crate's limits.
    pub fn new(cfg: SignaturesConfig, gateway: &str, redact_keys: &[String]) -> Result<Engine, String> {
        let cat = &cfg.catalog;
        let matcher = Matcher::new(cat, cfg.max_scan_bytes)?;
        let ms = |d: std::time::Duration| d.as_millis() as i64;
        let settings = Settings {
            window_ms: ms(cat.window),
            cooldown_ms: ms(cat.cooldown),
            resolve_ms: ms(cfg.resolve_after),
            repeat_ms: ms(cfg.repeat_interval),
            max_groups: cfg.max_fingerprints,
            decisions_per_minute: cfg.max_decisions_per_minute,
            max_skew_ms: ms(cfg.max_clock_skew),
        };
        let metas = cat
            .signatures
            .iter()
            .map(|s| Meta {
                category: s.category.clone(),
                signature: Some(s.id.clone()),
                policy: s.policy.as_str().to_string(),
                severity: s.severity.clone(),
                summary: s.summary.clone(),
                min_count: s.min_count,
            })
            .collect();
        let generic = Meta {
            category: GENERIC_CATEGORY.to_string(),
            signature: None,
            policy: GENERIC_POLICY.to_string(),
            severity: GENERIC_SEVERITY.to_string(),
            summary: "Unclassified error".to_string(),
            min_count: cat.min_count_default,
        };
        let stats = Arc::new(EngineStats::new(&cfg));
        Ok(Engine {
            matcher,
            settings,
            gateway: gateway.to_string(),
            redactor: Redactor::new(redact_keys),
            metas,
            generic,
            groups: Mutex::new(Groups::new()),
            outbox: Mutex::new(Vec::new()),
            stats,
            cfg,
        })
    }

    /// Classifies and canonicalizes one message. `level`: the event's; events below
    /// `generic_min_level` (or without a level) are grouped only when a signature matched,
    /// unless `all_levels`.
    pub fn classify(&self, text: &str, level: Option<Level>, all_levels: bool) -> Classified {
        let mut slow = SlowWork::default();
        let (verdict, family) = self.matcher.classify_with_family(text, &mut slow);
        if slow.runs > 0 {
            self.stats.slow(slow);
        }
        let text = &text[..crate::model::event::floor_char_boundary(text, self.cfg.max_scan_bytes)];
        // `scope`: the signature id ("" for generic groups); learning never merges forms of
        // two different signatures (each is its own problem, named by the catalog).
        let canon = |cat: &str, scope: &str| {
            if let Some(f) = family.map(|i| canon::FAMILIES[i].0) {
                return (cat.to_string(), f.to_string(), canon::fingerprint(cat, f));
            }
            match self.cfg.canonicalization {
                Canonicalization::V1 if self.cfg.learn => {
                    let cased = canon::v1_cased(text);
                    let mut g = lock(&self.groups);
                    let (f, template) = g.learner.assign(cat, scope, &cased, self.cfg.max_fingerprints);
                    (cat.to_string(), template, f)
                }
                version => {
                    let c = canon::generic(version, text);
                    let f = canon::fingerprint(cat, &c);
                    (cat.to_string(), c, f)
                }
            }
        };
        match verdict {
            Verdict::Signature(i) => {
                self.stats.classified(i);
                Classified {
                    signature: Some(i),
                    noise: false,
                    group: Some(canon(
                        &self.metas[i].category,
                        self.metas[i].signature.as_deref().unwrap_or(""),
                    )),
                }
            }
            Verdict::Noise => {
                self.stats.noise();
                Classified {
                    signature: None,
                    noise: true,
                    group: None,
                }
            }
            Verdict::None => {
                let error = level.is_some_and(|l| (l as u8) <= self.cfg.generic_min_level);
                let group = (error || all_levels).then(|| canon(GENERIC_CATEGORY, ""));
                if group.is_some() {
                    self.stats.generic();
                }
                Classified {
                    signature: None,
                    noise: false,
                    group,
                }
            }
        }
    }

    /// The catalog's words for a classified message.
    pub fn meta(&self, c: &Classified) -> &Meta {
        match c.signature {
            Some(i) => &self.metas[i],
            None => &self.generic,
        }
    }

    /// Counts a classified message in its group at event time `t` (`read_ms`: when it was
    /// read, for the clock guard; `None` in replays); the firing decision, if it fired.
    pub fn observe(&self, c: &Classified, text: &str, t: i64, read_ms: Option<i64>) -> Option<Decision> {
        let (_, canonical, fp) = c.group.as_ref()?;
        // Redacted only when kept (cut first: a sample never needs more of the line).
        let sample = || {
            let head = &text[..crate::model::event::floor_char_boundary(text, 4 * groups::SAMPLE_CHARS)];
            self.redactor.text(head).unwrap_or_else(|| head.to_string())
        };
        let meta = self.meta(c);
        let mut g = lock(&self.groups);
        let t = g.event_time(&self.settings, t, read_ms);
        let d = g.observe(&self.settings, fp, canonical, meta, t, sample);
        self.stats.set_live(g.groups.len(), g.evicted, g.deferred);
        drop(g);
        if d.is_some() {
            self.stats.pending.store(2, std::sync::atomic::Ordering::Relaxed);
        }
        d.map(|d| self.finish(d))
    }

    /// Reminders, resolves and deferred decisions due at `now`.
    pub fn tick(&self, now: i64) -> Vec<Decision> {
        let mut g = lock(&self.groups);
        let out = g.tick(&self.settings, now);
        self.stats.set_live(g.groups.len(), g.evicted, g.deferred);
        drop(g);
        out.into_iter().map(|d| self.finish(d)).collect()
    }

    fn finish(&self, mut d: Decision) -> Decision {
        d.gateway = self.gateway.clone();
        d.shadow = self.cfg.shadow;
        self.stats.decided(d.kind);
        d
    }

    /// Takes the decisions made on the sources' threads.
    pub fn take_outbox(&self) -> Vec<Decision> {
        std::mem::take(&mut *lock(&self.outbox))
    }
}

impl Inspect for Engine {
    fn inspect(&self, e: &mut Event) {
        if e.source == INTERNAL_SOURCE {
            return;
        }
        let c = self.classify(&e.message, e.level, false);
        let Some((category, _, fp)) = &c.group else { return };
        let meta = self.meta(&c);
        let mut add = |k: &str, v: &str| e.fields.push((k.to_string(), Value::Str(v.to_string())));
        add("error_category", category);
        if let Some(s) = &meta.signature {
            add("error_signature", s);
        }
        add("error_policy", &meta.policy);
        add("error_summary", &meta.summary);
        add("error_fingerprint", fp);
        if let Some(d) = self.observe(&c, &e.message, e.timestamp_ms, Some(e.ingest_ms)) {
            lock(&self.outbox).push(d);
        }
    }
}

#[cfg(test)]
mod tests;

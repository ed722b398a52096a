//! The engine over recorded input: `outpost signatures replay` and `classify`.
//!
//! A replay feeds events to a fresh [`Engine`] in input order with their own time (an event
//! without a time has the previous one's), ticks it whenever that time moves on by a second
//! or more, and prints one JSON line per decision, or per event (`--emit events`). Nothing is
//! stored and no state file is touched: the same input and catalog give the same output on
//! every machine, which is what makes a catalog change reviewable before it ships.

use std::io::Write;

use serde_json::json;

use super::Engine;
use crate::model::event::Level;

/// One input event.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub time_ms: Option<i64>,
    pub level: Option<Level>,
    pub message: String,
    pub operation: Option<String>,
}

/// What to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    Decisions,
    Events,
}

/// Counts for the closing summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    pub events: u64,
    pub grouped: u64,
    pub noise: u64,
    pub decisions: u64,
}

/// Runs `input` through `engine`, writing JSON lines to `out`. `start_ms` is the time of
/// events before the first one that has a time.
pub fn replay(
    engine: &Engine,
    input: impl Iterator<Item = Input>,
    emit: Emit,
    all_levels: bool,
    start_ms: i64,
    out: &mut dyn Write,
) -> std::io::Result<Summary> {
    let mut sum = Summary::default();
    let mut now = start_ms;
    let mut last_tick = i64::MIN;
    for ev in input {
        sum.events += 1;
        if let Some(t) = ev.time_ms {
            now = t;
        }
        if emit == Emit::Decisions && now >= last_tick.saturating_add(1000) {
            for d in engine.tick(now) {
                sum.decisions += 1;
                writeln!(out, "{}", d.to_json())?;
            }
            last_tick = now;
        }
        let c = engine.classify(&ev.message, ev.level, all_levels);
        sum.noise += c.noise as u64;
        sum.grouped += c.group.is_some() as u64;
        let decision = engine.observe(&c, &ev.message, now, None);
        match emit {
            Emit::Events => {
                let sig = c.signature.map(|i| &engine.cfg.catalog.signatures[i]);
                let (category, canonical, fingerprint) = match &c.group {
                    Some((a, b, f)) => (Some(a.as_str()), Some(b.as_str()), Some(f.as_str())),
                    None => (None, None, None),
                };
                let mut v = json!({
                    "line": sum.events,
                    "fingerprint": fingerprint,
                    "canonical": canonical,
                    "category": category,
                    "signature": sig.map(|s| s.id.as_str()),
                    "dropped": c.noise,
                });
                if let Some(op) = &ev.operation {
                    v["operation"] = json!(op);
                }
                writeln!(out, "{v}")?;
            }
            Emit::Decisions => {
                if let Some(d) = decision {
                    sum.decisions += 1;
                    writeln!(out, "{}", d.to_json())?;
                }
            }
        }
    }
    Ok(sum)
}

/// The spec's `classify_error`: category, signature, summary, severity and policy of one
/// message, or `None` when no signature matches.
pub fn classify(engine: &Engine, message: &str, operation: Option<&str>) -> Option<serde_json::Value> {
    let c = engine.classify(message, None, false);
    let i = c.signature?;
    let s = &engine.cfg.catalog.signatures[i];
    let (_, canonical, fingerprint) = c.group?;
    Some(json!({
        "category": s.category,
        "signature": s.id,
        "summary": s.summary,
        "severity": s.severity,
        "policy": s.policy.as_str(),
        "fingerprint": fingerprint,
        "canonical": canonical,
        "operation": operation,
    }))
}

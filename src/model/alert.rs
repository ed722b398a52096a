//! Alert decisions: what the signature engine decided about a group of errors, as the store's
//! `alerts` class keeps it and alert sinks read it.
//!
//! A decision is self-contained (a sink needs nothing else to render it): the group's
//! fingerprint, category, signature, policy, severity, summary, the count it speaks for, the
//! first and last time the group was seen and up to five redacted samples. Stored as postcard
//! bytes behind a format byte, like [`super::event::Event`]. `fingerprint + kind +
//! first_seen_ms` identifies a decision: a sink that delivers at least once sends it as the
//! de-duplication key.
//!
//! [`Inspect`] is how the engine sees events without the sources knowing it: the runtime hands
//! the log sources an inspector, and each event passes through it before it is stored, so
//! classified events carry their `error_*` fields into the store and every sink.

use serde::{Deserialize, Serialize};

use super::event::Event;

/// First byte of every stored decision: the layout version.
pub const DECISION_FORMAT: u8 = 1;

/// At most this many samples per group and decision.
pub const MAX_SAMPLES: usize = 5;

/// What happened to a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    /// The group reached its count inside the window (or is immediate): alert.
    Firing,
    /// Still firing after `repeat_interval`: the count since the last notice.
    Reminder,
    /// No event for `resolve_after`: the condition is over.
    Resolved,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Firing => "firing",
            Kind::Reminder => "reminder",
            Kind::Resolved => "resolved",
        }
    }
}

/// One decision of the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub kind: Kind,
    pub fingerprint: String,
    pub category: String,
    /// `None` for generic groups (no signature matched).
    pub signature: Option<String>,
    pub policy: String,
    pub severity: String,
    pub summary: String,
    /// Firing: events in the window; reminder: events since the last notice; resolved:
    /// events of the whole episode.
    pub count: u64,
    /// When this episode of the group started (the first event that counted), event time.
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// When the engine decided (event time; the engine's clock).
    pub decided_ms: i64,
    pub canonical: String,
    /// Up to [`MAX_SAMPLES`] recent messages, redacted and cut.
    pub samples: Vec<String>,
    /// Reminders in this episode: 0 for a firing, n for the n-th reminder, and for a resolve
    /// how many reminders the episode had (a `retry` group is announced from its first
    /// reminder on, so its resolve is sent only when that happened).
    pub reminders: u32,
    pub gateway: String,
    /// Decided while `[signatures] shadow = true`: recorded, never sent.
    pub shadow: bool,
}

impl Decision {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(&(DECISION_FORMAT, self)).expect("encoding into a Vec cannot fail")
    }

    pub fn decode(bytes: &[u8]) -> Result<Decision, String> {
        match bytes.split_first() {
            Some((&DECISION_FORMAT, rest)) => postcard::from_bytes(rest).map_err(|e| e.to_string()),
            Some((v, _)) => Err(format!("unknown decision format {v}")),
            None => Err("empty decision record".into()),
        }
    }

    /// The de-duplication key receivers can use.
    pub fn key(&self) -> String {
        format!(
            "{}:{}:{}",
            self.fingerprint,
            self.kind.as_str(),
            self.first_seen_ms
        )
    }

    /// The JSON form (`outpost signatures replay`, `outpost store export`, alert sinks).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": self.kind.as_str(),
            "fingerprint": self.fingerprint,
            "category": self.category,
            "signature": self.signature,
            "policy": self.policy,
            "severity": self.severity,
            "summary": self.summary,
            "count": self.count,
            "first_seen": super::event::rfc3339_ms(self.first_seen_ms),
            "last_seen": super::event::rfc3339_ms(self.last_seen_ms),
            "decided_at": super::event::rfc3339_ms(self.decided_ms),
            "canonical": self.canonical,
            "samples": self.samples,
            "reminders": self.reminders,
            "gateway": self.gateway,
            "shadow": self.shadow,
            "key": self.key(),
        })
    }
}

/// Sees every log event before it is stored, and may add fields to it.
pub trait Inspect: Send + Sync {
    fn inspect(&self, event: &mut Event);
}

/// The inspector the log sources call, swappable while they run (the engine is replaced when
/// its config changes; the sources keep reading).
#[derive(Default, Clone)]
pub struct InspectSlot(std::sync::Arc<std::sync::RwLock<Option<std::sync::Arc<dyn Inspect>>>>);

impl InspectSlot {
    pub fn set(&self, i: Option<std::sync::Arc<dyn Inspect>>) {
        match self.0.write() {
            Ok(mut g) => *g = i,
            Err(p) => *p.into_inner() = i,
        }
    }

    /// Empties the slot if it still holds `i`; whether it did.
    pub fn clear_if(&self, i: &std::sync::Arc<dyn Inspect>) -> bool {
        let mut g = match self.0.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if g.as_ref().is_some_and(|cur| std::sync::Arc::ptr_eq(cur, i)) {
            *g = None;
            true
        } else {
            false
        }
    }

    pub fn get(&self) -> Option<std::sync::Arc<dyn Inspect>> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_round_trip() {
        let d = Decision {
            kind: Kind::Firing,
            fingerprint: "5954dd8cf706".into(),
            category: "network_db".into(),
            signature: Some("NET_RESET".into()),
            policy: "retry".into(),
            severity: "medium".into(),
            summary: "Transient network issue".into(),
            count: 3,
            first_seen_ms: 1_000,
            last_seen_ms: 2_000,
            decided_ms: 2_000,
            canonical: "network_reset".into(),
            samples: vec!["socket hang up".into()],
            reminders: 0,
            gateway: "gw".into(),
            shadow: false,
        };
        assert_eq!(Decision::decode(&d.encode()).unwrap(), d);
        assert_eq!(d.key(), "5954dd8cf706:firing:1000");
        assert!(Decision::decode(&[9, 1]).is_err());
    }
}

//! Which decisions a sink sends: the policy rules and the per-sink filters, in one pure
//! function every alert sink (and the MQTT uplink's `alerts` topic) applies the same way.
//!
//! In this order:
//! 1. a decision recorded in shadow mode, or any decision while `[signatures] shadow` is on,
//!    is never sent (`shadow`);
//! 2. a sink with `enabled = false` sends nothing (`disabled`);
//! 3. policy `escalate` goes to every enabled sink, past its filters (`escalation_only`,
//!    `min_severity`, `categories` do not apply): it is what those sinks exist for;
//! 4. policy `retry`, on a sink with `retry_policy = "hold"` (the default of Slack, Telegram
//!    and exec: people and devices), is recorded (stored, counted, shown in `/errors`) but
//!    announced only when the group keeps firing past `repeat_interval`: its `firing`
//!    decision is held (`retry_policy`), its reminders are sent, and its `resolved` is sent
//!    only when the episode had a reminder (else nobody was told it fired). Alertmanager and
//!    MQTT default to `retry_policy = "send"`: they are machine receivers that route on the
//!    `policy` label/field themselves (an Alertmanager route can send `policy="retry"` to a
//!    quiet receiver), so they get every decision;
//! 5. an `escalation_only` sink takes nothing but `escalate` (`escalation_only`);
//! 6. `min_severity` (`severity`) and `categories` (`category`) filter the rest.
//!
//! A decision not sent is acknowledged for that sink and counted in
//! `outpost_alerts_sent_total{result=<reason>}`; it stays in the store for the others.

use std::sync::{Arc, RwLock};

use crate::config::alerts::Route;
use crate::config::signatures::SEVERITIES;
use crate::model::alert::{Decision, Kind};

/// Whether a decision goes to a sink, or why not (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Send,
    Skip(&'static str),
}

pub fn admit(route: &Route, shadow: bool, d: &Decision) -> Verdict {
    if shadow || d.shadow {
        return Verdict::Skip("shadow");
    }
    if !route.enabled {
        return Verdict::Skip("disabled");
    }
    if d.policy == "escalate" {
        return Verdict::Send;
    }
    if d.policy == "retry" && route.hold_retry {
        match d.kind {
            Kind::Firing => return Verdict::Skip("retry_policy"),
            Kind::Resolved if d.reminders == 0 => return Verdict::Skip("retry_policy"),
            _ => {}
        }
    }
    if route.escalation_only {
        return Verdict::Skip("escalation_only");
    }
    // An unknown severity (a catalog from a newer version) counts as the least severe.
    let rank = SEVERITIES
        .iter()
        .position(|s| *s == d.severity)
        .unwrap_or(SEVERITIES.len() - 1);
    if rank > route.min_severity {
        return Verdict::Skip("severity");
    }
    if !route.categories.is_empty() && !route.categories.contains(&d.category) {
        return Verdict::Skip("category");
    }
    Verdict::Send
}

/// The MQTT uplink's route for `<prefix>/<id>/alerts`, set by the `alerts` component (which a
/// changed `[alerts]` restarts) and read by the uplink for each batch, so a routing change
/// does not reconnect the uplink.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    pub route: Route,
    pub shadow: bool,
}

#[derive(Clone, Default)]
pub struct AlertGate(Arc<RwLock<Gate>>);

impl AlertGate {
    pub fn set(&self, g: Gate) {
        match self.0.write() {
            Ok(mut w) => *w = g,
            Err(p) => *p.into_inner() = g,
        }
    }

    pub fn get(&self) -> Gate {
        match self.0.read() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(kind: Kind, policy: &str, severity: &str, reminders: u32) -> Decision {
        let mut d = super::super::test_decision(kind, "f");
        (d.policy, d.severity, d.reminders) = (policy.into(), severity.into(), reminders);
        d
    }

    #[test]
    fn the_rules_in_order() {
        let all = Route {
            hold_retry: true,
            ..Route::default()
        };
        let machine = Route::default();
        let pager = Route {
            escalation_only: true,
            ..Route::default()
        };
        let high = Route {
            min_severity: 1,
            categories: vec!["oom".into()],
            ..Route::default()
        };
        let off = Route {
            enabled: false,
            ..Route::default()
        };
        use Kind::*;
        use Verdict::*;
        let cases = [
            (&all, false, d(Firing, "notify", "low", 0), Send),
            (&all, true, d(Firing, "escalate", "critical", 0), Skip("shadow")),
            (
                &off,
                false,
                d(Firing, "escalate", "critical", 0),
                Skip("disabled"),
            ),
            (&pager, false, d(Firing, "escalate", "low", 0), Send),
            (&high, false, d(Firing, "escalate", "low", 0), Send),
            (
                &pager,
                false,
                d(Firing, "notify", "critical", 0),
                Skip("escalation_only"),
            ),
            (&all, false, d(Firing, "retry", "high", 0), Skip("retry_policy")),
            (&machine, false, d(Firing, "retry", "high", 0), Send),
            (&machine, false, d(Resolved, "retry", "high", 0), Send),
            (&all, false, d(Reminder, "retry", "high", 1), Send),
            (&all, false, d(Resolved, "retry", "high", 0), Skip("retry_policy")),
            (&all, false, d(Resolved, "retry", "high", 2), Send),
            (
                &pager,
                false,
                d(Reminder, "retry", "high", 1),
                Skip("escalation_only"),
            ),
            (&high, false, d(Firing, "notify", "medium", 0), Skip("severity")),
            (&high, false, d(Firing, "notify", "high", 0), Skip("category")),
            (&high, false, d(Firing, "notify", "nonsense", 0), Skip("severity")),
        ];
        for (i, (route, shadow, dec, want)) in cases.into_iter().enumerate() {
            assert_eq!(admit(route, shadow, &dec), want, "case {i}");
        }
        let mut oom = d(Firing, "notify", "high", 0);
        oom.category = "oom".into();
        assert_eq!(admit(&high, false, &oom), Send);
    }
}

//! The "top errors" view: the groups seen in a time window, most frequent first, with count,
//! category, policy, severity, fingerprint, first/last seen and up to five redacted samples.
//!
//! The running agent serves it at `GET /errors?since=30m[&limit=N]` on its local endpoint;
//! `outpost errors` reads that, or the state file of a stopped agent — the same function
//! renders both, so they cannot disagree.

use std::sync::Arc;

use serde_json::{json, Value};

use super::groups::Groups;
use super::Engine;
use crate::config::units::parse_duration;
use crate::model::event::rfc3339_ms;
use crate::telemetry::{lock, View};

/// The view's query: `since` (a duration, default 30m) and `limit` (default 20).
pub fn parse_query(q: &str) -> Result<(i64, usize), String> {
    let mut since = 30 * 60_000;
    let mut limit = 20;
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "since" => since = parse_duration(v).map_err(|e| format!("since: {e}"))?.as_millis() as i64,
            "limit" => {
                limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or("limit: a number from 1 to 1000")?
            }
            other => return Err(format!("unknown parameter {other:?} (since, limit)")),
        }
    }
    Ok((since, limit))
}

/// The view of `groups` at `now` over the last `since` ms.
pub fn top(groups: &Groups, now: i64, since: i64, limit: usize, header: Value) -> Value {
    let from = now - since;
    let mut rows: Vec<(u64, &super::groups::Group)> = groups
        .groups
        .values()
        .filter(|g| g.last_seen >= from)
        .map(|g| (g.count_since(now, from), g))
        .filter(|(n, _)| *n > 0)
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.last_seen.cmp(&a.1.last_seen)));
    let total = rows.len();
    let list: Vec<Value> = rows
        .into_iter()
        .take(limit)
        .map(|(n, g)| {
            json!({
                "fingerprint": g.fingerprint,
                "count": n,
                "total": g.total,
                "category": g.meta.category,
                "signature": g.meta.signature,
                "policy": g.meta.policy,
                "severity": g.meta.severity,
                "summary": g.meta.summary,
                "canonical": g.canonical,
                "firing": g.firing,
                "first_seen": rfc3339_ms(g.first_seen),
                "last_seen": rfc3339_ms(g.last_seen),
                "samples": g.samples.iter().collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut v = header;
    if let Value::Object(m) = &mut v {
        m.insert("now".into(), json!(rfc3339_ms(now)));
        m.insert("since_seconds".into(), json!(since / 1000));
        m.insert("groups_in_window".into(), json!(total));
        m.insert("groups".into(), Value::Array(list));
    }
    v
}

/// The running engine's view for the local endpoint.
pub struct ErrorsView(pub Arc<Engine>);

impl View for ErrorsView {
    fn render(&self, query: &str) -> Result<String, String> {
        let (since, limit) = parse_query(query)?;
        let e = &self.0;
        let g = lock(&e.groups);
        let now = crate::model::now_ms().max(g.clock);
        let header = json!({
            "catalog": e.cfg.catalog.origin,
            "canonicalization": e.cfg.canonicalization.as_str(),
            "shadow": e.cfg.shadow,
            "source": "running agent",
        });
        Ok(top(&g, now, since, limit, header).to_string())
    }
}

/// Renders a view as text for a terminal.
pub fn text(v: &Value) -> String {
    let mut out = String::new();
    let groups = v["groups"].as_array().cloned().unwrap_or_default();
    out.push_str(&format!(
        "{} group(s) in the last {} s ({}; catalog {})\n",
        v["groups_in_window"],
        v["since_seconds"],
        v["source"].as_str().unwrap_or(""),
        v["catalog"].as_str().unwrap_or("?"),
    ));
    if v["shadow"] == json!(true) {
        out.push_str("shadow mode: decisions are recorded, nothing is sent\n");
    }
    for g in groups {
        out.push_str(&format!(
            "\n{:>6}  {}  {}/{}  policy={} severity={}{}\n        {}\n        first {}  last {}\n",
            g["count"],
            g["fingerprint"].as_str().unwrap_or(""),
            g["category"].as_str().unwrap_or(""),
            g["signature"].as_str().unwrap_or("-"),
            g["policy"].as_str().unwrap_or(""),
            g["severity"].as_str().unwrap_or(""),
            if g["firing"] == json!(true) {
                "  FIRING"
            } else {
                ""
            },
            g["summary"].as_str().unwrap_or(""),
            g["first_seen"].as_str().unwrap_or(""),
            g["last_seen"].as_str().unwrap_or(""),
        ));
        for s in g["samples"].as_array().into_iter().flatten() {
            out.push_str(&format!("        | {}\n", s.as_str().unwrap_or("")));
        }
    }
    out
}

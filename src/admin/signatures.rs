//! The signature engine's operator commands: `outpost signatures replay|classify|check` and
//! `outpost errors`.
//!
//! `replay` and `classify` need no running agent and no log source: they read a catalog
//! (`--signatures FILE`, or the config's `[signatures]`) and lines from a file or stdin —
//! plain lines (a leading timestamp and level word are found as the `plain` log format finds
//! them) or JSON lines with `ts`/`timestamp`, `message`/`error`/`event`, `level` and
//! `operation`. `errors` asks the running agent (`GET /errors` on its local endpoint), or
//! reads the state file of a stopped one.

use std::io::BufRead;
use std::path::Path;

use crate::config::signatures::{self, RawGrouping, RawSignatures, SignaturesConfig};
use crate::config::{Config, Problems};
use crate::engine::replay::{self, Emit, Input, Summary};
use crate::engine::state::{self, Loaded};
use crate::engine::{view, Engine};
use crate::model::event::Level;
use crate::sources::logs::parse;

/// The catalog a tool runs with: `--signatures`/`--grouping`/`--canonicalization`/
/// `--no-learn`, or the config's `[signatures]`.
pub fn settings(
    catalog: Option<&Path>,
    grouping: Option<&Path>,
    canonicalization: Option<&str>,
    no_learn: bool,
    cfg: Option<&Config>,
) -> Result<SignaturesConfig, String> {
    let mut p = Problems::default();
    let resolved = match catalog {
        Some(c) => {
            let raw = RawSignatures {
                catalog_file: Some(c.display().to_string()),
                grouping_file: grouping.map(|g| g.display().to_string()),
                grouping: grouping.is_none().then(RawGrouping::default),
                canonicalization: canonicalization.map(str::to_string),
                learn: no_learn.then_some(false),
                ..Default::default()
            };
            signatures::resolve(&mut p, Some(&raw), None)
        }
        None => match cfg.and_then(|c| c.signatures.clone()) {
            Some(mut s) => {
                if let Some(v) = canonicalization {
                    match signatures::Canonicalization::parse(v) {
                        Some(c) => s.canonicalization = c,
                        None => p.add("--canonicalization", format!("{v:?}: use spec or v1")),
                    }
                }
                s.learn &= !no_learn;
                Some(s)
            }
            None => {
                return Err(
                    "no catalog: give --signatures FILE, or a config (--config) with [signatures]".into(),
                )
            }
        },
    };
    match resolved {
        Some(s) if p.is_empty() => Ok(s),
        _ => Err(format!("invalid catalog:\n{p}")),
    }
}

/// Parses one input line.
pub fn input(line: &str, now_ms: i64) -> Input {
    let t = line.trim_end_matches(['\r', '\n']);
    if t.starts_with('{') {
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(t) {
            let text = |k: &str| m.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let time_ms = ["ts", "timestamp", "time", "@timestamp"]
                .iter()
                .find_map(|k| m.get(*k))
                .and_then(|v| match v {
                    serde_json::Value::Number(n) => n.as_f64().and_then(parse::epoch),
                    serde_json::Value::String(s) => parse::rfc3339(s).map(|(t, _)| t),
                    _ => None,
                });
            let message = ["message", "error", "event", "msg"]
                .iter()
                .find_map(|k| match m.get(*k) {
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(v @ serde_json::Value::Object(_)) => Some(v.to_string()),
                    _ => None,
                })
                .unwrap_or_default();
            return Input {
                time_ms,
                level: text("level").and_then(|l| Level::from_word(&l)),
                message,
                operation: text("operation"),
            };
        }
    }
    let p = parse::parse(crate::config::logs::Format::Plain, t, now_ms);
    Input {
        time_ms: p.timestamp_ms,
        level: p.level,
        message: p.message.unwrap_or_else(|| t.to_string()),
        operation: None,
    }
}

/// `outpost signatures replay`.
pub fn run_replay(
    sc: SignaturesConfig,
    source: Option<&Path>,
    emit: Emit,
    all_levels: bool,
    out: &mut dyn std::io::Write,
) -> Result<Summary, String> {
    let engine = Engine::new(sc, "replay", &[]).map_err(|e| format!("invalid catalog: {e}"))?;
    let reader: Box<dyn BufRead> = match source {
        None => Box::new(std::io::stdin().lock()),
        Some(p) if p == Path::new("-") => Box::new(std::io::stdin().lock()),
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?,
        )),
    };
    let start = crate::model::now_ms();
    let mut failed = None;
    let lines = reader.split(b'\n').map_while(|l| match l {
        Ok(b) => Some(b),
        Err(e) => {
            failed = Some(e);
            None
        }
    });
    // Invalid UTF-8 is replaced, as the log sources do.
    let inputs = lines.map(|b| input(&String::from_utf8_lossy(&b), start));
    let sum = replay::replay(&engine, inputs, emit, all_levels, start, out)
        .map_err(|e| format!("cannot write: {e}"))?;
    match failed {
        Some(e) => Err(format!("reading the input failed: {e}")),
        None => Ok(sum),
    }
}

/// `outpost signatures check FILE…`: each file is a catalog, or a grouping file (it has none
/// of a catalog's keys). Returns whether all are valid, and the report.
pub fn check(files: &[std::path::PathBuf]) -> (bool, String) {
    let mut ok = true;
    let mut out = String::new();
    for f in files {
        // A file that reads as a grouping file is one (a catalog has keys a grouping file
        // refuses); anything else is checked, and reported on, as a catalog.
        let is_grouping = signatures::read_file::<RawGrouping>(f).is_ok();
        let mut p = Problems::default();
        let verdict = if is_grouping {
            match signatures::read_file::<RawGrouping>(f) {
                Ok(g) => {
                    // Immediate categories cannot be checked without the catalog.
                    signatures::check_grouping(&mut p, "grouping ", &g);
                    "grouping file".to_string()
                }
                Err(e) => {
                    p.add("", e);
                    String::new()
                }
            }
        } else {
            match signatures::read_file::<signatures::RawCatalog>(f) {
                Ok(c) => {
                    let g = RawGrouping::default();
                    match signatures::check_catalog(&mut p, "", &c, &g, String::new()) {
                        Some(cat) => format!(
                            "catalog: {} signatures in {} categories, {} allowlist entries",
                            cat.signatures.len(),
                            cat.categories.len(),
                            cat.allowlist.len()
                        ),
                        None => String::new(),
                    }
                }
                Err(e) => {
                    p.add("", e);
                    String::new()
                }
            }
        };
        if p.is_empty() {
            out.push_str(&format!("{}: valid {verdict}\n", f.display()));
        } else {
            ok = false;
            out.push_str(&format!("{}: invalid:\n{p}\n", f.display()));
        }
    }
    (ok, out)
}

/// `outpost errors`: the running agent's view, or the stopped agent's state file.
pub fn errors(cfg: &Config, since: &str, limit: usize) -> Result<serde_json::Value, String> {
    let query = format!("since={since}&limit={limit}");
    let (since_ms, limit) = view::parse_query(&query)?;
    if cfg.metrics.enabled {
        let addr = cfg.metrics.listen.to_string();
        match super::fetch(&addr, &format!("/errors?{query}")) {
            Ok(body) => {
                return serde_json::from_str(&body).map_err(|e| format!("bad answer from {addr}: {e}"))
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(format!("the agent at {addr} answered: {e}")),
        }
    }
    let dir = &cfg.agent.data_dir;
    let groups = match state::load(dir) {
        Loaded::Restored(g) => *g,
        Loaded::Fresh => {
            return Err(format!(
                "no running agent answered and {} has no engine state",
                dir.display()
            ))
        }
        Loaded::Damaged(why) => return Err(why),
    };
    let header = serde_json::json!({
        "catalog": cfg.signatures.as_ref().map(|s| s.catalog.origin.clone()),
        "canonicalization": cfg.signatures.as_ref().map(|s| s.canonicalization.as_str()),
        "shadow": cfg.signatures.as_ref().is_some_and(|s| s.shadow),
        "source": format!("stopped agent, {}", state::path(dir).display()),
    });
    let now = groups.clock.max(0);
    Ok(view::top(&groups, now, since_ms, limit, header))
}

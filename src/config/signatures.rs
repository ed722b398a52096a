//! `[signatures]`, resolved: the alert engine's catalog, grouping and tunables, checked.
//!
//! The catalog (`error_signatures.yml`) and the grouping file (`alerts.yml`) have exactly the
//! shapes of `../shared/docs/signature-engine.md`; YAML or JSON, found by path (relative paths
//! are relative to the config file), or written inline as `[signatures.catalog]` and
//! `[signatures.grouping]` (which is also how remote config carries them). Loading is all or
//! nothing: every problem (unknown key, bad regex, duplicate id, unknown policy or severity,
//! an immediate category that does not exist) is reported with the file and the key path
//! (`categories.network_db.signatures[0].pattern`), and nothing half-loads.
//!
//! Patterns are checked here the way the engine will run them: by the `regex` crate when it
//! can, else (look-around, back-references) by `fancy-regex`. The engine compiles the checked
//! catalog into its matchers (`engine::matcher`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::check::{count, duration};
use super::Problems;

/// Default catalog and grouping paths, relative to the config file's folder (the spec's
/// `ERROR_SIGNATURES_PATH` / `ALERTS_GROUPING_CONFIG` defaults).
pub const DEFAULT_CATALOG: &str = "config/error_signatures.yml";
pub const DEFAULT_GROUPING: &str = "config/alerts.yml";

/// The largest catalog or grouping file read.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The category of error events no signature matched (and the allowlist did not drop).
pub const GENERIC_CATEGORY: &str = "unclassified";

/// Severities a signature may have, most severe first.
pub const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

/// A map that keeps the order it was written in (YAML and JSON files): when a line matches
/// signatures of several categories, the earlier one wins.
#[derive(Debug, Clone, Default)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V2<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of category names to categories")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, V>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V2(std::marker::PhantomData))
    }
}

/// The catalog as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCatalog {
    #[serde(default)]
    pub noise_allowlist: Vec<String>,
    #[serde(default)]
    pub categories: Ordered<RawCategory>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCategory {
    pub default_policy: Option<String>,
    /// Extension: events needed inside the window for this category (else `min_count_default`).
    pub min_count: Option<u64>,
    #[serde(default)]
    pub signatures: Vec<RawSignature>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignature {
    pub id: Option<String>,
    pub pattern: Option<String>,
    pub severity: Option<String>,
    pub summary: Option<String>,
    /// Extension: overrides the category's `default_policy`.
    pub policy: Option<String>,
    /// Extension: overrides the category's and the default `min_count`.
    pub min_count: Option<u64>,
}

/// The grouping file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrouping {
    pub window_minutes: Option<f64>,
    pub min_count_default: Option<u64>,
    pub cooldown_minutes: Option<f64>,
    pub immediate_categories: Option<Vec<String>>,
}

/// What a classified event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Policy {
    Retry,
    Notify,
    Escalate,
}

impl Policy {
    pub fn parse(s: &str) -> Option<Policy> {
        match s {
            "retry" => Some(Policy::Retry),
            "notify" => Some(Policy::Notify),
            "escalate" => Some(Policy::Escalate),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Retry => "retry",
            Policy::Notify => "notify",
            Policy::Escalate => "escalate",
        }
    }
}

/// One checked signature.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub id: String,
    pub category: String,
    pub pattern: String,
    pub severity: String,
    pub summary: String,
    pub policy: Policy,
    pub min_count: u32,
    /// Whether the category alerts on the first event.
    pub immediate: bool,
}

/// The checked catalog and grouping, in the catalog's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    pub allowlist: Vec<String>,
    pub signatures: Vec<Signature>,
    pub categories: Vec<String>,
    pub window: Duration,
    pub min_count_default: u32,
    pub cooldown: Duration,
    pub immediate: Vec<String>,
    /// Where it came from, for `check-config` and the start-up log.
    pub origin: String,
}

/// How messages become canonical forms (docs/ENGINE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canonicalization {
    /// The spec's generic form: hex → `0x?`, numbers → `#`, 200 characters, lower case.
    Spec,
    /// Typed masks (addresses, ids, paths, durations, quoted and key=value values, numbers
    /// inside tokens) before the spec's steps.
    V1,
}

impl Canonicalization {
    pub fn parse(s: &str) -> Option<Canonicalization> {
        match s {
            "spec" => Some(Canonicalization::Spec),
            "v1" => Some(Canonicalization::V1),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Canonicalization::Spec => "spec",
            Canonicalization::V1 => "v1",
        }
    }
}

/// `[signatures]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignatures {
    pub enabled: Option<bool>,
    pub shadow: Option<bool>,
    /// Path of the catalog (default `config/error_signatures.yml` next to the config file).
    pub catalog_file: Option<String>,
    pub grouping_file: Option<String>,
    /// The catalog inline (instead of `catalog_file`).
    pub catalog: Option<RawCatalog>,
    /// The grouping inline (instead of `grouping_file`).
    pub grouping: Option<RawGrouping>,
    /// `spec` or `v1` (default).
    pub canonicalization: Option<String>,
    /// Learn variable words where the masks leave them (Drain-style; default true; `v1` only).
    pub learn: Option<bool>,
    /// Lowest level whose unmatched events are grouped generically (default `error`).
    pub generic_min_level: Option<String>,
    /// Distinct fingerprints kept (least recently seen evicted beyond).
    pub max_fingerprints: Option<u32>,
    /// Decisions per minute, all groups together; more wait for the next minute.
    pub max_decisions_per_minute: Option<u32>,
    /// A firing group with no event for this long is resolved.
    pub resolve_after: Option<String>,
    /// A still-firing group is reminded of this often.
    pub repeat_interval: Option<String>,
    /// Events whose time is further than this from when they were read use the read time.
    pub max_clock_skew: Option<String>,
    /// How often changed state is written to the data directory (decisions: at once).
    pub state_interval: Option<String>,
    /// Bytes of a message that are matched and canonicalized.
    pub max_scan_bytes: Option<String>,
}

/// `[signatures]`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct SignaturesConfig {
    pub shadow: bool,
    pub catalog: Catalog,
    pub canonicalization: Canonicalization,
    pub learn: bool,
    /// Syslog severity number: events at this level or more severe are grouped generically.
    pub generic_min_level: u8,
    pub max_fingerprints: usize,
    pub max_decisions_per_minute: u32,
    pub resolve_after: Duration,
    pub repeat_interval: Duration,
    pub max_clock_skew: Duration,
    pub state_interval: Duration,
    pub max_scan_bytes: usize,
}

/// Resolves `[signatures]`: `None` when the engine is off (no section and no catalog at the
/// default path, or `enabled = false`).
pub fn resolve(
    p: &mut Problems,
    raw: Option<&RawSignatures>,
    config_dir: Option<&Path>,
) -> Option<SignaturesConfig> {
    let default_raw = RawSignatures::default();
    let present = raw.is_some();
    let s = raw.unwrap_or(&default_raw);
    if s.enabled == Some(false) {
        return None;
    }
    let base = config_dir.map(Path::to_path_buf).unwrap_or_default();
    let catalog_path = base.join(s.catalog_file.as_deref().unwrap_or(DEFAULT_CATALOG));
    if !present && !catalog_path.exists() {
        return None;
    }
    // Inline content wins over a file: that is how a remote config replaces the local
    // catalog.
    let catalog = if let Some(c) = &s.catalog {
        Some((c.clone(), "inline [signatures.catalog]".to_string()))
    } else {
        match read_file::<RawCatalog>(&catalog_path) {
            Ok(c) => Some((c, catalog_path.display().to_string())),
            Err(e) => {
                p.add("signatures.catalog_file", e);
                None
            }
        }
    };
    let grouping = if let Some(g) = &s.grouping {
        Some(g.clone())
    } else {
        let path = base.join(s.grouping_file.as_deref().unwrap_or(DEFAULT_GROUPING));
        if s.grouping_file.is_none() && !path.exists() {
            Some(RawGrouping::default())
        } else {
            match read_file::<RawGrouping>(&path) {
                Ok(g) => Some(g),
                Err(e) => {
                    p.add("signatures.grouping_file", e);
                    None
                }
            }
        }
    };
    let canonicalization = match s.canonicalization.as_deref() {
        None => Canonicalization::V1,
        Some(v) => Canonicalization::parse(v).unwrap_or_else(|| {
            p.add(
                "signatures.canonicalization",
                format!("{v:?} is not a canonicalization: use \"spec\" or \"v1\""),
            );
            Canonicalization::V1
        }),
    };
    let generic_min_level = match s.generic_min_level.as_deref() {
        None => 3,
        Some(v) => crate::model::event::Level::from_word(v)
            .map(|l| l as u8)
            .unwrap_or_else(|| {
                p.add(
                    "signatures.generic_min_level",
                    format!("{v:?} is not a level (emergency … debug)"),
                );
                3
            }),
    };
    let minute = Duration::from_secs(60);
    let cfg = SignaturesConfig {
        shadow: s.shadow.unwrap_or(false),
        catalog: Catalog::default_empty(),
        canonicalization,
        learn: s.learn.unwrap_or(true),
        generic_min_level,
        max_fingerprints: count(
            p,
            "signatures.max_fingerprints",
            s.max_fingerprints,
            5000,
            10,
            1_000_000,
        ),
        max_decisions_per_minute: count(
            p,
            "signatures.max_decisions_per_minute",
            s.max_decisions_per_minute,
            60,
            1,
            100_000,
        ) as u32,
        resolve_after: duration(
            p,
            "signatures.resolve_after",
            s.resolve_after.as_deref(),
            15 * minute,
            minute,
            7 * 24 * 60 * minute,
        ),
        repeat_interval: duration(
            p,
            "signatures.repeat_interval",
            s.repeat_interval.as_deref(),
            60 * minute,
            minute,
            7 * 24 * 60 * minute,
        ),
        max_clock_skew: duration(
            p,
            "signatures.max_clock_skew",
            s.max_clock_skew.as_deref(),
            60 * minute,
            minute,
            7 * 24 * 60 * minute,
        ),
        state_interval: duration(
            p,
            "signatures.state_interval",
            s.state_interval.as_deref(),
            Duration::from_secs(5),
            Duration::from_millis(100),
            10 * minute,
        ),
        max_scan_bytes: super::check::size(
            p,
            "signatures.max_scan_bytes",
            s.max_scan_bytes.as_deref(),
            64 * 1024,
            256,
            16 * 1024 * 1024,
        ) as usize,
    };
    let (raw_catalog, origin) = catalog?;
    let grouping = grouping?;
    let prefix = if s.catalog.is_some() {
        "signatures.catalog.".to_string()
    } else {
        format!("{origin}: ")
    };
    let catalog = check_catalog(p, &prefix, &raw_catalog, &grouping, origin)?;
    Some(SignaturesConfig { catalog, ..cfg })
}

/// Reads a catalog or grouping file: YAML, or JSON when it ends in `.json` (JSON is YAML
/// too, but JSON's own reader gives JSON's error messages).
pub fn read_file<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let text = match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE_BYTES => {
            return Err(format!(
                "{}: {} bytes is more than the {MAX_FILE_BYTES} bytes a catalog may have",
                path.display(),
                m.len()
            ))
        }
        Ok(_) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    parse_text(&text, path.extension().is_some_and(|e| e == "json"))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses catalog or grouping text (YAML, or JSON).
pub fn parse_text<T: for<'de> Deserialize<'de>>(text: &str, json: bool) -> Result<T, String> {
    if json {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            if path == "." {
                e.inner().to_string()
            } else {
                format!("{path}: {}", e.inner())
            }
        })
    } else {
        // serde-saphyr's message starts "error: line L column C: …" and adds a source excerpt.
        serde_saphyr::from_str(text).map_err(|e| {
            let m = e.to_string();
            let first = m.lines().next().unwrap_or_default();
            first.strip_prefix("error: ").unwrap_or(first).to_string()
        })
    }
}

/// How a pattern runs: the `regex` crate, or `fancy-regex` (look-around, back-references).
pub enum Compiled {
    Fast(regex::Regex),
    Slow(fancy_regex::Regex),
}

/// Backtracking steps the slow path may take per line before it gives up on it.
pub const BACKTRACK_LIMIT: usize = 100_000;

/// Compiles a pattern as the engine will run it.
pub fn compile(pattern: &str) -> Result<Compiled, String> {
    match regex::RegexBuilder::new(pattern).size_limit(1 << 20).build() {
        Ok(r) => Ok(Compiled::Fast(r)),
        Err(fast_err) => fancy_regex::RegexBuilder::new(pattern)
            .backtrack_limit(BACKTRACK_LIMIT)
            .delegate_size_limit(1 << 20)
            .build()
            .map(Compiled::Slow)
            .map_err(|e| {
                // Report the regex crate's message for ordinary syntax errors: it points at
                // the spot; fancy-regex's for what only it understands.
                if matches!(fast_err, regex::Error::Syntax(_))
                    && !pattern.contains("(?=")
                    && !pattern.contains("(?!")
                    && !pattern.contains("(?<")
                {
                    super::first_line(&fast_err.to_string()).to_string()
                } else {
                    format!("invalid regex: {e}")
                }
            }),
    }
}

impl Catalog {
    fn default_empty() -> Catalog {
        Catalog {
            allowlist: Vec::new(),
            signatures: Vec::new(),
            categories: Vec::new(),
            window: Duration::from_secs(300),
            min_count_default: 3,
            cooldown: Duration::from_secs(600),
            immediate: Vec::new(),
            origin: String::new(),
        }
    }

    /// The signature with this id.
    pub fn signature(&self, id: &str) -> Option<&Signature> {
        self.signatures.iter().find(|s| s.id == id)
    }
}

fn minutes(p: &mut Problems, key: &str, v: Option<f64>, default: u64) -> Duration {
    match v {
        None => Duration::from_secs(default * 60),
        Some(m) if m.is_finite() && (0.0..=7.0 * 24.0 * 60.0).contains(&m) => {
            Duration::from_secs_f64(m * 60.0)
        }
        Some(m) => {
            p.add(key, format!("{m} is out of range (0 to 10080 minutes)"));
            Duration::from_secs(default * 60)
        }
    }
}

/// Checks a grouping file's own values (window, cooldown, default count; the immediate
/// categories need the catalog): what they resolve to, the defaults where a value is bad.
/// `gp` goes before every key path.
pub fn check_grouping(p: &mut Problems, gp: &str, g: &RawGrouping) -> (Duration, Duration, u32) {
    let window = minutes(p, &format!("{gp}window_minutes"), g.window_minutes, 5);
    let cooldown = minutes(p, &format!("{gp}cooldown_minutes"), g.cooldown_minutes, 10);
    let min_count_default = match g.min_count_default {
        None => 3,
        Some(n @ 1..=10_000) => n as u32,
        Some(n) => {
            p.add(
                &format!("{gp}min_count_default"),
                format!("{n} is out of range (1 to 10000)"),
            );
            3
        }
    };
    (window, cooldown, min_count_default)
}

/// Checks a catalog and its grouping; `prefix` goes before every key path (the file, or
/// `signatures.catalog.` inline). `None` when anything is wrong (all of it reported).
pub fn check_catalog(
    p: &mut Problems,
    prefix: &str,
    c: &RawCatalog,
    g: &RawGrouping,
    origin: String,
) -> Option<Catalog> {
    let before = p.len();
    let gp = if prefix.starts_with("signatures.") {
        "signatures.grouping.".to_string()
    } else {
        "grouping ".to_string()
    };
    let (window, cooldown, min_count_default) = check_grouping(p, &gp, g);
    let immediate = g.immediate_categories.clone().unwrap_or_default();
    for (i, name) in immediate.iter().enumerate() {
        if !c.categories.0.iter().any(|(n, _)| n == name) {
            p.add(
                &format!("{gp}immediate_categories[{i}]"),
                format!("{name:?} is not a category of the catalog"),
            );
        }
    }
    let mut allowlist = Vec::new();
    for (i, pat) in c.noise_allowlist.iter().enumerate() {
        match compile(pat) {
            Ok(_) => allowlist.push(pat.clone()),
            Err(e) => p.add(&format!("{prefix}noise_allowlist[{i}]"), e),
        }
    }
    if c.categories.0.is_empty() {
        p.add(&format!("{prefix}categories"), "the catalog has no categories");
    }
    let mut signatures: Vec<Signature> = Vec::new();
    let mut categories = Vec::new();
    for (name, cat) in &c.categories.0 {
        let at = format!("{prefix}categories.{name}");
        if name == GENERIC_CATEGORY {
            p.add(
                &at,
                format!("{GENERIC_CATEGORY:?} is the engine's name for unmatched errors"),
            );
        }
        if categories.contains(name) {
            p.add(&at, "duplicate category");
        }
        categories.push(name.clone());
        let policy = match cat.default_policy.as_deref() {
            None => {
                p.add(
                    &format!("{at}.default_policy"),
                    "missing: retry, notify or escalate",
                );
                Policy::Notify
            }
            Some(v) => Policy::parse(v).unwrap_or_else(|| {
                p.add(
                    &format!("{at}.default_policy"),
                    format!("{v:?} is not a policy: retry, notify or escalate"),
                );
                Policy::Notify
            }),
        };
        let cat_min = cat.min_count.map(|n| min_count(p, &format!("{at}.min_count"), n));
        let is_immediate = immediate.contains(name);
        for (i, s) in cat.signatures.iter().enumerate() {
            let sat = format!("{at}.signatures[{i}]");
            let mut need = |key: &str, v: &Option<String>| -> String {
                match v.as_deref() {
                    Some(t) if !t.trim().is_empty() => t.to_string(),
                    _ => {
                        p.add(&format!("{sat}.{key}"), "missing");
                        String::new()
                    }
                }
            };
            let id = need("id", &s.id);
            let pattern = need("pattern", &s.pattern);
            let severity = need("severity", &s.severity);
            let summary = need("summary", &s.summary);
            let sat = if id.is_empty() {
                sat
            } else {
                format!("{sat} ({id})")
            };
            if !pattern.is_empty() {
                if let Err(e) = compile(&pattern) {
                    p.add(&format!("{sat}.pattern"), e);
                }
            }
            if !severity.is_empty() && !SEVERITIES.contains(&severity.as_str()) {
                p.add(
                    &format!("{sat}.severity"),
                    format!("{severity:?} is not a severity: {}", SEVERITIES.join(", ")),
                );
            }
            if !id.is_empty() && signatures.iter().any(|o| o.id == id) {
                p.add(&format!("{sat}.id"), format!("duplicate signature id {id:?}"));
            }
            let policy = match s.policy.as_deref() {
                None => policy,
                Some(v) => Policy::parse(v).unwrap_or_else(|| {
                    p.add(
                        &format!("{sat}.policy"),
                        format!("{v:?} is not a policy: retry, notify or escalate"),
                    );
                    policy
                }),
            };
            let min = s
                .min_count
                .map(|n| min_count(p, &format!("{sat}.min_count"), n))
                .or(cat_min)
                .unwrap_or(min_count_default);
            signatures.push(Signature {
                id,
                category: name.clone(),
                pattern,
                severity,
                summary,
                policy,
                min_count: if is_immediate { 1 } else { min },
                immediate: is_immediate,
            });
        }
    }
    if p.len() > before {
        return None;
    }
    Some(Catalog {
        allowlist,
        signatures,
        categories,
        window,
        min_count_default,
        cooldown,
        immediate,
        origin,
    })
}

fn min_count(p: &mut Problems, key: &str, n: u64) -> u32 {
    if (1..=10_000).contains(&n) {
        n as u32
    } else {
        p.add(key, format!("{n} is out of range (1 to 10000)"));
        1
    }
}

/// The folder relative catalog paths start from: the config file's (none for the embedded
/// default: the working directory).
pub fn config_dir(origin: &super::Origin) -> Option<PathBuf> {
    match origin {
        super::Origin::File(p) => p.parent().map(Path::to_path_buf),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const SPEC_CATALOG: &str = r#"noise_allowlist:
  - "Broken pipe|context canceled|499"

categories:
  critical:
    default_policy: escalate
    signatures:
      - id: OOM
        pattern: "(Out of memory|OOMKilled)"
        severity: high
        summary: "Out-of-memory condition"
  network_db:
    default_policy: retry
    signatures:
      - id: NET_RESET
        pattern: "(socket hang up|ECONNRESET|ETIMEDOUT|EAI_AGAIN)"
        severity: medium
        summary: "Transient network issue"
  app_runtime:
    default_policy: notify
    signatures:
      - id: TYPE_ERROR
        pattern: "(TypeError:|ReferenceError:|UnhandledPromiseRejection)"
        severity: medium
        summary: "Application runtime error"
"#;

    pub const SPEC_GROUPING: &str = "window_minutes: 5\nmin_count_default: 3\ncooldown_minutes: 10\nimmediate_categories: [\"critical\"]\n";

    fn load(cat: &str, grp: &str) -> Result<Catalog, Problems> {
        let mut p = Problems::default();
        let c: RawCatalog = parse_text(cat, false).map_err(|e| {
            let mut p = Problems::default();
            p.add("", e);
            p
        })?;
        let g: RawGrouping = parse_text(grp, false).unwrap();
        check_catalog(&mut p, "cat.yml: ", &c, &g, "cat.yml".into()).ok_or(p)
    }

    #[test]
    fn the_spec_files_load_unchanged_in_order() {
        let c = load(SPEC_CATALOG, SPEC_GROUPING).unwrap();
        let ids: Vec<_> = c.signatures.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["OOM", "NET_RESET", "TYPE_ERROR"]);
        assert_eq!(c.categories, ["critical", "network_db", "app_runtime"]);
        assert_eq!(c.window, Duration::from_secs(300));
        assert_eq!(c.cooldown, Duration::from_secs(600));
        assert_eq!(c.min_count_default, 3);
        let oom = c.signature("OOM").unwrap();
        assert!(oom.immediate);
        assert_eq!((oom.policy, oom.min_count), (Policy::Escalate, 1));
        let net = c.signature("NET_RESET").unwrap();
        assert_eq!((net.policy, net.min_count), (Policy::Retry, 3));
        assert_eq!(c.allowlist, ["Broken pipe|context canceled|499"]);
    }

    #[test]
    fn json_loads_too() {
        let c: RawCatalog = parse_text(
            r#"{"categories": {"b": {"default_policy": "notify", "signatures": [{"id": "X", "pattern": "x", "severity": "low", "summary": "x"}]}, "a": {"default_policy": "retry"}}}"#,
            true,
        )
        .unwrap();
        let names: Vec<_> = c.categories.0.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "a"], "file order is kept");
    }

    #[test]
    fn every_problem_is_reported_with_its_path_and_nothing_loads() {
        let cat = r#"noise_allowlist: ["(unclosed"]
categories:
  critical:
    default_policy: shout
    signatures:
      - id: OOM
        pattern: "(Out of memory"
        severity: extreme
        summary: s
      - id: OOM
        pattern: "Exited with code (?!0)\\d+"
        severity: high
        summary: s
"#;
        let grp = "immediate_categories: [critcal]\nmin_count_default: 0\n";
        let p = load(cat, grp).unwrap_err().to_string();
        for want in [
            "cat.yml: noise_allowlist[0]",
            "cat.yml: categories.critical.default_policy",
            "categories.critical.signatures[0] (OOM).pattern",
            "categories.critical.signatures[0] (OOM).severity",
            "categories.critical.signatures[1] (OOM).id",
            "grouping immediate_categories[0]",
            "grouping min_count_default",
        ] {
            assert!(p.contains(want), "{want} missing in:\n{p}");
        }
        assert!(
            !p.contains("signatures[1] (OOM).pattern"),
            "look-ahead is fine:\n{p}"
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_their_place() {
        let e = parse_text::<RawCatalog>(
            "categories:\n  a:\n    default_policy: retry\n    signatures:\n      - id: X\n        patern: x\n",
            false,
        )
        .unwrap_err();
        assert!(e.contains("patern"), "{e}");
        assert!(e.contains('6'), "line number: {e}");
    }

    #[test]
    fn look_around_goes_to_the_slow_path_and_plain_patterns_do_not() {
        assert!(matches!(compile("a(?!0)\\d+"), Ok(Compiled::Slow(_))));
        assert!(matches!(compile("(?<=x)y"), Ok(Compiled::Slow(_))));
        assert!(matches!(compile("a|b"), Ok(Compiled::Fast(_))));
        assert!(compile("(a").is_err());
    }
}

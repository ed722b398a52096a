//! `metric_relabel_configs` rules, resolved: Prometheus' common relabel actions, checked and
//! compiled once here; `sources::scrape::relabel` applies them.
//!
//! Rules run in order on each scraped sample after the target labels were applied, with the
//! metric name as the `__name__` label, exactly as Prometheus does, so rules copied from a
//! Prometheus config mean the same here: `replace`, `keep`, `drop`, `labeldrop`, `labelkeep`
//! and `labelmap`. Regexes are anchored at both ends; `$1`, `${1}` and `${name}` in
//! `replacement` (and `target_label`) expand to capture groups. A label set to the empty
//! string is removed. The rarer actions (`hashmod`, `lowercase`, `keepequal`, ...) are refused
//! at config time rather than ignored.

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Replace,
    Keep,
    Drop,
    LabelDrop,
    LabelKeep,
    LabelMap,
}

impl Action {
    pub const NAMES: &'static str = "replace, keep, drop, labeldrop, labelkeep, labelmap";

    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "labelmap" => Action::LabelMap,
            _ => return None,
        })
    }
}

/// One rule as written, for [`Rule::new`].
#[derive(Debug, Default, Clone)]
pub struct RuleSpec<'a> {
    pub action: Option<&'a str>,
    pub source_labels: Option<&'a [String]>,
    pub separator: Option<&'a str>,
    pub regex: Option<&'a str>,
    pub target_label: Option<&'a str>,
    pub replacement: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub action: Action,
    pub source_labels: Vec<String>,
    pub separator: String,
    pub regex: Regex,
    pub target_label: String,
    pub replacement: String,
}

/// A label name, `__name__` and other reserved names included (rules may set them).
pub fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

impl Rule {
    /// Checks a rule; errors name the key they are about (`regex`, `target_label`, ...).
    pub fn new(spec: &RuleSpec<'_>) -> Result<Rule, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let action = match spec.action {
            None => Action::Replace,
            Some(a) => Action::parse(a).unwrap_or_else(|| {
                problems.push((
                    "action",
                    format!("unsupported action {a:?}; use one of {}", Action::NAMES),
                ));
                Action::Replace
            }),
        };
        let source_labels: Vec<String> = spec.source_labels.unwrap_or(&[]).to_vec();
        for l in &source_labels {
            if !is_label_name(l) {
                problems.push(("source_labels", format!("{l:?} is not a label name")));
            }
        }
        let pattern = spec.regex.unwrap_or("(.*)");
        let regex = match Regex::new(&format!("^(?:{pattern})$")) {
            Ok(r) => r,
            Err(e) => {
                let first = e.to_string();
                let first = first.lines().last().unwrap_or_default().trim().to_string();
                problems.push(("regex", format!("invalid regex {pattern:?}: {first}")));
                Regex::new("^$").expect("a literal regex")
            }
        };
        let target_label = spec.target_label.unwrap_or_default().to_string();
        let replacement = spec.replacement.unwrap_or("$1").to_string();
        match action {
            Action::Replace => {
                if target_label.is_empty() {
                    problems.push(("target_label", "required for action \"replace\"".into()));
                } else if !target_label.contains('$') && !is_label_name(&target_label) {
                    problems.push(("target_label", format!("{target_label:?} is not a label name")));
                }
            }
            Action::Keep | Action::Drop => {
                if source_labels.is_empty() {
                    problems.push((
                        "source_labels",
                        format!("required for action {:?}", spec.action.unwrap_or_default()),
                    ));
                }
            }
            Action::LabelDrop | Action::LabelKeep | Action::LabelMap => {
                if !source_labels.is_empty() || !target_label.is_empty() {
                    problems.push((
                        "action",
                        "labeldrop, labelkeep and labelmap match label names with regex; they take no source_labels or target_label".into(),
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Rule {
            action,
            source_labels,
            separator: spec.separator.unwrap_or(";").to_string(),
            regex,
            target_label,
            replacement,
        })
    }
}

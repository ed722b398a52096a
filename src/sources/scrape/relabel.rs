//! Metric relabelling: Prometheus' `metric_relabel_configs`, the common actions.
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
    source_labels: Vec<String>,
    separator: String,
    regex: Regex,
    target_label: String,
    replacement: String,
}

/// A label name, `__name__` and other reserved names included (rules may set them).
fn is_label_name(s: &str) -> bool {
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

    fn source_value(&self, labels: &[(String, String)]) -> String {
        let mut out = String::new();
        for (i, name) in self.source_labels.iter().enumerate() {
            if i > 0 {
                out.push_str(&self.separator);
            }
            if let Some((_, v)) = labels.iter().find(|(k, _)| k == name) {
                out.push_str(v);
            }
        }
        out
    }

    /// Applies the rule; `false` when the sample is dropped.
    fn apply(&self, labels: &mut Vec<(String, String)>) -> bool {
        match self.action {
            Action::Keep => self.regex.is_match(&self.source_value(labels)),
            Action::Drop => !self.regex.is_match(&self.source_value(labels)),
            Action::LabelDrop => {
                labels.retain(|(k, _)| !self.regex.is_match(k));
                true
            }
            Action::LabelKeep => {
                // The name is not a label to keep or drop here.
                labels.retain(|(k, _)| k == "__name__" || self.regex.is_match(k));
                true
            }
            Action::LabelMap => {
                let mut add = Vec::new();
                for (k, v) in labels.iter() {
                    if let Some(caps) = self.regex.captures(k) {
                        let mut name = String::new();
                        caps.expand(&self.replacement, &mut name);
                        if is_label_name(&name) {
                            add.push((name, v.clone()));
                        }
                    }
                }
                for (k, v) in add {
                    set(labels, k, v);
                }
                true
            }
            Action::Replace => {
                let value = self.source_value(labels);
                let Some(caps) = self.regex.captures(&value) else {
                    return true;
                };
                let mut target = String::new();
                caps.expand(&self.target_label, &mut target);
                if !is_label_name(&target) {
                    return true;
                }
                let mut result = String::new();
                caps.expand(&self.replacement, &mut result);
                set(labels, target, result);
                true
            }
        }
    }
}

/// Sets (or with an empty value removes) a label.
fn set(labels: &mut Vec<(String, String)>, name: String, value: String) {
    match labels.iter().position(|(k, _)| *k == name) {
        Some(i) if value.is_empty() => {
            labels.remove(i);
        }
        Some(i) => labels[i].1 = value,
        None if value.is_empty() => {}
        None => labels.push((name, value)),
    }
}

/// Runs the rules in order; `false` when one of them drops the sample.
pub fn apply(rules: &[Rule], labels: &mut Vec<(String, String)>) -> bool {
    rules.iter().all(|r| r.apply(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(action: &str, src: &[&str], regex: &str, target: &str, replacement: Option<&str>) -> Rule {
        let src: Vec<String> = src.iter().map(|s| s.to_string()).collect();
        Rule::new(&RuleSpec {
            action: Some(action),
            source_labels: (!src.is_empty()).then_some(&src[..]),
            separator: None,
            regex: Some(regex),
            target_label: (!target.is_empty()).then_some(target),
            replacement,
        })
        .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn ls(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keep_and_drop_by_name_are_anchored() {
        let drop_go = rule("drop", &["__name__"], "go_.*", "", None);
        assert!(!apply(
            std::slice::from_ref(&drop_go),
            &mut ls(&[("__name__", "go_threads")])
        ));
        assert!(
            apply(&[drop_go], &mut ls(&[("__name__", "x_go_threads")])),
            "anchored"
        );
        let keep = rule(
            "keep",
            &["__name__", "mode"],
            "node_cpu_seconds_total;(idle|user)",
            "",
            None,
        );
        assert!(apply(
            std::slice::from_ref(&keep),
            &mut ls(&[("__name__", "node_cpu_seconds_total"), ("mode", "idle")])
        ));
        assert!(!apply(
            std::slice::from_ref(&keep),
            &mut ls(&[("__name__", "node_cpu_seconds_total"), ("mode", "iowait")])
        ));
        assert!(
            !apply(&[keep], &mut ls(&[("__name__", "node_load1")])),
            "missing label is empty"
        );
    }

    #[test]
    fn replace_labeldrop_labelkeep_labelmap() {
        let rules = [
            rule("replace", &["device"], "(sd[a-z])[0-9]*", "disk", Some("${1}")),
            rule("replace", &["mountpoint"], "/", "mountpoint", Some("")),
            rule("labelmap", &[], "__meta_(.+)", "", Some("meta_$1")),
            rule("labeldrop", &[], "__meta_.*|fstype", "", None),
        ];
        let mut l = ls(&[
            ("__name__", "node_disk_io_now"),
            ("device", "sda1"),
            ("mountpoint", "/"),
            ("fstype", "ext4"),
            ("__meta_zone", "a"),
        ]);
        assert!(apply(&rules, &mut l));
        assert_eq!(
            l,
            ls(&[
                ("__name__", "node_disk_io_now"),
                ("device", "sda1"),
                ("disk", "sda"),
                ("meta_zone", "a"),
            ])
        );
        let keep = rule("labelkeep", &[], "device", "", None);
        assert!(apply(&[keep], &mut l));
        assert_eq!(l, ls(&[("__name__", "node_disk_io_now"), ("device", "sda1")]));
        // No match: nothing changes. The name can be rewritten.
        let rename = rule("replace", &["__name__"], "node_(.*)", "__name__", Some("host_$1"));
        assert!(apply(&[rename], &mut l));
        assert_eq!(l[0].1, "host_disk_io_now");
    }

    #[test]
    fn bad_rules_name_their_key() {
        let e = Rule::new(&RuleSpec {
            action: Some("hashmod"),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e[0].0, "action");
        let e = Rule::new(&RuleSpec {
            action: Some("drop"),
            regex: Some("(unclosed"),
            ..Default::default()
        })
        .unwrap_err();
        let keys: Vec<&str> = e.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, vec!["regex", "source_labels"]);
        let e = Rule::new(&RuleSpec {
            action: Some("replace"),
            target_label: Some("bad-name"),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e[0].0, "target_label");
    }
}

//! Metric relabelling: Prometheus' `metric_relabel_configs`, the common actions, applied.
//!
//! Rules run in order on each scraped sample after the target labels were applied, with the
//! metric name as the `__name__` label, exactly as Prometheus does, so rules copied from a
//! Prometheus config mean the same here. The rules are checked and compiled by the config
//! ([`crate::config::relabel`]); this module only runs them.

use crate::config::relabel::is_label_name;
pub use crate::config::relabel::{Action, Rule, RuleSpec};

fn source_value(rule: &Rule, labels: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, name) in rule.source_labels.iter().enumerate() {
        if i > 0 {
            out.push_str(&rule.separator);
        }
        if let Some((_, v)) = labels.iter().find(|(k, _)| k == name) {
            out.push_str(v);
        }
    }
    out
}

/// Applies the rule; `false` when the sample is dropped.
fn apply_one(rule: &Rule, labels: &mut Vec<(String, String)>) -> bool {
    match rule.action {
        Action::Keep => rule.regex.is_match(&source_value(rule, labels)),
        Action::Drop => !rule.regex.is_match(&source_value(rule, labels)),
        Action::LabelDrop => {
            labels.retain(|(k, _)| !rule.regex.is_match(k));
            true
        }
        Action::LabelKeep => {
            // The name is not a label to keep or drop here.
            labels.retain(|(k, _)| k == "__name__" || rule.regex.is_match(k));
            true
        }
        Action::LabelMap => {
            let mut add = Vec::new();
            for (k, v) in labels.iter() {
                if let Some(caps) = rule.regex.captures(k) {
                    let mut name = String::new();
                    caps.expand(&rule.replacement, &mut name);
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
            let value = source_value(rule, labels);
            let Some(caps) = rule.regex.captures(&value) else {
                return true;
            };
            let mut target = String::new();
            caps.expand(&rule.target_label, &mut target);
            if !is_label_name(&target) {
                return true;
            }
            let mut result = String::new();
            caps.expand(&rule.replacement, &mut result);
            set(labels, target, result);
            true
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
    rules.iter().all(|r| apply_one(r, labels))
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

//! The engine as the sources and the replay tool use it: the spec's example, the fields
//! events carry, loop prevention, redaction of samples.

use super::*;
use crate::config::signatures::{check_catalog, parse_text, Canonicalization, RawCatalog, RawGrouping};
use crate::config::Problems;
use crate::model::alert::Kind;
use crate::model::event::tests::sample;

const CAT: &str = r#"noise_allowlist:
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
  process:
    default_policy: notify
    signatures:
      - id: EXIT_NONZERO
        pattern: "Exited with code (?!0)\\d+"
        severity: medium
        summary: "Process exited with an error"
        policy: escalate
"#;

pub fn engine_with(shadow: bool) -> Engine {
    let c: RawCatalog = parse_text(CAT, false).unwrap();
    let g: RawGrouping = parse_text(
        "window_minutes: 5\nmin_count_default: 3\ncooldown_minutes: 10\nimmediate_categories: [critical]\n",
        false,
    )
    .unwrap();
    let mut p = Problems::default();
    let catalog = check_catalog(&mut p, "", &c, &g, "test".into()).unwrap();
    let mut p = Problems::default();
    let mut cfg = crate::config::signatures::resolve(
        &mut p,
        Some(&crate::config::signatures::RawSignatures {
            grouping: Some(RawGrouping::default()),
            catalog: Some(c),
            ..Default::default()
        }),
        None,
    )
    .unwrap();
    cfg.catalog = catalog;
    cfg.shadow = shadow;
    Engine::new(cfg, "gw-1", &[]).unwrap()
}

const MIN: i64 = 60_000;
const T0: i64 = 1_796_119_200_000;

fn feed(e: &Engine, text: &str, level: Option<Level>, t: i64) -> Option<Decision> {
    let c = e.classify(text, level, false);
    e.observe(&c, text, t, None)
}

#[test]
fn the_specs_example() {
    let e = engine_with(false);
    let err = Some(Level::Error);
    assert!(feed(&e, "socket hang up during query", err, T0).is_none());
    assert!(feed(&e, "socket hang up during query", err, T0 + MIN).is_none());
    let d = feed(&e, "socket hang up during query", err, T0 + 2 * MIN).expect("third fires");
    assert_eq!(
        (
            d.kind,
            d.category.as_str(),
            d.signature.as_deref(),
            d.policy.as_str(),
            d.count
        ),
        (Kind::Firing, "network_db", Some("NET_RESET"), "retry", 3)
    );
    assert_eq!(d.gateway, "gw-1");
    assert!(
        feed(&e, "socket hang up during query", err, T0 + 3 * MIN).is_none(),
        "cooldown"
    );
    let oom = feed(&e, "container OOMKilled", None, T0 + 4 * MIN).expect("immediate");
    assert_eq!(
        (oom.category.as_str(), oom.policy.as_str()),
        ("critical", "escalate")
    );
    // Plain lines without a level: the exit signature, or nothing.
    let zero = e.classify("Exited with code 0", None, false);
    assert_eq!((zero.signature, zero.group.is_some()), (None, false));
    let nonzero = e.classify("Exited with code 137", None, false);
    assert_eq!(
        e.cfg.catalog.signatures[nonzero.signature.unwrap()].id,
        "EXIT_NONZERO"
    );
    assert_eq!(e.meta(&nonzero).policy, "escalate", "the signature's policy wins");
    assert_eq!(e.stats.decisions(), [2, 0, 0]);
}

#[test]
fn noise_is_dropped_but_never_an_immediate_category() {
    let e = engine_with(false);
    let n = e.classify("write: Broken pipe", Some(Level::Error), false);
    assert!(n.noise && n.group.is_none());
    let c = e.classify("OOMKilled pid 14990", Some(Level::Error), false);
    assert!(!c.noise);
    assert_eq!(c.group.unwrap().0, "critical");
}

#[test]
fn unmatched_errors_are_grouped_generically_and_other_levels_are_not() {
    let e = engine_with(false);
    let c = e.classify("disk sda3 failed at sector 1234", Some(Level::Error), false);
    let (cat, canonical, fp) = c.group.unwrap();
    assert_eq!(cat, "unclassified");
    assert_eq!(canonical, "disk # failed at sector <#>");
    assert_eq!(
        fp,
        canon::fingerprint("unclassified", "disk # failed at sector <#>")
    );
    assert!(e
        .classify("all fine 1234", Some(Level::Info), false)
        .group
        .is_none());
    assert!(e.classify("all fine 1234", None, false).group.is_none());
    assert!(e
        .classify("all fine 1234", Some(Level::Info), true)
        .group
        .is_some());
}

#[test]
fn events_carry_the_error_fields_and_the_agents_own_log_is_never_classified() {
    let e = engine_with(false);
    let mut ev = sample();
    ev.message = "read ECONNRESET".into();
    ev.level = Some(Level::Error);
    e.inspect(&mut ev);
    let f: Vec<(&str, String)> = ev
        .fields
        .iter()
        .filter(|(k, _)| k.starts_with("error_"))
        .map(|(k, v)| (k.as_str(), format!("{v:?}")))
        .collect();
    let keys: Vec<&str> = f.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        [
            "error_category",
            "error_signature",
            "error_policy",
            "error_summary",
            "error_fingerprint"
        ]
    );
    let mut own = sample();
    own.source = INTERNAL_SOURCE.into();
    own.message = "alert firing: OOMKilled".into();
    own.level = Some(Level::Error);
    let before = own.fields.len();
    e.inspect(&mut own);
    assert_eq!(own.fields.len(), before);
    assert_eq!(
        lock(&e.groups).groups.len(),
        1,
        "only the first event was counted"
    );
}

#[test]
fn samples_are_redacted_and_shadow_decisions_say_so() {
    let e = engine_with(true);
    let d = feed(
        &e,
        "OOMKilled password=hunter2 Authorization: Bearer abc.def",
        None,
        T0,
    )
    .unwrap();
    assert!(d.shadow);
    let s = &d.samples[0];
    assert!(!s.contains("hunter2") && !s.contains("abc.def"), "{s}");
}

#[test]
fn spec_canonicalization_is_selectable() {
    let mut e = engine_with(false);
    e.cfg.canonicalization = Canonicalization::Spec;
    let c = e.classify("disk sda3 failed at sector 1234", Some(Level::Error), false);
    assert_eq!(c.group.unwrap().1, "disk sda3 failed at sector #");
}

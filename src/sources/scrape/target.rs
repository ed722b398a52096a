//! One scrape of one target: fetch, parse, label, and the records it becomes.
//!
//! The labelling follows Prometheus so that series look the same as when Prometheus scrapes
//! the exporter itself: the target labels (`job`, `instance`, the job's static `labels`, and
//! `gateway`) are added to every sample; where a sample has a label of the same name, the
//! target's wins and the sample's is kept as `exported_<name>` — unless `honor_labels`, where
//! the sample's wins. Metric relabelling runs after that. Samples take the scrape's start time
//! unless they carry their own (`honor_timestamps`). Each scrape adds the synthetic `up`,
//! `scrape_duration_seconds`, `scrape_samples_scraped` and
//! `scrape_samples_post_metric_relabeling` series with the target labels only.
//!
//! A scrape becomes store records: one snapshot at the scrape time (the staleness tracker
//! sees only this one: series with their own timestamps get no stale markers, as in
//! Prometheus), plus one per distinct exposed timestamp, so the stored format stays "one
//! timestamp per snapshot" and every sink works unchanged.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use super::parse::{self, Exposition, Format};
use super::relabel;
pub use crate::config::scrape::Rules;
use crate::model::stored::{StoredFamily, StoredSample};
use crate::model::MetricKind;

/// Why a scrape failed; `reason()` is the `result` label of `outpost_scrapes_total`.
#[derive(Debug, Clone, PartialEq)]
pub enum ScrapeError {
    /// Connection refused or reset, name not found, TLS failure.
    Unreachable(String),
    Timeout(Duration),
    Status(u16),
    /// The body was larger than `body_size_limit`.
    TooLarge(u64),
    Invalid(parse::ParseError),
    /// More samples than `sample_limit` after relabelling.
    SampleLimit(usize),
}

impl ScrapeError {
    pub const REASONS: &'static [&'static str] = &[
        "http_error",
        "invalid",
        "sample_limit",
        "timeout",
        "too_large",
        "unreachable",
    ];

    pub fn reason(&self) -> &'static str {
        match self {
            ScrapeError::Unreachable(_) => "unreachable",
            ScrapeError::Timeout(_) => "timeout",
            ScrapeError::Status(_) => "http_error",
            ScrapeError::TooLarge(_) => "too_large",
            ScrapeError::Invalid(_) => "invalid",
            ScrapeError::SampleLimit(_) => "sample_limit",
        }
    }
}

impl fmt::Display for ScrapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScrapeError::Unreachable(e) => write!(f, "unreachable: {e}"),
            ScrapeError::Timeout(t) => write!(f, "no complete answer within {t:?}"),
            ScrapeError::Status(s) => write!(f, "server returned HTTP status {s}"),
            ScrapeError::TooLarge(n) => write!(f, "body larger than body_size_limit ({n} bytes)"),
            ScrapeError::Invalid(e) => write!(f, "invalid exposition: {e}"),
            ScrapeError::SampleLimit(n) => write!(f, "more than sample_limit ({n}) samples"),
        }
    }
}

/// A successful scrape, labelled and grouped into families.
#[derive(Debug, Default)]
pub struct Assembled {
    /// Samples at the scrape time.
    pub main: Vec<StoredFamily>,
    /// Samples with an exposed timestamp, by timestamp.
    pub timed: BTreeMap<i64, Vec<StoredFamily>>,
    pub scraped: usize,
    pub post_relabel: usize,
    /// Series exposed twice in one scrape (after relabelling): the later ones are dropped.
    pub duplicates: usize,
}

/// Families under construction, found by name.
#[derive(Default)]
struct Grouper {
    families: Vec<StoredFamily>,
    index: HashMap<String, usize>,
}

impl Grouper {
    fn push(&mut self, name: String, kind: MetricKind, sample: StoredSample) {
        if let Some(last) = self.families.last_mut() {
            if last.name == name {
                last.samples.push(sample);
                return;
            }
        }
        match self.index.get(&name) {
            Some(&i) => self.families[i].samples.push(sample),
            None => {
                self.index.insert(name.clone(), self.families.len());
                self.families.push(StoredFamily {
                    name,
                    kind,
                    samples: vec![sample],
                });
            }
        }
    }
}

/// Adds the target labels to a sample's labels (see the module note).
fn add_target_labels(labels: &mut Vec<(String, String)>, target: &[(String, String)], honor: bool) {
    for (name, value) in target {
        match labels.iter().position(|(k, _)| k == name) {
            None => labels.push((name.clone(), value.clone())),
            Some(_) if honor => {}
            Some(i) => {
                let mut exported = format!("exported_{name}");
                // As Prometheus: a name neither exposed nor a target label.
                while labels.iter().chain(target).any(|(k, _)| *k == exported) {
                    exported.insert_str(0, "exported_");
                }
                labels[i].0 = exported;
                labels.push((name.clone(), value.clone()));
            }
        }
    }
}

fn series_key(name: &str, labels: &[(String, String)], ts: Option<i64>) -> u64 {
    let mut h = DefaultHasher::new();
    name.hash(&mut h);
    labels.hash(&mut h);
    ts.hash(&mut h);
    h.finish()
}

/// Labels, relabels and groups a parsed exposition. `target` holds the target labels sorted
/// by name.
pub fn assemble(
    exp: Exposition,
    target: &[(String, String)],
    rules: &Rules,
) -> Result<Assembled, ScrapeError> {
    let mut main = Grouper::default();
    let mut timed: BTreeMap<i64, Grouper> = BTreeMap::new();
    let mut seen: HashSet<u64> = HashSet::with_capacity(exp.samples);
    let mut out = Assembled {
        scraped: exp.samples,
        ..Default::default()
    };
    for family in exp.families {
        let kind = family.kind.metric_kind();
        for s in family.samples {
            let mut labels = s.labels;
            add_target_labels(&mut labels, target, rules.honor_labels);
            let mut name = s.name;
            if !rules.relabel.is_empty() {
                labels.push(("__name__".to_string(), name));
                if !relabel::apply(&rules.relabel, &mut labels) {
                    continue;
                }
                match labels.iter().position(|(k, _)| k == "__name__") {
                    Some(i) => name = labels.swap_remove(i).1,
                    // A rule removed the name: nothing to store it under.
                    None => continue,
                }
                labels.retain(|(_, v)| !v.is_empty());
            }
            labels.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            let ts = s.timestamp_ms.filter(|_| rules.honor_timestamps);
            if !seen.insert(series_key(&name, &labels, ts)) {
                out.duplicates += 1;
                continue;
            }
            out.post_relabel += 1;
            if out.post_relabel > rules.sample_limit {
                return Err(ScrapeError::SampleLimit(rules.sample_limit));
            }
            let sample = StoredSample {
                labels,
                value: s.value,
            };
            match ts {
                None => main.push(name, kind, sample),
                Some(t) => timed.entry(t).or_default().push(name, kind, sample),
            }
        }
    }
    out.main = main.families;
    out.timed = timed.into_iter().map(|(t, g)| (t, g.families)).collect();
    Ok(out)
}

/// The synthetic series of one scrape, with the target labels.
pub fn report(
    target: &[(String, String)],
    up: bool,
    duration: Duration,
    scraped: usize,
    post_relabel: usize,
) -> Vec<StoredFamily> {
    let one = |name: &str, value: f64| StoredFamily {
        name: name.to_string(),
        kind: MetricKind::Gauge,
        samples: vec![StoredSample {
            labels: target.to_vec(),
            value,
        }],
    };
    vec![
        one("up", if up { 1.0 } else { 0.0 }),
        one("scrape_duration_seconds", duration.as_secs_f64()),
        one("scrape_samples_scraped", scraped as f64),
        one("scrape_samples_post_metric_relabeling", post_relabel as f64),
    ]
}

/// GETs the target's exposition: the body and the format its `Content-Type` names.
pub fn fetch(
    agent: &ureq::Agent,
    url: &str,
    authorization: Option<&str>,
    timeout: Duration,
    body_limit: u64,
) -> Result<(Format, Vec<u8>), ScrapeError> {
    let mut req = agent.get(url).header("Accept", parse::ACCEPT).header(
        "X-Prometheus-Scrape-Timeout-Seconds",
        format!("{}", timeout.as_secs_f64()),
    );
    if let Some(auth) = authorization {
        req = req.header("Authorization", auth);
    }
    let classify = |e: ureq::Error| match e {
        ureq::Error::Timeout(_) => ScrapeError::Timeout(timeout),
        ureq::Error::BodyExceedsLimit(n) => ScrapeError::TooLarge(n),
        other => ScrapeError::Unreachable(other.to_string()),
    };
    let mut resp = req.call().map_err(classify)?;
    let status = resp.status().as_u16();
    if status != 200 {
        // Read a little so the connection can be reused; the body itself is not needed.
        let _ = resp.body_mut().with_config().limit(4096).read_to_vec();
        return Err(ScrapeError::Status(status));
    }
    let format = Format::from_content_type(resp.headers().get("content-type").and_then(|v| v.to_str().ok()));
    let body = resp
        .body_mut()
        .with_config()
        .limit(body_limit)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => ScrapeError::TooLarge(body_limit),
            other => classify(other),
        })?;
    Ok((format, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::scrape::relabel::{Rule, RuleSpec};

    fn target() -> Vec<(String, String)> {
        [
            ("gateway", "gw-1"),
            ("instance", "localhost:9100"),
            ("job", "node"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn rules(honor_labels: bool) -> Rules {
        Rules {
            honor_labels,
            honor_timestamps: true,
            relabel: Vec::new(),
            sample_limit: 100,
        }
    }

    fn flat(fams: &[StoredFamily]) -> Vec<String> {
        fams.iter()
            .flat_map(|f| {
                f.samples.iter().map(move |s| {
                    let l: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("{}{{{}}} {}", f.name, l.join(","), s.value)
                })
            })
            .collect()
    }

    fn exp(body: &str) -> Exposition {
        parse::parse(body.as_bytes(), Format::Text, 1000).unwrap()
    }

    const BODY: &str = "# TYPE pushed gauge\npushed{job=\"batch\",instance=\"\",exported_job=\"x\"} 1\nplain 2\nold 3 1000\nold{a=\"b\"} 4 1000\nnewer 5 2000\n";

    #[test]
    fn target_labels_win_and_conflicts_become_exported() {
        let a = assemble(exp(BODY), &target(), &rules(false)).unwrap();
        assert_eq!(
            flat(&a.main),
            vec![
                "pushed{exported_exported_job=batch,exported_job=x,gateway=gw-1,instance=localhost:9100,job=node} 1",
                "plain{gateway=gw-1,instance=localhost:9100,job=node} 2",
            ]
        );
        assert_eq!(a.timed.keys().copied().collect::<Vec<_>>(), vec![1000, 2000]);
        assert_eq!(flat(&a.timed[&1000]).len(), 2);
        assert_eq!((a.scraped, a.post_relabel, a.duplicates), (5, 5, 0));
    }

    #[test]
    fn honor_labels_keeps_the_exposed_ones() {
        let a = assemble(exp(BODY), &target(), &rules(true)).unwrap();
        assert_eq!(
            flat(&a.main)[0],
            "pushed{exported_job=x,gateway=gw-1,instance=localhost:9100,job=batch} 1",
            "an empty exposed instance is no label: the target's applies"
        );
    }

    #[test]
    fn timestamps_ignored_unless_honored_duplicates_dropped() {
        let mut r = rules(false);
        r.honor_timestamps = false;
        let a = assemble(exp("a 1 1000\na 2 2000\nb 1\n"), &target(), &r).unwrap();
        assert!(a.timed.is_empty());
        assert_eq!(flat(&a.main).len(), 2);
        assert_eq!(a.duplicates, 1, "the same series twice at the scrape time");
    }

    #[test]
    fn relabelling_runs_after_target_labels_and_counts_against_the_limit() {
        let src = vec!["__name__".to_string()];
        let mut r = rules(false);
        r.relabel = vec![
            Rule::new(&RuleSpec {
                action: Some("drop"),
                source_labels: Some(&src),
                regex: Some("old|newer"),
                ..Default::default()
            })
            .unwrap(),
            Rule::new(&RuleSpec {
                action: Some("labeldrop"),
                regex: Some("gateway|exported_.*"),
                ..Default::default()
            })
            .unwrap(),
        ];
        let a = assemble(exp(BODY), &target(), &r).unwrap();
        assert_eq!(
            flat(&a.main),
            vec![
                "pushed{instance=localhost:9100,job=node} 1",
                "plain{instance=localhost:9100,job=node} 2",
            ]
        );
        assert_eq!((a.scraped, a.post_relabel), (5, 2));
        r.sample_limit = 1;
        assert_eq!(
            assemble(exp(BODY), &target(), &r).unwrap_err(),
            ScrapeError::SampleLimit(1)
        );
    }

    #[test]
    fn report_series() {
        let r = report(&target(), false, Duration::from_millis(250), 0, 0);
        assert_eq!(
            flat(&r),
            vec![
                "up{gateway=gw-1,instance=localhost:9100,job=node} 0",
                "scrape_duration_seconds{gateway=gw-1,instance=localhost:9100,job=node} 0.25",
                "scrape_samples_scraped{gateway=gw-1,instance=localhost:9100,job=node} 0",
                "scrape_samples_post_metric_relabeling{gateway=gw-1,instance=localhost:9100,job=node} 0",
            ]
        );
    }
}

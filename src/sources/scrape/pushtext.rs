//! The latest scrape of each target as text 0.0.4, for the Pushgateway sink.
//!
//! The Pushgateway keeps one group per target (`job/<job>/instance/<target>/gateway/<id>`),
//! replaced by every push, so a target that stops answering leaves only its `up = 0`. Its
//! rules shape this text: pushed samples must not carry the grouping labels (they come from
//! the URL), must not have timestamps, and a metric name must have one type across all groups
//! — so the types are those of the text format as client libraries write them: counters under
//! their sample name (`foo_total`), histograms and summaries as families, OpenMetrics-only
//! series (`_created`, gauge histograms) left out or untyped. Stale markers are not pushed
//! (the PUT replacing the group already drops vanished series).

use std::collections::{BTreeMap, HashMap};

use super::parse::{Exposition, Kind};
use crate::model::staleness::is_stale;
use crate::model::stored::StoredFamily;
use crate::model::text::{escape_help, escape_label_value, write_value};

/// What the exposition said about each sample name: its family, help and kind.
pub type Meta = HashMap<String, (String, String, Kind)>;

pub fn meta(exp: &Exposition) -> Meta {
    let mut m = HashMap::new();
    for f in &exp.families {
        for s in &f.samples {
            if !m.contains_key(&s.name) {
                m.insert(s.name.clone(), (f.name.clone(), f.help.clone(), f.kind));
            }
        }
    }
    m
}

/// Renders families (after labelling) without the `strip` labels.
pub fn render(meta: &Meta, families: &[StoredFamily], strip: &[String]) -> String {
    // text family name → (help, type, lines)
    let mut out: BTreeMap<&str, (&str, &'static str, String)> = BTreeMap::new();
    for f in families {
        let (family, help, kind) = match meta.get(&f.name) {
            Some((fam, help, kind)) => (fam.as_str(), help.as_str(), *kind),
            None => (f.name.as_str(), "", Kind::Unknown),
        };
        let suffix = f.name.strip_prefix(family).unwrap_or("");
        let (name, ty): (&str, &'static str) = match kind {
            Kind::Counter | Kind::Histogram | Kind::Summary if suffix == "_created" => continue,
            Kind::Counter => (&f.name, "counter"),
            Kind::Gauge | Kind::StateSet | Kind::Info => (&f.name, "gauge"),
            Kind::Histogram => (family, "histogram"),
            Kind::Summary => (family, "summary"),
            Kind::GaugeHistogram | Kind::Unknown => (&f.name, "untyped"),
        };
        let entry = out.entry(name).or_insert((help, ty, String::new()));
        for s in &f.samples {
            if is_stale(s.value) {
                continue;
            }
            let lines = &mut entry.2;
            lines.push_str(&f.name);
            let mut first = true;
            for (k, v) in &s.labels {
                if strip.contains(k) {
                    continue;
                }
                lines.push(if first { '{' } else { ',' });
                first = false;
                lines.push_str(k);
                lines.push_str("=\"");
                escape_label_value(lines, v);
                lines.push('"');
            }
            if !first {
                lines.push('}');
            }
            lines.push(' ');
            write_value(lines, s.value);
            lines.push('\n');
        }
    }
    let mut text = String::new();
    for (name, (help, ty, lines)) in out {
        if lines.is_empty() {
            continue;
        }
        if !help.is_empty() {
            text.push_str("# HELP ");
            text.push_str(name);
            text.push(' ');
            escape_help(&mut text, help);
            text.push('\n');
        }
        text.push_str("# TYPE ");
        text.push_str(name);
        text.push(' ');
        text.push_str(ty);
        text.push('\n');
        text.push_str(&lines);
    }
    text
}

pub use crate::model::pushtext::{Group, Latest};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::scrape::parse::{parse, Format};
    use crate::sources::scrape::target::{assemble, Rules};

    #[test]
    fn types_as_the_text_format_has_them_without_grouping_labels() {
        let body = "# TYPE a counter\n# HELP a Total a.\na_total{x=\"1\"} 3\na_created{x=\"1\"} 17\n\
                    # TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 1.5\nh_created 9\n\
                    # TYPE g gauge\ng 1\n# TYPE q gaugehistogram\nq_bucket{le=\"+Inf\"} 1\nq_gcount 1\nq_gsum 1\n\
                    plain 4\n# EOF\n";
        let exp = parse(body.as_bytes(), Format::OpenMetrics, 100).unwrap();
        let m = meta(&exp);
        let target = vec![
            ("gateway".to_string(), "gw".to_string()),
            ("instance".to_string(), "t:1".to_string()),
            ("job".to_string(), "dev".to_string()),
            ("site".to_string(), "lab".to_string()),
        ];
        let rules = Rules {
            honor_labels: false,
            honor_timestamps: true,
            relabel: Vec::new(),
            sample_limit: 100,
        };
        let a = assemble(exp, &target, &rules).unwrap();
        let strip: Vec<String> = ["gateway", "instance", "job"].map(String::from).to_vec();
        assert_eq!(
            render(&m, &a.main, &strip),
            "# HELP a_total Total a.\n# TYPE a_total counter\na_total{site=\"lab\",x=\"1\"} 3\n\
             # TYPE g gauge\ng{site=\"lab\"} 1\n\
             # TYPE h histogram\nh_bucket{le=\"+Inf\",site=\"lab\"} 2\nh_count{site=\"lab\"} 2\nh_sum{site=\"lab\"} 1.5\n\
             # TYPE plain untyped\nplain{site=\"lab\"} 4\n\
             # TYPE q_bucket untyped\nq_bucket{le=\"+Inf\",site=\"lab\"} 1\n\
             # TYPE q_gcount untyped\nq_gcount{site=\"lab\"} 1\n# TYPE q_gsum untyped\nq_gsum{site=\"lab\"} 1\n"
        );
    }
}

//! The exposition parser on arbitrary bytes, in both formats, then the scrape's labelling.
//!
//! Beyond "no panic, no hang": whatever parses must come out well formed (valid names, no
//! duplicate or empty labels, at most the sample limit), and rendering it back as text 0.0.4
//! and parsing again must give the same samples — the parser and its escaping agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outpost::model::text::write_value;
use outpost::sources::scrape::parse::{parse, Exposition, Format};
use outpost::sources::scrape::target::{assemble, Rules};

const LIMIT: usize = 500;

fn render(e: &Exposition) -> String {
    let mut out = String::new();
    for f in &e.families {
        for s in &f.samples {
            out.push_str(&s.name);
            out.push('{');
            for (k, v) in &s.labels {
                out.push_str(k);
                out.push_str("=\"");
                for c in v.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '"' => out.push_str("\\\""),
                        '\n' => out.push_str("\\n"),
                        c => out.push(c),
                    }
                }
                out.push_str("\",");
            }
            out.push_str("} ");
            write_value(&mut out, s.value);
            if let Some(t) = s.timestamp_ms {
                out.push_str(&format!(" {t}"));
            }
            out.push('\n');
        }
    }
    out
}

fn samples(e: &Exposition) -> Vec<(String, Vec<(String, String)>, u64, Option<i64>)> {
    let mut v: Vec<_> = e
        .families
        .iter()
        .flat_map(|f| f.samples.iter())
        .map(|s| {
            // NaN payloads other than the stale marker are all one NaN in the text format.
            let bits = if s.value.is_nan() { f64::NAN.to_bits() } else { s.value.to_bits() };
            (s.name.clone(), s.labels.clone(), bits, s.timestamp_ms)
        })
        .collect();
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    for format in [Format::Text, Format::OpenMetrics] {
        let Ok(e) = parse(data, format, LIMIT) else { continue };
        assert!(e.samples <= LIMIT);
        for f in &e.families {
            for s in &f.samples {
                assert!(!s.name.is_empty());
                for (i, (k, v)) in s.labels.iter().enumerate() {
                    assert!(!v.is_empty(), "empty label value kept");
                    assert!(s.labels[..i].iter().all(|(k2, _)| k2 != k), "duplicate label");
                }
            }
        }
        // Timestamps of OpenMetrics are seconds; the text form writes milliseconds.
        let again = parse(render(&e).as_bytes(), Format::Text, LIMIT).expect("rendered text parses");
        assert_eq!(samples(&e), samples(&again));

        let target = vec![
            ("instance".to_string(), "localhost:9100".to_string()),
            ("job".to_string(), "fuzz".to_string()),
        ];
        let rules = Rules {
            honor_labels: data.first().is_some_and(|b| b & 1 == 1),
            honor_timestamps: true,
            relabel: Vec::new(),
            sample_limit: LIMIT,
        };
        if let Ok(a) = assemble(e, &target, &rules) {
            for f in a.main.iter().chain(a.timed.values().flatten()) {
                for s in &f.samples {
                    assert!(s.labels.windows(2).all(|w| w[0].0 < w[1].0), "sorted, unique");
                    assert!(s.labels.iter().any(|(k, _)| k == "job"));
                }
            }
        }
    }
});

//! The documented examples of both formats, and what must be refused.

use super::*;

fn text(body: &str) -> Exposition {
    parse(body.as_bytes(), Format::Text, 100_000).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

fn om(body: &str) -> Exposition {
    parse(body.as_bytes(), Format::OpenMetrics, 100_000).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

fn err(body: &str, format: Format) -> ParseError {
    match parse(body.as_bytes(), format, 100_000) {
        Ok(x) => panic!("accepted {body:?}: {x:?}"),
        Err(e) => e,
    }
}

fn labels(s: &Sample) -> Vec<(&str, &str)> {
    s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The example of the Prometheus "Exposition formats" page, text format section.
const PROMETHEUS_DOC_EXAMPLE: &str = r#"# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.05"} 3272
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.9"} 9001
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
"#;

#[test]
fn prometheus_text_format_example() {
    let e = text(PROMETHEUS_DOC_EXAMPLE);
    assert_eq!(e.samples, 20);
    let names: Vec<(&str, Kind, usize)> = e
        .families
        .iter()
        .map(|f| (f.name.as_str(), f.kind, f.samples.len()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("http_requests_total", Kind::Counter, 2),
            ("msdos_file_access_time_seconds", Kind::Unknown, 1),
            ("metric_without_timestamp_and_labels", Kind::Unknown, 1),
            ("something_weird", Kind::Unknown, 1),
            ("http_request_duration_seconds", Kind::Histogram, 8),
            ("rpc_duration_seconds", Kind::Summary, 7),
        ]
    );
    let req = &e.families[0];
    assert_eq!(req.help, "The total number of HTTP requests.");
    assert_eq!(labels(&req.samples[1]), vec![("method", "post"), ("code", "400")]);
    assert_eq!(req.samples[1].value, 3.0);
    assert_eq!(req.samples[1].timestamp_ms, Some(1395066363000));
    let msdos = &e.families[1].samples[0];
    assert_eq!(
        labels(msdos),
        vec![
            ("path", r"C:\DIR\FILE.TXT"),
            ("error", "Cannot find file:\n\"FILE.TXT\"")
        ]
    );
    assert_eq!(msdos.value, 1.458255915e9);
    assert_eq!(e.families[2].samples[0].timestamp_ms, None);
    let weird = &e.families[3].samples[0];
    assert_eq!((weird.value, weird.timestamp_ms), (f64::INFINITY, Some(-3982045)));
    let hist = &e.families[4];
    assert_eq!(hist.samples[5].name, "http_request_duration_seconds_bucket");
    assert_eq!(labels(&hist.samples[5]), vec![("le", "+Inf")]);
    assert_eq!(hist.samples[7].name, "http_request_duration_seconds_count");
    let summary = &e.families[5];
    assert_eq!(summary.samples[5].name, "rpc_duration_seconds_sum");
    assert_eq!(summary.samples[5].value, 1.7560473e7);
    assert_eq!(summary.kind.metric_kind(), MetricKind::Summary);
}

#[test]
fn openmetrics_spec_examples() {
    let e = om(r#"# TYPE acme_http_router_request_seconds summary
# UNIT acme_http_router_request_seconds seconds
# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.
acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32
acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0
acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1605281325.0
acme_http_router_request_seconds_sum{path="/api/v2",method="POST"} 479.3
acme_http_router_request_seconds_count{path="/api/v2",method="POST"} 34.0
acme_http_router_request_seconds_created{path="/api/v2",method="POST"} 1605281325.0
# TYPE go_goroutines gauge
# HELP go_goroutines Number of goroutines that currently exist.
go_goroutines 69
# TYPE process_cpu_seconds counter
# UNIT process_cpu_seconds seconds
# HELP process_cpu_seconds Total user and system CPU time spent in seconds.
process_cpu_seconds_total 4.20072246e+06
# TYPE foo histogram
foo_bucket{le="0.01"} 0
foo_bucket{le="0.1"} 8 # {} 0.054
foo_bucket{le="1"} 11 # {trace_id="KOO5S4vxi0o"} 0.67
foo_bucket{le="10"} 17 # {trace_id="oHg5SJYRHA0"} 9.8 1520879607.789
foo_bucket{le="+Inf"} 17
foo_count 17
foo_sum 324789.3
foo_created 1520430000.123
# TYPE bar stateset
bar{entity="controller",bar="a"} 1.0
bar{entity="replica",bar="bb"} 0.0
# TYPE build info
build_info{name="pretty name",version="8.2.7"} 1
# TYPE queue gaugehistogram
queue_bucket{le="0.01"} 20.0
queue_bucket{le="+Inf"} 27.0
queue_gcount 27
queue_gsum 1234.5
# TYPE events counter
events_total 17.0 1520879607.789
# TYPE nothing unknown
nothing NaN
# EOF
"#);
    let fams: Vec<(&str, Kind, usize)> = e
        .families
        .iter()
        .map(|f| (f.name.as_str(), f.kind, f.samples.len()))
        .collect();
    assert_eq!(
        fams,
        vec![
            ("acme_http_router_request_seconds", Kind::Summary, 6),
            ("go_goroutines", Kind::Gauge, 1),
            ("process_cpu_seconds", Kind::Counter, 1),
            ("foo", Kind::Histogram, 8),
            ("bar", Kind::StateSet, 2),
            ("build", Kind::Info, 1),
            ("queue", Kind::GaugeHistogram, 4),
            ("events", Kind::Counter, 1),
            ("nothing", Kind::Unknown, 1),
        ]
    );
    assert_eq!(e.families[0].unit, "seconds");
    assert_eq!(
        e.families[0].help,
        "Latency though all of ACME's HTTP request router."
    );
    assert_eq!(e.families[2].samples[0].name, "process_cpu_seconds_total");
    assert_eq!(
        e.families[3].samples[3].value, 17.0,
        "exemplar dropped, value kept"
    );
    assert_eq!(e.families[3].samples[3].timestamp_ms, None);
    assert_eq!(e.families[3].samples[7].name, "foo_created");
    assert_eq!(
        e.families[7].samples[0].timestamp_ms,
        Some(1520879607789),
        "seconds → ms"
    );
    assert!(e.families[8].samples[0].value.is_nan());
    assert_eq!(e.families[5].kind.metric_kind(), MetricKind::Gauge);
}

#[test]
fn special_values_and_blanks() {
    let e = text("a NaN\nb +Inf\nc -Inf\nd 1e-3\n\te{x=\"1\" , y = \"2\",} -0.5   42\r\nf{} 7\n");
    let v: Vec<f64> = e.families.iter().map(|f| f.samples[0].value).collect();
    assert!(v[0].is_nan());
    assert_eq!(&v[1..], &[f64::INFINITY, f64::NEG_INFINITY, 0.001, -0.5, 7.0]);
    let s = &e.families[4].samples[0];
    assert_eq!(labels(s), vec![("x", "1"), ("y", "2")]);
    assert_eq!(s.timestamp_ms, Some(42));
    assert!(e.families[5].samples[0].labels.is_empty());
}

#[test]
fn empty_label_values_mean_no_label() {
    let e = text("up{job=\"\",instance=\"a\"} 1\n");
    assert_eq!(labels(&e.families[0].samples[0]), vec![("instance", "a")]);
}

#[test]
fn comments_and_untyped_samples_of_a_typed_name() {
    let e = text("# just a comment\n#HELP not metadata\n# TYPE h histogram\nh 3\nh_bucket{le=\"1\"} 1\n");
    assert_eq!(e.families.len(), 1, "{e:?}");
    assert_eq!(e.samples, 2);
}

#[test]
fn malformed_inputs_are_refused_with_the_line() {
    use Format::{OpenMetrics as O, Text as T};
    let cases: &[(&str, Format, &str)] = &[
        ("a{b=\"1\",b=\"2\"} 1\n", T, "line 1: duplicate label name \"b\""),
        ("ok 1\n{b=\"1\"} 1\n", T, "line 2: a sample without a metric name"),
        ("a 1.2.3\n", T, "invalid value \"1.2.3\""),
        ("a abc\n", T, "invalid value \"abc\""),
        ("a\n", T, "has no value"),
        ("a{b=\"1} 2\n", T, "unterminated value of label \"b\""),
        ("a{b=\"1\" 2\n", T, "expected ',' or '}'"),
        ("a{b} 1\n", T, "expected '=' after label name \"b\""),
        ("a{1b=\"x\"} 1\n", T, "expected a label name"),
        ("a{b=x} 1\n", T, "expected '\"'"),
        ("a 1 12.5\n", T, "invalid timestamp \"12.5\""),
        ("a 1 2 3\n", T, "unexpected \"3\""),
        ("1a 1\n", T, "not a metric name"),
        ("a-b 1\n", T, "unexpected '-' after metric name \"a\""),
        (
            "# TYPE a gauge\n# TYPE a counter\na 1\n",
            T,
            "line 2: second TYPE line for a",
        ),
        (
            "a 1\n# TYPE a gauge\n",
            T,
            "line 2: TYPE line for a after its samples",
        ),
        ("# HELP a x\n# HELP a y\n", T, "second HELP line for a"),
        ("# TYPE a meter\n", T, "unknown metric type \"meter\""),
        ("# TYPE a gaugehistogram\n", T, "unknown metric type"),
        ("# TYPE 9a gauge\n", T, "is not a metric name"),
        ("a{__name__=\"b\"} 1\n", T, "__name__"),
        ("a 1\n", O, "does not end with \"# EOF\""),
        ("a 1\n# EOF\nb 2\n", O, "line 3: content after \"# EOF\""),
        ("a 1\n\n# EOF\n", O, "line 2: empty line"),
        ("# a comment\n# EOF\n", O, "OpenMetrics allows only"),
        ("a 1 abc\n# EOF\n", O, "invalid timestamp \"abc\""),
        ("a 1 # {x=\"y\"}\n# EOF\n", O, "exemplar: invalid value"),
        ("a 1 # x\n# EOF\n", O, "exemplar without a label set"),
        ("a 1 # {x=\"y\"} 1\n", T, "unexpected"),
    ];
    for (body, format, want) in cases {
        let e = err(body, *format);
        assert!(
            e.to_string().contains(want),
            "{body:?}: got {:?}, want {want:?}",
            e.to_string()
        );
    }
    let bad_utf8 = b"a 1\nb{x=\"\xff\"} 2\n";
    let e = parse(bad_utf8, Format::Text, 10).unwrap_err();
    assert_eq!(e.to_string(), "line 2: invalid UTF-8");
}

#[test]
fn sample_limit_bounds_the_output() {
    let body: String = (0..11).map(|i| format!("m{{i=\"{i}\"}} 1\n")).collect();
    assert_eq!(parse(body.as_bytes(), Format::Text, 11).unwrap().samples, 11);
    let e = parse(body.as_bytes(), Format::Text, 10).unwrap_err();
    assert_eq!(e.to_string(), "line 11: more than 10 samples");
}

#[test]
fn content_type_negotiation() {
    assert_eq!(
        Format::from_content_type(Some("application/openmetrics-text; version=1.0.0; charset=utf-8")),
        Format::OpenMetrics
    );
    assert_eq!(
        Format::from_content_type(Some("text/plain; version=0.0.4; charset=utf-8")),
        Format::Text
    );
    assert_eq!(Format::from_content_type(None), Format::Text);
    assert_eq!(Format::from_content_type(Some("application/json")), Format::Text);
}

/// Every prefix and a few byte flips of the documented examples: an error or a result, never
/// a panic (the fuzz target does this at scale).
#[test]
fn truncated_and_damaged_bodies_never_panic() {
    let body = PROMETHEUS_DOC_EXAMPLE.as_bytes();
    for end in 0..body.len() {
        for format in [Format::Text, Format::OpenMetrics] {
            let _ = parse(&body[..end], format, 1000);
        }
    }
    let mut damaged = body.to_vec();
    for i in (0..damaged.len()).step_by(7) {
        let keep = damaged[i];
        for b in [b'"', b'\\', b'{', b'}', b'#', b'\n', b' ', 0xc3] {
            damaged[i] = b;
            let _ = parse(&damaged, Format::Text, 1000);
        }
        damaged[i] = keep;
    }
}

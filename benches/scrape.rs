//! Scrape benchmarks, one phase per process. `cargo bench --bench scrape -- PHASE`
//! (scripts/bench-scrape.sh runs both against a real node_exporter):
//!
//! - `parse`: a 10,000-series exposition (50 counter families of 150 series with three
//!   labels, 10 histograms of 20 handlers × 12 series, 100 gauges; 0.9 MB). Reports samples/s
//!   of the parser alone and of parse + labelling (target labels, sort, duplicate check); as
//!   the reference measured in the same run, the remote_write encoding of the same samples
//!   (the stage after it). Median of 15 rounds.
//! - `node URL [SCRAPES]`: full scrapes of a real node_exporter (GET, parse, label, synthetic
//!   series, stale tracking, store encoding), process CPU time per scrape; the reference in the
//!   same run, interleaved, is the agent's own host sampling cycle (sample + store encoding).
//!   Medians over SCRAPES (default 200) of each.

use std::time::{Duration, Instant};

use outpost::model::staleness::Staleness;
use outpost::model::stored::{encode_snapshot, encode_stored, StoredFamily, StoredSnapshot};
use outpost::net::http::{agent, Endpoint};
use outpost::sinks::remote_write::proto::Encoder;
use outpost::sources::host::HostSampler;
use outpost::sources::scrape::parse::{parse, Format};
use outpost::sources::scrape::target::{assemble, fetch, report, Rules};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN timings"));
    v[v.len() / 2]
}

fn process_cpu_s() -> f64 {
    // SAFETY: timespec is plain data filled by clock_gettime.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn target_labels() -> Vec<(String, String)> {
    [
        ("gateway", "bench"),
        ("instance", "127.0.0.1:9100"),
        ("job", "node"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn rules() -> Rules {
    Rules {
        honor_labels: false,
        honor_timestamps: true,
        relabel: Vec::new(),
        sample_limit: 1_000_000,
    }
}

fn exposition_10k() -> String {
    let mut s = String::new();
    for i in 0..50 {
        s.push_str(&format!(
            "# HELP app_requests_{i}_total Requests handled.\n# TYPE app_requests_{i}_total counter\n"
        ));
        for m in ["GET", "POST", "PUT"] {
            for c in ["200", "201", "400", "404", "500"] {
                for p in 0..10 {
                    s.push_str(&format!(
                        "app_requests_{i}_total{{method=\"{m}\",code=\"{c}\",path=\"/api/v1/items/{p}\"}} {}\n",
                        i * 1000 + p * 7
                    ));
                }
            }
        }
    }
    for j in 0..10 {
        s.push_str(&format!(
            "# HELP app_latency_{j}_seconds Latency.\n# TYPE app_latency_{j}_seconds histogram\n"
        ));
        for h in 0..20 {
            for le in [
                "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
            ] {
                s.push_str(&format!(
                    "app_latency_{j}_seconds_bucket{{handler=\"h{h}\",le=\"{le}\"}} {}\n",
                    h * 3
                ));
            }
            s.push_str(&format!(
                "app_latency_{j}_seconds_sum{{handler=\"h{h}\"}} 12.75\n"
            ));
            s.push_str(&format!("app_latency_{j}_seconds_count{{handler=\"h{h}\"}} 60\n"));
        }
    }
    for k in 0..100 {
        s.push_str(&format!("# TYPE app_gauge_{k} gauge\napp_gauge_{k} {k}.5\n"));
    }
    s
}

fn parse_phase() {
    let body = exposition_10k();
    let target = target_labels();
    let encoder = Encoder {
        job: "node".into(),
        instance: "bench".into(),
        external_labels: Vec::new(),
        max_samples: 2000,
        max_bytes: 4 << 20,
    };
    let n = parse(body.as_bytes(), Format::Text, 1_000_000)
        .expect("generated exposition parses")
        .samples;
    assert_eq!(n, 10_000);
    let (mut p, mut pl, mut rw) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..15 {
        let t = Instant::now();
        let e = parse(body.as_bytes(), Format::Text, 1_000_000).expect("parses");
        p.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let e2 = parse(body.as_bytes(), Format::Text, 1_000_000).expect("parses");
        let a = assemble(e2, &target, &rules()).expect("labels");
        pl.push(t.elapsed().as_secs_f64());
        drop(e);
        let snap = vec![StoredSnapshot {
            timestamp_ms: 1_700_000_000_000,
            families: a.main,
        }];
        let t = Instant::now();
        let batch = encoder.encode(&snap, None);
        rw.push(t.elapsed().as_secs_f64());
        assert_eq!(batch.requests.iter().map(|r| r.samples).sum::<usize>(), n);
    }
    let (p, pl, rw) = (median(&mut p), median(&mut pl), median(&mut rw));
    println!(
        "parse: {n} series, {} bytes of text 0.0.4; median of 15 rounds:\n  \
         parser alone      {:>10.0} samples/s ({:.2} ms per scrape body)\n  \
         parse + labelling {:>10.0} samples/s ({:.2} ms)\n  \
         reference, remote_write encoding of the same samples: {:.0} samples/s ({:.2} ms); \
         parse + labelling costs {:.2}x the encoding",
        body.len(),
        n as f64 / p,
        p * 1e3,
        n as f64 / pl,
        pl * 1e3,
        n as f64 / rw,
        rw * 1e3,
        pl / rw
    );
}

fn node_phase(url: &str, scrapes: usize) {
    let timeout = Duration::from_secs(10);
    let ep = Endpoint {
        url: url.to_string(),
        headers: Vec::new(),
        authorization: None,
        tls: None,
        timeout,
    };
    let http = agent(&ep);
    let target = target_labels();
    let mut stale: Staleness<StoredFamily> = Staleness::default();
    let cfg = outpost::config::load(None, None)
        .expect("embedded default config")
        .sample;
    let mut host = HostSampler::new(&cfg);
    let mut scrape_once = || {
        let t = Instant::now();
        let c = process_cpu_s();
        let (format, body) = fetch(&http, url, None, timeout, 64 << 20).expect("node_exporter answers");
        let get_cpu = process_cpu_s() - c;
        let e = parse(&body, format, 1_000_000).expect("node_exporter output parses");
        let a = assemble(e, &target, &rules()).expect("labels");
        let (scraped, post) = (a.scraped, a.post_relabel);
        let mut main = a.main;
        main.extend(report(&target, true, t.elapsed(), scraped, post));
        stale.mark_families(&mut main);
        let bytes = encode_stored(&StoredSnapshot {
            timestamp_ms: 0,
            families: main,
        });
        (body.len(), scraped, bytes.len(), format, get_cpu)
    };
    for _ in 0..5 {
        scrape_once();
        host.sample();
    }
    let (mut cpu, mut wall, mut host_cpu, mut get) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut last = (0, 0, 0, Format::Text, 0.0);
    for _ in 0..scrapes {
        let (c, w) = (process_cpu_s(), Instant::now());
        last = scrape_once();
        wall.push(w.elapsed().as_secs_f64());
        cpu.push(process_cpu_s() - c);
        get.push(last.4);
        let c = process_cpu_s();
        let cycle = host.sample();
        let _ = encode_snapshot(&cycle.snapshot);
        host_cpu.push(process_cpu_s() - c);
        std::thread::sleep(Duration::from_millis(20));
    }
    let (cpu, wall, host_cpu, get) = (
        median(&mut cpu),
        median(&mut wall),
        median(&mut host_cpu),
        median(&mut get),
    );
    println!(
        "node: {scrapes} scrapes of {url} ({:?}, {} bytes, {} samples, {} bytes stored):\n  \
         median CPU {:.2} ms per scrape (GET + parse + label + stale tracking + store encoding; the GET alone {:.2} ms), median wall {:.2} ms\n  \
         reference, the agent's own host sampling cycle in the same run: median CPU {:.2} ms; a node_exporter scrape costs {:.2}x",
        last.3,
        last.0,
        last.1,
        last.2,
        cpu * 1e3,
        get * 1e3,
        wall * 1e3,
        host_cpu * 1e3,
        cpu / host_cpu
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    match args.first().map(String::as_str) {
        Some("parse") | None => parse_phase(),
        Some("node") => {
            let url = args.get(1).expect("usage: scrape node URL [SCRAPES]").clone();
            let scrapes = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
            node_phase(&url, scrapes);
        }
        Some(other) => panic!("unknown phase {other:?}; use parse or node URL"),
    }
}

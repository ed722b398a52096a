//! The local `/metrics` endpoint: format, status codes, and that clients cannot stall it or
//! the sampler.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::*;

#[test]
fn format_and_status_codes() {
    let dir = TempDir::new("endpoint");
    let port = free_port();
    let cfg = write_config(dir.path(), port, "");
    let _agent = start_outpost(&cfg, port);
    let addr = format!("127.0.0.1:{port}");

    let r = http_get(&addr, "/metrics").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(
        r.header("content-length").and_then(|l| l.parse().ok()),
        Some(r.body.len())
    );
    // Every sample's family has HELP and TYPE lines before it.
    let types = parse_types(&r.body);
    let samples = parse_exposition(&r.body);
    for (name, _) in samples.keys() {
        assert!(types.contains_key(name), "{name} has no TYPE");
        assert!(r.body.contains(&format!("# HELP {name} ")), "{name} has no HELP");
    }
    assert!(samples.keys().any(|(n, _)| n == "outpost_build_info"));
    assert!(samples.keys().any(|(n, _)| n == "outpost_resident_memory_bytes"));

    let r = http_raw(&addr, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(http_get(&addr, "/nope").unwrap().status, 404);
    let r = http_raw(&addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").unwrap();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    let huge = format!("GET /metrics HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
    assert_eq!(http_raw(&addr, huge.as_bytes()).unwrap().status, 431);
    assert_eq!(http_raw(&addr, b"\x00\x01garbage\r\n\r\n").unwrap().status, 400);
}

#[test]
fn idle_clients_neither_block_the_endpoint_nor_sampling() {
    let dir = TempDir::new("slow");
    let port = free_port();
    let cfg = write_config(dir.path(), port, "[sample]\ninterval = \"200ms\"\n");
    // Two connection slots, one-second deadline per request.
    let cfg_text = std::fs::read_to_string(&cfg).unwrap().replace(
        "[metrics]\n",
        "[metrics]\nmax_connections = 2\nrequest_timeout = \"1s\"\n",
    );
    std::fs::write(&cfg, cfg_text).unwrap();
    let _agent = start_outpost(&cfg, port);
    let addr = format!("127.0.0.1:{port}");
    let cycles =
        |body: &str| parse_exposition(body)[&("outpost_sample_cycles_total".to_string(), Vec::new())];
    let before = cycles(&http_get(&addr, "/metrics").unwrap().body);

    // Two clients that connect and send half a request, then nothing.
    let mut idle: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /metr").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    // A third is refused at once instead of queueing behind them.
    let r = http_get(&addr, "/metrics").unwrap();
    assert_eq!(r.status, 503);
    // After the deadline the slots are free again, and sampling went on meanwhile.
    std::thread::sleep(Duration::from_millis(1500));
    let r = http_get(&addr, "/metrics").unwrap();
    assert_eq!(r.status, 200);
    let after = cycles(&r.body);
    assert!(
        after - before >= 5.0,
        "sampling stalled: {before} -> {after} cycles in 1.6 s"
    );
    let rejected = parse_exposition(&r.body)[&(
        "outpost_metrics_http_rejected_connections_total".to_string(),
        Vec::new(),
    )];
    assert!(rejected >= 1.0);
    idle.clear();
}

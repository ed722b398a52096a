//! remote_write benchmarks, one phase per process. `cargo bench --bench remote_write -- PHASE`
//! (scripts/bench-remote-write.sh runs both and the drain into a real Prometheus):
//!
//! - `encode`: 1,000 real host snapshots of this machine (sampled here, as the agent stores
//!   them, with stale-marker tracking) encoded into snappy-compressed WriteRequests the way the
//!   sink batches them (2,000 samples per request). Reports samples/s and bytes per sample on
//!   the wire and before compression; as the reference measured in the same run, the same
//!   snapshots encoded as the MQTT JSON payload. Median of 7 rounds.
//! - `fill24h DIR`: a store holding 24 h of default host metrics (one snapshot every 10 s,
//!   8,640 snapshots, timestamps spread over the last 24 h) for the drain benchmark.

use std::path::Path;
use std::time::Instant;

use outpost::config::StoreConfig;
use outpost::model::stored::{decode_snapshot, encode_snapshot, StoredSnapshot};
use outpost::sinks::payload::batch_json;
use outpost::sinks::remote_write::proto::Encoder;
use outpost::sources::host::HostSampler;
use outpost::store::{Class, Record, Store};

fn sample_cfg() -> outpost::config::SampleConfig {
    outpost::config::load(None, None)
        .expect("embedded default config")
        .sample
}

/// `n` stored snapshots of this machine, `step_ms` apart, ending now.
fn snapshots(n: usize, step_ms: i64) -> Vec<Vec<u8>> {
    let mut sampler = HostSampler::new(&sample_cfg());
    let mut stale = outpost::model::staleness::Staleness::default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    (0..n)
        .map(|i| {
            let mut c = sampler.sample();
            c.snapshot.timestamp_ms = now - (n - 1 - i) as i64 * step_ms;
            stale.mark(&mut c.snapshot);
            encode_snapshot(&c.snapshot)
        })
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn encode() {
    let stored = snapshots(1000, 10_000);
    let decoded: Vec<StoredSnapshot> = stored.iter().map(|b| decode_snapshot(b).unwrap()).collect();
    let samples: usize = decoded
        .iter()
        .map(|s| s.families.iter().map(|f| f.samples.len()).sum::<usize>())
        .sum();
    let per_snapshot = samples / decoded.len();
    let enc = Encoder {
        job: "node".into(),
        instance: "gateway-0001".into(),
        external_labels: vec![("site".into(), "plant-7".into())],
        max_samples: 2000,
        max_bytes: 4 << 20,
    };
    // Batches as the sink reads them: as many snapshots as fit 2,000 samples.
    let per_batch = (2000 / per_snapshot).max(1);
    let records: Vec<Record> = stored
        .iter()
        .enumerate()
        .map(|(i, b)| Record {
            seq: i as u64 + 1,
            class: Class::Metrics,
            ts_ms: decoded[i].timestamp_ms,
            data: b.clone(),
        })
        .collect();
    let (mut rw_rate, mut json_rate) = (Vec::new(), Vec::new());
    let (mut wire, mut raw, mut json_bytes, mut requests) = (0usize, 0usize, 0usize, 0usize);
    for _ in 0..7 {
        // remote_write: decode the stored snapshots and encode, as the sink does per batch.
        let t = Instant::now();
        let (mut w, mut r, mut n) = (0, 0, 0);
        for chunk in stored.chunks(per_batch) {
            let snaps: Vec<StoredSnapshot> = chunk.iter().map(|b| decode_snapshot(b).unwrap()).collect();
            for req in enc.encode(&snaps, None).requests {
                w += req.body.len();
                r += req.raw_bytes;
                n += 1;
            }
        }
        rw_rate.push(samples as f64 / t.elapsed().as_secs_f64());
        (wire, raw, requests) = (w, r, n);
        // Reference: the MQTT JSON payload of the same snapshots, same batching.
        let t = Instant::now();
        let mut j = 0;
        for chunk in records.chunks(per_batch) {
            let refs: Vec<&Record> = chunk.iter().collect();
            j += batch_json("gateway-0001", Class::Metrics, &refs).len();
        }
        json_rate.push(samples as f64 / t.elapsed().as_secs_f64());
        json_bytes = j;
    }
    let (rw, js) = (median(&mut rw_rate), median(&mut json_rate));
    println!(
        "encode: {} snapshots, {samples} samples ({per_snapshot} per snapshot), {requests} requests",
        decoded.len()
    );
    println!(
        "remote_write: {rw:.0} samples/s; {:.2} bytes/sample on the wire (snappy), {:.2} before compression",
        wire as f64 / samples as f64,
        raw as f64 / samples as f64
    );
    println!(
        "reference, MQTT JSON of the same snapshots: {js:.0} samples/s, {:.2} bytes/sample; remote_write/JSON speed ratio {:.2}",
        json_bytes as f64 / samples as f64,
        rw / js
    );
}

fn fill24h(dir: &Path) {
    let n = 8640;
    let t = Instant::now();
    let stored = snapshots(n, 10_000);
    let mut store = Store::open(
        dir,
        StoreConfig {
            max_bytes: 4 << 30,
            min_free_disk: 0,
            ..StoreConfig::default()
        },
        None,
    );
    let mut bytes = 0;
    for b in stored {
        let ts = decode_snapshot(&b).unwrap().timestamp_ms;
        bytes += b.len();
        store.append(Class::Metrics, ts, b);
        if store.commit_due() {
            store.commit().expect("commit");
        }
    }
    store.commit().expect("commit");
    store.close();
    println!(
        "fill24h: {n} snapshots, {:.1} MiB stored payload, in {:.1} s",
        bytes as f64 / (1 << 20) as f64,
        t.elapsed().as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    match args.first().map(String::as_str) {
        None | Some("encode") => encode(),
        Some("fill24h") => fill24h(Path::new(args.get(1).expect("fill24h DIR"))),
        Some(other) => panic!("unknown phase {other}"),
    }
}

//! CPU time of one host sampling cycle on this machine: every default collector plus the
//! text encoding, as the agent runs it. Reports the median of per-cycle process CPU time
//! (all threads, so the statfs helper counts) and of wall time.
//!
//! `cargo bench --bench sample_cycle [-- CYCLES]` (default 2000). With `OUTPOST_BENCH_GAP_MS=100`
//! it pauses between cycles like the agent does, so caches are cold as in production. Under callgrind, give a small
//! count: `valgrind --tool=callgrind target/release/deps/sample_cycle-* 200`.

use std::time::Instant;

use outpost::model::text;
use outpost::sources::host::HostSampler;

fn process_cpu_ns() -> u64 {
    // SAFETY: timespec is plain data filled by clock_gettime.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    let cycles: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let cfg = outpost::config::load(None, None)
        .expect("embedded default config")
        .sample;
    let mut sampler = HostSampler::new(&cfg);
    let mut out = String::with_capacity(64 * 1024);
    for _ in 0..10 {
        let c = sampler.sample();
        out.clear();
        text::encode(&c.snapshot.families, &mut out);
    }
    let mut cpu = Vec::with_capacity(cycles);
    let mut wall = Vec::with_capacity(cycles);
    let mut samples = 0;
    // OUTPOST_BENCH_GAP_MS: pause between cycles, as the agent does, so caches go cold.
    let gap = std::env::var("OUTPOST_BENCH_GAP_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_millis);
    for _ in 0..cycles {
        if let Some(gap) = gap {
            std::thread::sleep(gap);
        }
        let (c0, w0) = (process_cpu_ns(), Instant::now());
        let c = sampler.sample();
        out.clear();
        text::encode(&c.snapshot.families, &mut out);
        wall.push(w0.elapsed().as_nanos() as u64);
        cpu.push(process_cpu_ns() - c0);
        samples = c.snapshot.families.iter().map(|f| f.samples.len()).sum();
    }
    println!(
        "sample_cycle: {cycles} cycles, {samples} samples/cycle, {} bytes exposition; \
         median CPU {:.1} µs/cycle, median wall {:.1} µs/cycle",
        out.len(),
        median(&mut cpu) as f64 / 1e3,
        median(&mut wall) as f64 / 1e3
    );
}

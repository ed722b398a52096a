//! `/proc/stat`: per-CPU time by mode (node_exporter's `cpu` collector) and the kernel counters
//! of its `stat` collector (boot time, context switches, forks, interrupts, process states).
//!
//! Both collectors read the same file, so the sampler reads it once per cycle and hands the
//! text to each. CPU counters are protected against the kernel's known jump-backs exactly as
//! node_exporter does it: a counter that goes down keeps its previous value, and an idle counter
//! that drops by 3 s or more is treated as a CPU hotplug and resets that CPU's cache.

use std::collections::BTreeMap;
use std::path::Path;

use super::read::CollectError;
use crate::model::{Family, MetricKind};

const MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];
const JUMP_BACK_SECONDS: f64 = 3.0;
const IDLE: usize = 3;

/// Per-CPU seconds: the eight modes, then guest and guest_nice.
type CpuTimes = [f64; 10];

pub struct Cpu {
    user_hz: f64,
    last: BTreeMap<u32, CpuTimes>,
}

impl Cpu {
    pub fn new() -> Self {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Cpu {
            user_hz: if hz > 0 { hz as f64 } else { 100.0 },
            last: BTreeMap::new(),
        }
    }

    pub fn collect(&mut self, path: &Path, text: &str, out: &mut Vec<Family>) -> Result<(), CollectError> {
        let mut seconds = Family::new(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
            MetricKind::Counter,
        );
        let mut guest = Family::new(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            MetricKind::Counter,
        );
        let mut seen = 0usize;
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("cpu") else {
                continue;
            };
            if !rest.starts_with(|c: char| c.is_ascii_digit()) {
                continue; // the aggregate "cpu " line
            }
            let mut fields = rest.split_ascii_whitespace();
            let cpu: u32 = fields
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| CollectError::parse(path, format!("bad cpu line {line:?}")))?;
            let mut now: CpuTimes = [0.0; 10];
            let mut n = 0;
            for (slot, field) in now.iter_mut().zip(fields) {
                let ticks: u64 = field
                    .parse()
                    .map_err(|_| CollectError::parse(path, format!("bad value {field:?} in {line:?}")))?;
                *slot = ticks as f64 / self.user_hz;
                n += 1;
            }
            if n < 4 {
                return Err(CollectError::parse(path, format!("too few fields in {line:?}")));
            }
            let cached = self.last.entry(cpu).or_insert([0.0; 10]);
            if cached[IDLE] - now[IDLE] >= JUMP_BACK_SECONDS {
                log::debug!("cpu{cpu}: idle counter jumped back, assuming hotplug");
                *cached = [0.0; 10];
            }
            for (c, v) in cached.iter_mut().zip(now.iter()) {
                if *v >= *c {
                    *c = *v;
                }
            }
            let label = cpu.to_string();
            for (i, mode) in MODES.iter().enumerate() {
                seconds.push(
                    vec![("cpu", label.clone()), ("mode", (*mode).to_string())],
                    cached[i],
                );
            }
            guest.push(
                vec![("cpu", label.clone()), ("mode", "user".to_string())],
                cached[8],
            );
            guest.push(vec![("cpu", label), ("mode", "nice".to_string())], cached[9]);
            seen += 1;
        }
        if seen == 0 {
            return Err(CollectError::parse(path, "no per-CPU lines"));
        }
        if self.last.len() != seen {
            // CPUs went offline: forget their cache so a later hotplug starts clean.
            let present: Vec<u32> = text
                .lines()
                .filter_map(|l| l.strip_prefix("cpu"))
                .filter_map(|r| r.split_ascii_whitespace().next()?.parse().ok())
                .collect();
            self.last.retain(|k, _| present.contains(k));
        }
        out.push(seconds);
        out.push(guest);
        Ok(())
    }
}

/// node_exporter's `stat` collector.
pub fn collect_stat(path: &Path, text: &str, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let field = |name: &str| -> Result<Option<f64>, CollectError> {
        let Some(line) = text
            .lines()
            .find(|l| l.split_ascii_whitespace().next() == Some(name))
        else {
            return Ok(None);
        };
        let v = line.split_ascii_whitespace().nth(1).unwrap_or("");
        v.parse::<u64>()
            .map(|v| Some(v as f64))
            .map_err(|_| CollectError::parse(path, format!("bad value in {line:?}")))
    };
    let btime = field("btime")?.ok_or_else(|| CollectError::parse(path, "no btime line"))?;
    out.push(Family::single(
        "node_boot_time_seconds",
        "Node boot time, in unixtime.",
        MetricKind::Gauge,
        btime,
    ));
    let rest = [
        (
            "ctxt",
            "node_context_switches_total",
            "Total number of context switches.",
            MetricKind::Counter,
        ),
        (
            "processes",
            "node_forks_total",
            "Total number of forks.",
            MetricKind::Counter,
        ),
        (
            "intr",
            "node_intr_total",
            "Total number of interrupts serviced.",
            MetricKind::Counter,
        ),
        (
            "procs_running",
            "node_procs_running",
            "Number of processes in runnable state.",
            MetricKind::Gauge,
        ),
        (
            "procs_blocked",
            "node_procs_blocked",
            "Number of processes blocked waiting for I/O to complete.",
            MetricKind::Gauge,
        ),
    ];
    for (key, name, help, kind) in rest {
        if let Some(v) = field(key)? {
            out.push(Family::single(name, help, kind, v));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  10 0 10 100 0 0 0 0 0 0\n\
cpu0 500 20 300 10000 40 5 6 7 8 9\n\
cpu1 100 0 100 20000 0 0 0 0 0 0\n\
intr 12345 1 2 3\nctxt 999\nbtime 1700000000\nprocesses 4242\nprocs_running 3\nprocs_blocked 1\n";

    fn value(fams: &[Family], name: &str, labels: &[(&str, &str)]) -> f64 {
        let f = fams.iter().find(|f| f.name == name).expect(name);
        f.samples
            .iter()
            .find(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .expect("sample")
            .value
    }

    #[test]
    fn cpu_seconds_per_mode() {
        let mut cpu = Cpu {
            user_hz: 100.0,
            last: BTreeMap::new(),
        };
        let mut out = Vec::new();
        cpu.collect(Path::new("/proc/stat"), STAT, &mut out).unwrap();
        assert_eq!(
            value(&out, "node_cpu_seconds_total", &[("cpu", "0"), ("mode", "user")]),
            5.0
        );
        assert_eq!(
            value(&out, "node_cpu_seconds_total", &[("cpu", "0"), ("mode", "steal")]),
            0.07
        );
        assert_eq!(
            value(&out, "node_cpu_seconds_total", &[("cpu", "1"), ("mode", "idle")]),
            200.0
        );
        assert_eq!(
            value(
                &out,
                "node_cpu_guest_seconds_total",
                &[("cpu", "0"), ("mode", "nice")]
            ),
            0.09
        );
        assert_eq!(out[0].samples.len(), 16);
    }

    #[test]
    fn counters_never_go_backwards_but_hotplug_resets() {
        let mut cpu = Cpu {
            user_hz: 100.0,
            last: BTreeMap::new(),
        };
        let mut out = Vec::new();
        cpu.collect(Path::new("s"), STAT, &mut out).unwrap();
        // iowait jumps back by a little: keep the old value.
        let back = STAT.replace("cpu0 500 20 300 10000 40", "cpu0 501 20 300 10001 30");
        out.clear();
        cpu.collect(Path::new("s"), &back, &mut out).unwrap();
        assert_eq!(
            value(
                &out,
                "node_cpu_seconds_total",
                &[("cpu", "0"), ("mode", "iowait")]
            ),
            0.4
        );
        assert_eq!(
            value(&out, "node_cpu_seconds_total", &[("cpu", "0"), ("mode", "user")]),
            5.01
        );
        // idle drops by more than 3 s: hotplug, take the new values as they are.
        let hotplug = STAT.replace("cpu0 500 20 300 10000 40", "cpu0 1 0 1 2 3");
        out.clear();
        cpu.collect(Path::new("s"), &hotplug, &mut out).unwrap();
        assert_eq!(
            value(&out, "node_cpu_seconds_total", &[("cpu", "0"), ("mode", "idle")]),
            0.02
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut cpu = Cpu::new();
        let mut out = Vec::new();
        assert!(cpu.collect(Path::new("s"), "cpu0 a b c d\n", &mut out).is_err());
        assert!(cpu.collect(Path::new("s"), "cpu0 1 2\n", &mut out).is_err());
        assert!(cpu.collect(Path::new("s"), "", &mut out).is_err());
        assert!(collect_stat(Path::new("s"), "ctxt 1\n", &mut out).is_err());
        assert!(collect_stat(Path::new("s"), "btime x\n", &mut out).is_err());
    }

    #[test]
    fn stat_counters() {
        let mut out = Vec::new();
        collect_stat(Path::new("s"), STAT, &mut out).unwrap();
        assert_eq!(value(&out, "node_boot_time_seconds", &[]), 1_700_000_000.0);
        assert_eq!(value(&out, "node_intr_total", &[]), 12345.0);
        assert_eq!(value(&out, "node_forks_total", &[]), 4242.0);
        assert_eq!(value(&out, "node_procs_blocked", &[]), 1.0);
    }
}

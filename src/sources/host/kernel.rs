//! Small procfs and sysfs files of the kernel, one family or a handful each: node_exporter's
//! `entropy`, `filefd`, `pressure`, `vmstat`, `schedstat` and `selinux` collectors. Each reads
//! one file per cycle; a kernel without the feature (no PSI, no schedstat) is node_exporter's
//! "no data" case, not an error.

use std::path::Path;

use super::read::{
    attr_f64, counter, gauge, no_data, read_file, read_or_no_data, untyped, CollectError, Selection,
};
use crate::model::Family;

/// `/proc/sys/kernel/random/{entropy_avail,poolsize}`.
pub fn entropy(proc: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let dir = proc.join("sys/kernel/random");
    for (file, name, help) in [
        (
            "entropy_avail",
            "node_entropy_available_bits",
            "Bits of available entropy.",
        ),
        ("poolsize", "node_entropy_pool_size_bits", "Bits of entropy pool."),
    ] {
        let path = dir.join(file);
        let v = parse_one(&path, &read_file(&path)?)?;
        let mut f = gauge(name, help);
        f.push(Vec::new(), v);
        out.push(f);
    }
    Ok(())
}

fn parse_one(path: &Path, text: &str) -> Result<f64, CollectError> {
    text.trim()
        .parse::<u64>()
        .map(|v| v as f64)
        .map_err(|_| CollectError::parse(path, format!("bad value {:?}", text.trim())))
}

/// `/proc/sys/fs/file-nr`: allocated and maximum file handles.
pub fn filefd(proc: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let path = proc.join("sys/fs/file-nr");
    let text = read_file(&path)?;
    let fields: Vec<&str> = text.split_ascii_whitespace().collect();
    if fields.len() != 3 {
        return Err(CollectError::parse(&path, "expected three fields"));
    }
    for (i, which) in [(0, "allocated"), (2, "maximum")] {
        let mut f = gauge(
            format!("node_filefd_{which}"),
            format!("File descriptor statistics: {which}."),
        );
        f.push(Vec::new(), parse_one(&path, fields[i])?);
        out.push(f);
    }
    Ok(())
}

/// `/proc/pressure/{cpu,io,memory}`: stall time totals (PSI, Linux 4.20+).
pub fn pressure(proc: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    const SERIES: [(&str, &str, &str, &str); 5] = [
        (
            "cpu",
            "some",
            "node_pressure_cpu_waiting_seconds_total",
            "Total time in seconds that processes have waited for CPU time",
        ),
        (
            "io",
            "some",
            "node_pressure_io_waiting_seconds_total",
            "Total time in seconds that processes have waited due to IO congestion",
        ),
        (
            "io",
            "full",
            "node_pressure_io_stalled_seconds_total",
            "Total time in seconds no process could make progress due to IO congestion",
        ),
        (
            "memory",
            "some",
            "node_pressure_memory_waiting_seconds_total",
            "Total time in seconds that processes have waited for memory",
        ),
        (
            "memory",
            "full",
            "node_pressure_memory_stalled_seconds_total",
            "Total time in seconds no process could make progress due to memory congestion",
        ),
    ];
    let mut texts = Vec::with_capacity(3);
    for res in ["cpu", "io", "memory"] {
        let path = proc.join("pressure").join(res);
        texts.push((res, path.clone(), read_or_no_data(&path)?));
    }
    for (res, kind, name, help) in SERIES {
        let (_, path, text) = texts.iter().find(|t| t.0 == res).expect("read above");
        let total = text
            .lines()
            .find(|l| l.starts_with(kind))
            .and_then(|l| l.split_ascii_whitespace().find_map(|w| w.strip_prefix("total=")))
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(|| CollectError::parse(path, format!("no {kind} total")))?;
        let mut f = counter(name, help);
        // node_exporter's arithmetic, for equal values: µs / 1000 / 1000.
        f.push(Vec::new(), total as f64 / 1000.0 / 1000.0);
        out.push(f);
    }
    Ok(())
}

/// `/proc/vmstat`, the fields matching `[sample.vmstat] fields`.
pub fn vmstat(proc: &Path, fields: &mut Selection, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let path = proc.join("vmstat");
    let text = read_file(&path)?;
    for line in text.lines() {
        let Some((name, value)) = line.split_once(' ') else {
            continue;
        };
        if !fields.keep(name) {
            continue;
        }
        let v: f64 = value
            .trim()
            .parse()
            .map_err(|_| CollectError::parse(&path, format!("bad value in {line:?}")))?;
        let mut f = untyped(
            format!("node_vmstat_{name}"),
            format!("/proc/vmstat information field {name}."),
        );
        f.push(Vec::new(), v);
        out.push(f);
    }
    Ok(())
}

/// `/proc/schedstat`: per-CPU running and waiting time and timeslices.
pub fn schedstat(proc: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let path = proc.join("schedstat");
    let text = read_or_no_data(&path)?;
    let mut running = counter(
        "node_schedstat_running_seconds_total",
        "Number of seconds CPU spent running a process.",
    );
    let mut waiting = counter(
        "node_schedstat_waiting_seconds_total",
        "Number of seconds spent by processing waiting for this CPU.",
    );
    let mut slices = counter(
        "node_schedstat_timeslices_total",
        "Number of timeslices executed by CPU.",
    );
    for line in text.lines() {
        let mut w = line.split_ascii_whitespace();
        let Some(cpu) = w.next().and_then(|c| c.strip_prefix("cpu")) else {
            continue;
        };
        let f: Vec<&str> = w.collect();
        if f.len() < 9 {
            return Err(CollectError::parse(&path, format!("short line {line:?}")));
        }
        let n = |i: usize| -> Result<u64, CollectError> {
            f[i].parse()
                .map_err(|_| CollectError::parse(&path, format!("bad value {:?}", f[i])))
        };
        let label = || vec![("cpu", cpu.to_string())];
        running.push(label(), n(6)? as f64 / 1e9);
        waiting.push(label(), n(7)? as f64 / 1e9);
        slices.push(label(), n(8)? as f64);
    }
    out.extend([running, waiting, slices]);
    Ok(())
}

/// SELinux: enabled (selinuxfs present), and when enabled the configured and current modes.
pub fn selinux(sys: &Path, rootfs: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let mut enabled = gauge(
        "node_selinux_enabled",
        "SELinux is enabled, 1 is true, 0 is false",
    );
    let current = attr_f64(&sys.join("fs/selinux/enforce"));
    enabled.push(Vec::new(), if current.is_some() { 1.0 } else { 0.0 });
    out.push(enabled);
    let Some(current) = current else {
        return Ok(());
    };
    let config = rootfs.join("etc/selinux/config");
    let mode = std::fs::read_to_string(&config)
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.trim().strip_prefix("SELINUX=").map(|m| m.trim().to_string()))
        })
        .map(|m| match m.as_str() {
            "enforcing" => 1.0,
            "permissive" => 0.0,
            _ => -1.0,
        });
    let Some(mode) = mode else {
        return Err(no_data(&config));
    };
    let mut c = gauge("node_selinux_config_mode", "Configured SELinux enforcement mode");
    c.push(Vec::new(), mode);
    let mut m = gauge("node_selinux_current_mode", "Current SELinux enforcement mode");
    m.push(Vec::new(), current);
    out.extend([c, m]);
    Ok(())
}

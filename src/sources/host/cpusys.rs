//! The CPUs' sysfs side (`/sys/devices/system/cpu`): thermal throttle counts and isolated
//! CPUs (node_exporter's `cpu` collector reads these beside `/proc/stat`), frequencies
//! (`cpufreq`), and the thermal class's cooling devices (`thermal_zone`).

use std::collections::BTreeSet;
use std::path::Path;

use super::read::{attr_f64, counter, dir_names, gauge, read_attr, CollectError};
use crate::model::Family;

/// `cpuN` directories, in numeric order.
fn cpus(sys: &Path) -> Vec<(u32, std::path::PathBuf)> {
    let dir = sys.join("devices/system/cpu");
    let mut v: Vec<(u32, std::path::PathBuf)> = dir_names(&dir)
        .into_iter()
        .filter_map(|n| {
            let id = n.strip_prefix("cpu")?.parse().ok()?;
            Some((id, dir.join(&n)))
        })
        .collect();
    v.sort_by_key(|c| c.0);
    v
}

/// Throttle counters per package and per (package, core); isolated CPUs.
pub fn throttles_and_isolated(sys: &Path, out: &mut Vec<Family>) {
    let mut package = counter(
        "node_cpu_package_throttles_total",
        "Number of times this CPU package has been throttled.",
    );
    let mut core = counter(
        "node_cpu_core_throttles_total",
        "Number of times this CPU core has been throttled.",
    );
    let mut packages = BTreeSet::new();
    let mut cores = BTreeSet::new();
    for (_, dir) in cpus(sys) {
        let (Some(pkg), Some(core_id)) = (
            read_attr(&dir.join("topology/physical_package_id")),
            read_attr(&dir.join("topology/core_id")),
        ) else {
            continue;
        };
        if packages.insert(pkg.clone()) {
            if let Some(v) = attr_f64(&dir.join("thermal_throttle/package_throttle_count")) {
                package.push(vec![("package", pkg.clone())], v);
            }
        }
        if cores.insert((pkg.clone(), core_id.clone())) {
            if let Some(v) = attr_f64(&dir.join("thermal_throttle/core_throttle_count")) {
                core.push(vec![("core", core_id), ("package", pkg)], v);
            }
        }
    }
    if !package.samples.is_empty() {
        out.push(package);
    }
    if !core.samples.is_empty() {
        out.push(core);
    }
    let Some(list) = read_attr(&sys.join("devices/system/cpu/isolated")) else {
        return;
    };
    let mut isolated = gauge(
        "node_cpu_isolated",
        "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
    );
    for cpu in cpu_list(&list) {
        isolated.push(vec![("cpu", cpu.to_string())], 1.0);
    }
    if !isolated.samples.is_empty() {
        out.push(isolated);
    }
}

/// A kernel CPU list: `1,3-5,9` → 1, 3, 4, 5, 9 (garbage parts skipped).
fn cpu_list(list: &str) -> Vec<u32> {
    let mut v = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    v.extend(a..=b.min(a.saturating_add(4096)));
                }
            }
            None => v.extend(part.parse::<u32>().ok()),
        }
    }
    v
}

/// `cpufreq`: current, minimum and maximum frequencies per CPU (kHz in sysfs).
pub fn cpufreq(sys: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    const FILES: [(&str, &str, &str); 6] = [
        (
            "cpuinfo_cur_freq",
            "node_cpu_frequency_hertz",
            "Current CPU thread frequency in hertz.",
        ),
        (
            "cpuinfo_max_freq",
            "node_cpu_frequency_max_hertz",
            "Maximum CPU thread frequency in hertz.",
        ),
        (
            "cpuinfo_min_freq",
            "node_cpu_frequency_min_hertz",
            "Minimum CPU thread frequency in hertz.",
        ),
        (
            "scaling_cur_freq",
            "node_cpu_scaling_frequency_hertz",
            "Current scaled CPU thread frequency in hertz.",
        ),
        (
            "scaling_max_freq",
            "node_cpu_scaling_frequency_max_hertz",
            "Maximum scaled CPU thread frequency in hertz.",
        ),
        (
            "scaling_min_freq",
            "node_cpu_scaling_frequency_min_hertz",
            "Minimum scaled CPU thread frequency in hertz.",
        ),
    ];
    let mut fams: Vec<Family> = FILES.iter().map(|(_, n, h)| gauge(*n, *h)).collect();
    for (id, dir) in cpus(sys) {
        let freq = dir.join("cpufreq");
        for ((file, _, _), fam) in FILES.iter().zip(fams.iter_mut()) {
            if let Some(khz) = attr_f64(&freq.join(file)) {
                fam.push(vec![("cpu", id.to_string())], khz * 1000.0);
            }
        }
    }
    out.extend(fams.into_iter().filter(|f| !f.samples.is_empty()));
    Ok(())
}

/// `cooling_deviceN` under the thermal class: current and maximum throttle state.
pub fn cooling_devices(thermal: &Path, out: &mut Vec<Family>) {
    let mut cur = gauge(
        "node_cooling_device_cur_state",
        "Current throttle state of the cooling device",
    );
    let mut max = gauge(
        "node_cooling_device_max_state",
        "Maximum throttle state of the cooling device",
    );
    for name in dir_names(thermal) {
        let Some(n) = name.strip_prefix("cooling_device") else {
            continue;
        };
        let dir = thermal.join(&name);
        let (Some(kind), Some(c), Some(m)) = (
            read_attr(&dir.join("type")),
            attr_f64(&dir.join("cur_state")),
            attr_f64(&dir.join("max_state")),
        ) else {
            continue;
        };
        let labels = || vec![("name", n.to_string()), ("type", kind.clone())];
        cur.push(labels(), c);
        max.push(labels(), m);
    }
    if !cur.samples.is_empty() {
        out.extend([cur, max]);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_lists() {
        assert_eq!(super::cpu_list("1,3-5,9\n"), [1, 3, 4, 5, 9]);
        assert_eq!(super::cpu_list(""), Vec::<u32>::new());
        assert_eq!(super::cpu_list("x,2"), [2]);
    }
}

//! `/sys/class/hwmon` temperatures with node_exporter's `hwmon` names:
//! `node_hwmon_temp_celsius{chip,sensor}` (and `_max`, `_crit` where the chip has them),
//! `node_hwmon_chip_names{chip,chip_name}` and `node_hwmon_sensor_label{chip,label,sensor}`.
//!
//! The `chip` label is derived the way node_exporter derives it — from the stable device path
//! (`platform_coretemp_0`), falling back to the `name` attribute, then to `hwmonN` — so alert
//! rules keep matching across reboots that renumber the hwmon directories.

use std::collections::BTreeMap;
use std::path::Path;

use super::read::{read_attr, CollectError};
use crate::model::{Family, MetricKind};

/// node_exporter's `cleanMetricName`: lower case, `[^a-z0-9:_]` → `_`, trimmed of `_`.
fn clean(name: &str) -> String {
    let lower: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    lower.trim_matches('_').to_string()
}

fn chip_name(dir: &Path) -> Option<String> {
    if let Ok(device) = std::fs::canonicalize(dir.join("device")) {
        let dev_name = device
            .file_name()
            .and_then(|n| n.to_str())
            .map(clean)
            .unwrap_or_default();
        let dev_type = device
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .map(clean)
            .unwrap_or_default();
        if !dev_type.is_empty() && !dev_name.is_empty() {
            return Some(format!("{dev_type}_{dev_name}"));
        }
        if !dev_name.is_empty() {
            return Some(dev_name);
        }
    }
    if let Some(name) = read_attr(&dir.join("name"))
        .map(|n| clean(&n))
        .filter(|n| !n.is_empty())
    {
        return Some(name);
    }
    let real = std::fs::canonicalize(dir).ok()?;
    real.file_name()
        .and_then(|n| n.to_str())
        .map(clean)
        .filter(|n| !n.is_empty())
}

/// `temp3_input` → (3, "input").
fn temp_file(name: &str) -> Option<(u32, &str)> {
    let rest = name.strip_prefix("temp")?;
    let (num, element) = rest.split_once('_')?;
    Some((num.parse().ok()?, element))
}

/// sensor number → element → raw value
type Sensors = BTreeMap<u32, BTreeMap<String, String>>;

fn read_sensors(dir: &Path, into: &mut Sensors) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((n, element)) = name.to_str().and_then(temp_file) else {
            continue;
        };
        if !matches!(element, "input" | "max" | "crit" | "label") {
            continue;
        }
        if let Some(v) = read_attr(&entry.path()) {
            into.entry(n).or_default().insert(element.to_string(), v);
        }
    }
}

pub fn collect(class_dir: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let entries = match std::fs::read_dir(class_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CollectError::Read {
                path: class_dir.to_path_buf(),
                source,
            })
        }
    };
    let mut dirs: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    dirs.sort();
    let help = |e: &str| format!("Hardware monitor for temperature ({e})");
    let mut temp = Family::new("node_hwmon_temp_celsius", help("input"), MetricKind::Gauge);
    let mut max = Family::new("node_hwmon_temp_max_celsius", help("max"), MetricKind::Gauge);
    let mut crit = Family::new("node_hwmon_temp_crit_celsius", help("crit"), MetricKind::Gauge);
    let mut names = Family::new(
        "node_hwmon_chip_names",
        "Annotation metric for human-readable chip names",
        MetricKind::Gauge,
    );
    let mut labels = Family::new(
        "node_hwmon_sensor_label",
        "Label for given chip and sensor",
        MetricKind::Gauge,
    );
    for dir in dirs {
        let Some(chip) = chip_name(&dir) else {
            log::debug!("hwmon: no usable name for {}", dir.display());
            continue;
        };
        let mut sensors = Sensors::new();
        read_sensors(&dir, &mut sensors);
        read_sensors(&dir.join("device"), &mut sensors);
        if let Some(human) = read_attr(&dir.join("name")) {
            names.push(vec![("chip", chip.clone()), ("chip_name", human)], 1.0);
        }
        for (n, elements) in sensors {
            let sensor = format!("temp{n}");
            for (element, raw) in &elements {
                let fam = match element.as_str() {
                    "input" => &mut temp,
                    "max" => &mut max,
                    "crit" => &mut crit,
                    "label" => {
                        labels.push(
                            vec![
                                ("chip", chip.clone()),
                                ("label", raw.clone()),
                                ("sensor", sensor.clone()),
                            ],
                            1.0,
                        );
                        continue;
                    }
                    _ => continue,
                };
                match raw.parse::<f64>() {
                    Ok(v) if v.is_finite() => fam.push(
                        vec![("chip", chip.clone()), ("sensor", sensor.clone())],
                        v * 0.001,
                    ),
                    _ => log::debug!("hwmon {chip}/{sensor}_{element}: unparsable value {raw:?}"),
                }
            }
        }
    }
    out.extend([temp, max, crit, names, labels]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn names_chips_like_node_exporter() {
        assert_eq!(clean("coretemp.0"), "coretemp_0");
        assert_eq!(clean("__ACPI Thermal__"), "acpi_thermal");
        let root = std::env::temp_dir().join(format!("outpost-hwmon-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let dev = root.join("devices/platform/coretemp.0");
        let h0 = dev.join("hwmon/hwmon0");
        fs::create_dir_all(&h0).unwrap();
        fs::write(h0.join("name"), "coretemp\n").unwrap();
        fs::write(h0.join("temp1_input"), "45000\n").unwrap();
        fs::write(h0.join("temp1_crit"), "100000\n").unwrap();
        fs::write(h0.join("temp1_label"), "Package id 0\n").unwrap();
        fs::write(h0.join("temp2_input"), "garbage\n").unwrap();
        std::os::unix::fs::symlink(&dev, h0.join("device")).unwrap();
        // A chip without a device link: named by its `name` attribute (rpi's cpu_thermal).
        let h1 = root.join("devices/virtual/thermal/thermal_zone0/hwmon1");
        fs::create_dir_all(&h1).unwrap();
        fs::write(h1.join("name"), "cpu_thermal\n").unwrap();
        fs::write(h1.join("temp1_input"), "-5500\n").unwrap();
        let class = root.join("class/hwmon");
        fs::create_dir_all(&class).unwrap();
        std::os::unix::fs::symlink(&h0, class.join("hwmon0")).unwrap();
        std::os::unix::fs::symlink(&h1, class.join("hwmon1")).unwrap();

        let mut out = Vec::new();
        collect(&class, &mut out).unwrap();
        let temp = out.iter().find(|f| f.name == "node_hwmon_temp_celsius").unwrap();
        let got: Vec<(String, String, f64)> = temp
            .samples
            .iter()
            .map(|s| (s.labels[0].1.clone(), s.labels[1].1.clone(), s.value))
            .collect();
        assert_eq!(
            got,
            vec![
                ("platform_coretemp_0".into(), "temp1".into(), 45.0),
                ("cpu_thermal".into(), "temp1".into(), -5.5)
            ]
        );
        let crit = out
            .iter()
            .find(|f| f.name == "node_hwmon_temp_crit_celsius")
            .unwrap();
        assert_eq!(crit.samples[0].value, 100.0);
        let label = out.iter().find(|f| f.name == "node_hwmon_sensor_label").unwrap();
        assert_eq!(label.samples[0].labels[1], ("label", "Package id 0".to_string()));
        fs::remove_dir_all(&root).ok();
        assert!(collect(&root.join("absent"), &mut Vec::new()).is_ok());
    }
}

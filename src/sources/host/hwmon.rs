//! `/sys/class/hwmon` with node_exporter's `hwmon` names: every sensor type node_exporter
//! reads (temperatures, voltages, fans, PWM, current, power, energy, humidity, intrusion),
//! each element of a sensor as `node_hwmon_<type>[_<element>]_<unit>{chip,sensor}`, plus
//! `node_hwmon_chip_names{chip,chip_name}` and `node_hwmon_sensor_label{chip,label,sensor}`.
//!
//! The `chip` label is derived the way node_exporter derives it — from the stable device path
//! (`platform_coretemp_0`), falling back to the `name` attribute, then to `hwmonN` — so alert
//! rules keep matching across reboots that renumber the hwmon directories.

use std::collections::BTreeMap;
use std::path::Path;

use super::read::{read_attr, CollectError, Families};
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

/// node_exporter's `explodeSensorFilename`: `temp3_input` → ("temp", 3, "input"),
/// `beep_enable` → ("beep_enable", 0, ""), `in0` → ("in", 0, "").
fn explode(name: &str) -> Option<(&str, u32, &str)> {
    let digits = name.find(|c: char| c.is_ascii_digit()).unwrap_or(name.len());
    let (kind, rest) = name.split_at(digits);
    if kind.is_empty() {
        return None;
    }
    // `[^0-9]+` takes the underscore too when no number follows (`beep_enable`).
    let id_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let (id, prop) = rest.split_at(id_end);
    let prop = match prop {
        "" => "",
        p => p.strip_prefix('_').filter(|p| !p.is_empty())?,
    };
    let num = if id.is_empty() { 0 } else { id.parse().ok()? };
    Some((kind, num, prop))
}

/// The sensor types node_exporter reads.
const SENSOR_TYPES: [&str; 13] = [
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
];

/// sensor (`temp1`) → property (`input`, `""` for the bare file) → raw value
type Sensors = BTreeMap<String, BTreeMap<String, String>>;

fn read_sensors(dir: &Path, into: &mut Sensors) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((kind, n, prop)) = name.to_str().and_then(explode) else {
            continue;
        };
        if !SENSOR_TYPES.contains(&kind) {
            continue;
        }
        // Only the newline goes: node_exporter keeps a label's trailing blanks.
        if let Ok(raw) = std::fs::read(entry.path()) {
            let v = super::read::valid_utf8(&raw).trim_matches('\n').to_string();
            into.entry(format!("{kind}{n}"))
                .or_default()
                .insert(prop.to_string(), v);
        }
    }
}

pub fn collect(class_dir: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let entries = match std::fs::read_dir(class_dir) {
        Ok(e) => e,
        // No hwmon class at all: node_exporter's "no data".
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(super::read::no_data(class_dir)),
        Err(source) => {
            return Err(CollectError::Read {
                path: class_dir.to_path_buf(),
                source,
            })
        }
    };
    let mut dirs: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    dirs.sort();
    let mut fams = Families::default();
    let g = MetricKind::Gauge;
    for dir in dirs {
        let Some(chip) = chip_name(&dir) else {
            log::debug!("hwmon: no usable name for {}", dir.display());
            continue;
        };
        let mut sensors = Sensors::new();
        read_sensors(&dir, &mut sensors);
        read_sensors(&dir.join("device"), &mut sensors);
        if let Some(human) = read_attr(&dir.join("name")) {
            fams.push(
                "node_hwmon_chip_names",
                "Annotation metric for human-readable chip names",
                g,
                vec![("chip", chip.clone()), ("chip_name", human)],
                1.0,
            );
        }
        for (sensor, data) in &sensors {
            let Some((kind, _, _)) = explode(sensor) else {
                continue;
            };
            let labels = || vec![("chip", chip.clone()), ("sensor", sensor.clone())];
            if let Some(text) = data.get("label") {
                fams.push(
                    "node_hwmon_sensor_label",
                    "Label for given chip and sensor",
                    g,
                    vec![
                        ("chip", chip.clone()),
                        ("label", text.clone()),
                        ("sensor", sensor.clone()),
                    ],
                    1.0,
                );
            }
            let bare = data.get("").map(String::as_str);
            match kind {
                "beep_enable" => {
                    let v = if bare == Some("1") { 1.0 } else { 0.0 };
                    fams.push("node_hwmon_beep_enabled", "Hardware beep enabled", g, labels(), v);
                    continue;
                }
                "vrm" | "update_interval" => {
                    if let Some(v) = bare.and_then(|b| b.parse::<f64>().ok()) {
                        let (name, help, v) = if kind == "vrm" {
                            (
                                "node_hwmon_voltage_regulator_version",
                                "Hardware voltage regulator",
                                v,
                            )
                        } else {
                            (
                                "node_hwmon_update_interval_seconds",
                                "Hardware monitor update interval",
                                v * 0.001,
                            )
                        };
                        fams.push(name, help, g, labels(), v);
                    }
                    continue;
                }
                _ => {}
            }
            let prefix = format!("node_hwmon_{kind}");
            for (element, raw) in data {
                if element == "label" {
                    continue;
                }
                let name = if element == "input" {
                    if bare.is_some() {
                        format!("{prefix}_input")
                    } else {
                        prefix.clone()
                    }
                } else if !element.is_empty() {
                    format!("{prefix}_{}", clean(element))
                } else {
                    prefix.clone()
                };
                let Ok(v) = raw.trim().parse::<f64>() else {
                    continue;
                };
                let e = element.as_str();
                let (name, help, kind2, v) = match (kind, e) {
                    (_, "fault" | "alarm") => (name, format!("Hardware sensor {e} status ({kind})"), g, v),
                    (_, "beep") => (
                        format!("{name}_enabled"),
                        "Hardware monitor sensor has beeping enabled".into(),
                        g,
                        v,
                    ),
                    ("in" | "cpu", _) => (
                        format!("{name}_volts"),
                        format!("Hardware monitor for voltage ({e})"),
                        g,
                        v * 0.001,
                    ),
                    ("temp", e) if e != "type" => {
                        let e = if e.is_empty() { "input" } else { e };
                        (
                            format!("{name}_celsius"),
                            format!("Hardware monitor for temperature ({e})"),
                            g,
                            v * 0.001,
                        )
                    }
                    ("curr", _) => (
                        format!("{name}_amps"),
                        format!("Hardware monitor for current ({e})"),
                        g,
                        v * 0.001,
                    ),
                    ("energy", _) => (
                        format!("{name}_joule_total"),
                        format!("Hardware monitor for joules used so far ({e})"),
                        MetricKind::Counter,
                        v / 1000000.0,
                    ),
                    ("power", "accuracy") => (
                        name,
                        "Hardware monitor power meter accuracy, as a ratio".into(),
                        g,
                        v / 1000000.0,
                    ),
                    ("power", "average_interval" | "average_interval_min" | "average_interval_max") => (
                        format!("{name}_seconds"),
                        format!("Hardware monitor power usage update interval ({e})"),
                        g,
                        v * 0.001,
                    ),
                    ("power", _) => (
                        format!("{name}_watt"),
                        format!("Hardware monitor for power usage in watts ({e})"),
                        g,
                        v / 1000000.0,
                    ),
                    ("humidity", _) => (name, format!("Hardware monitor for humidity ({e})"), g, v * 0.001),
                    ("fan", "input" | "min" | "max" | "target") => (
                        format!("{name}_rpm"),
                        format!("Hardware monitor for fan revolutions per minute ({e})"),
                        g,
                        v,
                    ),
                    _ => (name, format!("Hardware monitor {kind} element {e}"), g, v),
                };
                fams.push(&name, help, kind2, labels(), v);
            }
        }
    }
    out.extend(fams.into_vec());
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
        let absent = collect(&root.join("absent"), &mut Vec::new()).unwrap_err();
        assert!(
            absent
                .to_string()
                .starts_with(crate::sources::host::read::NO_DATA),
            "{absent}"
        );
    }
}

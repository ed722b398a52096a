//! What the platform says about itself in sysfs and `os-release`: node_exporter's `os`, `dmi`,
//! `edac`, `rapl` and `powersupplyclass` collectors. Info series carry their text as labels
//! with value 1; text that is not UTF-8 (firmware strings often are not) is replaced, never
//! dropped, as node_exporter does.

use std::path::Path;

use super::read::{
    attr_f64, counter, dir_names, gauge, no_data, read_attr, valid_utf8, CollectError, Families,
};
use crate::config::sample::DeviceFilter;
use crate::model::{Family, Labels, MetricKind};

/// A sysfs text attribute, trimmed, invalid UTF-8 replaced; `None` when absent.
fn text(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|b| valid_utf8(&b).trim().to_string())
}

/// `etc/os-release`, else `usr/lib/os-release`, under the root filesystem.
pub fn os(rootfs: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let candidates = [rootfs.join("etc/os-release"), rootfs.join("usr/lib/os-release")];
    let Some(content) = candidates.iter().find_map(|p| std::fs::read_to_string(p).ok()) else {
        return Err(no_data(&candidates[1]));
    };
    let vars = os_release(&content);
    let get = |k: &str| {
        vars.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    const KEYS: [(&str, &str); 12] = [
        ("build_id", "BUILD_ID"),
        ("id", "ID"),
        ("id_like", "ID_LIKE"),
        ("image_id", "IMAGE_ID"),
        ("image_version", "IMAGE_VERSION"),
        ("name", "NAME"),
        ("pretty_name", "PRETTY_NAME"),
        ("variant", "VARIANT"),
        ("variant_id", "VARIANT_ID"),
        ("version", "VERSION"),
        ("version_codename", "VERSION_CODENAME"),
        ("version_id", "VERSION_ID"),
    ];
    let mut info = gauge(
        "node_os_info",
        "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
    );
    info.push(KEYS.iter().map(|(l, k)| (*l, get(k))).collect(), 1.0);
    out.push(info);
    // VERSION_ID's leading major.minor as a number ("20.04" → 20.04, "11" → 11).
    let vid = get("VERSION_ID");
    let end = vid
        .char_indices()
        .scan(false, |dot, (i, c)| match c {
            '0'..='9' => Some(i + 1),
            '.' if !*dot && i > 0 => {
                *dot = true;
                Some(i + 1)
            }
            _ => None,
        })
        .last()
        .unwrap_or(0);
    if let Ok(v) = vid[..end].trim_end_matches('.').parse::<f64>() {
        let mut version = gauge(
            "node_os_version",
            "Metric containing the major.minor part of the OS version.",
        );
        version.push(
            vec![
                ("id", get("ID")),
                ("id_like", get("ID_LIKE")),
                ("name", get("NAME")),
            ],
            v,
        );
        out.push(version);
    }
    Ok(())
}

/// `KEY=value` lines with shell quoting (`"…"` with `\` escapes, `'…'`), comments skipped.
fn os_release(content: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in content.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, raw)) = line.split_once('=') else {
            continue;
        };
        let mut v = String::new();
        let mut chars = raw.chars();
        let mut quote = None;
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (Some('"') | None, '\\') => v.extend(chars.next()),
                (_, c) => v.push(c),
            }
        }
        out.push((k.trim().to_string(), v));
    }
    out
}

/// `/sys/class/dmi/id`: firmware, board, chassis and product strings.
pub fn dmi(sys: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    const FILES: [(&str, &str); 20] = [
        ("bios_date", "bios_date"),
        ("bios_release", "bios_release"),
        ("bios_vendor", "bios_vendor"),
        ("bios_version", "bios_version"),
        ("board_asset_tag", "board_asset_tag"),
        ("board_name", "board_name"),
        ("board_serial", "board_serial"),
        ("board_vendor", "board_vendor"),
        ("board_version", "board_version"),
        ("chassis_asset_tag", "chassis_asset_tag"),
        ("chassis_serial", "chassis_serial"),
        ("chassis_vendor", "chassis_vendor"),
        ("chassis_version", "chassis_version"),
        ("product_family", "product_family"),
        ("product_name", "product_name"),
        ("product_serial", "product_serial"),
        ("product_sku", "product_sku"),
        ("product_uuid", "product_uuid"),
        ("product_version", "product_version"),
        ("system_vendor", "sys_vendor"),
    ];
    let dir = sys.join("class/dmi/id");
    if !dir.is_dir() {
        return Err(no_data(&dir));
    }
    // Unreadable files (serials need root) leave their label out.
    let labels: Labels = FILES
        .iter()
        .filter_map(|(label, file)| text(&dir.join(file)).map(|v| (*label, v)))
        .collect();
    let mut f = gauge(
        "node_dmi_info",
        "A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, bios_version, board_asset_tag, board_name, board_serial, board_vendor, board_version, chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, product_family, product_name, product_serial, product_sku, product_uuid, product_version, system_vendor if provided by DMI.",
    );
    f.push(labels, 1.0);
    out.push(f);
    Ok(())
}

/// EDAC memory controllers: correctable and uncorrectable errors per controller and csrow.
pub fn edac(sys: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let dir = sys.join("devices/system/edac/mc");
    let mut ce = counter(
        "node_edac_correctable_errors_total",
        "Total correctable memory errors.",
    );
    let mut ue = counter(
        "node_edac_uncorrectable_errors_total",
        "Total uncorrectable memory errors.",
    );
    let mut row_ce = counter(
        "node_edac_csrow_correctable_errors_total",
        "Total correctable memory errors for this csrow.",
    );
    let mut row_ue = counter(
        "node_edac_csrow_uncorrectable_errors_total",
        "Total uncorrectable memory errors for this csrow.",
    );
    for mc in dir_names(&dir) {
        let Some(controller) = mc.strip_prefix("mc").filter(|n| n.parse::<u32>().is_ok()) else {
            continue;
        };
        let d = dir.join(&mc);
        let need = |file: &str| {
            attr_f64(&d.join(file))
                .ok_or_else(|| CollectError::parse(&d.join(file), "missing or not a number"))
        };
        let c = || vec![("controller", controller.to_string())];
        ce.push(c(), need("ce_count")?);
        ue.push(c(), need("ue_count")?);
        let row = |r: &str| vec![("controller", controller.to_string()), ("csrow", r.to_string())];
        row_ce.push(row("unknown"), need("ce_noinfo_count")?);
        row_ue.push(row("unknown"), need("ue_noinfo_count")?);
        for csrow in dir_names(&d) {
            let Some(n) = csrow.strip_prefix("csrow").filter(|n| n.parse::<u32>().is_ok()) else {
                continue;
            };
            let r = d.join(&csrow);
            if let (Some(c), Some(u)) = (attr_f64(&r.join("ce_count")), attr_f64(&r.join("ue_count"))) {
                row_ce.push(row(n), c);
                row_ue.push(row(n), u);
            }
        }
    }
    out.extend([ce, ue, row_ce, row_ue]);
    Ok(())
}

/// RAPL power-capping zones: energy counters per zone, in joules.
pub fn rapl(sys: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let dir = sys.join("class/powercap");
    if !dir.is_dir() {
        return Err(no_data(&dir));
    }
    let mut seen: std::collections::HashMap<String, u32> = Default::default();
    let mut fams = Families::default();
    for zone in dir_names(&dir) {
        if !zone.contains("intel-rapl") {
            continue;
        }
        let path = dir.join(&zone);
        let (Some(name), Some(uj)) = (read_attr(&path.join("name")), attr_f64(&path.join("energy_uj")))
        else {
            continue;
        };
        // "package-0" → package, index 0; other names are counted in order of appearance.
        let (name, index) = match name.rsplit_once('-') {
            Some((n, i)) if i.parse::<u32>().is_ok() => (n.to_string(), i.to_string()),
            _ => {
                let i = seen.entry(name.clone()).or_default();
                *i += 1;
                (name, (*i - 1).to_string())
            }
        };
        fams.push(
            &format!("node_rapl_{name}_joules_total"),
            format!("Current RAPL {name} value in joules"),
            MetricKind::Counter,
            vec![("index", index), ("path", path.display().to_string())],
            uj / 1000000.0,
        );
    }
    out.extend(fams.into_vec());
    Ok(())
}

/// `/sys/class/power_supply`: batteries, mains and UPS-like supplies.
pub fn power_supply(sys: &Path, filter: &DeviceFilter, out: &mut Vec<Family>) -> Result<(), CollectError> {
    // (metric, sysfs file, divisor)
    const VALUES: [(&str, &str, f64); 49] = [
        ("authentic", "authentic", 1.0),
        ("calibrate", "calibrate", 1.0),
        ("capacity", "capacity", 1.0),
        ("capacity_alert_max", "capacity_alert_max", 1.0),
        ("capacity_alert_min", "capacity_alert_min", 1.0),
        ("cyclecount", "cycle_count", 1.0),
        ("online", "online", 1.0),
        ("present", "present", 1.0),
        ("time_to_empty_seconds", "time_to_empty_now", 1.0),
        ("time_to_full_seconds", "time_to_full_now", 1.0),
        ("current_boot", "current_boot", 1e6),
        ("current_max", "current_max", 1e6),
        ("current_ampere", "current_now", 1e6),
        ("energy_empty", "energy_empty", 1e6),
        ("energy_empty_design", "energy_empty_design", 1e6),
        ("energy_full", "energy_full", 1e6),
        ("energy_full_design", "energy_full_design", 1e6),
        ("energy_watthour", "energy_now", 1e6),
        ("voltage_boot", "voltage_boot", 1e6),
        ("voltage_max", "voltage_max", 1e6),
        ("voltage_max_design", "voltage_max_design", 1e6),
        ("voltage_min", "voltage_min", 1e6),
        ("voltage_min_design", "voltage_min_design", 1e6),
        ("voltage_volt", "voltage_now", 1e6),
        ("voltage_ocv", "voltage_ocv", 1e6),
        ("charge_control_limit", "charge_control_limit", 1e6),
        ("charge_control_limit_max", "charge_control_limit_max", 1e6),
        ("charge_counter", "charge_counter", 1e6),
        ("charge_empty", "charge_empty", 1e6),
        ("charge_empty_design", "charge_empty_design", 1e6),
        ("charge_full", "charge_full", 1e6),
        ("charge_full_design", "charge_full_design", 1e6),
        ("charge_ampere", "charge_now", 1e6),
        ("charge_term_current", "charge_term_current", 1e6),
        ("constant_charge_current", "constant_charge_current", 1e6),
        ("constant_charge_current_max", "constant_charge_current_max", 1e6),
        ("constant_charge_voltage", "constant_charge_voltage", 1e6),
        ("constant_charge_voltage_max", "constant_charge_voltage_max", 1e6),
        ("precharge_current", "precharge_current", 1e6),
        ("input_current_limit", "input_current_limit", 1e6),
        ("power_watt", "power_now", 1e6),
        ("temp_celsius", "temp", 10.0),
        ("temp_alert_max_celsius", "temp_alert_max", 10.0),
        ("temp_alert_min_celsius", "temp_alert_min", 10.0),
        ("temp_ambient_celsius", "temp_ambient", 10.0),
        ("temp_ambient_max_celsius", "temp_ambient_alert_max", 10.0),
        ("temp_ambient_min_celsius", "temp_ambient_alert_min", 10.0),
        ("temp_max_celsius", "temp_max", 10.0),
        ("temp_min_celsius", "temp_min", 10.0),
    ];
    const INFO: [&str; 11] = [
        "capacity_level",
        "charge_type",
        "health",
        "manufacturer",
        "model_name",
        "scope",
        "serial_number",
        "status",
        "technology",
        "type",
        "usb_type",
    ];
    let dir = sys.join("class/power_supply");
    if !dir.is_dir() {
        return Err(no_data(&dir));
    }
    let mut fams: Vec<Family> = VALUES
        .iter()
        .map(|(m, _, _)| {
            gauge(
                format!("node_power_supply_{m}"),
                format!("{m} value of /sys/class/power_supply/<power_supply>."),
            )
        })
        .collect();
    let mut info = gauge(
        "node_power_supply_info",
        "info of /sys/class/power_supply/<power_supply>.",
    );
    for ps in dir_names(&dir) {
        let d = dir.join(&ps);
        if !d.is_dir() || filter.ignored(&ps) {
            continue;
        }
        for ((_, file, div), fam) in VALUES.iter().zip(fams.iter_mut()) {
            if let Some(v) = read_attr(&d.join(file)).and_then(|v| v.parse::<i64>().ok()) {
                fam.push(vec![("power_supply", ps.clone())], v as f64 / div);
            }
        }
        let mut labels: Labels = vec![("power_supply", ps.clone())];
        labels.extend(
            INFO.iter()
                .filter_map(|k| text(&d.join(k)).filter(|v| !v.is_empty()).map(|v| (*k, v))),
        );
        info.push(labels, 1.0);
    }
    out.extend(fams.into_iter().filter(|f| !f.samples.is_empty()));
    out.push(info);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn invalid_utf8_runs_become_one_replacement() {
        assert_eq!(
            crate::sources::host::read::valid_utf8(b"LNV-45N1\xff\xfe"),
            "LNV-45N1\u{FFFD}"
        );
        assert_eq!(
            crate::sources::host::read::valid_utf8(b"a\xffb\xc3"),
            "a\u{FFFD}b\u{FFFD}"
        );
        assert_eq!(crate::sources::host::read::valid_utf8("é".as_bytes()), "é");
    }

    #[test]
    fn os_release_quoting() {
        let v = super::os_release("# c\nNAME=\"Debian \\\"GNU\\\"\"\nID=debian\nX='a b'\n\n");
        assert_eq!(
            v,
            [
                ("NAME".to_string(), "Debian \"GNU\"".to_string()),
                ("ID".to_string(), "debian".to_string()),
                ("X".to_string(), "a b".to_string())
            ]
        );
    }
}

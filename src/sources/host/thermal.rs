//! `/sys/class/thermal/thermal_zone*` → `node_thermal_zone_temp{type,zone}` in °C, as
//! node_exporter's `thermal_zone` collector. A board without thermal zones yields nothing; a
//! zone whose sensor cannot be read right now (`ENODATA`, `EAGAIN` on some SoCs) is skipped for
//! this cycle and reported in the debug log, never failing the others.

use std::path::Path;

use super::read::{read_attr, CollectError};
use crate::model::{Family, MetricKind};

pub fn collect(dir: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CollectError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut zones: Vec<(u64, String, f64)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(zone) = name.to_str().and_then(|n| n.strip_prefix("thermal_zone")) else {
            continue;
        };
        let Ok(zone_no) = zone.parse::<u64>() else {
            continue;
        };
        let path = entry.path();
        let Some(kind) = read_attr(&path.join("type")) else {
            continue;
        };
        match read_attr(&path.join("temp")).and_then(|t| t.parse::<i64>().ok()) {
            Some(milli) => zones.push((zone_no, kind, milli as f64 / 1000.0)),
            None => log::debug!("thermal zone {zone_no} ({kind}): no readable temperature"),
        }
    }
    zones.sort_by_key(|z| z.0);
    let mut f = Family::new(
        "node_thermal_zone_temp",
        "Zone temperature in Celsius",
        MetricKind::Gauge,
    );
    for (zone, kind, temp) in zones {
        f.push(vec![("type", kind), ("zone", zone.to_string())], temp);
    }
    out.push(f);
    Ok(())
}

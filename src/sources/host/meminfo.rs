//! `/proc/meminfo` as node_exporter's `meminfo` collector exposes it: every field becomes
//! `node_memory_<Field>[_bytes]`, with `(x)` turned into `_x` (`Active(anon)` →
//! `node_memory_Active_anon_bytes`) and kB values in bytes. Fields without a unit
//! (`HugePages_Total`) keep their name and value. Fields ending in `_total` are counters.

use std::path::Path;

use super::read::CollectError;
use crate::model::{Family, MetricKind};

pub fn collect(path: &Path, text: &str, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let start = out.len();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.split_ascii_whitespace();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            return Err(CollectError::parse(path, format!("bad line {line:?}")));
        };
        let unit = parts.next();
        let key = key.strip_suffix(':').unwrap_or(key);
        let mut value: f64 = value
            .parse::<u64>()
            .map_err(|_| CollectError::parse(path, format!("bad value in {line:?}")))?
            as f64;
        let mut name = String::with_capacity(key.len() + 20);
        name.push_str("node_memory_");
        // "Active(anon)" -> "Active_anon", as node_exporter's `\((.*)\)` -> `_$1`.
        match (key.find('('), key.rfind(')')) {
            (Some(open), Some(close)) if close > open => {
                name.push_str(&key[..open]);
                name.push('_');
                name.push_str(&key[open + 1..close]);
                name.push_str(&key[close + 1..]);
            }
            _ => name.push_str(key),
        }
        match unit {
            None => {}
            Some("kB") => {
                value *= 1024.0;
                name.push_str("_bytes");
            }
            Some(other) => {
                return Err(CollectError::parse(
                    path,
                    format!("unknown unit {other:?} in {line:?}"),
                ));
            }
        }
        let kind = if name.ends_with("_total") {
            MetricKind::Counter
        } else {
            MetricKind::Gauge
        };
        let help = format!("Memory information field {}.", &name["node_memory_".len()..]);
        if out[start..].iter().any(|f| f.name == name) {
            continue; // a kernel that repeats a field must not produce a duplicate family
        }
        out.push(Family::single(name, help, kind, value));
    }
    if out.len() == start {
        return Err(CollectError::parse(path, "no fields"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_units_and_types() {
        let text = "MemTotal:       16318356 kB\nActive(anon):     123 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n";
        let mut out = Vec::new();
        collect(Path::new("m"), text, &mut out).unwrap();
        let names: Vec<&str> = out.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "node_memory_MemTotal_bytes",
                "node_memory_Active_anon_bytes",
                "node_memory_HugePages_Total",
                "node_memory_Hugepagesize_bytes"
            ]
        );
        assert_eq!(out[0].samples[0].value, 16318356.0 * 1024.0);
        assert_eq!(out[2].kind, MetricKind::Gauge);
        assert_eq!(out[1].help, "Memory information field Active_anon_bytes.");
    }

    #[test]
    fn garbage() {
        let mut out = Vec::new();
        assert!(collect(Path::new("m"), "MemTotal: lots kB\n", &mut out).is_err());
        assert!(collect(Path::new("m"), "MemTotal:\n", &mut out).is_err());
        assert!(collect(Path::new("m"), "MemTotal: 1 MB\n", &mut out).is_err());
        assert!(collect(Path::new("m"), "", &mut out).is_err());
    }
}

//! `/proc/loadavg` → `node_load1`, `node_load5`, `node_load15` (node_exporter's `loadavg`).

use std::path::Path;

use super::read::CollectError;
use crate::model::{Family, MetricKind};

pub fn collect(path: &Path, text: &str, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let mut fields = text.split_ascii_whitespace();
    for (name, help) in [
        ("node_load1", "1m load average."),
        ("node_load5", "5m load average."),
        ("node_load15", "15m load average."),
    ] {
        let v: f64 = fields
            .next()
            .and_then(|f| f.parse().ok())
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| CollectError::parse(path, format!("bad content {:?}", text.trim())))?;
        out.push(Family::single(name, help, MetricKind::Gauge, v));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let mut out = Vec::new();
        collect(Path::new("l"), "0.29 0.50 1.25 2/300 4000\n", &mut out).unwrap();
        assert_eq!(
            out.iter().map(|f| f.samples[0].value).collect::<Vec<_>>(),
            [0.29, 0.5, 1.25]
        );
        assert!(collect(Path::new("l"), "0.1 x\n", &mut Vec::new()).is_err());
        assert!(collect(Path::new("l"), "NaN 1 1\n", &mut Vec::new()).is_err());
    }
}

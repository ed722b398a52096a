//! `/proc/net/dev` → `node_network_{receive,transmit}_<field>_total{device}`, node_exporter's
//! `netdev` collector with its classic (non-"detailed") names. The field names come from the
//! file's own header, so a kernel that adds a column adds a metric instead of breaking parsing.
//! `receive_nohandler` (packets dropped for lack of a protocol handler), which node_exporter gets
//! over netlink, is not in `/proc/net/dev`; it comes from the device's sysfs statistics.

use std::path::Path;

use super::read::{read_attr, CollectError};
use crate::config::sample::DeviceFilter;
use crate::model::{Family, MetricKind};

pub fn collect(
    path: &Path,
    text: &str,
    sys: &Path,
    filter: &DeviceFilter,
    out: &mut Vec<Family>,
) -> Result<(), CollectError> {
    let mut lines = text.lines();
    let _title = lines.next();
    let header = lines
        .next()
        .ok_or_else(|| CollectError::parse(path, "missing header"))?;
    let parts: Vec<&str> = header.split('|').collect();
    if parts.len() != 3 {
        return Err(CollectError::parse(
            path,
            format!("invalid header line {header:?}"),
        ));
    }
    let rx: Vec<&str> = parts[1].split_ascii_whitespace().collect();
    let tx: Vec<&str> = parts[2].split_ascii_whitespace().collect();
    let mut families: Vec<Family> = rx
        .iter()
        .map(|f| ("receive", f))
        .chain(tx.iter().map(|f| ("transmit", f)))
        .map(|(dir, f)| {
            Family::new(
                format!("node_network_{dir}_{f}_total"),
                format!("Network device statistic {dir}_{f}."),
                MetricKind::Counter,
            )
        })
        .collect();
    let mut nohandler = Family::new(
        "node_network_receive_nohandler_total",
        "Network device statistic receive_nohandler.",
        MetricKind::Counter,
    );
    for line in lines {
        let Some((dev, values)) = line.split_once(':') else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(CollectError::parse(path, format!("invalid line {line:?}")));
        };
        let dev = dev.trim();
        if filter.ignored(dev) {
            continue;
        }
        let values: Vec<&str> = values.split_ascii_whitespace().collect();
        if values.len() != families.len() {
            return Err(CollectError::parse(path, format!("invalid line {line:?}")));
        }
        for (fam, v) in families.iter_mut().zip(values) {
            let v: u64 = v
                .parse()
                .map_err(|_| CollectError::parse(path, format!("bad value {v:?} for {dev}")))?;
            fam.push(vec![("device", dev.to_string())], v as f64);
        }
        let stat = sys.join("class/net").join(dev).join("statistics/rx_nohandler");
        if let Some(v) = read_attr(&stat).and_then(|v| v.parse::<u64>().ok()) {
            nohandler.push(vec![("device", dev.to_string())], v as f64);
        }
    }
    out.append(&mut families);
    out.push(nohandler);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:   63161      67    0    0    0     0          0         0    63161      67    0    0    0     0       0          0
  eth0: 355506270 250000 1 2 0 0 0 0 1000 10 0 3 0 0 0 0
";

    #[test]
    fn header_driven_names() {
        let mut out = Vec::new();
        collect(
            Path::new("d"),
            DEV,
            Path::new("/nonexistent"),
            &DeviceFilter::default(),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len(), 17);
        let rx = out
            .iter()
            .find(|f| f.name == "node_network_receive_bytes_total")
            .unwrap();
        assert_eq!(rx.samples[1].labels, vec![("device", "eth0".to_string())]);
        assert_eq!(rx.samples[1].value, 355506270.0);
        let drop = out
            .iter()
            .find(|f| f.name == "node_network_transmit_drop_total")
            .unwrap();
        assert_eq!(drop.samples[1].value, 3.0);
        assert!(out.iter().any(|f| f.name == "node_network_transmit_colls_total"));
    }

    #[test]
    fn exclude_and_garbage() {
        let mut out = Vec::new();
        let lo = DeviceFilter {
            include: None,
            exclude: Some(regex::Regex::new("^lo$").unwrap()),
        };
        collect(Path::new("d"), DEV, Path::new("/nonexistent"), &lo, &mut out).unwrap();
        assert_eq!(out[0].samples.len(), 1);
        let bad = DEV.replace("355506270", "x");
        assert!(collect(
            Path::new("d"),
            &bad,
            Path::new("/x"),
            &DeviceFilter::default(),
            &mut Vec::new()
        )
        .is_err());
        assert!(collect(
            Path::new("d"),
            "only one line\n",
            Path::new("/x"),
            &DeviceFilter::default(),
            &mut Vec::new()
        )
        .is_err());
        let short = format!("{DEV}  eth1: 1 2 3\n");
        assert!(collect(
            Path::new("d"),
            &short,
            Path::new("/x"),
            &DeviceFilter::default(),
            &mut Vec::new()
        )
        .is_err());
    }
}

//! `/sys/class/net/<iface>` → node_exporter's `netclass` collector: link state
//! (`node_network_up`, `_carrier`, carrier changes), speed, MTU, flags and the interface's
//! addresses in `node_network_info`. What a gateway's uplink dashboard shows first: is the
//! link up, at what speed, and how often has it flapped.
//!
//! An attribute the driver refuses to report right now (speed or carrier of a link that is
//! down answer `EINVAL`) is left out for that cycle, as node_exporter does.

use std::path::Path;

use super::read::{dir_names, AttrDir, CollectError, Families};
use crate::config::sample::DeviceFilter;
use crate::model::{Family, MetricKind};

/// Attribute file → (metric suffix, is a counter), in node_exporter's order.
const PROPS: [(&str, &str, bool); 14] = [
    ("addr_assign_type", "address_assign_type", false),
    ("carrier", "carrier", false),
    ("carrier_changes", "carrier_changes_total", true),
    ("carrier_up_count", "carrier_up_changes_total", true),
    ("carrier_down_count", "carrier_down_changes_total", true),
    ("dev_id", "device_id", false),
    ("dormant", "dormant", false),
    ("flags", "flags", false),
    ("ifindex", "iface_id", false),
    ("iflink", "iface_link", false),
    ("link_mode", "iface_link_mode", false),
    ("mtu", "mtu_bytes", false),
    ("name_assign_type", "name_assign_type", false),
    ("netdev_group", "net_dev_group", false),
];

/// Go's `strconv.ParseInt(s, 0, 64)`: decimal, or `0x` hexadecimal (`flags`, `dev_id`).
fn int(s: &str) -> Option<i64> {
    match s.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// `node_network_<suffix>{device}` with node_exporter's help text.
fn prop(fams: &mut Families, suffix: &str, counter: bool, dev: &str, v: f64) {
    let kind = if counter {
        MetricKind::Counter
    } else {
        MetricKind::Gauge
    };
    fams.push(
        &format!("node_network_{suffix}"),
        format!("Network device property: {suffix}"),
        kind,
        vec![("device", dev.to_string())],
        v,
    );
}

pub fn collect(
    sys: &Path,
    filter: &DeviceFilter,
    ignore_invalid_speed: bool,
    out: &mut Vec<Family>,
) -> Result<(), CollectError> {
    let class = sys.join("class/net");
    if !class.is_dir() {
        return Err(super::read::no_data(&class));
    }
    let mut up = Family::new(
        "node_network_up",
        "Value is 1 if operstate is 'up', 0 otherwise.",
        MetricKind::Gauge,
    );
    let mut info = Family::new(
        "node_network_info",
        "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
        MetricKind::Gauge,
    );
    let mut fams = Families::default();
    for dev in dir_names(&class) {
        if filter.ignored(&dev) {
            continue;
        }
        // Not a directory (bonding_masters): not an interface.
        let Some(dir) = AttrDir::open(&class.join(&dev)) else {
            continue;
        };
        let attr = |name: &str| dir.attr(name);
        let operstate = attr("operstate").unwrap_or_default();
        up.push(
            vec![("device", dev.clone())],
            if operstate == "up" { 1.0 } else { 0.0 },
        );
        info.push(
            vec![
                ("address", attr("address").unwrap_or_default()),
                ("broadcast", attr("broadcast").unwrap_or_default()),
                ("device", dev.clone()),
                ("duplex", attr("duplex").unwrap_or_default()),
                ("ifalias", attr("ifalias").unwrap_or_default()),
                ("operstate", operstate),
            ],
            1.0,
        );
        for (file, suffix, counter) in PROPS {
            if let Some(v) = attr(file).as_deref().and_then(int) {
                prop(&mut fams, suffix, counter, &dev, v as f64);
            }
        }
        if let Some(speed) = attr("speed").as_deref().and_then(int) {
            // Some drivers say -1 for an unknown speed.
            if speed >= 0 || !ignore_invalid_speed {
                prop(
                    &mut fams,
                    "speed_bytes",
                    false,
                    &dev,
                    (speed * 1000 * 1000 / 8) as f64,
                );
            }
        }
        if let Some(v) = attr("tx_queue_len").as_deref().and_then(int) {
            prop(&mut fams, "transmit_queue_length", false, &dev, v as f64);
        }
        if let Some(v) = attr("type").as_deref().and_then(int) {
            prop(&mut fams, "protocol_type", false, &dev, v as f64);
        }
    }
    out.push(up);
    out.push(info);
    out.extend(fams.into_vec());
    Ok(())
}

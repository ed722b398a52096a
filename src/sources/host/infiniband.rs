//! InfiniBand adapters from `/sys/class/infiniband`: node_exporter's `infiniband` collector —
//! per port its state, physical state, rate and the port counters (data counters count 32-bit
//! words, hence × 4 for bytes); the `counters_ext` 64-bit counters as `legacy_*`. A counter an
//! adapter cannot report (`N/A (no PMA)`) is left out.

use std::path::Path;

use super::read::{counter, dir_names, gauge, no_data, read_attr, CollectError};
use crate::model::{Family, Labels};

/// (directory, file, metric suffix, factor, help)
const COUNTERS: [(&str, &str, &str, f64, &str); 24] = [
    ("counters", "link_downed", "link_downed_total", 1.0, "Number of times the link failed to recover from an error state and went down"),
    ("counters", "link_error_recovery", "link_error_recovery_total", 1.0, "Number of times the link successfully recovered from an error state"),
    ("counters", "multicast_rcv_packets", "multicast_packets_received_total", 1.0, "Number of multicast packets received (including errors)"),
    ("counters", "multicast_xmit_packets", "multicast_packets_transmitted_total", 1.0, "Number of multicast packets transmitted (including errors)"),
    ("counters", "port_rcv_constraint_errors", "port_constraint_errors_received_total", 1.0, "Number of packets received on the switch physical port that are discarded"),
    ("counters", "port_xmit_constraint_errors", "port_constraint_errors_transmitted_total", 1.0, "Number of packets not transmitted from the switch physical port"),
    ("counters", "port_rcv_data", "port_data_received_bytes_total", 4.0, "Number of data octets received on all links"),
    ("counters", "port_xmit_data", "port_data_transmitted_bytes_total", 4.0, "Number of data octets transmitted on all links"),
    ("counters", "port_rcv_discards", "port_discards_received_total", 1.0, "Number of inbound packets discarded by the port because the port is down or congested"),
    ("counters", "port_xmit_discards", "port_discards_transmitted_total", 1.0, "Number of outbound packets discarded by the port because the port is down or congested"),
    ("counters", "port_rcv_errors", "port_errors_received_total", 1.0, "Number of packets containing an error that were received on this port"),
    ("counters", "port_rcv_packets", "port_packets_received_total", 1.0, "Number of packets received on all VLs by this port (including errors)"),
    ("counters", "port_xmit_packets", "port_packets_transmitted_total", 1.0, "Number of packets transmitted on all VLs from this port (including errors)"),
    ("counters", "port_xmit_wait", "port_transmit_wait_total", 1.0, "Number of ticks during which the port had data to transmit but no data was sent during the entire tick"),
    ("counters", "unicast_rcv_packets", "unicast_packets_received_total", 1.0, "Number of unicast packets received (including errors)"),
    ("counters", "unicast_xmit_packets", "unicast_packets_transmitted_total", 1.0, "Number of unicast packets transmitted (including errors)"),
    ("counters_ext", "port_rcv_data_64", "legacy_data_received_bytes_total", 4.0, "Number of data octets received on all links"),
    ("counters_ext", "port_xmit_data_64", "legacy_data_transmitted_bytes_total", 4.0, "Number of data octets transmitted on all links"),
    ("counters_ext", "port_rcv_packets_64", "legacy_packets_received_total", 1.0, "Number of data packets received on all links"),
    ("counters_ext", "port_xmit_packets_64", "legacy_packets_transmitted_total", 1.0, "Number of data packets received on all links"),
    ("counters_ext", "port_multicast_rcv_packets", "legacy_multicast_packets_received_total", 1.0, "Number of multicast packets received"),
    ("counters_ext", "port_multicast_xmit_packets", "legacy_multicast_packets_transmitted_total", 1.0, "Number of multicast packets transmitted"),
    ("counters_ext", "port_unicast_rcv_packets", "legacy_unicast_packets_received_total", 1.0, "Number of unicast packets received"),
    ("counters_ext", "port_unicast_xmit_packets", "legacy_unicast_packets_transmitted_total", 1.0, "Number of unicast packets transmitted"),
];

/// `4: ACTIVE` → 4.
fn leading_id(s: &str) -> Option<f64> {
    s.split(':').next()?.trim().parse().ok()
}

pub fn collect(sys: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let class = sys.join("class/infiniband");
    if !class.is_dir() {
        return Err(no_data(&class));
    }
    let mut info = gauge(
        "node_infiniband_info",
        "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
    );
    let mut state = gauge(
        "node_infiniband_state_id",
        "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer)",
    );
    let mut phys = gauge(
        "node_infiniband_physical_state_id",
        "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, 4: shift, 5: link up, 6: link error recover, 7: phytest)",
    );
    let mut rate = gauge(
        "node_infiniband_rate_bytes_per_second",
        "Maximum signal transfer rate",
    );
    let mut counters: Vec<Family> = COUNTERS
        .iter()
        .map(|(_, _, n, _, h)| counter(format!("node_infiniband_{n}"), *h))
        .collect();
    for dev in dir_names(&class) {
        let d = class.join(&dev);
        let a = |f: &str| read_attr(&d.join(f)).unwrap_or_default();
        info.push(
            vec![
                ("board_id", a("board_id")),
                ("device", dev.clone()),
                ("firmware_version", a("fw_ver")),
                ("hca_type", a("hca_type")),
            ],
            1.0,
        );
        for port in dir_names(&d.join("ports")) {
            let p = d.join("ports").join(&port);
            let labels = || -> Labels { vec![("device", dev.clone()), ("port", port.clone())] };
            if let Some(v) = read_attr(&p.join("state")).as_deref().and_then(leading_id) {
                state.push(labels(), v);
            }
            if let Some(v) = read_attr(&p.join("phys_state")).as_deref().and_then(leading_id) {
                phys.push(labels(), v);
            }
            // "40 Gb/sec (4X QDR)" → 40 × 10⁹ / 8 bytes per second.
            if let Some(gbit) = read_attr(&p.join("rate")).and_then(|r| {
                r.split_ascii_whitespace()
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
            }) {
                rate.push(labels(), gbit * 125000000.0);
            }
            for ((dir, file, _, factor, _), fam) in COUNTERS.iter().zip(counters.iter_mut()) {
                if let Some(v) = read_attr(&p.join(dir).join(file)).and_then(|v| v.parse::<u64>().ok()) {
                    fam.push(labels(), v as f64 * factor);
                }
            }
        }
    }
    out.extend([info, state, phys, rate]);
    out.extend(counters);
    Ok(())
}

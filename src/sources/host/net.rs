//! The kernel's network tables under `/proc/net` and `/proc/sys/net`: node_exporter's
//! `sockstat`, `softnet`, `netstat`, `arp`, `udp_queues` and `conntrack` collectors. Field
//! names come from the files' own headers where the kernel provides them, so a kernel that adds
//! a counter adds a metric instead of breaking the parse.

use std::path::Path;

use super::read::{counter, gauge, num, read_file, read_or_no_data, untyped, CollectError, Selection};
use crate::config::sample::DeviceFilter;
use crate::model::Family;

/// `/proc/net/sockstat` and `sockstat6`: sockets by protocol and state; `mem` also in bytes.
pub fn sockstat(proc: &Path, page_size: f64, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let v4 = proc.join("net/sockstat");
    sockstat_file(&v4, &read_or_no_data(&v4)?, page_size, out)?;
    let v6 = proc.join("net/sockstat6");
    match std::fs::read_to_string(&v6) {
        Ok(text) => sockstat_file(&v6, &text, page_size, out),
        // IPv6 disabled: node_exporter reports IPv4 alone.
        Err(_) => Ok(()),
    }
}

fn sockstat_file(path: &Path, text: &str, page_size: f64, out: &mut Vec<Family>) -> Result<(), CollectError> {
    for line in text.lines() {
        let Some((proto, rest)) = line.split_once(':') else {
            continue;
        };
        let w: Vec<&str> = rest.split_ascii_whitespace().collect();
        if w.len() % 2 != 0 {
            return Err(CollectError::parse(path, format!("odd fields in {line:?}")));
        }
        for kv in w.chunks(2) {
            let v = num(path, kv[1], false)?;
            if proto == "sockets" {
                let mut f = gauge("node_sockstat_sockets_used", "Number of IPv4 sockets in use.");
                f.push(Vec::new(), v);
                out.push(f);
                continue;
            }
            let mut push = |state: &str, v: f64| {
                let mut f = gauge(
                    format!("node_sockstat_{proto}_{state}"),
                    format!("Number of {proto} sockets in state {state}."),
                );
                f.push(Vec::new(), v);
                out.push(f);
            };
            push(kv[0], v);
            if kv[0] == "mem" {
                push("mem_bytes", v * page_size);
            }
        }
    }
    Ok(())
}

/// `/proc/net/softnet_stat`: per-CPU packets processed, dropped and squeezed (hexadecimal).
pub fn softnet(proc: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let path = proc.join("net/softnet_stat");
    let text = read_file(&path)?;
    let mut processed = counter("node_softnet_processed_total", "Number of processed packets");
    let mut dropped = counter("node_softnet_dropped_total", "Number of dropped packets");
    let mut squeezed = counter(
        "node_softnet_times_squeezed_total",
        "Number of times processing packets ran out of quota",
    );
    for (cpu, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        if f.len() < 3 {
            return Err(CollectError::parse(&path, format!("short line {line:?}")));
        }
        let cpu = || vec![("cpu", cpu.to_string())];
        processed.push(cpu(), num(&path, f[0], true)?);
        dropped.push(cpu(), num(&path, f[1], true)?);
        squeezed.push(cpu(), num(&path, f[2], true)?);
    }
    out.extend([dropped, processed, squeezed]);
    Ok(())
}

/// `/proc/net/netstat`, `/proc/net/snmp` (header/value line pairs) and `/proc/net/snmp6`
/// (`Ip6InReceives 7` lines): `node_netstat_<Proto>_<Field>` for the fields matching
/// `[sample.netstat] fields`.
pub fn netstat(proc: &Path, fields: &mut Selection, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let mut key = String::with_capacity(64);
    let mut push = |proto: &str, field: &str, v: f64| {
        key.clear();
        key.push_str(proto);
        key.push('_');
        key.push_str(field);
        if fields.keep(&key) {
            let mut f = untyped(
                format!("node_netstat_{key}"),
                format!("Statistic {proto}{field}."),
            );
            f.push(Vec::new(), v);
            out.push(f);
        }
    };
    for file in ["net/netstat", "net/snmp"] {
        let path = proc.join(file);
        let text = read_file(&path)?;
        let mut lines = text.lines();
        while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
            let (Some((proto, names)), Some((proto2, values))) =
                (names.split_once(':'), values.split_once(':'))
            else {
                return Err(CollectError::parse(&path, "unpaired lines"));
            };
            let names: Vec<&str> = names.split_ascii_whitespace().collect();
            let values: Vec<&str> = values.split_ascii_whitespace().collect();
            if proto != proto2 || names.len() != values.len() {
                return Err(CollectError::parse(&path, format!("mismatched {proto} lines")));
            }
            for (n, v) in names.iter().zip(values) {
                // Tcp MaxConn is -1: a signed field.
                let v: f64 = v
                    .parse()
                    .map_err(|_| CollectError::parse(&path, format!("bad value {v:?} for {proto}{n}")))?;
                push(proto, n, v);
            }
        }
    }
    let path = proc.join("net/snmp6");
    if let Ok(text) = std::fs::read_to_string(&path) {
        for line in text.lines() {
            let mut w = line.split_ascii_whitespace();
            let (Some(key), Some(v)) = (w.next(), w.next()) else {
                continue;
            };
            // Ip6InReceives → (Ip6, InReceives); Icmp6InMsgs; Udp6…; UdpLite6…
            let Some(at) = key.find('6') else { continue };
            let (proto, field) = key.split_at(at + 1);
            push(proto, field, num(&path, v, false)?);
        }
    }
    Ok(())
}

/// `/proc/net/arp`: entries per device.
pub fn arp(proc: &Path, filter: &DeviceFilter, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let path = proc.join("net/arp");
    let text = read_file(&path)?;
    let mut counts: std::collections::BTreeMap<&str, u64> = Default::default();
    for line in text.lines().skip(1) {
        let Some(dev) = line.split_ascii_whitespace().nth(5) else {
            continue;
        };
        if !filter.ignored(dev) {
            *counts.entry(dev).or_default() += 1;
        }
    }
    let mut f = gauge("node_arp_entries", "ARP entries by device");
    for (dev, n) in counts {
        f.push(vec![("device", dev.to_string())], n as f64);
    }
    out.push(f);
    Ok(())
}

/// `/proc/net/udp` and `udp6`: bytes queued in the kernel for UDP sockets.
pub fn udp_queues(proc: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let mut f = gauge(
        "node_udp_queues",
        "Number of allocated memory in the kernel for UDP datagrams in bytes.",
    );
    let mut any = None;
    for (file, ip) in [("net/udp", "v4"), ("net/udp6", "v6")] {
        let path = proc.join(file);
        let text = match read_or_no_data(&path) {
            Ok(t) => t,
            Err(e) => {
                any.get_or_insert(Err(e));
                continue;
            }
        };
        any = Some(Ok(()));
        let (mut tx, mut rx) = (0.0, 0.0);
        for line in text.lines().skip(1) {
            let Some(q) = line.split_ascii_whitespace().nth(4) else {
                continue;
            };
            let Some((t, r)) = q.split_once(':') else {
                return Err(CollectError::parse(&path, format!("bad queue field {q:?}")));
            };
            tx += num(&path, t, true)?;
            rx += num(&path, r, true)?;
        }
        f.push(vec![("ip", ip.to_string()), ("queue", "tx".to_string())], tx);
        f.push(vec![("ip", ip.to_string()), ("queue", "rx".to_string())], rx);
    }
    any.unwrap_or(Ok(()))?;
    out.push(f);
    Ok(())
}

/// Connection tracking: the table's size and limit, and `/proc/net/stat/nf_conntrack` summed
/// over CPUs.
pub fn conntrack(proc: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let dir = proc.join("sys/net/netfilter");
    for (file, name, help) in [
        (
            "nf_conntrack_count",
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
        ),
        (
            "nf_conntrack_max",
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
        ),
    ] {
        let path = dir.join(file);
        let text = read_or_no_data(&path)?;
        let mut f = gauge(name, help);
        f.push(Vec::new(), num(&path, text.trim(), false)?);
        out.push(f);
    }
    const STATS: [(&str, &str); 8] = [
        ("found", "Number of searched entries which were successful."),
        ("invalid", "Number of packets seen which can not be tracked."),
        ("ignore", "Number of packets seen which are already connected to a conntrack entry."),
        ("insert", "Number of entries inserted into the list."),
        ("insert_failed", "Number of entries for which list insertion was attempted but failed."),
        ("drop", "Number of packets dropped due to conntrack failure."),
        ("early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached."),
        ("search_restart", "Number of conntrack table lookups which had to be restarted due to hashtable resizes."),
    ];
    let path = proc.join("net/stat/nf_conntrack");
    let text = read_or_no_data(&path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .map(|h| h.split_ascii_whitespace().collect())
        .unwrap_or_default();
    let mut sums = [0.0; STATS.len()];
    for line in lines {
        let values: Vec<&str> = line.split_ascii_whitespace().collect();
        for (i, (stat, _)) in STATS.iter().enumerate() {
            let col = header
                .iter()
                .position(|h| h == stat)
                .ok_or_else(|| CollectError::parse(&path, format!("no column {stat}")))?;
            let v = values
                .get(col)
                .ok_or_else(|| CollectError::parse(&path, format!("short line {line:?}")))?;
            sums[i] += num(&path, v, true)?;
        }
    }
    for ((stat, help), v) in STATS.iter().zip(sums) {
        let mut f = gauge(format!("node_nf_conntrack_stat_{stat}"), *help);
        f.push(Vec::new(), v);
        out.push(f);
    }
    Ok(())
}

/// Bonding interfaces (`/sys/class/net/bonding_masters`): configured and active (MII up)
/// slaves per master.
pub fn bonding(sys: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let root = sys.join("class/net");
    let masters = read_or_no_data(&root.join("bonding_masters"))?;
    let mut slaves_f = gauge(
        "node_bonding_slaves",
        "Number of configured slaves per bonding interface.",
    );
    let mut active_f = gauge(
        "node_bonding_active",
        "Number of active slaves per bonding interface.",
    );
    for master in masters.split_ascii_whitespace() {
        let list = read_file(&root.join(master).join("bonding/slaves"))?;
        let (mut n, mut up) = (0, 0);
        for slave in list.split_ascii_whitespace() {
            let lower = root
                .join(master)
                .join(format!("lower_{slave}/bonding_slave/mii_status"));
            let older = root
                .join(master)
                .join(format!("slave_{slave}/bonding_slave/mii_status"));
            let state = std::fs::read_to_string(&lower)
                .or_else(|_| std::fs::read_to_string(&older))
                .map_err(|source| CollectError::Read { path: lower, source })?;
            n += 1;
            if state.trim() == "up" {
                up += 1;
            }
        }
        slaves_f.push(vec![("master", master.to_string())], f64::from(n));
        active_f.push(vec![("master", master.to_string())], f64::from(up));
    }
    out.extend([slaves_f, active_f]);
    Ok(())
}

/// `C0A80016:0CEA` (IPv4) or `[2620:0:…:1]:0050` (IPv6) → (address, port).
fn ipvs_addr(s: &str) -> Option<(String, u16)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, port) = rest.split_once("]:")?;
        let ip: std::net::Ipv6Addr = ip.parse().ok()?;
        return Some((ip.to_string(), u16::from_str_radix(port, 16).ok()?));
    }
    let (ip, port) = s.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    Some((
        std::net::Ipv4Addr::from(ip).to_string(),
        u16::from_str_radix(port, 16).ok()?,
    ))
}

/// IP Virtual Server: totals from `/proc/net/ip_vs_stats`, and per backend its weight and
/// connections from `/proc/net/ip_vs` (node_exporter's default backend labels; backends
/// that share a label set are summed).
pub fn ipvs(proc: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let path = proc.join("net/ip_vs_stats");
    let text = read_or_no_data(&path)?;
    let totals: Vec<&str> = text
        .lines()
        .nth(2)
        .map(|l| l.split_ascii_whitespace().collect())
        .unwrap_or_default();
    if totals.len() != 5 {
        return Err(CollectError::parse(&path, "unexpected totals line"));
    }
    for (i, (name, help)) in [
        (
            "node_ipvs_connections_total",
            "The total number of connections made.",
        ),
        (
            "node_ipvs_incoming_packets_total",
            "The total number of incoming packets.",
        ),
        (
            "node_ipvs_outgoing_packets_total",
            "The total number of outgoing packets.",
        ),
        (
            "node_ipvs_incoming_bytes_total",
            "The total amount of incoming data.",
        ),
        (
            "node_ipvs_outgoing_bytes_total",
            "The total amount of outgoing data.",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut f = counter(name, help);
        f.push(Vec::new(), num(&path, totals[i], true)?);
        out.push(f);
    }
    let path = proc.join("net/ip_vs");
    let text = read_file(&path)?;
    // label set → (active, inactive, weight)
    let mut backends: std::collections::BTreeMap<[String; 6], [f64; 3]> = Default::default();
    let mut service: Option<(String, String, String, String)> = None; // proto, address, port, mark
    let bad = |l: &str| CollectError::parse(&path, format!("unexpected line {l:?}"));
    for line in text.lines().skip(3) {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        match f.first().copied() {
            None => continue,
            Some("TCP" | "UDP" | "SCTP") if f.len() >= 2 => {
                let (ip, port) = ipvs_addr(f[1]).ok_or_else(|| bad(line))?;
                service = Some((f[0].to_string(), ip, port.to_string(), String::new()));
            }
            Some("FWM") if f.len() >= 2 => {
                service = Some(("FWM".into(), String::new(), "0".into(), f[1].to_string()));
            }
            Some("->") if f.len() >= 6 => {
                let (proto, laddr, lport, mark) = service.clone().ok_or_else(|| bad(line))?;
                let (ip, port) = ipvs_addr(f[1]).ok_or_else(|| bad(line))?;
                let n = |i: usize| num(&path, f[i], false);
                let key = [laddr, mark, lport, proto, ip, port.to_string()];
                let e = backends.entry(key).or_default();
                e[0] += n(4)?;
                e[1] += n(5)?;
                e[2] += n(3)?;
            }
            _ => return Err(bad(line)),
        }
    }
    let mut fams = [
        gauge(
            "node_ipvs_backend_connections_active",
            "The current active connections by local and remote address.",
        ),
        gauge(
            "node_ipvs_backend_connections_inactive",
            "The current inactive connections by local and remote address.",
        ),
        gauge(
            "node_ipvs_backend_weight",
            "The current backend weight by local and remote address.",
        ),
    ];
    for (k, v) in backends {
        for (fam, v) in fams.iter_mut().zip(v) {
            fam.push(
                vec![
                    ("local_address", k[0].clone()),
                    ("local_mark", k[1].clone()),
                    ("local_port", k[2].clone()),
                    ("proto", k[3].clone()),
                    ("remote_address", k[4].clone()),
                    ("remote_port", k[5].clone()),
                ],
                v,
            );
        }
    }
    out.extend(fams);
    Ok(())
}

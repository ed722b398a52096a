//! What gateways need and node_exporter lacks (`outpost_` names, since node_exporter has none):
//!
//! - `mmc`: eMMC and SD card health from `/sys/block/mmcblk*/device`. Flash wear is the first
//!   thing that kills a gateway; eMMC 5.0+ reports it. `life_time` holds two estimates (type A
//!   and type B memory) in bands of 10 % of the rated life used (`0x01` = 0–10 %, `0x0A` =
//!   90–100 %, `0x0B` = beyond it); `pre_eol_info` says how much of the reserve blocks are
//!   consumed (`0x01` normal, `0x02` warning at 80 %, `0x03` urgent). SD cards have neither
//!   and report only their info series.
//! - `wireless`: the Wi-Fi station link of each interface in `/proc/net/wireless` — link
//!   quality, signal and noise in dBm, discarded packets and missed beacons.

use std::path::Path;

use super::read::{counter, dir_names, gauge, read_attr, read_or_no_data, CollectError};
use crate::model::Family;

/// A sysfs hex or decimal byte (`0x0a`, `10`).
fn byte(s: &str) -> Option<u8> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u8::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

pub fn mmc(sys: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let block = sys.join("block");
    let mut info = gauge(
        "outpost_mmc_info",
        "An eMMC or SD card: its type (MMC or SD), name, serial, manufacturer and OEM ids and date, value always 1.",
    );
    let mut life = gauge(
        "outpost_mmc_life_time_used_ratio",
        "eMMC estimated share of the rated life used, upper bound of the device's 10 % band (1.1: beyond its rated life), per memory type (a, b).",
    );
    let mut eol = gauge(
        "outpost_mmc_pre_eol_info",
        "eMMC reserve block consumption: 1 normal, 2 warning (80 % consumed), 3 urgent.",
    );
    for dev in dir_names(&block) {
        let Some(n) = dev.strip_prefix("mmcblk") else {
            continue;
        };
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            continue; // mmcblk0boot0, mmcblk0rpmb: the same card's hardware partitions
        }
        let d = block.join(&dev).join("device");
        let attr = |f: &str| read_attr(&d.join(f)).unwrap_or_default();
        info.push(
            vec![
                ("date", attr("date")),
                ("device", dev.clone()),
                ("manfid", attr("manfid")),
                ("name", attr("name")),
                ("oemid", attr("oemid")),
                ("serial", attr("serial")),
                ("type", attr("type")),
            ],
            1.0,
        );
        if let Some(lt) = read_attr(&d.join("life_time")) {
            for (kind, v) in ["a", "b"].iter().zip(lt.split_ascii_whitespace()) {
                // 0 means "not defined" by the device: leave it out rather than report 0 % worn.
                if let Some(level) = byte(v).filter(|l| (1..=11).contains(l)) {
                    life.push(
                        vec![("device", dev.clone()), ("type", kind.to_string())],
                        f64::from(level) / 10.0,
                    );
                }
            }
        }
        if let Some(v) = read_attr(&d.join("pre_eol_info"))
            .as_deref()
            .and_then(byte)
            .filter(|v| (1..=3).contains(v))
        {
            eol.push(vec![("device", dev.clone())], f64::from(v));
        }
    }
    out.extend([info, life, eol]);
    Ok(())
}

/// A value of `/proc/net/wireless`: `70.` (a trailing dot marks an updated value).
fn wl(s: &str) -> Option<f64> {
    s.trim_end_matches('.').parse().ok()
}

pub fn wireless(proc: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    let path = proc.join("net/wireless");
    let text = read_or_no_data(&path)?;
    let mut quality = gauge(
        "outpost_wireless_link_quality",
        "Wi-Fi link quality as the driver reports it (often out of 70).",
    );
    let mut signal = gauge("outpost_wireless_signal_dbm", "Wi-Fi signal level in dBm.");
    let mut noise = gauge(
        "outpost_wireless_noise_dbm",
        "Wi-Fi noise level in dBm, where the driver reports it.",
    );
    let mut discarded = counter(
        "outpost_wireless_discarded_packets_total",
        "Wi-Fi packets discarded, by reason (nwid, crypt, frag, retry, misc).",
    );
    let mut missed = counter(
        "outpost_wireless_missed_beacons_total",
        "Wi-Fi beacons missed from the access point.",
    );
    for line in text.lines().skip(2) {
        let Some((dev, rest)) = line.split_once(':') else {
            continue;
        };
        let dev = dev.trim().to_string();
        let f: Vec<&str> = rest.split_ascii_whitespace().collect();
        if f.len() < 10 {
            return Err(CollectError::parse(&path, format!("short line {line:?}")));
        }
        let bad = || CollectError::parse(&path, format!("bad value in {line:?}"));
        let l = || vec![("device", dev.clone())];
        quality.push(l(), wl(f[1]).ok_or_else(bad)?);
        // Old drivers write dBm as an unsigned byte (190 = -66 dBm).
        let dbm = |v: f64| if v >= 64.0 { v - 256.0 } else { v };
        signal.push(l(), dbm(wl(f[2]).ok_or_else(bad)?));
        // -256 (or 0 from some drivers): no noise figure.
        let n = wl(f[3]).ok_or_else(bad)?;
        if n != -256.0 && n != 0.0 {
            noise.push(l(), dbm(n));
        }
        for (reason, v) in ["nwid", "crypt", "frag", "retry", "misc"].iter().zip(&f[4..9]) {
            discarded.push(
                vec![("device", dev.clone()), ("reason", reason.to_string())],
                wl(v).ok_or_else(bad)?,
            );
        }
        missed.push(l(), wl(f[9]).ok_or_else(bad)?);
    }
    out.extend([quality, signal, noise, discarded, missed]);
    Ok(())
}

//! `node_uname_info` (the `uname(2)` fields as labels) and node_exporter's `time` collector:
//! `node_time_seconds`, `node_time_zone_offset_seconds{time_zone}` and the clocksource info
//! families from sysfs.

use std::path::Path;

use super::read::read_attr;
use crate::model::{Family, MetricKind};

fn field(raw: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = raw.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

pub fn collect_uname(out: &mut Vec<Family>) -> Result<(), std::io::Error> {
    // SAFETY: utsname is plain data; uname fills it or fails.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut f = Family::new(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        MetricKind::Gauge,
    );
    f.push(
        vec![
            ("domainname", field(&u.domainname)),
            ("machine", field(&u.machine)),
            ("nodename", field(&u.nodename)),
            ("release", field(&u.release)),
            ("sysname", field(&u.sysname)),
            ("version", field(&u.version)),
        ],
        1.0,
    );
    out.push(f);
    Ok(())
}

/// Local time zone abbreviation and offset from UTC, from the C library's view of `TZ`.
// libc marks `time_t` deprecated on musl (it will become 64-bit there); the value is passed
// straight to the C library of the same build, so either width is right.
#[allow(deprecated)]
fn zone(now: i64) -> Option<(String, f64)> {
    let t = now as libc::time_t;
    // SAFETY: tm is plain data; localtime_r fills it or returns NULL.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return None;
    }
    let name = if tm.tm_zone.is_null() {
        String::new()
    } else {
        // SAFETY: tm_zone points to a NUL-terminated string owned by the C library.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    Some((name, tm.tm_gmtoff as f64))
}

fn clocksources(sys: &Path, out: &mut Vec<Family>) {
    let dir = sys.join("devices/system/clocksource");
    // node_exporter names the standard path whatever its --path.sysfs.
    let help = |what: &str| format!("{what} read from '/sys/devices/system/clocksource'.");
    let mut available = Family::new(
        "node_time_clocksource_available_info",
        help("Available clocksources"),
        MetricKind::Gauge,
    );
    let mut current = Family::new(
        "node_time_clocksource_current_info",
        help("Current clocksource"),
        MetricKind::Gauge,
    );
    let mut devices: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    Some((name.strip_prefix("clocksource")?.to_string(), e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    devices.sort();
    for (device, path) in devices {
        if let Some(list) = read_attr(&path.join("available_clocksource")) {
            for cs in list.split_ascii_whitespace() {
                available.push(
                    vec![("clocksource", cs.to_string()), ("device", device.clone())],
                    1.0,
                );
            }
        }
        if let Some(cs) = read_attr(&path.join("current_clocksource")) {
            current.push(vec![("clocksource", cs), ("device", device.clone())], 1.0);
        }
    }
    out.push(available);
    out.push(current);
}

pub fn collect_time(sys: &Path, out: &mut Vec<Family>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    out.push(Family::single(
        "node_time_seconds",
        "System time in seconds since epoch (1970).",
        MetricKind::Gauge,
        now,
    ));
    if let Some((name, offset)) = zone(now as i64) {
        let mut f = Family::new(
            "node_time_zone_offset_seconds",
            "System time zone offset in seconds.",
            MetricKind::Gauge,
        );
        f.push(vec![("time_zone", name)], offset);
        out.push(f);
    }
    clocksources(sys, out);
}

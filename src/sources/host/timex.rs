//! Clock quality in one place: the kernel's NTP state from `adjtimex(2)` with node_exporter's
//! `timex` names — `node_timex_sync_status` (is the clock synchronised?),
//! `node_timex_estimated_error_seconds`, `_maxerror_seconds`, `_offset_seconds` and the PPS
//! counters — plus `outpost_boot_info{boot_id}` (node_exporter has no such series): a reboot
//! restarts the clock's discipline, and a gateway without an RTC starts with a wrong clock, so
//! the boot a reading belongs to matters when judging its timestamps.

use std::path::Path;

use super::read::{counter, gauge, read_attr, CollectError};
use crate::model::Family;

/// `adjtimex` answers this when the clock is not synchronised.
const TIME_ERROR: i32 = 5;
/// `status` bit: offsets are in nanoseconds, not microseconds.
const STA_NANO: i32 = 0x2000;

pub fn collect(proc: &Path, out: &mut Vec<Family>) -> Result<(), CollectError> {
    // SAFETY: an all-zero timex is valid input; modes = 0 only reads the kernel's state.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: `tx` is a valid, exclusively borrowed timex for the call's duration.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return Err(CollectError::Read {
            path: "adjtimex(2)".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    let divisor = if tx.status & STA_NANO != 0 { 1e9 } else { 1e6 };
    // adjtimex(2), NOTES: frequencies are ppm with a 16-bit fraction.
    let ppm16frac = 1000000.0 * 65536.0;
    let g = |name: &str, help: &str, v: f64| {
        let mut f = gauge(format!("node_timex_{name}"), help);
        f.push(Vec::new(), v);
        f
    };
    let c = |name: &str, help: &str, v: f64| {
        let mut f = counter(format!("node_timex_{name}"), help);
        f.push(Vec::new(), v);
        f
    };
    out.extend([
        g(
            "sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            if state == TIME_ERROR { 0.0 } else { 1.0 },
        ),
        g(
            "offset_seconds",
            "Time offset in between local system and reference clock.",
            tx.offset as f64 / divisor,
        ),
        g(
            "frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            1.0 + tx.freq as f64 / ppm16frac,
        ),
        g(
            "maxerror_seconds",
            "Maximum error in seconds.",
            tx.maxerror as f64 / 1e6,
        ),
        g(
            "estimated_error_seconds",
            "Estimated error in seconds.",
            tx.esterror as f64 / 1e6,
        ),
        g("status", "Value of the status array bits.", tx.status as f64),
        g(
            "loop_time_constant",
            "Phase-locked loop time constant.",
            tx.constant as f64,
        ),
        g(
            "tick_seconds",
            "Seconds between clock ticks.",
            tx.tick as f64 / 1e6,
        ),
        g(
            "pps_frequency_hertz",
            "Pulse per second frequency.",
            tx.ppsfreq as f64 / ppm16frac,
        ),
        g(
            "pps_jitter_seconds",
            "Pulse per second jitter.",
            tx.jitter as f64 / divisor,
        ),
        g(
            "pps_shift_seconds",
            "Pulse per second interval duration.",
            tx.shift as f64,
        ),
        g(
            "pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            tx.stabil as f64 / ppm16frac,
        ),
        c(
            "pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            tx.jitcnt as f64,
        ),
        c(
            "pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            tx.calcnt as f64,
        ),
        c(
            "pps_error_total",
            "Pulse per second count of calibration errors.",
            tx.errcnt as f64,
        ),
        c(
            "pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            tx.stbcnt as f64,
        ),
        g(
            "tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            tx.tai as f64,
        ),
    ]);
    if let Some(id) = read_attr(&proc.join("sys/kernel/random/boot_id")) {
        let mut f = gauge(
            "outpost_boot_info",
            "The kernel's boot ID (changes with every boot), value always 1.",
        );
        f.push(vec![("boot_id", id)], 1.0);
        out.push(f);
    }
    Ok(())
}

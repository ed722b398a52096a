//! Pulse counters: edge events of a GPIO line (the character device's line events, which the
//! kernel timestamps and queues, so no pulse is lost to polling) counted into a total — the
//! counter metric of a flow or energy meter (`outpost_sensor_<quantity>_total`, `scale`
//! units per pulse).
//!
//! The totals survive restarts: they are written to `sensor-counters.json` in the data
//! directory every 10 s and on stop, and read at start, so the counter only resets when the
//! file is lost (Prometheus' `rate()` copes with that). Counting runs on a thread per line
//! that waits for events with `poll` (500 ms, to see the stop), never on the runtime.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::read::gpio_cdev_chip::{Chip, EventRequestFlags, LineRequestFlags};
use super::state::{SensorState, Series};
use crate::config::sensors::{Bus, Edge, SensorConfig};
use crate::shutdown::Stop;

pub const FILE: &str = "sensor-counters.json";

/// The persisted totals, by sensor name.
pub fn load(dir: &Path) -> BTreeMap<String, u64> {
    std::fs::read(dir.join(FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

pub fn save(dir: &Path, name: &str, total: u64) {
    let mut all = load(dir);
    all.insert(name.to_string(), total);
    let tmp = dir.join(format!("{FILE}.tmp"));
    let bytes = serde_json::to_vec(&all).unwrap_or_default();
    if let Err(e) = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, dir.join(FILE))) {
        log::warn!("sensor {name}: cannot save its pulse total: {e}");
    }
}

/// The edge events a counter waits for; the GPIO character device in the agent, a fake in
/// the tests.
pub trait Edges {
    /// Waits up to `timeout`; how many counted edges arrived.
    fn wait(&mut self, timeout: Duration) -> Result<u64, String>;
}

struct Cdev {
    handle: super::read::gpio_cdev_chip::LineEventHandle,
}

impl Edges for Cdev {
    fn wait(&mut self, timeout: Duration) -> Result<u64, String> {
        use std::os::fd::AsRawFd;
        let mut pfd = libc::pollfd {
            fd: self.handle.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as i32) };
        if r < 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        if r == 0 {
            return Ok(0);
        }
        self.handle.get_event().map(|_| 1).map_err(|e| e.to_string())
    }
}

/// Whether the counter's line can be opened for edge events (`outpost sensors probe`).
pub fn check(c: &SensorConfig) -> Result<(), String> {
    open(c).map(|_| ())
}

fn open(c: &SensorConfig) -> Result<Cdev, String> {
    let Bus::Gpio(path) = &c.bus else {
        return Err("not a GPIO chip".into());
    };
    let mut chip = Chip::new(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let line = chip.get_line(c.pin.unwrap_or(0)).map_err(|e| e.to_string())?;
    let flags = match c.edge {
        Edge::Rising => EventRequestFlags::RISING_EDGE,
        Edge::Falling => EventRequestFlags::FALLING_EDGE,
        Edge::Both => EventRequestFlags::BOTH_EDGES,
    };
    let handle = line
        .events(LineRequestFlags::INPUT, flags, "outpost")
        .map_err(|e| e.to_string())?;
    Ok(Cdev { handle })
}

/// Counts on the calling thread until `stop`; opens the line (and reopens it after an
/// error, with backoff), publishes the total to `state` and persists it.
pub fn run(i: usize, c: SensorConfig, state: Arc<SensorState>, data_dir: PathBuf, stop: Stop) {
    let mut total = load(&data_dir).get(&c.name).copied().unwrap_or(0);
    let mut failures = 0u32;
    while !stop.is_stopped() {
        match open(&c) {
            Ok(edges) => {
                failures = 0;
                count(i, &c, edges, &state, &data_dir, &stop, &mut total);
            }
            Err(e) => {
                failures += 1;
                state.failed(i, "no_bus", &e);
                let wait = backoff(c.interval, failures);
                if stop.sleep_until(Instant::now() + wait) {
                    break;
                }
            }
        }
    }
    save(&data_dir, &c.name, total);
}

fn publish(i: usize, c: &SensorConfig, state: &SensorState, total: u64) {
    state.ok(
        i,
        vec![Series {
            quantity: c.quantity.clone(),
            extra: None,
            value: total as f64 * c.scale,
            counter: true,
        }],
    );
}

/// Counts events from `edges` until an error or the stop.
pub fn count(
    i: usize,
    c: &SensorConfig,
    mut edges: impl Edges,
    state: &SensorState,
    data_dir: &Path,
    stop: &Stop,
    total: &mut u64,
) {
    let mut saved = *total;
    let mut saved_at = Instant::now();
    publish(i, c, state, *total);
    while !stop.is_stopped() {
        match edges.wait(Duration::from_millis(500)) {
            Ok(n) => {
                if n > 0 {
                    *total += n;
                    publish(i, c, state, *total);
                }
            }
            Err(e) => {
                state.failed(i, "bus", &format!("line events failed: {e}"));
                break;
            }
        }
        if *total != saved && saved_at.elapsed() >= Duration::from_secs(10) {
            save(data_dir, &c.name, *total);
            saved = *total;
            saved_at = Instant::now();
        }
    }
    if *total != saved {
        save(data_dir, &c.name, *total);
    }
}

/// The wait before the next attempt after `failures` failed ones: the interval, doubling,
/// at most 5 minutes (or the interval, if longer).
pub fn backoff(interval: Duration, failures: u32) -> Duration {
    let max = interval.max(Duration::from_secs(300));
    interval
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    struct Fake(VecDeque<Result<u64, String>>, Stop);

    impl Edges for Fake {
        fn wait(&mut self, _: Duration) -> Result<u64, String> {
            match self.0.pop_front() {
                Some(r) => r,
                None => {
                    self.1.stop();
                    Ok(0)
                }
            }
        }
    }

    #[test]
    fn totals_count_scale_and_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!("outpost-pulse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let raw = crate::config::sensors::RawSensor {
            name: Some("flow".into()),
            driver: Some("pulse".into()),
            bus: Some("gpiochip0".into()),
            pin: Some(17),
            quantity: Some("water_liters".into()),
            scale: Some(0.5),
            ..Default::default()
        };
        let mut p = crate::config::Problems::default();
        let c = crate::config::sensors::resolve(&mut p, &[], &[raw], Path::new("/dev"), Path::new("/sys"))
            .pop()
            .unwrap();
        let state = SensorState::new(std::slice::from_ref(&c));
        let stop = Stop::new();
        let mut total = load(&dir).get("flow").copied().unwrap_or(0);
        let fake = Fake(VecDeque::from([Ok(1), Ok(0), Ok(2), Ok(1)]), stop.clone());
        count(0, &c, fake, &state, &dir, &stop, &mut total);
        assert_eq!(total, 4);
        assert_eq!(load(&dir)["flow"], 4, "saved on the way out");
        let mut out = Vec::new();
        crate::telemetry::Report::report(&state, &mut out);
        let fam = out
            .iter()
            .find(|f| f.name == "outpost_sensor_water_liters_total")
            .unwrap();
        assert_eq!(fam.samples[0].value, 2.0, "4 pulses × 0.5 l");
        // A restart continues from the saved total; a line error ends the episode.
        let stop = Stop::new();
        let mut total = load(&dir)["flow"];
        let fake = Fake(VecDeque::from([Ok(3), Err("EIO".into())]), stop.clone());
        count(0, &c, fake, &state, &dir, &stop, &mut total);
        assert_eq!((total, load(&dir)["flow"]), (7, 7));
        assert!(!state.is_up(0));
        assert_eq!(backoff(Duration::from_secs(30), 1), Duration::from_secs(30));
        assert_eq!(backoff(Duration::from_secs(30), 5), Duration::from_secs(300));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

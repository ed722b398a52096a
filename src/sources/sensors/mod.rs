//! Device metrics: the sensors attached to the gateway (docs/SENSORS.md).
//!
//! `drivers/` are the datasheet drivers on the `embedded-hal` 1.0 traits; `read.rs` opens a
//! bus (`linux-embedded-hal`, or `sim.rs`) and runs a driver once; `state.rs` keeps what each
//! sensor last said and reports it as metrics (so readings travel with every stored snapshot,
//! to every sink, like the host metrics); `pulse.rs` counts GPIO edge events.
//!
//! **Threads, not the runtime.** Each bus gets a thread of its own (each I2C adapter, SPI
//! device, GPIO chip, the sysfs files together, and one per pulse counter), so a bus that
//! hangs holds up only its own sensors; the host sampler and the runtime never wait for bus
//! I/O. A read that runs past the sensor's `timeout` shows as `up` 0 while it hangs.
//!
//! **Failures.** A missing bus, a sensor that does not acknowledge, a bad CRC, a value out of
//! the datasheet's range, a reading stuck at one value: `outpost_sensor_up` 0, the reason
//! counted, one log line per episode, and the next attempt after a backoff (the interval,
//! doubling, at most 5 minutes); the bus is reopened after a bus-level error.

pub mod drivers;
pub mod pulse;
pub mod read;
pub mod sim;
pub mod state;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use self::read::{Cache, Handle};
use self::state::SensorState;
use crate::config::sensors::{Bus, Driver, SensorConfig};
use crate::shutdown::Stop;
use crate::telemetry::Telemetry;

/// The sensors, running.
pub struct Sensors;

impl Sensors {
    /// Starts a thread per bus for the enabled sensors; returns the count of running threads
    /// (each decrements it on its way out).
    pub fn start(
        sensors: &[SensorConfig],
        telemetry: &Telemetry,
        data_dir: PathBuf,
        stop: Stop,
    ) -> Arc<AtomicUsize> {
        let enabled: Vec<SensorConfig> = sensors.iter().filter(|s| s.enabled).cloned().collect();
        let state = Arc::new(SensorState::new(&enabled));
        telemetry.register_report("sensors", Arc::clone(&state) as _);
        let running = Arc::new(AtomicUsize::new(0));
        let mut buses: BTreeMap<String, Vec<(usize, SensorConfig)>> = BTreeMap::new();
        for (i, s) in enabled.into_iter().enumerate() {
            if s.driver == Driver::Pulse {
                let (state, dir, stop, running) = (
                    Arc::clone(&state),
                    data_dir.clone(),
                    stop.clone(),
                    Arc::clone(&running),
                );
                running.fetch_add(1, Ordering::SeqCst);
                spawn(&format!("pulse {}", s.name), move || {
                    pulse::run(i, s, state, dir, stop);
                    running.fetch_sub(1, Ordering::SeqCst);
                });
                continue;
            }
            let key = match &s.bus {
                Bus::I2c(p) | Bus::Spi(p) | Bus::Gpio(p) => p.display().to_string(),
                Bus::Sim => "sim".into(),
                Bus::File(_) => "sysfs".into(),
            };
            buses.entry(key).or_default().push((i, s));
        }
        for (key, list) in buses {
            let (state, stop, running) = (Arc::clone(&state), stop.clone(), Arc::clone(&running));
            running.fetch_add(1, Ordering::SeqCst);
            spawn(&format!("sensors {key}"), move || {
                bus_loop(list, &state, &stop);
                running.fetch_sub(1, Ordering::SeqCst);
            });
        }
        running
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.to_string()).spawn(f) {
        log::error!("{name}: cannot start its thread: {e}");
    }
}

struct Slot {
    i: usize,
    cfg: SensorConfig,
    due: Instant,
    failures: u32,
    cache: Cache,
}

/// Reads the sensors of one bus, each at its interval, until `stop`.
fn bus_loop(list: Vec<(usize, SensorConfig)>, state: &SensorState, stop: &Stop) {
    let now = Instant::now();
    let mut slots: Vec<Slot> = list
        .into_iter()
        .map(|(i, cfg)| Slot {
            i,
            cfg,
            due: now,
            failures: 0,
            cache: Cache::default(),
        })
        .collect();
    let mut handle: Option<Handle> = None;
    loop {
        let Some(next) = slots.iter_mut().min_by_key(|s| s.due) else {
            return;
        };
        if stop.sleep_until(next.due) {
            return;
        }
        state.busy(next.i, true);
        let result = read::read(&mut handle, &next.cfg, &mut next.cache);
        let started = Instant::now();
        match result {
            Ok(series) => {
                if state.ok(next.i, series) {
                    next.failures = 0;
                } else {
                    next.failures += 1;
                }
                next.due = started + next.cfg.interval;
            }
            Err(e) => {
                state.failed(next.i, e.reason, &e.message);
                if e.bus {
                    handle = None;
                }
                // The next attempt re-initialises the device (calibration, heater, line).
                next.cache = Cache::default();
                next.failures += 1;
                next.due = started + pulse::backoff(next.cfg.interval, next.failures);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensors_on_the_simulated_bus_and_in_sysfs_report_and_fail_alone() {
        let dir = std::env::temp_dir().join(format!("outpost-sensors-{}", std::process::id()));
        let w1 = dir.join("bus/w1/devices");
        for (id, text) in [
            (
                "28-000000000001",
                "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n",
            ),
            (
                "28-000000000002",
                "72 01 4b 46 7f ff 0e 10 57 : crc=00 NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n",
            ),
        ] {
            std::fs::create_dir_all(w1.join(id)).unwrap();
            std::fs::write(w1.join(id).join("w1_slave"), text).unwrap();
        }
        let doc = "[[sensor]]\nname = \"env\"\ndriver = \"bme280\"\nbus = \"sim\"\naddress = \"0x76\"\ninterval = \"100ms\"\n\
                   [[sensor]]\nname = \"good\"\ndriver = \"ds18b20\"\nid = \"28-000000000001\"\ninterval = \"100ms\"\n\
                   [[sensor]]\nname = \"noisy\"\ndriver = \"ds18b20\"\nid = \"28-000000000002\"\ninterval = \"100ms\"\n\
                   [[sensor]]\nname = \"gone\"\ndriver = \"sht4x\"\nbus = \"i2c-9\"\naddress = \"0x44\"\ninterval = \"100ms\"\n";
        #[derive(serde::Deserialize)]
        struct Doc {
            sensor: Vec<crate::config::sensors::RawSensor>,
        }
        let raw: Doc = toml::from_str(doc).unwrap();
        let mut p = crate::config::Problems::default();
        let cfg = crate::config::sensors::resolve(&mut p, &[], &raw.sensor, &dir.join("dev"), &dir);
        assert!(p.is_empty(), "{p}");
        let telemetry = Telemetry::new();
        let stop = Stop::new();
        let running = Sensors::start(&cfg, &telemetry, dir.clone(), stop.clone());
        std::thread::sleep(std::time::Duration::from_millis(400));
        let mut text = String::new();
        crate::model::text::encode(&telemetry.families(), &mut text);
        stop.stop();
        for line in [
            "outpost_sensor_up{sensor=\"env\",driver=\"bme280\",bus=\"sim\",address=\"0x76\"} 1",
            "outpost_sensor_temperature_celsius{sensor=\"good\",driver=\"ds18b20\",bus=\"w1\",id=\"28-000000000001\"} 23.125",
            "outpost_sensor_up{sensor=\"noisy\",driver=\"ds18b20\",bus=\"w1\",id=\"28-000000000002\"} 0",
            "outpost_sensor_read_errors_total{sensor=\"noisy\",driver=\"ds18b20\",bus=\"w1\",id=\"28-000000000002\",reason=\"crc\"}",
            "outpost_sensor_up{sensor=\"gone\",driver=\"sht4x\",bus=\"i2c-9\",address=\"0x44\"} 0",
            "outpost_sensor_read_errors_total{sensor=\"gone\",driver=\"sht4x\",bus=\"i2c-9\",address=\"0x44\",reason=\"no_bus\"} ",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        assert!(
            text.contains("outpost_sensor_pressure_pascals{sensor=\"env\""),
            "{text}"
        );
        assert!(
            text.contains("outpost_sensor_humidity_percent{sensor=\"env\""),
            "{text}"
        );
        while running.load(Ordering::SeqCst) > 0 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

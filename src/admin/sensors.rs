//! `outpost sensors probe`: what a technician runs while installing a gateway. Scans each
//! I2C bus the configuration or board names for responding addresses (as `i2cdetect` does:
//! a zero-length write, or a one-byte read in the EEPROM ranges 0x30–0x37 and 0x50–0x5F),
//! then reads every configured sensor once and says what it read or what is wrong, in
//! words. True when every sensor answered.

use std::io::Write;
use std::path::PathBuf;

use embedded_hal::i2c::I2c;

use crate::config::sensors::{Bus, Driver, SensorConfig};
use crate::config::Config;
use crate::sources::sensors::pulse;
use crate::sources::sensors::read::{self, Cache};
use crate::sources::sensors::sim::SimI2c;

/// Addresses that answer on `bus` (7-bit, 0x03–0x77).
pub fn scan<I: I2c>(bus: &mut I) -> Vec<u8> {
    (0x03u8..=0x77)
        .filter(|&a| {
            let answered = if (0x30..=0x37).contains(&a) || (0x50..=0x5F).contains(&a) {
                bus.read(a, &mut [0u8; 1])
            } else {
                bus.write(a, &[])
            };
            answered.is_ok()
        })
        .collect()
}

fn describe(c: &SensorConfig) -> String {
    format!("{} ({})", c.name, c.place())
}

pub fn probe(cfg: &Config, only: Option<&str>, out: &mut impl Write) -> bool {
    let wanted = |bus_name: &str| only.is_none_or(|b| b == bus_name);
    // The I2C buses to scan: the sensors' and the board's.
    let mut buses: Vec<(String, Option<PathBuf>)> = Vec::new();
    for s in &cfg.sensors {
        let path = match &s.bus {
            Bus::I2c(p) => Some(p.clone()),
            Bus::Sim => None,
            _ => continue,
        };
        if wanted(&s.bus_name) && !buses.iter().any(|(n, _)| *n == s.bus_name) {
            buses.push((s.bus_name.clone(), path));
        }
    }
    if let Some(b) = &cfg.agent.board {
        for p in &b.i2c_buses {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if wanted(&name) && !buses.iter().any(|(n, _)| *n == name) {
                buses.push((
                    name,
                    Some(cfg.sample.dev_path.join(p.file_name().unwrap_or_default())),
                ));
            }
        }
    }
    for (name, path) in &buses {
        let found = match path {
            None => Ok(scan(&mut SimI2c::default())),
            Some(p) => linux_embedded_hal::I2cdev::new(p)
                .map(|mut d| scan(&mut d))
                .map_err(|e| format!("cannot open {}: {e} (is I2C enabled, and may this user open it? see docs/SENSORS.md)", p.display())),
        };
        let _ = match found {
            Ok(list) if list.is_empty() => writeln!(out, "bus {name}: no device answers"),
            Ok(list) => {
                let a: Vec<String> = list.iter().map(|x| format!("{x:#04x}")).collect();
                writeln!(out, "bus {name}: devices at {}", a.join(" "))
            }
            Err(e) => writeln!(out, "bus {name}: {e}"),
        };
    }
    let sensors: Vec<&SensorConfig> = cfg.sensors.iter().filter(|s| wanted(&s.bus_name)).collect();
    if sensors.is_empty() {
        let _ = writeln!(
            out,
            "no sensor configured{}",
            only.map(|b| format!(" on {b}")).unwrap_or_default()
        );
        return true;
    }
    let mut all = true;
    for s in sensors {
        let result = if s.driver == Driver::Pulse {
            pulse::check(s).map(|_| "line ready for edge events".to_string())
        } else {
            let mut handle = None;
            read::read(&mut handle, s, &mut Cache::default())
                .map(|series| {
                    series
                        .iter()
                        .map(|x| match &x.extra {
                            Some((k, v)) => format!("{} {} = {}", k, v, x.value),
                            None => format!("{} = {}", x.quantity, x.value),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .map_err(|e| format!("{} [{}]", e.message, e.reason))
        };
        let _ = match result {
            Ok(v) => writeln!(out, "ok    {}: {v}", describe(s)),
            Err(e) => {
                all = false;
                writeln!(out, "FAIL  {}: {e}", describe(s))
            }
        };
    }
    all
}

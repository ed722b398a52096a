//! `[[sensor]]` and the board profile's `sensors`, resolved: the devices the sensor sampler
//! reads.
//!
//! A board profile lists the sensors a gateway model carries; `[[sensor]]` entries in the
//! config add sensors or override a profile's by `name`, key by key (so a config can change
//! only the interval of a profile's sensor). Remote configs may change `interval`, `scale`,
//! `offset`, `enabled` and `stuck_after` of sensors that exist locally (config/remote.rs).
//! Device paths derive from `[sample] dev_path` (`i2c-1` → `<dev_path>/i2c-1`) and
//! `[sample] sys_path` (1-Wire probes and sysfs values), so tests point them at fixtures.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::check::duration;
use super::endpoint::check_label_name;
use super::Problems;

/// One sensor as written (every key optional: an override names only what it changes).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSensor {
    pub name: Option<String>,
    pub driver: Option<String>,
    /// `i2c-1`, `spidev0.0`, `gpiochip0`, or `sim` (a simulated I2C bus with a BME280 at
    /// 0x76, an SHT3x/SHT4x at 0x44 and an ADS1115 at 0x48: profiles can be tried without
    /// hardware).
    pub bus: Option<String>,
    /// I2C address: a number or a string such as `"0x76"`.
    pub address: Option<Address>,
    pub pin: Option<u32>,
    /// A 1-Wire probe's id (`28-…`).
    pub id: Option<String>,
    /// A sysfs file relative to `[sample] sys_path` (driver `sysfs`).
    pub path: Option<String>,
    pub quantity: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub enabled: Option<bool>,
    pub scale: Option<f64>,
    pub offset: Option<f64>,
    pub labels: Option<BTreeMap<String, String>>,
    pub oversampling: Option<RawOversampling>,
    pub channels: Option<Vec<RawChannel>>,
    pub edge: Option<String>,
    pub active_low: Option<bool>,
    pub stuck_after: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Address {
    Number(i64),
    Text(String),
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOversampling {
    pub temperature: Option<u8>,
    pub pressure: Option<u8>,
    pub humidity: Option<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannel {
    /// `"0"`–`"3"` (against GND) or `"0-1"`, `"0-3"`, `"1-3"`, `"2-3"`.
    pub input: Option<String>,
    /// Full-scale range in volts: 6.144, 4.096, 2.048 (default), 1.024, 0.512, 0.256.
    pub gain: Option<f64>,
    /// Samples per second: 8, 16, 32, 64, 128 (default), 250, 475, 860.
    pub rate: Option<u32>,
    pub quantity: Option<String>,
    pub scale: Option<f64>,
    pub offset: Option<f64>,
}

impl RawSensor {
    /// `self` with every key `over` sets replaced.
    pub fn overridden(&self, over: &RawSensor) -> RawSensor {
        macro_rules! pick {
            ($($f:ident),*) => { RawSensor { $($f: over.$f.clone().or_else(|| self.$f.clone()),)* } };
        }
        pick!(
            name,
            driver,
            bus,
            address,
            pin,
            id,
            path,
            quantity,
            interval,
            timeout,
            enabled,
            scale,
            offset,
            labels,
            oversampling,
            channels,
            edge,
            active_low,
            stuck_after
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Bme280,
    Sht3x,
    Sht4x,
    Ads1115,
    Gpio,
    Pulse,
    Ds18b20,
    Sysfs,
}

pub const DRIVERS: &[(&str, Driver)] = &[
    ("bme280", Driver::Bme280),
    ("sht3x", Driver::Sht3x),
    ("sht4x", Driver::Sht4x),
    ("ads1115", Driver::Ads1115),
    ("gpio", Driver::Gpio),
    ("pulse", Driver::Pulse),
    ("ds18b20", Driver::Ds18b20),
    ("sysfs", Driver::Sysfs),
    ("hwmon", Driver::Sysfs),
    ("iio", Driver::Sysfs),
];

impl Driver {
    pub fn name(self) -> &'static str {
        DRIVERS
            .iter()
            .find(|(_, d)| *d == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// Which edges a pulse counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    Rising,
    Falling,
    Both,
}

/// Where a sensor is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bus {
    /// An I2C adapter's device node.
    I2c(PathBuf),
    /// An SPI device node (`spidevB.C`).
    Spi(PathBuf),
    /// A GPIO character device.
    Gpio(PathBuf),
    /// The simulated I2C bus.
    Sim,
    /// A file under sysfs (1-Wire `w1_slave`, hwmon, IIO).
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// Label value: `0`…`3` or `0-1`, ….
    pub input: String,
    /// Multiplexer inputs: (n, None) single-ended, (a, Some(b)) differential.
    pub pins: (u8, Option<u8>),
    pub gain: f64,
    pub rate: u32,
    pub quantity: String,
    pub scale: f64,
    pub offset: f64,
}

/// One sensor, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorConfig {
    pub name: String,
    pub driver: Driver,
    /// The `bus` label (`i2c-1`, `spidev0.0`, `gpiochip0`, `sim`, `w1`, `sysfs`).
    pub bus_name: String,
    pub bus: Bus,
    pub address: Option<u8>,
    pub pin: Option<u32>,
    pub id: Option<String>,
    /// The metric's quantity for single-value drivers (`temperature_celsius`, `pulses`).
    pub quantity: String,
    pub scale: f64,
    pub offset: f64,
    pub labels: BTreeMap<String, String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub enabled: bool,
    /// A reading identical this many times in a row is taken as a stuck sensor (0: off).
    pub stuck_after: u32,
    pub oversampling: (u8, u8, u8),
    pub channels: Vec<Channel>,
    pub edge: Edge,
    pub active_low: bool,
}

/// The values the datasheets allow (BME280 oversampling, ADS1115 full-scale ranges and data
/// rates); the drivers map them to register codes.
const OVERSAMPLING: [u8; 6] = [0, 1, 2, 4, 8, 16];
const GAINS: [f64; 6] = [6.144, 4.096, 2.048, 1.024, 0.512, 0.256];
const RATES: [u32; 8] = [8, 16, 32, 64, 128, 250, 475, 860];

impl SensorConfig {
    /// Where it is read, in words: `bme280 on i2c-1 at 0x76`, `pulse on gpiochip0 line 17`.
    pub fn place(&self) -> String {
        let at = match (self.address, self.pin, &self.id) {
            (Some(a), _, _) => format!(" at {a:#04x}"),
            (_, Some(p), _) => format!(" line {p}"),
            (_, _, Some(id)) => format!(" {id}"),
            _ => String::new(),
        };
        format!("{} on {}{at}", self.driver.name(), self.bus_name)
    }
}

/// Labels the agent sets on sensor series; configured labels may not reuse them.
pub const RESERVED_LABELS: &[&str] = &["sensor", "driver", "bus", "address", "pin", "id", "channel"];

fn quantity_ok(q: &str) -> bool {
    let mut c = q.chars();
    c.next().is_some_and(|f| f.is_ascii_lowercase())
        && c.all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == '_')
        && !q.ends_with("_total")
}

fn address(a: &Address) -> Option<u8> {
    let n = match a {
        Address::Number(n) => *n,
        Address::Text(t) => {
            let t = t.trim();
            match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                Some(h) => i64::from_str_radix(h, 16).ok()?,
                None => t.parse().ok()?,
            }
        }
    };
    (0x03..=0x77).contains(&n).then_some(n as u8)
}

/// Resolves the board's sensors overridden and extended by the config's `[[sensor]]` list.
pub fn resolve(
    p: &mut Problems,
    board: &[RawSensor],
    config: &[RawSensor],
    dev_path: &std::path::Path,
    sys_path: &std::path::Path,
) -> Vec<SensorConfig> {
    let mut merged: Vec<(String, RawSensor)> = Vec::new();
    for (i, s) in board.iter().enumerate() {
        match &s.name {
            Some(n) if !n.is_empty() => merged.push((format!("board.sensors[{i}]"), s.clone())),
            _ => p.add(&format!("board.sensors[{i}].name"), "required"),
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, s) in config.iter().enumerate() {
        let Some(n) = s.name.as_deref().filter(|n| !n.is_empty()) else {
            p.add(
                &format!("sensor[{i}].name"),
                "required: the sensor's name (its `sensor` label)",
            );
            continue;
        };
        if seen.contains(&n) {
            p.add(&format!("sensor[{i}].name"), format!("{n:?} appears twice"));
            continue;
        }
        seen.push(n);
        match merged.iter_mut().find(|(_, b)| b.name.as_deref() == Some(n)) {
            Some((at, b)) => {
                *b = b.overridden(s);
                *at = format!("sensor[{i}]");
            }
            None => merged.push((format!("sensor[{i}]"), s.clone())),
        }
    }
    merged
        .iter()
        .filter_map(|(at, s)| one(p, at, s, dev_path, sys_path))
        .collect()
}

fn one(
    p: &mut Problems,
    at: &str,
    s: &RawSensor,
    dev_path: &std::path::Path,
    sys_path: &std::path::Path,
) -> Option<SensorConfig> {
    let before = p.len();
    let key = |k: &str| format!("{at}.{k}");
    let name = s.name.clone().unwrap_or_default();
    let names: Vec<&str> = DRIVERS.iter().map(|(n, _)| *n).collect();
    let driver = match s.driver.as_deref() {
        None => {
            p.add(&key("driver"), format!("required: one of {}", names.join(", ")));
            return None;
        }
        Some(d) => match DRIVERS.iter().find(|(n, _)| *n == d) {
            Some((_, d)) => *d,
            None => {
                p.add(
                    &key("driver"),
                    format!("{d:?} is not a driver: {}", names.join(", ")),
                );
                return None;
            }
        },
    };
    use Driver::*;
    let i2c = matches!(driver, Bme280 | Sht3x | Sht4x | Ads1115);
    let (bus_name, bus) = match driver {
        Ds18b20 => {
            let id = s.id.clone().unwrap_or_default();
            let ok =
                id.len() == 15 && id.starts_with("28-") && id[3..].chars().all(|c| c.is_ascii_hexdigit());
            if !ok {
                p.add(
                    &key("id"),
                    format!("{id:?}: expected a DS18B20 id, 28- and 12 hex digits"),
                );
            }
            (
                "w1".to_string(),
                Bus::File(sys_path.join("bus/w1/devices").join(&id).join("w1_slave")),
            )
        }
        Sysfs => {
            let path = s.path.clone().unwrap_or_default();
            if path.is_empty() || path.starts_with('/') || path.split('/').any(|c| c == "..") {
                p.add(
                    &key("path"),
                    format!("{path:?}: a file relative to [sample] sys_path, e.g. \"class/hwmon/hwmon0/temp1_input\""),
                );
            }
            ("sysfs".to_string(), Bus::File(sys_path.join(path)))
        }
        _ => {
            let b = s.bus.clone().unwrap_or_default();
            let bus = if b == "sim" && i2c {
                Some(Bus::Sim)
            } else if i2c
                && b.strip_prefix("i2c-")
                    .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            {
                Some(Bus::I2c(dev_path.join(&b)))
            } else if driver == Bme280 && b.starts_with("spidev") && b.contains('.') {
                Some(Bus::Spi(dev_path.join(&b)))
            } else if matches!(driver, Gpio | Pulse) && b.starts_with("gpiochip") {
                Some(Bus::Gpio(dev_path.join(&b)))
            } else {
                None
            };
            match bus {
                Some(x) => (b, x),
                None => {
                    let want = match driver {
                        Bme280 => "i2c-N, spidevB.C or sim",
                        Gpio | Pulse => "gpiochipN",
                        _ => "i2c-N or sim",
                    };
                    p.add(&key("bus"), format!("{b:?}: expected {want}"));
                    return None;
                }
            }
        }
    };
    let addr = match (&bus, s.address.as_ref()) {
        (Bus::I2c(_) | Bus::Sim, Some(a)) => match address(a) {
            Some(a) => Some(a),
            None => {
                p.add(
                    &key("address"),
                    format!("{a:?}: expected a 7-bit I2C address, 0x03–0x77"),
                );
                None
            }
        },
        (Bus::I2c(_) | Bus::Sim, None) => {
            p.add(&key("address"), "required on an I2C bus, e.g. \"0x76\"");
            None
        }
        (_, Some(_)) => {
            p.add(&key("address"), "only for sensors on an I2C bus");
            None
        }
        _ => None,
    };
    if let Some(a) = addr {
        let allowed: &[u8] = match driver {
            Bme280 => &[0x76, 0x77],
            Sht3x => &[0x44, 0x45],
            Sht4x => &[0x44, 0x45, 0x46],
            Ads1115 => &[0x48, 0x49, 0x4A, 0x4B],
            _ => &[],
        };
        if !allowed.contains(&a) {
            let list: Vec<String> = allowed.iter().map(|x| format!("{x:#04x}")).collect();
            p.add(
                &key("address"),
                format!("{a:#04x}: a {} answers at {}", driver.name(), list.join(" or ")),
            );
        }
    }
    let pin = match (driver, s.pin) {
        (Gpio | Pulse, None) => {
            p.add(&key("pin"), "required: the line offset on the GPIO chip");
            None
        }
        (Gpio | Pulse, x) => x,
        (_, Some(_)) => {
            p.add(&key("pin"), "only for gpio and pulse sensors");
            None
        }
        _ => None,
    };
    let default_q = match driver {
        Gpio => "gpio_state",
        Pulse => "pulses",
        Ds18b20 => "temperature_celsius",
        _ => "",
    };
    let quantity = s.quantity.clone().unwrap_or_else(|| default_q.to_string());
    match driver {
        Bme280 | Sht3x | Sht4x | Ads1115 if s.quantity.is_some() => {
            p.add(&key("quantity"), "set by the driver (per channel for ads1115)")
        }
        Sysfs if quantity.is_empty() => p.add(
            &key("quantity"),
            "required: the metric's quantity with its unit, e.g. \"temperature_celsius\"",
        ),
        _ if !quantity.is_empty() && !quantity_ok(&quantity) => p.add(
            &key("quantity"),
            format!("{quantity:?}: lower case, digits and _, starting with a letter, without _total"),
        ),
        _ => {}
    }
    if matches!(driver, Bme280 | Sht3x | Sht4x | Ads1115) && (s.scale.is_some() || s.offset.is_some()) {
        p.add(
            &key("scale"),
            "scale and offset apply to single-value sensors (per channel for ads1115)",
        );
    }
    let mut labels = BTreeMap::new();
    for (k, v) in s.labels.iter().flatten() {
        if let Err(e) = check_label_name(k) {
            p.add(&key(&format!("labels.{k}")), e);
        } else if RESERVED_LABELS.contains(&k.as_str()) {
            p.add(&key(&format!("labels.{k}")), "set by outpost itself");
        } else {
            labels.insert(k.clone(), v.clone());
        }
    }
    let interval = duration(
        p,
        &key("interval"),
        s.interval.as_deref(),
        Duration::from_secs(30),
        Duration::from_millis(100),
        Duration::from_secs(86_400),
    );
    let timeout = duration(
        p,
        &key("timeout"),
        s.timeout.as_deref(),
        Duration::from_secs(2),
        Duration::from_millis(10),
        Duration::from_secs(60),
    );
    let os = s.oversampling.clone().unwrap_or_default();
    let oversampling = (
        os.temperature.unwrap_or(1),
        os.pressure.unwrap_or(1),
        os.humidity.unwrap_or(1),
    );
    if s.oversampling.is_some() && driver != Bme280 {
        p.add(&key("oversampling"), "only for bme280");
    }
    for (q, v) in [
        ("temperature", oversampling.0),
        ("pressure", oversampling.1),
        ("humidity", oversampling.2),
    ] {
        if !OVERSAMPLING.contains(&v) || (q == "temperature" && v == 0) {
            p.add(
                &key(&format!("oversampling.{q}")),
                format!("{v}: expected 1, 2, 4, 8 or 16 (0 skips pressure or humidity)"),
            );
        }
    }
    let mut channels = Vec::new();
    match (driver, &s.channels) {
        (Ads1115, None) => p.add(
            &key("channels"),
            "required: one or more inputs, e.g. [{ input = \"0\" }]",
        ),
        (Ads1115, Some(list)) => {
            for (i, c) in list.iter().enumerate() {
                let ck = |k: &str| key(&format!("channels[{i}].{k}"));
                let input = c.input.clone().unwrap_or_default();
                let pins = match input.split_once('-') {
                    None => input.parse::<u8>().ok().filter(|n| *n <= 3).map(|n| (n, None)),
                    Some((a, b)) => match (a.parse::<u8>(), b.parse::<u8>()) {
                        (Ok(a), Ok(b)) if matches!((a, b), (0, 1) | (0, 3) | (1, 3) | (2, 3)) => {
                            Some((a, Some(b)))
                        }
                        _ => None,
                    },
                };
                if pins.is_none() {
                    p.add(
                        &ck("input"),
                        format!("{input:?}: expected \"0\"–\"3\" or \"0-1\", \"0-3\", \"1-3\", \"2-3\""),
                    );
                }
                let gain = c.gain.unwrap_or(2.048);
                if !GAINS.iter().any(|g| (g - gain).abs() < 1e-9) {
                    p.add(
                        &ck("gain"),
                        format!(
                            "{gain}: expected 6.144, 4.096, 2.048, 1.024, 0.512 or 0.256 (volts full scale)"
                        ),
                    );
                }
                let rate = c.rate.unwrap_or(128);
                if !RATES.contains(&rate) {
                    p.add(
                        &ck("rate"),
                        format!("{rate}: expected 8, 16, 32, 64, 128, 250, 475 or 860"),
                    );
                }
                let quantity = c.quantity.clone().unwrap_or_else(|| "voltage_volts".into());
                if !quantity_ok(&quantity) {
                    p.add(&ck("quantity"), format!("{quantity:?}: lower case, digits and _"));
                }
                channels.push(Channel {
                    input: input.clone(),
                    pins: pins.unwrap_or((0, None)),
                    gain,
                    rate,
                    quantity,
                    scale: c.scale.unwrap_or(1.0),
                    offset: c.offset.unwrap_or(0.0),
                });
            }
            if list.is_empty() {
                p.add(&key("channels"), "at least one input");
            }
        }
        (_, Some(_)) => p.add(&key("channels"), "only for ads1115"),
        _ => {}
    }
    let edge = match s.edge.as_deref() {
        None | Some("rising") => Edge::Rising,
        Some("falling") => Edge::Falling,
        Some("both") => Edge::Both,
        Some(e) => {
            p.add(&key("edge"), format!("{e:?}: expected rising, falling or both"));
            Edge::Rising
        }
    };
    if s.edge.is_some() && driver != Pulse {
        p.add(&key("edge"), "only for pulse counters");
    }
    if s.stuck_after == Some(1) {
        p.add(
            &key("stuck_after"),
            "1 would call every reading stuck: 0 (off) or 2 and more",
        );
    }
    let scale = s.scale.unwrap_or(1.0);
    if !scale.is_finite() || scale == 0.0 {
        p.add(&key("scale"), "a finite number other than 0");
    }
    if p.len() != before {
        return None;
    }
    Some(SensorConfig {
        name,
        driver,
        bus_name,
        bus,
        address: addr,
        pin,
        id: s.id.clone().filter(|_| driver == Ds18b20),
        quantity,
        scale,
        offset: s.offset.unwrap_or(0.0),
        labels,
        interval,
        timeout,
        enabled: s.enabled.unwrap_or(true),
        stuck_after: s
            .stuck_after
            .unwrap_or(if matches!(driver, Bme280 | Sht3x | Sht4x) {
                20
            } else {
                0
            }),
        oversampling,
        channels,
        edge,
        active_low: s.active_low.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_toml(board: &str, config: &str) -> Result<Vec<SensorConfig>, Vec<String>> {
        #[derive(Deserialize)]
        struct Doc {
            #[serde(default)]
            sensor: Vec<RawSensor>,
        }
        let b: Doc = toml::from_str(board).unwrap();
        let c: Doc = toml::from_str(config).unwrap();
        let mut p = Problems::default();
        let out = resolve(
            &mut p,
            &b.sensor,
            &c.sensor,
            std::path::Path::new("/dev"),
            std::path::Path::new("/sys"),
        );
        if p.is_empty() {
            Ok(out)
        } else {
            Err(p.iter().map(|x| format!("{}: {}", x.path, x.message)).collect())
        }
    }

    #[test]
    fn the_config_overrides_the_board_key_by_key_and_adds() {
        let board =
            "[[sensor]]\nname = \"enclosure\"\ndriver = \"bme280\"\nbus = \"i2c-1\"\naddress = \"0x76\"\n";
        let config = "[[sensor]]\nname = \"enclosure\"\ninterval = \"5s\"\n\
                      [[sensor]]\nname = \"tank\"\ndriver = \"ds18b20\"\nid = \"28-0316a2794dff\"\n\
                      [[sensor]]\nname = \"flow\"\ndriver = \"pulse\"\nbus = \"gpiochip0\"\npin = 17\nquantity = \"water_liters\"\nscale = 0.5\n";
        let s = resolve_toml(board, config).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            (s[0].interval, s[0].address, &s[0].bus),
            (Duration::from_secs(5), Some(0x76), &Bus::I2c("/dev/i2c-1".into()))
        );
        assert_eq!(s[0].stuck_after, 20);
        assert_eq!(
            s[1].bus,
            Bus::File("/sys/bus/w1/devices/28-0316a2794dff/w1_slave".into())
        );
        assert_eq!(
            (s[2].quantity.as_str(), s[2].scale, s[2].pin),
            ("water_liters", 0.5, Some(17))
        );
    }

    #[test]
    fn every_problem_has_its_key() {
        let config = "[[sensor]]\nname = \"a\"\ndriver = \"bme280\"\nbus = \"i2c-1\"\naddress = \"0x48\"\n\
                      [[sensor]]\nname = \"b\"\ndriver = \"ads1115\"\nbus = \"i2c-1\"\naddress = 72\nchannels = [{ input = \"1-2\", gain = 5.0 }]\n\
                      [[sensor]]\nname = \"c\"\ndriver = \"ds18b20\"\nid = \"10-xyz\"\n\
                      [[sensor]]\nname = \"d\"\ndriver = \"sysfs\"\npath = \"/etc/shadow\"\n\
                      [[sensor]]\nname = \"e\"\ndriver = \"thermistor\"\n\
                      [[sensor]]\nname = \"f\"\ndriver = \"gpio\"\nbus = \"gpiochip0\"\nlabels = { sensor = \"x\" }\n\
                      [[sensor]]\nname = \"a\"\ndriver = \"sht4x\"\nbus = \"i2c-1\"\naddress = \"0x44\"\n";
        let err = resolve_toml("", config).unwrap_err();
        for k in [
            "sensor[0].address",
            "sensor[1].channels[0].input",
            "sensor[1].channels[0].gain",
            "sensor[2].id",
            "sensor[3].path",
            "sensor[3].quantity",
            "sensor[4].driver",
            "sensor[5].pin",
            "sensor[5].labels.sensor",
            "sensor[6].name",
        ] {
            assert!(
                err.iter().any(|e| e.starts_with(&format!("{k}:"))),
                "{k} in {err:#?}"
            );
        }
    }
}

//! One read of one sensor on its bus: opens the bus when needed (`linux-embedded-hal`:
//! `/dev/i2c-N`, spidev, the GPIO character device; or the simulated bus), runs the driver,
//! applies scaling, and turns faults into a `reason` and a message in words.

use std::path::Path;

use embedded_hal::digital::InputPin;
use linux_embedded_hal::{CdevPin, Delay, I2cdev, SpidevDevice};

use super::drivers::{ads1115, bme280, sht, w1, Fault, Value};
use super::sim::SimI2c;
use super::state::Series;
use crate::config::sensors::{Bus, Driver, SensorConfig};

/// Why a read failed: the `reason` label and what to tell the operator.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadError {
    pub reason: &'static str,
    pub message: String,
    /// The bus itself failed (reopen it before the next read).
    pub bus: bool,
}

impl From<Fault> for ReadError {
    fn from(f: Fault) -> ReadError {
        ReadError {
            reason: f.reason(),
            message: f.to_string(),
            bus: matches!(f, Fault::Bus(_)),
        }
    }
}

fn no_bus(path: &Path, e: impl std::fmt::Display) -> ReadError {
    ReadError {
        reason: "no_bus",
        message: format!("cannot open {}: {e}", path.display()),
        bus: true,
    }
}

/// An open bus.
pub enum Handle {
    I2c(I2cdev),
    Sim(Box<SimI2c>),
    Spi(SpidevDevice),
    Gpio(gpio_cdev_chip::Chip),
}

/// gpio-cdev as linux-embedded-hal re-exports it.
pub use linux_embedded_hal::gpio_cdev as gpio_cdev_chip;

/// What a sensor keeps between reads: the BME280's calibration, whether the SHT3x heater
/// command went out, the GPIO line handle.
#[derive(Default)]
pub struct Cache {
    pub bme280: Option<bme280::Calibration>,
    pub sht_ready: bool,
    pub pin: Option<CdevPin>,
}

pub fn open(bus: &Bus) -> Result<Option<Handle>, ReadError> {
    Ok(Some(match bus {
        Bus::I2c(p) => Handle::I2c(I2cdev::new(p).map_err(|e| no_bus(p, e))?),
        Bus::Sim => Handle::Sim(Box::default()),
        Bus::Spi(p) => {
            let mut d = SpidevDevice::open(p).map_err(|e| no_bus(p, e))?;
            let opts = linux_embedded_hal::spidev::SpidevOptions::new()
                .bits_per_word(8)
                .max_speed_hz(1_000_000)
                .mode(linux_embedded_hal::spidev::SpiModeFlags::SPI_MODE_0)
                .build();
            d.configure(&opts).map_err(|e| no_bus(p, e))?;
            Handle::Spi(d)
        }
        Bus::Gpio(p) => Handle::Gpio(gpio_cdev_chip::Chip::new(p).map_err(|e| no_bus(p, e))?),
        Bus::File(_) => return Ok(None),
    }))
}

fn scaled(c: &SensorConfig, v: f64) -> f64 {
    v * c.scale + c.offset
}

fn series(v: Value) -> Series {
    Series {
        quantity: v.quantity.to_string(),
        extra: None,
        value: v.value,
        counter: false,
    }
}

/// One BME280 measurement over I2C or SPI; the calibration is read once and kept.
fn bme280_read<R: bme280::Regs>(
    regs: R,
    c: &SensorConfig,
    cache: &mut Cache,
) -> Result<Vec<Series>, ReadError> {
    let os = bme280::Oversampling {
        temperature: c.oversampling.0,
        pressure: c.oversampling.1,
        humidity: c.oversampling.2,
    };
    let mut dev = match cache.bme280 {
        Some(cal) => bme280::Bme280::with_calibration(regs, cal, os),
        None => {
            let d = bme280::Bme280::init(regs, os)?;
            cache.bme280 = Some(*d.calibration());
            d
        }
    };
    Ok(dev.read(&mut Delay)?.into_iter().flatten().map(series).collect())
}

/// Reads an I2C sensor with its driver.
fn i2c<I: embedded_hal::i2c::I2c>(
    bus: &mut I,
    c: &SensorConfig,
    cache: &mut Cache,
) -> Result<Vec<Series>, ReadError> {
    let address = c.address.unwrap_or(0);
    let mut delay = Delay;
    match c.driver {
        Driver::Bme280 => bme280_read(bme280::I2cRegs { i2c: bus, address }, c, cache),
        Driver::Sht3x | Driver::Sht4x => {
            let model = if c.driver == Driver::Sht3x {
                sht::Model::Sht3x
            } else {
                sht::Model::Sht4x
            };
            let mut dev = if cache.sht_ready {
                sht::Sht::attach(bus, address, model)
            } else {
                let d = sht::Sht::init(bus, address, model)?;
                cache.sht_ready = true;
                d
            };
            Ok(dev.read(&mut delay)?.into_iter().map(series).collect())
        }
        Driver::Ads1115 => {
            let mut adc = ads1115::Ads1115::new(bus, address);
            let mut out = Vec::new();
            for ch in &c.channels {
                let input = match ch.pins {
                    (n, None) => ads1115::Input::Single(n),
                    (a, Some(b)) => ads1115::Input::Differential(a, b),
                };
                let pga = ads1115::pga_for(ch.gain).unwrap_or(2);
                let dr = ads1115::dr_for(ch.rate).unwrap_or(4);
                let v = adc.read(input, pga, dr, &mut delay)?;
                out.push(Series {
                    quantity: ch.quantity.clone(),
                    extra: Some(("channel", ch.input.clone())),
                    value: v.value * ch.scale + ch.offset,
                    counter: false,
                });
            }
            Ok(out)
        }
        _ => Err(ReadError {
            reason: "bus",
            message: "not an I2C driver".into(),
            bus: false,
        }),
    }
}

/// One read of `c` (pulse counters are read by their own thread, not here).
pub fn read(
    handle: &mut Option<Handle>,
    c: &SensorConfig,
    cache: &mut Cache,
) -> Result<Vec<Series>, ReadError> {
    if let Bus::File(path) = &c.bus {
        let text = std::fs::read_to_string(path).map_err(|e| ReadError {
            reason: if e.kind() == std::io::ErrorKind::NotFound {
                "no_bus"
            } else {
                "bus"
            },
            message: format!("cannot read {}: {e}", path.display()),
            bus: false,
        })?;
        return match c.driver {
            Driver::Ds18b20 => {
                let v = w1::parse(&text)?;
                Ok(vec![Series {
                    value: scaled(c, v.value),
                    ..series(v)
                }])
            }
            _ => {
                let raw: f64 = text.trim().parse().map_err(|_| ReadError::from(Fault::Garbage))?;
                Ok(vec![Series {
                    quantity: c.quantity.clone(),
                    extra: None,
                    value: scaled(c, raw),
                    counter: false,
                }])
            }
        };
    }
    if handle.is_none() {
        *handle = open(&c.bus)?;
    }
    match handle.as_mut() {
        Some(Handle::I2c(b)) => i2c(b, c, cache),
        Some(Handle::Sim(b)) => i2c(b.as_mut(), c, cache),
        Some(Handle::Spi(d)) => bme280_read(bme280::SpiRegs { spi: d }, c, cache),
        Some(Handle::Gpio(chip)) => {
            if cache.pin.is_none() {
                let pin = c.pin.unwrap_or(0);
                let line = chip.get_line(pin).map_err(|e| gpio_error(c, e))?;
                let h = line
                    .request(gpio_cdev_chip::LineRequestFlags::INPUT, 0, "outpost")
                    .map_err(|e| gpio_error(c, e))?;
                cache.pin = Some(CdevPin::new(h).map_err(|e| gpio_error(c, e))?);
            }
            let pin = cache.pin.as_mut().expect("set above");
            let high = pin.is_high().map_err(|e| ReadError {
                reason: "bus",
                message: format!("cannot read the line: {e:?}"),
                bus: false,
            })?;
            let state = if high != c.active_low { 1.0 } else { 0.0 };
            Ok(vec![Series {
                quantity: c.quantity.clone(),
                extra: None,
                value: state,
                counter: false,
            }])
        }
        None => Err(ReadError {
            reason: "no_bus",
            message: "no bus".into(),
            bus: true,
        }),
    }
}

fn gpio_error(c: &SensorConfig, e: impl std::fmt::Display) -> ReadError {
    ReadError {
        reason: "bus",
        message: format!("line {} of {}: {e}", c.pin.unwrap_or(0), c.bus_name),
        bus: false,
    }
}

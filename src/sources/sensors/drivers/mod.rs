//! Sensor drivers, written against the `embedded-hal` 1.0 traits (`i2c::I2c`,
//! `spi::SpiDevice`, `delay::DelayNs`) and nothing of the standard library, so each is the
//! datasheet's conversion and checks and nothing else: the bus comes from
//! `linux-embedded-hal` on a gateway and from `embedded-hal-mock` in the tests, which replay
//! the exact transactions the datasheets describe.
//!
//! A driver returns its quantities as [`Value`]s (metric suffix and value) or a [`Fault`]
//! whose [`Fault::reason`] is the `reason` label of `outpost_sensor_read_errors_total`.
//!
//! Why these are written here rather than taken from crates.io (checked 2026-12-03):
//! `bme280` 0.5.1 and `sht4x` 0.2.0 speak embedded-hal 1.0, `sht3x` 0.1.1 is still on
//! embedded-hal 0.1, and `ads1x1x` 0.3.0 speaks 1.0 through `nb` with a typestate per mode.
//! Written here, all five share one error model (a missing acknowledge told apart from a bus
//! error, a CRC failure, a value out of the datasheet's range — the `reason` label), the
//! datasheets' checks (chip id, CRC on every word, ranges) and one shape for the sampler,
//! with no further dependency; each is a page of datasheet arithmetic, tested against the
//! datasheet's own examples.

pub mod ads1115;
pub mod bme280;
pub mod crc;
pub mod sht;
pub mod w1;

/// One measured quantity: the metric's suffix (`temperature_celsius`) and its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Value {
    pub quantity: &'static str,
    pub value: f64,
}

/// Why a read failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The device did not acknowledge its address or data (absent, wrong address, busy).
    Nack,
    /// The bus failed otherwise (arbitration, overrun, an I/O error of the adapter).
    Bus(&'static str),
    /// A checksum did not match (CRC-8 of the Sensirion words, the 1-Wire CRC).
    Crc,
    /// The chip identifies as something else (a BMP280 where a BME280 was configured).
    ChipId { expected: u8, found: u8 },
    /// A value outside the datasheet's range: a broken sensor or a bad read.
    OutOfRange { quantity: &'static str, value: f64 },
    /// The conversion did not finish in time.
    NotReady,
    /// The DS18B20's power-on value (85 °C) instead of a measurement.
    PowerOn,
    /// Text from sysfs that is not what the kernel writes.
    Garbage,
}

impl Fault {
    /// The `reason` label.
    pub fn reason(&self) -> &'static str {
        match self {
            Fault::Nack => "nack",
            Fault::Bus(_) => "bus",
            Fault::Crc => "crc",
            Fault::ChipId { .. } => "chip_id",
            Fault::OutOfRange { .. } => "out_of_range",
            Fault::NotReady => "not_ready",
            Fault::PowerOn => "power_on_value",
            Fault::Garbage => "garbage",
        }
    }
}

impl core::fmt::Display for Fault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Fault::Nack => write!(f, "no acknowledge (is the sensor connected, at this address?)"),
            Fault::Bus(kind) => write!(f, "bus error ({kind})"),
            Fault::Crc => write!(f, "checksum mismatch (noise on the bus, or a loose wire)"),
            Fault::ChipId { expected, found } => {
                write!(
                    f,
                    "chip id {found:#04x}, expected {expected:#04x} (another chip at this address?)"
                )
            }
            Fault::OutOfRange { quantity, value } => {
                write!(f, "{quantity} {value} is outside the datasheet's range")
            }
            Fault::NotReady => write!(f, "the conversion did not finish in time"),
            Fault::PowerOn => write!(
                f,
                "85 °C power-on value (the conversion did not run: power or wiring)"
            ),
            Fault::Garbage => write!(f, "unreadable value"),
        }
    }
}

/// An I2C error as a fault: a missing acknowledge is told apart.
pub fn i2c_fault<E: embedded_hal::i2c::Error>(e: E) -> Fault {
    use embedded_hal::i2c::ErrorKind;
    match e.kind() {
        ErrorKind::NoAcknowledge(_) => Fault::Nack,
        ErrorKind::ArbitrationLoss => Fault::Bus("arbitration loss"),
        ErrorKind::Bus => Fault::Bus("bus"),
        ErrorKind::Overrun => Fault::Bus("overrun"),
        _ => Fault::Bus("other"),
    }
}

/// An SPI error as a fault.
pub fn spi_fault<E: embedded_hal::spi::Error>(e: E) -> Fault {
    use embedded_hal::spi::ErrorKind;
    match e.kind() {
        ErrorKind::Overrun => Fault::Bus("overrun"),
        ErrorKind::ModeFault => Fault::Bus("mode fault"),
        ErrorKind::FrameFormat => Fault::Bus("frame format"),
        ErrorKind::ChipSelectFault => Fault::Bus("chip select"),
        _ => Fault::Bus("other"),
    }
}

/// `value` if it lies within `min..=max`, else the fault naming it.
pub fn in_range(quantity: &'static str, value: f64, min: f64, max: f64) -> Result<Value, Fault> {
    if value.is_finite() && value >= min && value <= max {
        Ok(Value { quantity, value })
    } else {
        Err(Fault::OutOfRange { quantity, value })
    }
}

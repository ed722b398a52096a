//! Bosch BME280: temperature, pressure and humidity, over I2C (address 0x76 or 0x77) or SPI
//! (mode 0 or 3), in forced mode — one measurement per read, then the sensor sleeps, which is
//! the datasheet's recommendation for weather monitoring (section 3.5.1) and keeps
//! self-heating away.
//!
//! At [`Bme280::init`]: the chip id (0x60; a BMP280 answers 0x58) is checked and the
//! calibration is read once (0x88–0xA1 and 0xE1–0xE7). Each [`Bme280::read`] writes the
//! humidity oversampling (`ctrl_hum`, which only takes effect with the following write to
//! `ctrl_meas`), starts a forced measurement with the temperature and pressure oversampling,
//! waits the datasheet's maximum measurement time (appendix B), polls `status.measuring`
//! and burst-reads 0xF7–0xFE. Compensation is the datasheet's integer code (section 4.2.3:
//! 32-bit temperature and humidity, 64-bit pressure); the results are checked against the
//! operating range (−40…85 °C, 300…1100 hPa, 0…100 %RH).

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;
use embedded_hal::spi::{Operation, SpiDevice};

use super::{i2c_fault, in_range, spi_fault, Fault, Value};

pub const CHIP_ID: u8 = 0x60;
const REG_ID: u8 = 0xD0;
const REG_CALIB_A: u8 = 0x88;
const REG_CALIB_B: u8 = 0xE1;
const REG_CTRL_HUM: u8 = 0xF2;
const REG_STATUS: u8 = 0xF3;
const REG_CTRL_MEAS: u8 = 0xF4;
const REG_CONFIG: u8 = 0xF5;
const REG_DATA: u8 = 0xF7;
/// A skipped measurement (or none yet) reads 0x80000 (temperature, pressure) / 0x8000.
const SKIPPED: i32 = 0x80000;

/// Register access over I2C or SPI.
pub trait Regs {
    fn read(&mut self, reg: u8, buf: &mut [u8]) -> Result<(), Fault>;
    fn write(&mut self, reg: u8, value: u8) -> Result<(), Fault>;
}

pub struct I2cRegs<I> {
    pub i2c: I,
    pub address: u8,
}

impl<I: I2c> Regs for I2cRegs<I> {
    fn read(&mut self, reg: u8, buf: &mut [u8]) -> Result<(), Fault> {
        self.i2c.write_read(self.address, &[reg], buf).map_err(i2c_fault)
    }
    fn write(&mut self, reg: u8, value: u8) -> Result<(), Fault> {
        self.i2c.write(self.address, &[reg, value]).map_err(i2c_fault)
    }
}

/// SPI: bit 7 of the address byte set for a read, cleared for a write (datasheet 6.3).
pub struct SpiRegs<S> {
    pub spi: S,
}

impl<S: SpiDevice> Regs for SpiRegs<S> {
    fn read(&mut self, reg: u8, buf: &mut [u8]) -> Result<(), Fault> {
        self.spi
            .transaction(&mut [Operation::Write(&[reg | 0x80]), Operation::Read(buf)])
            .map_err(spi_fault)
    }
    fn write(&mut self, reg: u8, value: u8) -> Result<(), Fault> {
        self.spi.write(&[reg & 0x7F, value]).map_err(spi_fault)
    }
}

/// Oversampling of one quantity: 1, 2, 4, 8 or 16 (0: skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Oversampling {
    pub temperature: u8,
    pub pressure: u8,
    pub humidity: u8,
}

impl Default for Oversampling {
    /// The datasheet's weather-monitoring setting (3.5.1): ×1 each.
    fn default() -> Self {
        Oversampling {
            temperature: 1,
            pressure: 1,
            humidity: 1,
        }
    }
}

/// The register code of an oversampling factor; `None` for a factor the chip has not.
pub fn osrs(factor: u8) -> Option<u8> {
    match factor {
        0 => Some(0),
        1 => Some(1),
        2 => Some(2),
        4 => Some(3),
        8 => Some(4),
        16 => Some(5),
        _ => None,
    }
}

/// The trimming parameters (datasheet table 16).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Calibration {
    pub t1: u16,
    pub t2: i16,
    pub t3: i16,
    pub p1: u16,
    pub p2: i16,
    pub p3: i16,
    pub p4: i16,
    pub p5: i16,
    pub p6: i16,
    pub p7: i16,
    pub p8: i16,
    pub p9: i16,
    pub h1: u8,
    pub h2: i16,
    pub h3: u8,
    pub h4: i16,
    pub h5: i16,
    pub h6: i8,
}

impl Calibration {
    /// From the 26 bytes at 0x88 and the 7 at 0xE1.
    pub fn parse(a: &[u8; 26], b: &[u8; 7]) -> Calibration {
        let u = |i: usize| u16::from_le_bytes([a[i], a[i + 1]]);
        let s = |i: usize| i16::from_le_bytes([a[i], a[i + 1]]);
        Calibration {
            t1: u(0),
            t2: s(2),
            t3: s(4),
            p1: u(6),
            p2: s(8),
            p3: s(10),
            p4: s(12),
            p5: s(14),
            p6: s(16),
            p7: s(18),
            p8: s(20),
            p9: s(22),
            h1: a[25],
            h2: i16::from_le_bytes([b[0], b[1]]),
            h3: b[2],
            // 0xE4[7:0] / 0xE5[3:0] and 0xE5[7:4] / 0xE6[7:0], 12-bit signed.
            h4: ((b[3] as i8 as i16) << 4) | (b[4] & 0x0F) as i16,
            h5: ((b[5] as i8 as i16) << 4) | (b[4] >> 4) as i16,
            h6: b[6] as i8,
        }
    }

    /// Temperature in 0.01 °C and `t_fine` (datasheet 4.2.3).
    pub fn temperature(&self, adc_t: i32) -> (i32, i32) {
        let (t1, t2, t3) = (self.t1 as i32, self.t2 as i32, self.t3 as i32);
        let var1 = (((adc_t >> 3) - (t1 << 1)) * t2) >> 11;
        let var2 = (((((adc_t >> 4) - t1) * ((adc_t >> 4) - t1)) >> 12) * t3) >> 14;
        let t_fine = var1 + var2;
        ((t_fine * 5 + 128) >> 8, t_fine)
    }

    /// Pressure in Pa as Q24.8 (divide by 256), 0 when the calibration is unusable.
    pub fn pressure(&self, adc_p: i32, t_fine: i32) -> u32 {
        let mut var1 = t_fine as i64 - 128_000;
        let mut var2 = var1 * var1 * self.p6 as i64;
        var2 += (var1 * self.p5 as i64) << 17;
        var2 += (self.p4 as i64) << 35;
        var1 = ((var1 * var1 * self.p3 as i64) >> 8) + ((var1 * self.p2 as i64) << 12);
        var1 = (((1i64 << 47) + var1) * self.p1 as i64) >> 33;
        if var1 == 0 {
            return 0;
        }
        let mut p: i64 = 1_048_576 - adc_p as i64;
        p = (((p << 31) - var2) * 3125) / var1;
        let var1 = (self.p9 as i64 * (p >> 13) * (p >> 13)) >> 25;
        let var2 = (self.p8 as i64 * p) >> 19;
        p = ((p + var1 + var2) >> 8) + ((self.p7 as i64) << 4);
        p as u32
    }

    /// Relative humidity in %RH as Q22.10 (divide by 1024).
    pub fn humidity(&self, adc_h: i32, t_fine: i32) -> u32 {
        let (h1, h2, h3, h4, h5, h6) = (
            self.h1 as i32,
            self.h2 as i32,
            self.h3 as i32,
            self.h4 as i32,
            self.h5 as i32,
            self.h6 as i32,
        );
        let mut v = t_fine - 76_800;
        v = ((((adc_h << 14) - (h4 << 20) - (h5 * v)) + 16_384) >> 15)
            * (((((((v * h6) >> 10) * (((v * h3) >> 11) + 32_768)) >> 10) + 2_097_152) * h2 + 8_192) >> 14);
        v -= ((((v >> 15) * (v >> 15)) >> 7) * h1) >> 4;
        v = v.clamp(0, 419_430_400);
        (v >> 12) as u32
    }
}

pub struct Bme280<R> {
    regs: R,
    cal: Calibration,
    os: Oversampling,
}

impl<R: Regs> Bme280<R> {
    /// Checks the chip id and reads the calibration.
    pub fn init(mut regs: R, os: Oversampling) -> Result<Bme280<R>, Fault> {
        let mut id = [0u8];
        regs.read(REG_ID, &mut id)?;
        if id[0] != CHIP_ID {
            return Err(Fault::ChipId {
                expected: CHIP_ID,
                found: id[0],
            });
        }
        let mut a = [0u8; 26];
        let mut b = [0u8; 7];
        regs.read(REG_CALIB_A, &mut a)?;
        regs.read(REG_CALIB_B, &mut b)?;
        // No IIR filter, standby irrelevant in forced mode, SPI 4-wire.
        regs.write(REG_CONFIG, 0x00)?;
        Ok(Bme280 {
            regs,
            cal: Calibration::parse(&a, &b),
            os,
        })
    }

    /// A driver for a chip whose calibration was read before (by [`Bme280::init`]): a
    /// sampler keeps the calibration and reads without re-reading it.
    pub fn with_calibration(regs: R, cal: Calibration, os: Oversampling) -> Bme280<R> {
        Bme280 { regs, cal, os }
    }

    pub fn calibration(&self) -> &Calibration {
        &self.cal
    }

    /// The longest a forced measurement takes, in µs (datasheet appendix B, t_measure,max).
    pub fn max_measure_us(&self) -> u32 {
        let f = |x: u8| x as u32;
        let mut t = 1250 + 2300 * f(self.os.temperature);
        if self.os.pressure > 0 {
            t += 2300 * f(self.os.pressure) + 575;
        }
        if self.os.humidity > 0 {
            t += 2300 * f(self.os.humidity) + 575;
        }
        t
    }

    /// One forced measurement: temperature, pressure and humidity (those not skipped).
    pub fn read<D: DelayNs>(&mut self, delay: &mut D) -> Result<[Option<Value>; 3], Fault> {
        let code = |f: u8| osrs(f).unwrap_or(1);
        self.regs.write(REG_CTRL_HUM, code(self.os.humidity))?;
        let meas = (code(self.os.temperature) << 5) | (code(self.os.pressure) << 2) | 0b01;
        self.regs.write(REG_CTRL_MEAS, meas)?;
        delay.delay_us(self.max_measure_us());
        let mut status = [0u8];
        let mut tries = 0;
        loop {
            self.regs.read(REG_STATUS, &mut status)?;
            if status[0] & 0x08 == 0 {
                break;
            }
            tries += 1;
            if tries >= 10 {
                return Err(Fault::NotReady);
            }
            delay.delay_ms(1);
        }
        let mut d = [0u8; 8];
        self.regs.read(REG_DATA, &mut d)?;
        let adc_p = ((d[0] as i32) << 12) | ((d[1] as i32) << 4) | ((d[2] as i32) >> 4);
        let adc_t = ((d[3] as i32) << 12) | ((d[4] as i32) << 4) | ((d[5] as i32) >> 4);
        let adc_h = ((d[6] as i32) << 8) | d[7] as i32;
        if adc_t == SKIPPED {
            return Err(Fault::NotReady);
        }
        let (t, t_fine) = self.cal.temperature(adc_t);
        let temperature = in_range("temperature_celsius", t as f64 / 100.0, -40.0, 85.0)?;
        let pressure = if self.os.pressure > 0 && adc_p != SKIPPED {
            let p = self.cal.pressure(adc_p, t_fine) as f64 / 256.0;
            Some(in_range("pressure_pascals", p, 30_000.0, 110_000.0)?)
        } else {
            None
        };
        let humidity = if self.os.humidity > 0 && adc_h != 0x8000 {
            let h = self.cal.humidity(adc_h, t_fine) as f64 / 1024.0;
            Some(in_range("humidity_percent", h, 0.0, 100.0)?)
        } else {
            None
        };
        Ok([Some(temperature), pressure, humidity])
    }
}

#[cfg(test)]
// Register values are grouped by field (osrs_t, osrs_p, mode), as the datasheet draws them.
#[allow(clippy::unusual_byte_groupings)]
mod tests {
    use super::*;
    use embedded_hal::i2c::ErrorKind;
    use embedded_hal::i2c::NoAcknowledgeSource;
    use embedded_hal_mock::eh1::delay::NoopDelay;
    use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as I2cT};
    use embedded_hal_mock::eh1::spi::{Mock as SpiMock, Transaction as SpiT};

    /// The datasheet's worked example (BMP280 datasheet 3.12, the same trimming and formulas
    /// as the BME280's temperature and pressure), and humidity trimming of a real BME280.
    fn example() -> Calibration {
        Calibration {
            t1: 27504,
            t2: 26435,
            t3: -1000,
            p1: 36477,
            p2: -10685,
            p3: 3024,
            p4: 2855,
            p5: 140,
            p6: -7,
            p7: 15500,
            p8: -14600,
            p9: 6000,
            h1: 75,
            h2: 362,
            h3: 0,
            h4: 313,
            h5: 50,
            h6: 30,
        }
    }

    /// The datasheet's floating-point compensation (section 8.1), an independent check.
    fn float(c: &Calibration, adc_t: f64, adc_p: f64, adc_h: f64) -> (f64, f64, f64) {
        let var1 = (adc_t / 16384.0 - c.t1 as f64 / 1024.0) * c.t2 as f64;
        let var2 = (adc_t / 131072.0 - c.t1 as f64 / 8192.0).powi(2) * c.t3 as f64;
        let t_fine = (var1 + var2).trunc();
        let t = (var1 + var2) / 5120.0;
        let mut v1 = t_fine / 2.0 - 64000.0;
        let mut v2 = v1 * v1 * c.p6 as f64 / 32768.0;
        v2 += v1 * c.p5 as f64 * 2.0;
        v2 = v2 / 4.0 + c.p4 as f64 * 65536.0;
        v1 = (c.p3 as f64 * v1 * v1 / 524288.0 + c.p2 as f64 * v1) / 524288.0;
        v1 = (1.0 + v1 / 32768.0) * c.p1 as f64;
        let mut p = 1048576.0 - adc_p;
        p = (p - v2 / 4096.0) * 6250.0 / v1;
        let v1 = c.p9 as f64 * p * p / 2147483648.0;
        let v2 = p * c.p8 as f64 / 32768.0;
        p += (v1 + v2 + c.p7 as f64) / 16.0;
        let mut h = t_fine - 76800.0;
        h = (adc_h - (c.h4 as f64 * 64.0 + c.h5 as f64 / 16384.0 * h))
            * (c.h2 as f64 / 65536.0
                * (1.0 + c.h6 as f64 / 67108864.0 * h * (1.0 + c.h3 as f64 / 67108864.0 * h)));
        h *= 1.0 - c.h1 as f64 * h / 524288.0;
        (t, p, h.clamp(0.0, 100.0))
    }

    #[test]
    fn the_datasheet_example_compensates_exactly() {
        let c = example();
        let (t, t_fine) = c.temperature(519888);
        assert_eq!(
            (t, t_fine),
            (2508, 128422),
            "25.08 °C, t_fine 128422 as in the datasheet"
        );
        let p = c.pressure(415148, t_fine);
        assert_eq!(p / 256, 100653, "100653 Pa as in the datasheet");
        let (ft, fp, fh) = float(&c, 519888.0, 415148.0, 30000.0);
        assert!((ft - 25.08).abs() < 0.01, "{ft}");
        assert!((fp - 100653.27).abs() < 0.5, "{fp}");
        let h = c.humidity(30000, t_fine) as f64 / 1024.0;
        assert!((h - fh).abs() < 0.2, "integer {h} vs float {fh}");
        assert!((0.0..=100.0).contains(&h));
    }

    fn calib_bytes(c: &Calibration) -> ([u8; 26], [u8; 7]) {
        let mut a = [0u8; 26];
        for (i, v) in [
            c.t1 as i32,
            c.t2 as i32,
            c.t3 as i32,
            c.p1 as i32,
            c.p2 as i32,
            c.p3 as i32,
            c.p4 as i32,
            c.p5 as i32,
            c.p6 as i32,
            c.p7 as i32,
            c.p8 as i32,
            c.p9 as i32,
        ]
        .iter()
        .enumerate()
        {
            a[i * 2..i * 2 + 2].copy_from_slice(&(*v as u16).to_le_bytes());
        }
        a[25] = c.h1;
        let h2 = (c.h2 as u16).to_le_bytes();
        let b = [
            h2[0],
            h2[1],
            c.h3,
            (c.h4 >> 4) as u8,
            ((c.h4 & 0x0F) as u8) | (((c.h5 & 0x0F) as u8) << 4),
            (c.h5 >> 4) as u8,
            c.h6 as u8,
        ];
        (a, b)
    }

    /// raw pressure 415148, temperature 519888, humidity 30000 as the data registers hold them.
    const DATA: [u8; 8] = [0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00, 0x75, 0x30];

    #[test]
    fn an_i2c_read_is_the_datasheets_sequence() {
        let c = example();
        let (a, b) = calib_bytes(&c);
        assert_eq!(Calibration::parse(&a, &b), c, "calibration layout round trip");
        let addr = 0x76;
        let expect = [
            I2cT::write_read(addr, vec![0xD0], vec![0x60]),
            I2cT::write_read(addr, vec![0x88], a.to_vec()),
            I2cT::write_read(addr, vec![0xE1], b.to_vec()),
            I2cT::write(addr, vec![0xF5, 0x00]),
            // ctrl_hum ×1, then ctrl_meas: osrs_t ×2 (010), osrs_p ×16 (101), forced (01).
            I2cT::write(addr, vec![0xF2, 0x01]),
            I2cT::write(addr, vec![0xF4, 0b010_101_01]),
            I2cT::write_read(addr, vec![0xF3], vec![0x08]),
            I2cT::write_read(addr, vec![0xF3], vec![0x00]),
            I2cT::write_read(addr, vec![0xF7], DATA.to_vec()),
        ];
        let mut i2c = I2cMock::new(&expect);
        let os = Oversampling {
            temperature: 2,
            pressure: 16,
            humidity: 1,
        };
        let mut s = Bme280::init(
            I2cRegs {
                i2c: i2c.clone(),
                address: addr,
            },
            os,
        )
        .unwrap();
        let [t, p, h] = s.read(&mut NoopDelay).unwrap();
        assert_eq!(t.unwrap().value, 25.08);
        assert_eq!(p.unwrap().quantity, "pressure_pascals");
        // The integer code gives 100653.254 Pa; the datasheet quotes the floating-point 100653.27.
        assert!((p.unwrap().value - 100653.27).abs() < 0.05, "{p:?}");
        assert!(h.unwrap().value > 0.0);
        i2c.done();
    }

    #[test]
    fn an_spi_read_sets_and_clears_the_read_bit() {
        let c = example();
        let (a, b) = calib_bytes(&c);
        let read = |reg: u8, out: Vec<u8>| {
            vec![
                SpiT::transaction_start(),
                SpiT::write_vec(vec![reg | 0x80]),
                SpiT::read_vec(out),
                SpiT::transaction_end(),
            ]
        };
        let write = |reg: u8, v: u8| {
            vec![
                SpiT::transaction_start(),
                SpiT::write_vec(vec![reg & 0x7F, v]),
                SpiT::transaction_end(),
            ]
        };
        let expect: Vec<SpiT<u8>> = [
            read(0xD0, vec![0x60]),
            read(0x88, a.to_vec()),
            read(0xE1, b.to_vec()),
            write(0xF5, 0),
            write(0xF2, 1),
            write(0xF4, 0b001_001_01),
            read(0xF3, vec![0]),
            read(0xF7, DATA.to_vec()),
        ]
        .concat();
        let mut spi = SpiMock::new(&expect);
        let mut s = Bme280::init(SpiRegs { spi: spi.clone() }, Oversampling::default()).unwrap();
        assert_eq!(s.read(&mut NoopDelay).unwrap()[0].unwrap().value, 25.08);
        spi.done();
    }

    #[test]
    fn a_wrong_chip_a_nack_and_an_impossible_value_are_faults() {
        let mut i2c = I2cMock::new(&[I2cT::write_read(0x76, vec![0xD0], vec![0x58])]);
        let e = Bme280::init(
            I2cRegs {
                i2c: i2c.clone(),
                address: 0x76,
            },
            Oversampling::default(),
        )
        .err();
        assert_eq!(
            e,
            Some(Fault::ChipId {
                expected: 0x60,
                found: 0x58
            }),
            "a BMP280"
        );
        i2c.done();
        let mut i2c = I2cMock::new(&[I2cT::write_read(0x77, vec![0xD0], vec![0])
            .with_error(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address))]);
        let e = Bme280::init(
            I2cRegs {
                i2c: i2c.clone(),
                address: 0x77,
            },
            Oversampling::default(),
        )
        .err();
        assert_eq!(e.as_ref().map(Fault::reason), Some("nack"));
        i2c.done();
        // A temperature reading of 0xFFFFF (a stuck bus reads all ones) is far out of range.
        let c = example();
        let (a, b) = calib_bytes(&c);
        let mut i2c = I2cMock::new(&[
            I2cT::write_read(0x76, vec![0xD0], vec![0x60]),
            I2cT::write_read(0x76, vec![0x88], a.to_vec()),
            I2cT::write_read(0x76, vec![0xE1], b.to_vec()),
            I2cT::write(0x76, vec![0xF5, 0x00]),
            I2cT::write(0x76, vec![0xF2, 0x01]),
            I2cT::write(0x76, vec![0xF4, 0b001_001_01]),
            I2cT::write_read(0x76, vec![0xF3], vec![0x00]),
            I2cT::write_read(0x76, vec![0xF7], vec![0xFF; 8]),
        ]);
        let mut s = Bme280::init(
            I2cRegs {
                i2c: i2c.clone(),
                address: 0x76,
            },
            Oversampling::default(),
        )
        .unwrap();
        let e = s.read(&mut NoopDelay).unwrap_err();
        assert_eq!(e.reason(), "out_of_range", "{e}");
        i2c.done();
    }
}

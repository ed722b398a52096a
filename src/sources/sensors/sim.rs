//! `bus = "sim"`: a simulated I2C bus, a test double implementing the `embedded-hal` 1.0
//! `I2c` trait, with a BME280 at 0x76 and 0x77, an SHT3x/SHT4x at 0x44 and 0x45 (it answers
//! either command set) and an ADS1115 at 0x48. It exists so a board profile, the sampler and
//! every sink can be tried and tested end to end without hardware; its readings drift slowly
//! (a slow sine per quantity), so they are never stuck.
//!
//! Each simulated chip speaks its datasheet's protocol — register reads and writes, commands,
//! CRC-8 words — exactly as the drivers expect from real hardware; any other address is not
//! acknowledged, like an empty slot on a real bus.

use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation};

use super::drivers::crc::crc8;

#[derive(Debug)]
pub struct SimError(ErrorKind);

impl embedded_hal::i2c::Error for SimError {
    fn kind(&self) -> ErrorKind {
        self.0
    }
}

/// The simulated bus; `tick` advances with every measurement so values move.
#[derive(Debug)]
pub struct SimI2c {
    tick: u64,
    /// Register pointer of the BME280 and ADS1115 per address.
    pointer: [u8; 128],
    /// The last SHT command per address.
    sht_command: [u16; 128],
    /// The ADS1115 config register (per address).
    ads_config: [u16; 128],
}

impl Default for SimI2c {
    fn default() -> Self {
        SimI2c {
            tick: 0,
            pointer: [0; 128],
            sht_command: [0; 128],
            ads_config: [0; 128],
        }
    }
}

/// The BME280's calibration: the datasheet's worked example (see drivers::bme280 tests).
const BME_CALIB_A: [u8; 26] = {
    let t: [i32; 12] = [
        27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000,
    ];
    let mut a = [0u8; 26];
    let mut i = 0;
    while i < 12 {
        let v = (t[i] as u16).to_le_bytes();
        a[i * 2] = v[0];
        a[i * 2 + 1] = v[1];
        i += 1;
    }
    a[25] = 75;
    a
};
/// h2 = 362, h3 = 0, h4 = 313, h5 = 50, h6 = 30.
const BME_CALIB_B: [u8; 7] = [0x6A, 0x01, 0x00, 0x13, 0x29, 0x03, 0x1E];

impl SimI2c {
    fn wave(&self, period: f64, amplitude: f64) -> f64 {
        (self.tick as f64 / period * std::f64::consts::TAU).sin() * amplitude
    }

    fn bme_register(&self, reg: u8) -> u8 {
        match reg {
            0xD0 => 0x60,
            0xF3 => 0x00,
            0x88..=0xA1 => BME_CALIB_A[(reg - 0x88) as usize],
            0xE1..=0xE7 => BME_CALIB_B[(reg - 0xE1) as usize],
            0xF7..=0xFE => {
                // Around the datasheet's example: 25.08 °C, 1006.5 hPa, and ~60 %RH.
                let adc_p = (415_148.0 + self.wave(97.0, 300.0)) as u32;
                let adc_t = (519_888.0 + self.wave(61.0, 2_000.0)) as u32;
                let adc_h = (31_000.0 + self.wave(43.0, 400.0)) as u32;
                let d = [
                    (adc_p >> 12) as u8,
                    (adc_p >> 4) as u8,
                    ((adc_p & 0xF) << 4) as u8,
                    (adc_t >> 12) as u8,
                    (adc_t >> 4) as u8,
                    ((adc_t & 0xF) << 4) as u8,
                    (adc_h >> 8) as u8,
                    adc_h as u8,
                ];
                d[(reg - 0xF7) as usize]
            }
            _ => 0,
        }
    }

    fn sht_frame(&self, sht4x: bool) -> [u8; 6] {
        let t = 22.5 + self.wave(53.0, 1.5);
        let rh = 45.0 + self.wave(71.0, 5.0);
        let st = ((t + 45.0) / 175.0 * 65535.0) as u16;
        let srh = if sht4x {
            ((rh + 6.0) / 125.0 * 65535.0) as u16
        } else {
            (rh / 100.0 * 65535.0) as u16
        };
        let (a, b) = (st.to_be_bytes(), srh.to_be_bytes());
        [a[0], a[1], crc8(&a), b[0], b[1], crc8(&b)]
    }

    fn ads_conversion(&self, address: u8) -> [u8; 2] {
        let cfg = self.ads_config[address as usize];
        let mux = (cfg >> 12) & 0x7;
        let fsr = [6.144, 4.096, 2.048, 1.024, 0.512, 0.256][(((cfg >> 9) & 0x7) as usize).min(5)];
        // AINn against GND: 0.5 V × (n + 1); differential pairs: 0.1 V.
        let volts = if mux >= 4 { 0.5 * (mux - 3) as f64 } else { 0.1 } + self.wave(37.0, 0.01);
        ((volts / fsr * 32768.0).clamp(-32768.0, 32767.0) as i16).to_be_bytes()
    }

    fn write(&mut self, address: u8, bytes: &[u8]) -> Result<(), SimError> {
        let a = address as usize;
        match address {
            0x76 | 0x77 => {
                if let Some(&reg) = bytes.first() {
                    self.pointer[a] = reg;
                    if reg == 0xF4 && bytes.get(1).is_some_and(|m| m & 0b11 == 0b01) {
                        self.tick += 1;
                    }
                }
            }
            0x44 | 0x45 => {
                let cmd = match bytes {
                    [one] => *one as u16,
                    [hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
                    [] => 0,
                };
                if cmd == 0xFD || cmd == 0x2400 {
                    self.tick += 1;
                }
                self.sht_command[a] = cmd;
            }
            0x48 => {
                if let Some(&reg) = bytes.first() {
                    self.pointer[a] = reg;
                    if reg == 0x01 && bytes.len() == 3 {
                        self.ads_config[a] = u16::from_be_bytes([bytes[1], bytes[2]]);
                        self.tick += 1;
                    }
                }
            }
            _ => return Err(SimError(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address))),
        }
        Ok(())
    }

    fn read(&mut self, address: u8, buf: &mut [u8]) -> Result<(), SimError> {
        let a = address as usize;
        match address {
            0x76 | 0x77 => {
                let start = self.pointer[a];
                for (i, b) in buf.iter_mut().enumerate() {
                    *b = self.bme_register(start.wrapping_add(i as u8));
                }
            }
            0x44 | 0x45 => {
                let frame = match self.sht_command[a] {
                    0xFD => self.sht_frame(true),
                    0x2400 => self.sht_frame(false),
                    _ => return Err(SimError(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address))),
                };
                let n = buf.len().min(6);
                buf[..n].copy_from_slice(&frame[..n]);
            }
            0x48 => {
                let v = match self.pointer[a] {
                    // The config register with OS = 1: the conversion is done.
                    0x01 => (self.ads_config[a] | 0x8000).to_be_bytes(),
                    _ => self.ads_conversion(address),
                };
                let n = buf.len().min(2);
                buf[..n].copy_from_slice(&v[..n]);
            }
            _ => return Err(SimError(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address))),
        }
        Ok(())
    }
}

impl ErrorType for SimI2c {
    type Error = SimError;
}

impl I2c for SimI2c {
    fn transaction(&mut self, address: u8, operations: &mut [Operation<'_>]) -> Result<(), SimError> {
        for op in operations {
            match op {
                Operation::Write(bytes) => self.write(address, bytes)?,
                Operation::Read(buf) => self.read(address, buf)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::sensors::drivers::{ads1115, bme280, sht};
    use embedded_hal_mock::eh1::delay::NoopDelay;

    #[test]
    fn the_real_drivers_read_the_simulated_chips() {
        let mut bus = SimI2c::default();
        let mut b = bme280::Bme280::init(
            bme280::I2cRegs {
                i2c: &mut bus,
                address: 0x76,
            },
            bme280::Oversampling::default(),
        )
        .unwrap();
        let [t, p, h] = b.read(&mut NoopDelay).unwrap();
        assert!((t.unwrap().value - 25.08).abs() < 1.0, "{t:?}");
        assert!((p.unwrap().value - 100_653.0).abs() < 500.0, "{p:?}");
        assert!((50.0..70.0).contains(&h.unwrap().value), "{h:?}");
        for model in [sht::Model::Sht3x, sht::Model::Sht4x] {
            let mut s = sht::Sht::init(&mut bus, 0x44, model).unwrap();
            let [t, h] = s.read(&mut NoopDelay).unwrap();
            assert!(
                (t.value - 22.5).abs() < 2.0 && (h.value - 45.0).abs() < 6.0,
                "{model:?} {t:?} {h:?}"
            );
        }
        let mut adc = ads1115::Ads1115::new(&mut bus, 0x48);
        let v = adc.read(ads1115::Input::Single(1), 1, 4, &mut NoopDelay).unwrap();
        assert!((v.value - 1.0).abs() < 0.02, "{v:?}");
        assert_eq!(
            bme280::Bme280::init(
                bme280::I2cRegs {
                    i2c: &mut bus,
                    address: 0x40
                },
                bme280::Oversampling::default()
            )
            .err(),
            Some(crate::sources::sensors::drivers::Fault::Nack)
        );
    }
}

//! TI ADS1115: a 16-bit ADC with four inputs (address 0x48–0x4B), single-ended or
//! differential, in single-shot mode: one conversion per read, the chip powered down between.
//!
//! Each read writes the config register (datasheet 9.6.3): OS = 1 (start), the input
//! multiplexer, the gain (PGA), MODE = 1 (single shot), the data rate and the comparator
//! disabled (COMP_QUE = 11); waits one conversion period (1/DR, +10% and 0.1 ms for the
//! oscillator's tolerance and wake-up), polls OS until the conversion is done, and reads the
//! signed conversion register. volts = raw × FSR / 32768. A result pinned at either end of the
//! scale (0x7FFF, 0x8000) means the input is beyond the full-scale range: an `out_of_range`
//! fault (choose a larger `gain` range), not a value.

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;

use super::{i2c_fault, Fault, Value};

/// Full-scale ranges in volts by PGA code 0–5.
pub const FSR: [f64; 6] = [6.144, 4.096, 2.048, 1.024, 0.512, 0.256];
/// Samples per second by DR code 0–7.
pub const RATES: [u32; 8] = [8, 16, 32, 64, 128, 250, 475, 860];

/// What one read converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// AINn against GND, n = 0..=3.
    Single(u8),
    /// The pairs the multiplexer has: (0,1), (0,3), (1,3), (2,3).
    Differential(u8, u8),
}

impl Input {
    /// MUX[2:0], or `None` for a pair the chip cannot measure.
    pub fn mux(self) -> Option<u16> {
        match self {
            Input::Single(n @ 0..=3) => Some(0b100 + n as u16),
            Input::Differential(0, 1) => Some(0b000),
            Input::Differential(0, 3) => Some(0b001),
            Input::Differential(1, 3) => Some(0b010),
            Input::Differential(2, 3) => Some(0b011),
            _ => None,
        }
    }
}

/// The config register for one single-shot conversion.
pub fn config(input: Input, pga: u8, dr: u8) -> Option<u16> {
    if pga as usize >= FSR.len() || dr as usize >= RATES.len() {
        return None;
    }
    Some((1 << 15) | (input.mux()? << 12) | ((pga as u16) << 9) | (1 << 8) | ((dr as u16) << 5) | 0b11)
}

/// The PGA code of a full-scale range in volts (6.144, 4.096, 2.048, 1.024, 0.512, 0.256).
pub fn pga_for(volts: f64) -> Option<u8> {
    FSR.iter().position(|f| (f - volts).abs() < 1e-9).map(|i| i as u8)
}

/// The DR code of a data rate in samples per second.
pub fn dr_for(sps: u32) -> Option<u8> {
    RATES.iter().position(|r| *r == sps).map(|i| i as u8)
}

pub struct Ads1115<I> {
    i2c: I,
    address: u8,
}

impl<I: I2c> Ads1115<I> {
    pub fn new(i2c: I, address: u8) -> Ads1115<I> {
        Ads1115 { i2c, address }
    }

    /// One conversion of `input` at gain `pga` and rate `dr` (codes), in volts.
    pub fn read<D: DelayNs>(&mut self, input: Input, pga: u8, dr: u8, delay: &mut D) -> Result<Value, Fault> {
        let Some(cfg) = config(input, pga, dr) else {
            return Err(Fault::Bus("invalid input, gain or rate"));
        };
        let [hi, lo] = cfg.to_be_bytes();
        self.i2c.write(self.address, &[0x01, hi, lo]).map_err(i2c_fault)?;
        let period_us = 1_000_000 / RATES[dr as usize];
        delay.delay_us(period_us + period_us / 10 + 100);
        let mut reg = [0u8; 2];
        let mut tries = 0;
        loop {
            self.i2c
                .write_read(self.address, &[0x01], &mut reg)
                .map_err(i2c_fault)?;
            if reg[0] & 0x80 != 0 {
                break;
            }
            tries += 1;
            if tries >= 5 {
                return Err(Fault::NotReady);
            }
            delay.delay_us(period_us / 4 + 50);
        }
        self.i2c
            .write_read(self.address, &[0x00], &mut reg)
            .map_err(i2c_fault)?;
        let raw = i16::from_be_bytes(reg);
        let volts = raw as f64 * FSR[pga as usize] / 32768.0;
        if raw == i16::MAX || raw == i16::MIN {
            return Err(Fault::OutOfRange {
                quantity: "voltage_volts",
                value: volts,
            });
        }
        Ok(Value {
            quantity: "voltage_volts",
            value: volts,
        })
    }
}

#[cfg(test)]
// Register values are grouped by field (osrs_t, osrs_p, mode), as the datasheet draws them.
#[allow(clippy::unusual_byte_groupings)]
mod tests {
    use super::*;
    use embedded_hal_mock::eh1::delay::NoopDelay;
    use embedded_hal_mock::eh1::i2c::{Mock, Transaction as T};

    #[test]
    fn config_words_follow_the_datasheet() {
        // The reset value 0x8583 is AIN0-AIN1, ±2.048 V, single shot, 128 SPS, comparator off.
        assert_eq!(config(Input::Differential(0, 1), 2, 4), Some(0x8583));
        // AIN3 single-ended, ±4.096 V, 860 SPS.
        assert_eq!(config(Input::Single(3), 1, 7), Some(0b1_111_001_1_111_00011));
        assert_eq!(config(Input::Differential(1, 2), 2, 4), None);
        assert_eq!(
            (pga_for(0.256), dr_for(475), pga_for(5.0)),
            (Some(5), Some(6), None)
        );
    }

    #[test]
    fn a_single_shot_conversion() {
        // AIN0 at ±4.096 V, 128 SPS: busy once, then done; 0x4000 = half scale = 2.048 V.
        let cfg = config(Input::Single(0), 1, 4).unwrap().to_be_bytes();
        let mut i2c = Mock::new(&[
            T::write(0x48, vec![0x01, cfg[0], cfg[1]]),
            T::write_read(0x48, vec![0x01], vec![cfg[0] & 0x7F, cfg[1]]),
            T::write_read(0x48, vec![0x01], vec![cfg[0], cfg[1]]),
            T::write_read(0x48, vec![0x00], vec![0x40, 0x00]),
        ]);
        let mut adc = Ads1115::new(i2c.clone(), 0x48);
        let v = adc.read(Input::Single(0), 1, 4, &mut NoopDelay).unwrap();
        assert_eq!(v.value, 2.048);
        i2c.done();
        // A negative differential reading.
        let cfg = config(Input::Differential(2, 3), 5, 4).unwrap().to_be_bytes();
        let mut i2c = Mock::new(&[
            T::write(0x49, vec![0x01, cfg[0], cfg[1]]),
            T::write_read(0x49, vec![0x01], vec![cfg[0], cfg[1]]),
            T::write_read(0x49, vec![0x00], vec![0xC0, 0x00]),
        ]);
        let mut adc = Ads1115::new(i2c.clone(), 0x49);
        assert_eq!(
            adc.read(Input::Differential(2, 3), 5, 4, &mut NoopDelay)
                .unwrap()
                .value,
            -0.128
        );
        i2c.done();
    }

    #[test]
    fn a_saturated_input_is_out_of_range() {
        let cfg = config(Input::Single(1), 2, 4).unwrap().to_be_bytes();
        let mut i2c = Mock::new(&[
            T::write(0x48, vec![0x01, cfg[0], cfg[1]]),
            T::write_read(0x48, vec![0x01], vec![cfg[0], cfg[1]]),
            T::write_read(0x48, vec![0x00], vec![0x7F, 0xFF]),
        ]);
        let mut adc = Ads1115::new(i2c.clone(), 0x48);
        assert_eq!(
            adc.read(Input::Single(1), 2, 4, &mut NoopDelay)
                .unwrap_err()
                .reason(),
            "out_of_range"
        );
        i2c.done();
    }
}

//! Sensirion SHT3x (SHT30/31/35; address 0x44 or 0x45) and SHT4x (SHT40/41/45; 0x44, 0x45,
//! 0x46): temperature and humidity, one single-shot measurement per read, heater off.
//!
//! SHT3x (datasheet 4.3, 4.5): command 0x2400 — high repeatability, no clock stretching —
//! then, after the 15 ms maximum measurement time, six bytes: temperature word, CRC, humidity
//! word, CRC. A read before the conversion ends is not acknowledged (not ready). At init the
//! heater is switched off (0x3066); its status bit is what makes a drifting reading
//! explicable. T = −45 + 175·S/65535 °C, RH = 100·S/65535 %.
//!
//! SHT4x (datasheet 4.5): command 0xFD — high precision — then, after 10 ms, the same six
//! bytes. Its heater only runs on an explicit command, which is never sent. T as above,
//! RH = −6 + 125·S/65535 %, cropped to 0–100 % as the datasheet says.
//!
//! Every word's CRC-8 is checked ([`super::crc`]); a mismatch is a `crc` fault, never a value.

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;

use super::crc::crc8;
use super::{i2c_fault, in_range, Fault, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    Sht3x,
    Sht4x,
}

pub struct Sht<I> {
    i2c: I,
    address: u8,
    model: Model,
}

/// Two words with their CRCs, checked.
pub fn words(buf: &[u8; 6]) -> Result<(u16, u16), Fault> {
    for w in [&buf[0..3], &buf[3..6]] {
        if crc8(&w[..2]) != w[2] {
            return Err(Fault::Crc);
        }
    }
    Ok((
        u16::from_be_bytes([buf[0], buf[1]]),
        u16::from_be_bytes([buf[3], buf[4]]),
    ))
}

impl<I: I2c> Sht<I> {
    /// Switches the SHT3x heater off (the SHT4x has nothing to switch).
    pub fn init(mut i2c: I, address: u8, model: Model) -> Result<Sht<I>, Fault> {
        if model == Model::Sht3x {
            i2c.write(address, &[0x30, 0x66]).map_err(i2c_fault)?;
        }
        Ok(Sht { i2c, address, model })
    }

    /// A driver for a sensor [`Sht::init`] set up before (the heater command is not sent
    /// again).
    pub fn attach(i2c: I, address: u8, model: Model) -> Sht<I> {
        Sht { i2c, address, model }
    }

    pub fn read<D: DelayNs>(&mut self, delay: &mut D) -> Result<[Value; 2], Fault> {
        let (command, wait_ms): (&[u8], u32) = match self.model {
            Model::Sht3x => (&[0x24, 0x00], 16),
            Model::Sht4x => (&[0xFD], 10),
        };
        self.i2c.write(self.address, command).map_err(i2c_fault)?;
        delay.delay_ms(wait_ms);
        let mut buf = [0u8; 6];
        self.i2c
            .read(self.address, &mut buf)
            .map_err(|e| match i2c_fault(e) {
                Fault::Nack => Fault::NotReady,
                other => other,
            })?;
        let (st, srh) = words(&buf)?;
        let t = -45.0 + 175.0 * st as f64 / 65535.0;
        let rh = match self.model {
            Model::Sht3x => 100.0 * srh as f64 / 65535.0,
            Model::Sht4x => (-6.0 + 125.0 * srh as f64 / 65535.0).clamp(0.0, 100.0),
        };
        Ok([
            in_range("temperature_celsius", t, -40.0, 125.0)?,
            in_range("humidity_percent", rh, 0.0, 100.0)?,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource};
    use embedded_hal_mock::eh1::delay::NoopDelay;
    use embedded_hal_mock::eh1::i2c::{Mock, Transaction as T};

    fn frame(st: u16, srh: u16) -> Vec<u8> {
        let (a, b) = (st.to_be_bytes(), srh.to_be_bytes());
        vec![a[0], a[1], crc8(&a), b[0], b[1], crc8(&b)]
    }

    #[test]
    fn sht3x_single_shot_with_the_heater_off() {
        // 0x6666 → −45 + 175 × 0.4 = 25 °C; 0x8000 → 50.0008 %RH.
        let mut i2c = Mock::new(&[
            T::write(0x44, vec![0x30, 0x66]),
            T::write(0x44, vec![0x24, 0x00]),
            T::read(0x44, frame(0x6666, 0x8000)),
        ]);
        let mut s = Sht::init(i2c.clone(), 0x44, Model::Sht3x).unwrap();
        let [t, h] = s.read(&mut NoopDelay).unwrap();
        assert!((t.value - 25.0).abs() < 0.001, "{t:?}");
        assert!((h.value - 50.0008).abs() < 0.001, "{h:?}");
        i2c.done();
    }

    #[test]
    fn sht4x_high_precision_crops_humidity() {
        // 0xFFFF humidity → 119 %, cropped to 100 as the datasheet says.
        let mut i2c = Mock::new(&[T::write(0x44, vec![0xFD]), T::read(0x44, frame(0x6666, 0xFFFF))]);
        let mut s = Sht::init(i2c.clone(), 0x44, Model::Sht4x).unwrap();
        let [t, h] = s.read(&mut NoopDelay).unwrap();
        assert!((t.value - 25.0).abs() < 0.001);
        assert_eq!(h.value, 100.0);
        i2c.done();
    }

    #[test]
    fn crc_failures_nacks_and_impossible_values_are_faults() {
        let mut bad = frame(0x6666, 0x8000);
        bad[4] ^= 0x01;
        let mut i2c = Mock::new(&[T::write(0x44, vec![0xFD]), T::read(0x44, bad)]);
        let mut s = Sht::init(i2c.clone(), 0x44, Model::Sht4x).unwrap();
        assert_eq!(s.read(&mut NoopDelay).unwrap_err(), Fault::Crc);
        i2c.done();
        let mut i2c = Mock::new(&[T::write(0x45, vec![0x30, 0x66])
            .with_error(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address))]);
        assert_eq!(
            Sht::init(i2c.clone(), 0x45, Model::Sht3x).err(),
            Some(Fault::Nack)
        );
        i2c.done();
        // A read the sensor does not acknowledge: the conversion has not finished.
        let mut i2c = Mock::new(&[
            T::write(0x44, vec![0xFD]),
            T::read(0x44, vec![0; 6]).with_error(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address)),
        ]);
        let mut s = Sht::init(i2c.clone(), 0x44, Model::Sht4x).unwrap();
        assert_eq!(s.read(&mut NoopDelay).unwrap_err(), Fault::NotReady);
        i2c.done();
        // All zeros with valid CRCs: −45 °C, below the SHT's range.
        let mut i2c = Mock::new(&[T::write(0x44, vec![0xFD]), T::read(0x44, frame(0, 0x8000))]);
        let mut s = Sht::init(i2c.clone(), 0x44, Model::Sht4x).unwrap();
        assert_eq!(s.read(&mut NoopDelay).unwrap_err().reason(), "out_of_range");
        i2c.done();
    }
}

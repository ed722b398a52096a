//! Maxim DS18B20 through the kernel's `w1_therm` driver: the text of
//! `<sys_path>/bus/w1/devices/28-…/w1_slave`, two lines of the scratchpad's nine bytes, the
//! first ending in `crc=XX YES` (or `NO`), the second in `t=<millidegrees>`:
//!
//! ```text
//! 72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
//! 72 01 4b 46 7f ff 0e 10 57 t=23125
//! ```
//!
//! A `NO` is a CRC failure (noise on the bus); 85.000 °C is the scratchpad's power-on value,
//! which the chip reports when the conversion did not run (parasite power too weak, a reset
//! during conversion) and is never taken as a temperature; the datasheet's range is
//! −55…125 °C.

use super::{in_range, Fault, Value};

pub fn parse(text: &str) -> Result<Value, Fault> {
    let mut lines = text.lines();
    let (Some(first), Some(second)) = (lines.next(), lines.next()) else {
        return Err(Fault::Garbage);
    };
    match first.trim_end().rsplit(' ').next() {
        Some("YES") => {}
        Some("NO") => return Err(Fault::Crc),
        _ => return Err(Fault::Garbage),
    }
    let milli: i64 = second
        .rsplit_once("t=")
        .and_then(|(_, v)| v.trim().parse().ok())
        .ok_or(Fault::Garbage)?;
    if milli == 85_000 {
        return Err(Fault::PowerOn);
    }
    in_range("temperature_celsius", milli as f64 / 1000.0, -55.0, 125.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_bad_crc_power_on_and_garbage() {
        let good = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n";
        assert_eq!(parse(good).unwrap().value, 23.125);
        let cold = "5e ff 4b 46 7f ff 02 10 8c : crc=8c YES\n5e ff 4b 46 7f ff 02 10 8c t=-10125\n";
        assert_eq!(parse(cold).unwrap().value, -10.125);
        let no = "72 01 4b 46 7f ff 0e 10 57 : crc=00 NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n";
        assert_eq!(parse(no), Err(Fault::Crc));
        let power_on = "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n";
        assert_eq!(parse(power_on), Err(Fault::PowerOn));
        assert_eq!(parse(""), Err(Fault::Garbage));
        assert_eq!(parse("x YES\ny t=abc\n"), Err(Fault::Garbage));
        assert_eq!(parse("x YES\ny t=150000\n").unwrap_err().reason(), "out_of_range");
    }
}

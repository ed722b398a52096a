//! CRC-8 of the Sensirion sensors (SHT3x datasheet 4.12, SHT4x datasheet 4.4): polynomial
//! 0x31 (x⁸ + x⁵ + x⁴ + 1), initial value 0xFF, no reflection, no final XOR, over each
//! 16-bit word.

pub fn crc8(data: &[u8]) -> u8 {
    let mut crc: u8 = 0xFF;
    for &b in data {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x31
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::crc8;

    #[test]
    fn the_datasheet_example() {
        // SHT3x datasheet, table 20: CRC(0xBEEF) = 0x92 (the SHT4x datasheet gives the same).
        assert_eq!(crc8(&[0xBE, 0xEF]), 0x92);
        assert_eq!(crc8(&[0x00, 0x00]), 0x81);
    }
}

//! Human units in the configuration: durations (`"10s"`, `"1h30m"`, `"7d"`) and sizes
//! (`"64MiB"`, `"1GB"`).
//!
//! Both are parsed by hand rather than with a crate: the grammar is tiny, the error messages
//! have to name the offending text, and every dependency costs binary size on the gateway.
//! Durations follow Prometheus' syntax (units `ms s m h d w y`, concatenated from largest to
//! smallest), so operators write the same strings here as in their Prometheus config.

use std::fmt;
use std::time::Duration;

/// Why a duration or size string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError(pub String);

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const DURATION_UNITS: &[(&str, u64)] = &[
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
    ("w", 7 * 86_400_000),
    ("y", 365 * 86_400_000),
];

/// Parses `"10s"`, `"1h30m"`, `"250ms"`, `"7d"`. A bare number is refused: `interval = "10"`
/// is ambiguous (seconds? milliseconds?) and the ambiguity has bitten every agent that allowed it.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(UnitError(
            "empty duration (write e.g. \"10s\", \"5m\", \"7d\")".into(),
        ));
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total_ms: u64 = 0;
    let mut last_rank: Option<usize> = None;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(UnitError(format!(
                "invalid duration {text:?}: expected a number at {:?}",
                &s[start..]
            )));
        }
        let number: u64 = s[start..i]
            .parse()
            .map_err(|_| UnitError(format!("invalid duration {text:?}: number too large")))?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[unit_start..i];
        if unit.is_empty() {
            return Err(UnitError(format!(
                "invalid duration {text:?}: missing unit after {number} (use ms, s, m, h, d, w or y)"
            )));
        }
        let Some(rank) = DURATION_UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(UnitError(format!(
                "invalid duration {text:?}: unknown unit {unit:?} (use ms, s, m, h, d, w or y)"
            )));
        };
        if let Some(prev) = last_rank {
            if rank >= prev {
                return Err(UnitError(format!(
                    "invalid duration {text:?}: units must go from largest to smallest, each once"
                )));
            }
        }
        last_rank = Some(rank);
        let part = number
            .checked_mul(DURATION_UNITS[rank].1)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| UnitError(format!("invalid duration {text:?}: too large")))?;
        total_ms = part;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Formats a duration the way [`parse_duration`] reads it (used in messages and `store stats`).
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in DURATION_UNITS.iter().rev() {
        if *unit == "y" || *unit == "w" {
            continue;
        }
        if ms >= *size {
            out.push_str(&format!("{}{}", ms / size, unit));
            ms %= size;
        }
    }
    out
}

const SIZE_UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];

/// Parses `"64MiB"`, `"1.5GB"`, `"512B"`, `"4096"` (bytes). Units are case-sensitive on
/// purpose: `mb` (millibit?) is refused with a hint instead of guessed.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = (&s[..split], s[split..].trim());
    if num.is_empty() {
        return Err(UnitError(format!(
            "invalid size {text:?}: expected a number followed by B, KiB, MiB, GiB, KB, MB or GB"
        )));
    }
    let factor = if unit.is_empty() {
        1
    } else {
        SIZE_UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                UnitError(format!(
                    "invalid size {text:?}: unknown unit {unit:?} (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)"
                ))
            })?
    };
    let value: f64 = num
        .parse()
        .map_err(|_| UnitError(format!("invalid size {text:?}: {num:?} is not a number")))?;
    let bytes = value * factor as f64;
    if !bytes.is_finite() || bytes > u64::MAX as f64 / 2.0 {
        return Err(UnitError(format!("invalid size {text:?}: too large")));
    }
    Ok(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration(" 2w "), Ok(Duration::from_secs(14 * 86400)));
        for bad in ["", "10", "s", "10 s", "1m1h", "5x", "1.5s", "-1s", "10s10s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_duration("99999999999999999999s").is_err());
        assert!(parse_duration("9999999999999y").is_err());
    }

    #[test]
    fn duration_round_trip() {
        for s in ["10s", "1h30m", "2d3h", "250ms", "1m0s5ms"] {
            let d = parse_duration(s).unwrap();
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("10 MiB"), Ok(10 << 20));
        for bad in ["", "MiB", "10mb", "1.2.3MB", "10XB", "1e30GiB"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be refused");
        }
    }
}

//! Resolvers shared by every section: durations, sizes, counts, regexes and paths, each
//! checked against its range and recorded as a problem with its key path on failure (the
//! default is used meanwhile, so the other keys are still checked).

use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;

use super::units::{format_duration, parse_duration, parse_size};
use super::Problems;

pub fn duration(
    problems: &mut Problems,
    key: &str,
    value: Option<&str>,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Duration {
    let Some(text) = value else { return default };
    match parse_duration(text) {
        Ok(d) if d < min || d > max => {
            problems.add(
                key,
                format!(
                    "{text:?} is out of range ({} to {})",
                    format_duration(min),
                    format_duration(max)
                ),
            );
            default
        }
        Ok(d) => d,
        Err(e) => {
            problems.add(key, e.to_string());
            default
        }
    }
}

pub fn size(
    problems: &mut Problems,
    key: &str,
    value: Option<&str>,
    default: u64,
    min: u64,
    max: u64,
) -> u64 {
    let Some(text) = value else { return default };
    match parse_size(text) {
        Ok(n) if n < min || n > max => {
            problems.add(key, format!("{text:?} is out of range ({min} to {max} bytes)"));
            default
        }
        Ok(n) => n,
        Err(e) => {
            problems.add(key, e.to_string());
            default
        }
    }
}

/// A whole number in `min..=max`, or the default (with a problem recorded) when out of range.
pub fn count(
    problems: &mut Problems,
    key: &str,
    value: Option<u32>,
    default: usize,
    min: u32,
    max: u32,
) -> usize {
    match value {
        None => default,
        Some(n) if (min..=max).contains(&n) => n as usize,
        Some(n) => {
            problems.add(key, format!("{n} is out of range ({min} to {max})"));
            default
        }
    }
}

pub fn regex(problems: &mut Problems, key: &str, value: Option<&str>, default: &str) -> Regex {
    let pattern = value.unwrap_or(default);
    match Regex::new(pattern) {
        Ok(r) => r,
        Err(e) => {
            problems.add(
                key,
                format!("invalid regex: {}", super::first_line(&e.to_string())),
            );
            Regex::new(default).expect("default regexes are valid")
        }
    }
}

pub fn path(problems: &mut Problems, key: &str, value: Option<&str>, default: &str) -> PathBuf {
    match value {
        None => PathBuf::from(default),
        Some("") => {
            problems.add(key, "must not be empty");
            PathBuf::from(default)
        }
        Some(v) if !Path::new(v).is_absolute() => {
            problems.add(key, format!("{v:?} must be an absolute path"));
            PathBuf::from(default)
        }
        Some(v) => PathBuf::from(v),
    }
}

//! Board profiles: what a gateway model looks like to the agent.
//!
//! A profile names the target triple to build for, where the kernel exposes temperatures, and
//! which I2C buses, GPIO chips, hwmon chips and thermal zones the board is expected to have.
//! The agent checks those at start and reports what is missing (a log line and
//! `outpost_board_device_present`), so "the sensor is not there" is visible centrally instead of
//! showing up as silent gaps. Profiles for the supported boards are compiled in from `boards/`;
//! any other board is described by a file with the same keys.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Problems;

/// The profiles shipped in `boards/`, compiled into the binary.
pub const BUILTIN: &[(&str, &str)] = &[
    ("generic", include_str!("../../boards/generic.toml")),
    ("rpi4", include_str!("../../boards/rpi4.toml")),
    ("rpi4-env", include_str!("../../boards/rpi4-env.toml")),
    ("rpi3", include_str!("../../boards/rpi3.toml")),
    ("rpi-zero2", include_str!("../../boards/rpi-zero2.toml")),
    (
        "beaglebone-black",
        include_str!("../../boards/beaglebone-black.toml"),
    ),
    ("visionfive2", include_str!("../../boards/visionfive2.toml")),
];

const KNOWN_TARGETS: &[&str] = &[
    "x86_64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-gnu",
    "aarch64-unknown-linux-musl",
    "armv7-unknown-linux-gnueabihf",
    "armv7-unknown-linux-musleabihf",
    "riscv64gc-unknown-linux-gnu",
    "riscv64gc-unknown-linux-musl",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBoard {
    name: String,
    description: Option<String>,
    target: Option<String>,
    hwmon_path: Option<String>,
    thermal_path: Option<String>,
    #[serde(default)]
    hwmon_chips: Vec<String>,
    #[serde(default)]
    thermal_zones: Vec<String>,
    #[serde(default)]
    i2c_buses: Vec<String>,
    #[serde(default)]
    gpio_chips: Vec<String>,
    #[serde(default)]
    sensors: Vec<toml::Table>,
}

/// A validated board profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Board {
    pub name: String,
    pub description: String,
    /// The triple to build for; `None` for the generic profile.
    pub target: Option<String>,
    /// Where the profile came from: `builtin` or the file's path.
    pub source: String,
    pub hwmon_path: Option<PathBuf>,
    pub thermal_path: Option<PathBuf>,
    pub hwmon_chips: Vec<String>,
    pub thermal_zones: Vec<String>,
    pub i2c_buses: Vec<PathBuf>,
    pub gpio_chips: Vec<PathBuf>,
    /// The sensors the board carries (`[[sensor]]` in the config overrides them by name).
    pub sensors: Vec<super::sensors::RawSensor>,
}

impl Board {
    /// Which of the devices this profile lists are present right now:
    /// `(kind, device, present)` with kind `i2c`, `gpio`, `hwmon` or `thermal_zone`.
    pub fn check_devices(&self, hwmon_dir: &Path, thermal_dir: &Path) -> Vec<(&'static str, String, bool)> {
        let attrs = |dir: &Path, prefix: &str, attr: &str| -> Vec<String> {
            std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                        .filter_map(|e| std::fs::read_to_string(e.path().join(attr)).ok())
                        .map(|s| s.trim().to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        let chips = attrs(hwmon_dir, "hwmon", "name");
        let zones = attrs(thermal_dir, "thermal_zone", "type");
        let mut out = Vec::new();
        for bus in &self.i2c_buses {
            out.push(("i2c", bus.display().to_string(), bus.exists()));
        }
        for chip in &self.gpio_chips {
            out.push(("gpio", chip.display().to_string(), chip.exists()));
        }
        for chip in &self.hwmon_chips {
            out.push(("hwmon", chip.clone(), chips.contains(chip)));
        }
        for zone in &self.thermal_zones {
            out.push(("thermal_zone", zone.clone(), zones.contains(zone)));
        }
        out
    }
}

/// Resolves `--board` / `[agent] board`: a built-in name, or a path to a profile file.
/// Problems are added under `key` (e.g. `agent.board`).
pub fn resolve(spec: &str, key: &str, problems: &mut Problems) -> Option<Board> {
    let looks_like_path = spec.contains('/') || spec.ends_with(".toml");
    let (text, source) = if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == spec) {
        ((*text).to_string(), "builtin".to_string())
    } else if looks_like_path {
        match std::fs::read_to_string(spec) {
            Ok(t) => (t, spec.to_string()),
            Err(e) => {
                problems.add(key, format!("cannot read board profile {spec:?}: {e}"));
                return None;
            }
        }
    } else {
        let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        problems.add(
            key,
            format!(
                "unknown board {spec:?}; built-in boards are {}, or give a path to a profile file",
                names.join(", ")
            ),
        );
        return None;
    };
    parse(&text, &source, key, problems)
}

fn parse(text: &str, source: &str, key: &str, problems: &mut Problems) -> Option<Board> {
    let de = toml::Deserializer::parse(text);
    let raw: RawBoard = match de {
        Ok(de) => match serde_path_to_error::deserialize(de) {
            Ok(raw) => raw,
            Err(e) => {
                problems.add(
                    &format!("{key} ({source}): {}", e.path()),
                    super::first_line(&e.inner().to_string()),
                );
                return None;
            }
        },
        Err(e) => {
            problems.add(&format!("{key} ({source})"), e.to_string());
            return None;
        }
    };
    let before = problems.len();
    let at = |field: &str| format!("{key} ({source}): {field}");
    if raw.name.trim().is_empty() {
        problems.add(&at("name"), "must not be empty");
    }
    if let Some(target) = &raw.target {
        if !KNOWN_TARGETS.contains(&target.as_str()) {
            problems.add(
                &at("target"),
                format!(
                    "unknown target {target:?}; expected one of {}",
                    KNOWN_TARGETS.join(", ")
                ),
            );
        }
    }
    let abs = |field: &str, v: &Option<String>, problems: &mut Problems| -> Option<PathBuf> {
        let v = v.as_ref()?;
        if !Path::new(v).is_absolute() {
            problems.add(&at(field), format!("{v:?} must be an absolute path"));
        }
        Some(PathBuf::from(v))
    };
    let hwmon_path = abs("hwmon_path", &raw.hwmon_path, problems);
    let thermal_path = abs("thermal_path", &raw.thermal_path, problems);
    for (i, bus) in raw.i2c_buses.iter().enumerate() {
        if !bus.starts_with("/dev/i2c-") {
            problems.add(
                &at(&format!("i2c_buses[{i}]")),
                format!("{bus:?} is not a /dev/i2c-N device"),
            );
        }
    }
    for (i, chip) in raw.gpio_chips.iter().enumerate() {
        if !chip.starts_with("/dev/gpiochip") {
            problems.add(
                &at(&format!("gpio_chips[{i}]")),
                format!("{chip:?} is not a /dev/gpiochipN device"),
            );
        }
    }
    let mut sensors = Vec::new();
    for (i, t) in raw.sensors.into_iter().enumerate() {
        match toml::Value::Table(t).try_into::<super::sensors::RawSensor>() {
            Ok(s) => sensors.push(s),
            Err(e) => problems.add(&at(&format!("sensors[{i}]")), e.message().to_string()),
        }
    }
    if problems.len() != before {
        return None;
    }
    Some(Board {
        name: raw.name,
        description: raw.description.unwrap_or_default(),
        target: raw.target,
        source: source.to_string(),
        hwmon_path,
        thermal_path,
        hwmon_chips: raw.hwmon_chips,
        thermal_zones: raw.thermal_zones,
        i2c_buses: raw.i2c_buses.into_iter().map(PathBuf::from).collect(),
        gpio_chips: raw.gpio_chips.into_iter().map(PathBuf::from).collect(),
        sensors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_profile_validates() {
        for (name, _) in BUILTIN {
            let mut p = Problems::default();
            let board = resolve(name, "agent.board", &mut p);
            assert!(p.is_empty(), "{name}: {p}");
            assert_eq!(board.map(|b| b.name), Some(name.to_string()));
        }
    }

    #[test]
    fn unknown_name_and_bad_file_are_reported() {
        let mut p = Problems::default();
        assert!(resolve("rpi9", "agent.board", &mut p).is_none());
        assert!(p.to_string().contains("unknown board \"rpi9\""), "{p}");

        let dir = std::env::temp_dir().join(format!("outpost-board-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("b.toml");
        std::fs::write(
            &file,
            "name = \"x\"\ntarget = \"sparc-sun-solaris\"\ni2c_buses = [\"/dev/spi0\"]\nhwmon_path = \"rel\"\n",
        )
        .unwrap();
        let mut p = Problems::default();
        assert!(resolve(file.to_str().unwrap(), "agent.board", &mut p).is_none());
        let text = p.to_string();
        assert_eq!(p.len(), 3, "{text}");
        assert!(text.contains("target"), "{text}");
        assert!(text.contains("i2c_buses[0]"), "{text}");
        assert!(text.contains("hwmon_path"), "{text}");

        std::fs::write(
            &file,
            "name = \"x\"\ntarget = \"aarch64-unknown-linux-gnu\"\nfoo = 1\n",
        )
        .unwrap();
        let mut p = Problems::default();
        assert!(resolve(file.to_str().unwrap(), "agent.board", &mut p).is_none());
        assert!(p.to_string().contains("unknown field `foo`"), "{p}");
        std::fs::remove_dir_all(&dir).ok();
    }
}

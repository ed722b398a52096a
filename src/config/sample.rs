//! `[sample]`, resolved: how often the host is sampled, by which collectors, and where procfs
//! and sysfs are (a container may mount the host's elsewhere; tests point them at fixtures).

use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

use super::board::Board;
use super::check::{duration, path, regex};
use super::schema::RawSample;
use super::Problems;

/// node_exporter 1.5's default mount points excluded from the filesystem collector.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// node_exporter 1.5's default filesystem types excluded from the filesystem collector.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";

/// The host collectors, named as node_exporter names its collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collector {
    Cpu,
    Meminfo,
    Filesystem,
    Netdev,
    Loadavg,
    Stat,
    Time,
    Uname,
    Hwmon,
    ThermalZone,
}

impl Collector {
    pub const ALL: [Collector; 10] = [
        Collector::Cpu,
        Collector::Meminfo,
        Collector::Filesystem,
        Collector::Netdev,
        Collector::Loadavg,
        Collector::Stat,
        Collector::Time,
        Collector::Uname,
        Collector::Hwmon,
        Collector::ThermalZone,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Collector::Cpu => "cpu",
            Collector::Meminfo => "meminfo",
            Collector::Filesystem => "filesystem",
            Collector::Netdev => "netdev",
            Collector::Loadavg => "loadavg",
            Collector::Stat => "stat",
            Collector::Time => "time",
            Collector::Uname => "uname",
            Collector::Hwmon => "hwmon",
            Collector::ThermalZone => "thermal_zone",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SampleConfig {
    pub interval: Duration,
    pub collectors: Vec<Collector>,
    pub proc_path: PathBuf,
    pub sys_path: PathBuf,
    /// Device nodes (`[sample] dev_path`): the sensors' buses are found under it.
    pub dev_path: PathBuf,
    pub hwmon_path: PathBuf,
    pub thermal_path: PathBuf,
    pub mount_points_exclude: Regex,
    pub fs_types_exclude: Regex,
    pub statfs_timeout: Duration,
    pub netdev_device_exclude: Option<Regex>,
}

/// Resolves `[sample]`; the board profile may say where hwmon and thermal zones live.
pub fn resolve(p: &mut Problems, s: &RawSample, board: Option<&Board>) -> SampleConfig {
    let interval = duration(
        p,
        "sample.interval",
        s.interval.as_deref(),
        Duration::from_secs(10),
        Duration::from_millis(100),
        Duration::from_secs(86_400),
    );
    let collectors = match &s.collectors {
        None => Collector::ALL.to_vec(),
        Some(names) => {
            let mut out = Vec::new();
            for (i, name) in names.iter().enumerate() {
                match Collector::ALL.iter().find(|c| c.name() == name) {
                    Some(c) if out.contains(c) => p.add(
                        &format!("sample.collectors[{i}]"),
                        format!("{name:?} is listed twice"),
                    ),
                    Some(c) => out.push(*c),
                    None => {
                        let known: Vec<&str> = Collector::ALL.iter().map(|c| c.name()).collect();
                        p.add(
                            &format!("sample.collectors[{i}]"),
                            format!("unknown collector {name:?}; known: {}", known.join(", ")),
                        )
                    }
                }
            }
            out
        }
    };
    let proc_path = path(p, "sample.proc_path", s.proc_path.as_deref(), "/proc");
    let sys_path = path(p, "sample.sys_path", s.sys_path.as_deref(), "/sys");
    let dev_path = path(p, "sample.dev_path", s.dev_path.as_deref(), "/dev");
    let hwmon_path = board
        .and_then(|b| b.hwmon_path.clone())
        .unwrap_or_else(|| sys_path.join("class/hwmon"));
    let thermal_path = board
        .and_then(|b| b.thermal_path.clone())
        .unwrap_or_else(|| sys_path.join("class/thermal"));
    let mount_points_exclude = regex(
        p,
        "sample.filesystem.mount_points_exclude",
        s.filesystem.mount_points_exclude.as_deref(),
        DEFAULT_MOUNT_POINTS_EXCLUDE,
    );
    let fs_types_exclude = regex(
        p,
        "sample.filesystem.fs_types_exclude",
        s.filesystem.fs_types_exclude.as_deref(),
        DEFAULT_FS_TYPES_EXCLUDE,
    );
    let statfs_timeout = duration(
        p,
        "sample.filesystem.statfs_timeout",
        s.filesystem.statfs_timeout.as_deref(),
        Duration::from_secs(5),
        Duration::from_millis(10),
        Duration::from_secs(60),
    );
    let netdev_device_exclude = match s.netdev.device_exclude.as_deref() {
        None | Some("") => None,
        Some(pattern) => Some(regex(p, "sample.netdev.device_exclude", Some(pattern), "^$")),
    };
    SampleConfig {
        interval,
        collectors,
        proc_path,
        sys_path,
        dev_path,
        hwmon_path,
        thermal_path,
        mount_points_exclude,
        fs_types_exclude,
        statfs_timeout,
        netdev_device_exclude,
    }
}

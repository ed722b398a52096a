//! `[sample]`, resolved: how often the host is sampled, by which collectors, and where procfs
//! and sysfs are (a container may mount the host's elsewhere; tests point them at fixtures).

use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

use super::board::Board;
use super::check::{duration, path, regex};
use super::schema::{RawDevices, RawSample};
use super::Problems;

/// node_exporter 1.5's default `--collector.diskstats.device-exclude`: partitions of the
/// common disk types, RAM disks, loop devices and floppies.
pub const DEFAULT_DISKSTATS_EXCLUDE: &str = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";
/// node_exporter 1.5's default `--collector.netstat.fields`.
pub const DEFAULT_NETSTAT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";
/// node_exporter 1.5's default `--collector.vmstat.fields`.
pub const DEFAULT_VMSTAT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";
/// node_exporter 1.5's default mount points excluded from the filesystem collector.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// node_exporter 1.5's default filesystem types excluded from the filesystem collector.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";

/// The host collectors: node_exporter 1.5's default Linux set under node_exporter's names,
/// then outpost's own (`mmc`, `wireless`), in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collector {
    Arp,
    Bcache,
    Bonding,
    Btrfs,
    Conntrack,
    Cpu,
    Cpufreq,
    Diskstats,
    Dmi,
    Edac,
    Entropy,
    Fibrechannel,
    Filefd,
    Filesystem,
    Hwmon,
    Infiniband,
    Ipvs,
    Loadavg,
    Mdadm,
    Meminfo,
    Netclass,
    Netdev,
    Netstat,
    Nfs,
    Nfsd,
    Nvme,
    Os,
    Powersupplyclass,
    Pressure,
    Rapl,
    Schedstat,
    Selinux,
    Sockstat,
    Softnet,
    Stat,
    Tapestats,
    Textfile,
    ThermalZone,
    Time,
    Timex,
    UdpQueues,
    Uname,
    Vmstat,
    Xfs,
    Zfs,
    Mmc,
    Wireless,
}

impl Collector {
    pub const ALL: [Collector; 47] = [
        Collector::Arp,
        Collector::Bcache,
        Collector::Bonding,
        Collector::Btrfs,
        Collector::Conntrack,
        Collector::Cpu,
        Collector::Cpufreq,
        Collector::Diskstats,
        Collector::Dmi,
        Collector::Edac,
        Collector::Entropy,
        Collector::Fibrechannel,
        Collector::Filefd,
        Collector::Filesystem,
        Collector::Hwmon,
        Collector::Infiniband,
        Collector::Ipvs,
        Collector::Loadavg,
        Collector::Mdadm,
        Collector::Meminfo,
        Collector::Netclass,
        Collector::Netdev,
        Collector::Netstat,
        Collector::Nfs,
        Collector::Nfsd,
        Collector::Nvme,
        Collector::Os,
        Collector::Powersupplyclass,
        Collector::Pressure,
        Collector::Rapl,
        Collector::Schedstat,
        Collector::Selinux,
        Collector::Sockstat,
        Collector::Softnet,
        Collector::Stat,
        Collector::Tapestats,
        Collector::Textfile,
        Collector::ThermalZone,
        Collector::Time,
        Collector::Timex,
        Collector::UdpQueues,
        Collector::Uname,
        Collector::Vmstat,
        Collector::Xfs,
        Collector::Zfs,
        Collector::Mmc,
        Collector::Wireless,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Collector::Arp => "arp",
            Collector::Bcache => "bcache",
            Collector::Bonding => "bonding",
            Collector::Btrfs => "btrfs",
            Collector::Conntrack => "conntrack",
            Collector::Cpu => "cpu",
            Collector::Cpufreq => "cpufreq",
            Collector::Diskstats => "diskstats",
            Collector::Dmi => "dmi",
            Collector::Edac => "edac",
            Collector::Entropy => "entropy",
            Collector::Fibrechannel => "fibrechannel",
            Collector::Filefd => "filefd",
            Collector::Filesystem => "filesystem",
            Collector::Hwmon => "hwmon",
            Collector::Infiniband => "infiniband",
            Collector::Ipvs => "ipvs",
            Collector::Loadavg => "loadavg",
            Collector::Mdadm => "mdadm",
            Collector::Meminfo => "meminfo",
            Collector::Netclass => "netclass",
            Collector::Netdev => "netdev",
            Collector::Netstat => "netstat",
            Collector::Nfs => "nfs",
            Collector::Nfsd => "nfsd",
            Collector::Nvme => "nvme",
            Collector::Os => "os",
            Collector::Powersupplyclass => "powersupplyclass",
            Collector::Pressure => "pressure",
            Collector::Rapl => "rapl",
            Collector::Schedstat => "schedstat",
            Collector::Selinux => "selinux",
            Collector::Sockstat => "sockstat",
            Collector::Softnet => "softnet",
            Collector::Stat => "stat",
            Collector::Tapestats => "tapestats",
            Collector::Textfile => "textfile",
            Collector::ThermalZone => "thermal_zone",
            Collector::Time => "time",
            Collector::Timex => "timex",
            Collector::UdpQueues => "udp_queues",
            Collector::Uname => "uname",
            Collector::Vmstat => "vmstat",
            Collector::Xfs => "xfs",
            Collector::Zfs => "zfs",
            Collector::Mmc => "mmc",
            Collector::Wireless => "wireless",
        }
    }
}

/// node_exporter's device filter: a device is left out when it matches `exclude`, or when an
/// `include` is set and it does not match it.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
}

impl DeviceFilter {
    pub fn ignored(&self, name: &str) -> bool {
        self.exclude.as_ref().is_some_and(|r| r.is_match(name))
            || self.include.as_ref().is_some_and(|r| !r.is_match(name))
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
    pub netdev: DeviceFilter,
    /// Root of the host's filesystem (`os-release`).
    pub rootfs_path: PathBuf,
    pub udev_data_path: PathBuf,
    pub diskstats: DeviceFilter,
    pub netclass: DeviceFilter,
    pub netclass_ignore_invalid_speed: bool,
    pub arp: DeviceFilter,
    pub netstat_fields: Regex,
    pub vmstat_fields: Regex,
    /// `[sample.textfile] directory`: `*.prom` files merged into the host metrics.
    pub textfile_directory: Option<PathBuf>,
    /// node_exporter's `--collector.powersupply.ignored-supplies`.
    pub powersupplyclass: DeviceFilter,
    /// node_exporter's `--collector.tapestats.ignored-devices`.
    pub tapestats: DeviceFilter,
}

/// A `[sample.<collector>]` device filter section.
fn devices(p: &mut Problems, key: &str, raw: &RawDevices, default_exclude: Option<&str>) -> DeviceFilter {
    filter(
        p,
        key,
        raw.device_include.as_deref(),
        raw.device_exclude.as_deref(),
        default_exclude,
    )
}

/// A `device_include` / `device_exclude` pair; both set is refused, as node_exporter does.
fn filter(
    p: &mut Problems,
    key: &str,
    include: Option<&str>,
    exclude: Option<&str>,
    default_exclude: Option<&str>,
) -> DeviceFilter {
    let one =
        |p: &mut Problems, which: &str, v: &str| Some(regex(p, &format!("{key}.{which}"), Some(v), "^$"));
    match (include, exclude) {
        (Some(_), Some(_)) => {
            p.add(
                key,
                "device_include and device_exclude exclude each other; set one",
            );
            DeviceFilter::default()
        }
        (Some(i), None) => DeviceFilter {
            include: one(p, "device_include", i),
            exclude: None,
        },
        (None, Some("")) => DeviceFilter::default(),
        (None, Some(e)) => DeviceFilter {
            include: None,
            exclude: one(p, "device_exclude", e),
        },
        (None, None) => DeviceFilter {
            include: None,
            exclude: default_exclude.map(|d| Regex::new(d).expect("default regexes are valid")),
        },
    }
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
    let netdev = devices(p, "sample.netdev", &s.netdev, None);
    let diskstats = devices(
        p,
        "sample.diskstats",
        &s.diskstats,
        Some(DEFAULT_DISKSTATS_EXCLUDE),
    );
    let netclass = filter(
        p,
        "sample.netclass",
        None,
        s.netclass.device_exclude.as_deref(),
        None,
    );
    let arp = devices(p, "sample.arp", &s.arp, None);
    let netstat_fields = regex(
        p,
        "sample.netstat.fields",
        s.netstat.fields.as_deref(),
        DEFAULT_NETSTAT_FIELDS,
    );
    let vmstat_fields = regex(
        p,
        "sample.vmstat.fields",
        s.vmstat.fields.as_deref(),
        DEFAULT_VMSTAT_FIELDS,
    );
    let powersupplyclass = devices(p, "sample.powersupplyclass", &s.powersupplyclass, None);
    let tapestats = devices(p, "sample.tapestats", &s.tapestats, None);
    let textfile_directory = s
        .textfile
        .directory
        .as_deref()
        .map(|d| path(p, "sample.textfile.directory", Some(d), "/"));
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
        netdev,
        rootfs_path: path(p, "sample.rootfs_path", s.rootfs_path.as_deref(), "/"),
        udev_data_path: path(
            p,
            "sample.udev_data_path",
            s.udev_data_path.as_deref(),
            "/run/udev/data",
        ),
        diskstats,
        netclass,
        netclass_ignore_invalid_speed: s.netclass.ignore_invalid_speed.unwrap_or(false),
        arp,
        netstat_fields,
        vmstat_fields,
        textfile_directory,
        powersupplyclass,
        tapestats,
    }
}

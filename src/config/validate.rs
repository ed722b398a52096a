//! Stage two of the configuration: from the file's strings to typed, checked values.
//!
//! Each field is resolved independently and every failure is recorded with its key path, so
//! an operator fixing a config sees all of its problems in one `check-config` run. Defaults
//! live here, next to the checks, so `docs/CONFIG.md` has one place to be true to.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::LevelFilter;
use regex::Regex;

use super::board::{self, Board};
use super::schema::RawConfig;
use super::units::{parse_duration, parse_size};
use super::{ConfigError, Origin, Problems};
use crate::store::BackendKind;

/// node_exporter 1.5's default mount points excluded from the filesystem collector.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// node_exporter 1.5's default filesystem types excluded from the filesystem collector.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";
/// Default address of the local `/metrics` endpoint (loopback only; 9100 is node_exporter's).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9110";

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

/// A configuration that passed validation.
#[derive(Debug, Clone)]
pub struct Config {
    pub origin: Origin,
    /// The local file (or embedded default) this config was built from; remote configs are
    /// applied on top of it.
    pub base: std::sync::Arc<super::Base>,
    pub agent: AgentConfig,
    pub sample: SampleConfig,
    pub metrics: MetricsConfig,
    pub store: StoreConfig,
    pub mqtt: Option<MqttConfig>,
    pub remote_write: Option<super::push::RemoteWriteConfig>,
    pub pushgateway: Option<super::push::PushgatewayConfig>,
    /// `[[scrape]]` jobs (local file only).
    pub scrape: Vec<super::scrape::ScrapeJob>,
}

/// `[mqtt]`, resolved: the uplink to an MQTT broker.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    /// Set for mqtts://.
    pub tls: Option<Tls>,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub keep_alive: Duration,
    pub topic_prefix: String,
    /// 0 or 1.
    pub qos: u8,
    pub max_batch_bytes: usize,
    pub max_batch_records: usize,
    pub max_inflight: usize,
    pub linger: Duration,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// Backlog bytes per second; 0 = unlimited.
    pub backfill_rate: u64,
    pub compression: Compression,
    pub remote_config: bool,
    pub health_window: Duration,
}

impl MqttConfig {
    /// `mqtt://host:port` or `mqtts://host:port`, for messages.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// A checked TLS client setup: the PEM contents (compared to detect changes) and the rustls
/// configuration built from them.
#[derive(Debug, Clone)]
pub struct Tls {
    pub files: crate::sinks::tls::TlsFiles,
    pub client: std::sync::Arc<rustls::ClientConfig>,
}

impl PartialEq for Tls {
    fn eq(&self, other: &Self) -> bool {
        self.files == other.files
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

/// `[store]`, resolved. See the contract in `src/store/mod.rs`.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub backend: BackendKind,
    pub commit_interval: Duration,
    pub commit_bytes: u64,
    pub max_bytes: u64,
    /// Per class, indexed by `Class::index()`: metrics, logs, alerts.
    pub max_age: [Duration; 3],
    pub min_free_disk: u64,
    pub cache_bytes: u64,
    pub quarantine_max_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: BackendKind::Redb,
            commit_interval: Duration::from_secs(1),
            commit_bytes: 256 << 10,
            max_bytes: 512 << 20,
            max_age: [
                Duration::from_secs(7 * 86_400),
                Duration::from_secs(7 * 86_400),
                Duration::from_secs(30 * 86_400),
            ],
            min_free_disk: 128 << 20,
            cache_bytes: 4 << 20,
            quarantine_max_bytes: 256 << 20,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub id: String,
    pub data_dir: PathBuf,
    pub board: Option<Board>,
    pub log_level: LevelFilter,
}

#[derive(Debug, Clone)]
pub struct SampleConfig {
    pub interval: Duration,
    pub collectors: Vec<Collector>,
    pub proc_path: PathBuf,
    pub sys_path: PathBuf,
    pub hwmon_path: PathBuf,
    pub thermal_path: PathBuf,
    pub mount_points_exclude: Regex,
    pub fs_types_exclude: Regex,
    pub statfs_timeout: Duration,
    pub netdev_device_exclude: Option<Regex>,
}

#[derive(Debug, Clone)]
pub struct MetricsConfig {
    pub enabled: bool,
    pub listen: SocketAddr,
    pub max_connections: usize,
    pub request_timeout: Duration,
}

pub(super) fn duration(
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
                    super::units::format_duration(min),
                    super::units::format_duration(max)
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

pub(super) fn size(
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
pub(super) fn count(
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

fn regex(problems: &mut Problems, key: &str, value: Option<&str>, default: &str) -> Regex {
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

fn path(problems: &mut Problems, key: &str, value: Option<&str>, default: &str) -> PathBuf {
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

/// Gateway ids end up in MQTT topics and label values: keep them to a safe alphabet.
fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("must not be empty".into());
    }
    if id.len() > 128 {
        return Err(format!("is {} characters long; at most 128", id.len()));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "{id:?} contains {c:?}; use letters, digits, '-', '_' and '.' (it becomes part of MQTT topics)"
        ));
    }
    Ok(())
}

/// The host name, for the default gateway id.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Default data directory: systemd's `$STATE_DIRECTORY` (first entry) or `./outpost-data`.
fn default_data_dir() -> PathBuf {
    std::env::var_os("STATE_DIRECTORY")
        .and_then(|v| {
            v.to_str()
                .and_then(|s| s.split(':').next())
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("outpost-data"))
}

pub fn validate(raw: RawConfig, origin: Origin, board_override: Option<&str>) -> Result<Config, ConfigError> {
    let mut p = Problems::default();

    // [agent]
    let id = match raw.agent.id {
        Some(id) => {
            if let Err(e) = check_id(&id) {
                p.add("agent.id", e);
            }
            id
        }
        None => {
            // A host name with odd characters must not make the embedded default fail.
            let host: String = hostname()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                        c
                    } else {
                        '_'
                    }
                })
                .take(128)
                .collect();
            host
        }
    };
    let data_dir = match raw.agent.data_dir.as_deref() {
        None => default_data_dir(),
        Some("") => {
            p.add("agent.data_dir", "must not be empty");
            default_data_dir()
        }
        Some(d) => PathBuf::from(d),
    };
    let log_level = match raw.agent.log_level.as_deref().unwrap_or("info") {
        "off" => LevelFilter::Off,
        "error" => LevelFilter::Error,
        "warn" => LevelFilter::Warn,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        other => {
            p.add(
                "agent.log_level",
                format!("unknown level {other:?}; use off, error, warn, info, debug or trace"),
            );
            LevelFilter::Info
        }
    };
    let board = match board_override {
        Some(spec) => board::resolve(spec, "--board", &mut p),
        None => raw
            .agent
            .board
            .as_deref()
            .and_then(|spec| board::resolve(spec, "agent.board", &mut p)),
    };

    // [sample]
    let s = &raw.sample;
    let interval = duration(
        &mut p,
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
    let proc_path = path(&mut p, "sample.proc_path", s.proc_path.as_deref(), "/proc");
    let sys_path = path(&mut p, "sample.sys_path", s.sys_path.as_deref(), "/sys");
    let hwmon_path = board
        .as_ref()
        .and_then(|b| b.hwmon_path.clone())
        .unwrap_or_else(|| sys_path.join("class/hwmon"));
    let thermal_path = board
        .as_ref()
        .and_then(|b| b.thermal_path.clone())
        .unwrap_or_else(|| sys_path.join("class/thermal"));
    let mount_points_exclude = regex(
        &mut p,
        "sample.filesystem.mount_points_exclude",
        s.filesystem.mount_points_exclude.as_deref(),
        DEFAULT_MOUNT_POINTS_EXCLUDE,
    );
    let fs_types_exclude = regex(
        &mut p,
        "sample.filesystem.fs_types_exclude",
        s.filesystem.fs_types_exclude.as_deref(),
        DEFAULT_FS_TYPES_EXCLUDE,
    );
    let statfs_timeout = duration(
        &mut p,
        "sample.filesystem.statfs_timeout",
        s.filesystem.statfs_timeout.as_deref(),
        Duration::from_secs(5),
        Duration::from_millis(10),
        Duration::from_secs(60),
    );
    let netdev_device_exclude = match s.netdev.device_exclude.as_deref() {
        None | Some("") => None,
        Some(pattern) => Some(regex(&mut p, "sample.netdev.device_exclude", Some(pattern), "^$")),
    };

    // [metrics]
    let m = &raw.metrics;
    let listen_text = m.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(a) if a.port() == 0 => {
            p.add(
                "metrics.listen",
                "port 0 is not allowed: give the port to listen on",
            );
            a
        }
        Ok(a) => a,
        Err(_) => {
            let hint = if listen_text
                .rsplit_once(':')
                .is_some_and(|(_, port)| port.parse::<u16>().is_err())
            {
                "the port must be a number from 1 to 65535"
            } else {
                "write an IP address and port, e.g. \"127.0.0.1:9110\" or \"[::1]:9110\""
            };
            p.add(
                "metrics.listen",
                format!("invalid address {listen_text:?}: {hint}"),
            );
            DEFAULT_LISTEN.parse().expect("default listen address is valid")
        }
    };
    let max_connections = count(&mut p, "metrics.max_connections", m.max_connections, 8, 1, 1024);
    let request_timeout = duration(
        &mut p,
        "metrics.request_timeout",
        m.request_timeout.as_deref(),
        Duration::from_secs(5),
        Duration::from_millis(100),
        Duration::from_secs(300),
    );

    // [store]
    let st = &raw.store;
    let d = StoreConfig::default();
    let backend = match st.backend.as_deref() {
        None | Some("redb") => BackendKind::Redb,
        #[cfg(feature = "store-sled")]
        Some("sled") => BackendKind::Sled,
        #[cfg(not(feature = "store-sled"))]
        Some("sled") => {
            p.add(
                "store.backend",
                "this build has no sled backend (build with --features store-sled)",
            );
            BackendKind::Redb
        }
        Some(other) => {
            p.add(
                "store.backend",
                format!("unknown backend {other:?}; use \"redb\" or \"sled\""),
            );
            BackendKind::Redb
        }
    };
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    let age = |p: &mut Problems, key: &str, v: Option<&str>, default: Duration| {
        duration(
            p,
            key,
            v,
            default,
            Duration::from_secs(60),
            Duration::from_secs(10 * 365 * 86_400),
        )
    };
    let store = StoreConfig {
        backend,
        commit_interval: duration(
            &mut p,
            "store.commit_interval",
            st.commit_interval.as_deref(),
            d.commit_interval,
            Duration::from_millis(10),
            Duration::from_secs(3600),
        ),
        commit_bytes: size(
            &mut p,
            "store.commit_bytes",
            st.commit_bytes.as_deref(),
            d.commit_bytes,
            4 * KIB,
            64 * MIB,
        ),
        max_bytes: size(
            &mut p,
            "store.max_bytes",
            st.max_bytes.as_deref(),
            d.max_bytes,
            MIB,
            1 << 50,
        ),
        max_age: [
            age(
                &mut p,
                "store.max_age.metrics",
                st.max_age.metrics.as_deref(),
                d.max_age[0],
            ),
            age(
                &mut p,
                "store.max_age.logs",
                st.max_age.logs.as_deref(),
                d.max_age[1],
            ),
            age(
                &mut p,
                "store.max_age.alerts",
                st.max_age.alerts.as_deref(),
                d.max_age[2],
            ),
        ],
        min_free_disk: size(
            &mut p,
            "store.min_free_disk",
            st.min_free_disk.as_deref(),
            d.min_free_disk,
            0,
            1 << 50,
        ),
        cache_bytes: size(
            &mut p,
            "store.cache_size",
            st.cache_size.as_deref(),
            d.cache_bytes,
            256 * KIB,
            GIB,
        ),
        quarantine_max_bytes: size(
            &mut p,
            "store.quarantine_max_bytes",
            st.quarantine_max_bytes.as_deref(),
            d.quarantine_max_bytes,
            0,
            1 << 50,
        ),
    };

    // [mqtt]
    let mqtt = raw.mqtt.as_ref().and_then(|m| mqtt_config(&mut p, m, &id));
    // [remote_write], [pushgateway]
    let remote_write = raw
        .remote_write
        .as_ref()
        .and_then(|r| super::push::remote_write(&mut p, r, &id));
    let pushgateway = raw
        .pushgateway
        .as_ref()
        .and_then(|r| super::push::pushgateway(&mut p, r, &id));
    // [[scrape]]
    let scrape = super::scrape::validate(&mut p, &raw.scrape, interval);

    if !p.is_empty() {
        return Err(ConfigError::Invalid { origin, problems: p });
    }
    Ok(Config {
        base: std::sync::Arc::new(super::Base {
            doc: serde_json::Value::Object(Default::default()),
            origin: origin.clone(),
            board: board_override.map(str::to_string),
        }),
        origin,
        agent: AgentConfig {
            id,
            data_dir,
            board,
            log_level,
        },
        sample: SampleConfig {
            interval,
            collectors,
            proc_path,
            sys_path,
            hwmon_path,
            thermal_path,
            mount_points_exclude,
            fs_types_exclude,
            statfs_timeout,
            netdev_device_exclude,
        },
        metrics: MetricsConfig {
            enabled: m.enabled.unwrap_or(true),
            listen,
            max_connections,
            request_timeout,
        },
        store,
        mqtt,
        remote_write,
        pushgateway,
        scrape,
    })
}

/// MQTT topic levels may not contain wildcards or be empty.
fn check_topic_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("must not be empty".into());
    }
    if prefix.contains(['+', '#', '\0']) || prefix.starts_with('/') || prefix.ends_with('/') {
        return Err(format!("{prefix:?}: no '+', '#', NUL, or leading/trailing '/'"));
    }
    Ok(())
}

fn mqtt_config(p: &mut Problems, m: &super::schema::RawMqtt, id: &str) -> Option<MqttConfig> {
    let before = p.len();
    let (host, port, tls_wanted) = match m.url.as_deref() {
        None => {
            p.add(
                "mqtt.url",
                "required when [mqtt] is present, e.g. \"mqtt://broker.example:1883\"",
            );
            (String::new(), 0, false)
        }
        Some(url) => match parse_mqtt_url(url) {
            Ok(v) => v,
            Err(e) => {
                p.add("mqtt.url", e);
                (String::new(), 0, false)
            }
        },
    };
    let read_file = |p: &mut Problems, key: &str, f: &Option<String>| -> Option<Vec<u8>> {
        let f = f.as_deref()?;
        match std::fs::read(f) {
            Ok(b) => Some(b),
            Err(e) => {
                p.add(key, format!("cannot read {f:?}: {e}"));
                None
            }
        }
    };
    let ca = read_file(p, "mqtt.ca_file", &m.ca_file);
    let cert = read_file(p, "mqtt.cert_file", &m.cert_file);
    let key = read_file(p, "mqtt.key_file", &m.key_file);
    if m.cert_file.is_some() != m.key_file.is_some() {
        let missing = if m.cert_file.is_some() {
            "mqtt.key_file"
        } else {
            "mqtt.cert_file"
        };
        p.add(missing, "cert_file and key_file go together (mutual TLS)");
    }
    let mut tls = None;
    if !tls_wanted {
        for (key, set) in [
            ("mqtt.ca_file", m.ca_file.is_some()),
            ("mqtt.cert_file", m.cert_file.is_some()),
            ("mqtt.key_file", m.key_file.is_some()),
        ] {
            if set && m.url.is_some() {
                p.add(key, "only used with an mqtts:// url");
            }
        }
    } else if (m.ca_file.is_none() || ca.is_some())
        && m.cert_file.is_some() == cert.is_some()
        && m.key_file.is_some() == key.is_some()
    {
        use crate::sinks::tls::{client_config, TlsFile, TlsFiles};
        let files = TlsFiles {
            ca,
            client: cert.zip(key),
        };
        match client_config(&files) {
            Ok(client) => tls = Some(Tls { files, client }),
            Err((which, e)) => {
                let key = match which {
                    TlsFile::Ca => "mqtt.ca_file",
                    TlsFile::Cert => "mqtt.cert_file",
                    TlsFile::Key => "mqtt.key_file",
                };
                p.add(key, e);
            }
        }
    }
    let client_id = m.client_id.clone().unwrap_or_else(|| format!("outpost-{id}"));
    if client_id.is_empty() || client_id.len() > 128 {
        p.add("mqtt.client_id", "must be 1 to 128 characters");
    }
    let password = match m.password_file.as_deref() {
        None => None,
        Some(f) => match std::fs::read_to_string(f) {
            Ok(s) => Some(s.trim_end_matches(['\n', '\r']).to_string()),
            Err(e) => {
                p.add("mqtt.password_file", format!("cannot read {f:?}: {e}"));
                None
            }
        },
    };
    if m.password_file.is_some() && m.username.is_none() {
        p.add("mqtt.username", "required with password_file");
    }
    let topic_prefix = m.topic_prefix.clone().unwrap_or_else(|| "outpost".into());
    if let Err(e) = check_topic_prefix(&topic_prefix) {
        p.add("mqtt.topic_prefix", e);
    }
    let qos = m.qos.unwrap_or(1);
    if qos > 1 {
        p.add(
            "mqtt.qos",
            format!("{qos}: use 0 (at most once) or 1 (at least once)"),
        );
    }
    let keep_alive = duration(
        p,
        "mqtt.keep_alive",
        m.keep_alive.as_deref(),
        Duration::from_secs(30),
        Duration::from_secs(5),
        Duration::from_secs(3600),
    );
    let max_batch_bytes = size(
        p,
        "mqtt.max_batch_bytes",
        m.max_batch_bytes.as_deref(),
        128 << 10,
        1 << 10,
        64 << 20,
    ) as usize;
    let max_batch_records = count(p, "mqtt.max_batch_records", m.max_batch_records, 500, 1, 100000);
    let max_inflight = count(p, "mqtt.max_inflight", m.max_inflight, 4, 1, 100);
    let linger = duration(
        p,
        "mqtt.linger",
        m.linger.as_deref(),
        Duration::from_millis(500),
        Duration::from_millis(10),
        Duration::from_secs(60),
    );
    let reconnect_min = duration(
        p,
        "mqtt.reconnect_min",
        m.reconnect_min.as_deref(),
        Duration::from_secs(1),
        Duration::from_millis(100),
        Duration::from_secs(60),
    );
    let reconnect_max = duration(
        p,
        "mqtt.reconnect_max",
        m.reconnect_max.as_deref(),
        Duration::from_secs(60),
        Duration::from_secs(1),
        Duration::from_secs(3600),
    );
    if reconnect_max < reconnect_min {
        p.add("mqtt.reconnect_max", "must not be below reconnect_min");
    }
    let backfill_rate = size(
        p,
        "mqtt.backfill_rate",
        m.backfill_rate.as_deref(),
        1 << 20,
        0,
        1 << 40,
    );
    let compression = match m.compression.as_deref() {
        None | Some("none") => Compression::None,
        Some("gzip") => Compression::Gzip,
        Some(other) => {
            p.add("mqtt.compression", format!("{other:?}: use \"none\" or \"gzip\""));
            Compression::None
        }
    };
    let health_window = duration(
        p,
        "mqtt.health_window",
        m.health_window.as_deref(),
        Duration::from_secs(120),
        Duration::from_secs(1),
        Duration::from_secs(86_400),
    );
    if p.len() != before {
        return None;
    }
    Some(MqttConfig {
        host,
        port,
        tls,
        client_id,
        username: m.username.clone(),
        password,
        keep_alive,
        topic_prefix,
        qos,
        max_batch_bytes,
        max_batch_records,
        max_inflight,
        linger,
        reconnect_min,
        reconnect_max,
        backfill_rate,
        compression,
        remote_config: m.remote_config.unwrap_or(true),
        health_window,
    })
}

/// `mqtt://host[:port]` (1883) or `mqtts://host[:port]` (8883); IPv6 hosts in brackets.
/// Returns the host, the port and whether TLS is wanted.
fn parse_mqtt_url(url: &str) -> Result<(String, u16, bool), String> {
    let expected = || format!("{url:?}: expected mqtt://host[:port] or mqtts://host[:port]");
    let (tls, rest) = match url.split_once("://") {
        Some(("mqtt", rest)) => (false, rest),
        Some(("mqtts", rest)) => (true, rest),
        _ => return Err(expected()),
    };
    let default_port = if tls { 8883 } else { 1883 };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') || h.starts_with('[') => match port.parse::<u16>() {
            Ok(n) if n > 0 => (h, n),
            _ => return Err(format!("{url:?}: the port must be a number from 1 to 65535")),
        },
        _ => (rest, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return Err(expected());
    }
    Ok((host.to_string(), port, tls))
}

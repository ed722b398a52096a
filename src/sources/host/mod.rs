//! The host sampler: one cycle reads the kernel's counters and produces a [`Snapshot`] with
//! node_exporter's names, labels, units and types — node_exporter 1.5's whole default Linux
//! collector set and outpost's gateway collectors, one module per family of files
//! (docs/HOST.md).
//!
//! Collectors read `/proc`, `/sys` and `statfs` directly: sysinfo lacks per-mode CPU seconds,
//! the full meminfo field set and inode counts, and node_exporter-equal values need the same
//! sources node_exporter reads. A failing collector is counted and logged once per episode; the
//! others still report (node_exporter's `node_scrape_collector_success` semantics). The sampler
//! is plain blocking code: the runtime runs it on a blocking thread so that no pseudo-file can
//! stall the event loop.

mod bcache;
mod btrfs;
mod cpusys;
mod diskstats;
mod filesystem;
mod gateway;
mod hwmon;
mod infiniband;
mod kernel;
mod loadavg;
mod meminfo;
mod net;
mod netclass;
mod netdev;
mod nfs;
mod platform;
pub mod read;
mod stat;
mod storage;
mod textfile;
mod thermal;
mod timex;
mod uname;
mod xfs;
mod zfs;

use std::collections::HashMap;
use std::time::Instant;

use crate::config::Collector;
use crate::config::SampleConfig;
use crate::model::{Family, MetricKind, Snapshot};
use crate::telemetry::{lock, Report};
use read::{read_into, CollectError};

/// Outcome of one collector in one cycle.
#[derive(Debug, Clone)]
pub struct CollectorResult {
    pub collector: Collector,
    pub seconds: f64,
    pub error: Option<String>,
}

impl CollectorResult {
    /// The host has no data for this collector (no btrfs, no NFS): `node_scrape_collector_success`
    /// 0 as node_exporter reports it, but not a failure to count or warn about.
    pub fn no_data(&self) -> bool {
        self.error
            .as_deref()
            .is_some_and(|e| e.starts_with(read::NO_DATA))
    }
}

/// What one cycle produced.
pub struct Cycle {
    pub snapshot: Snapshot,
    pub results: Vec<CollectorResult>,
    pub seconds: f64,
}

pub struct HostSampler {
    cfg: SampleConfig,
    cpu: stat::Cpu,
    filesystem: filesystem::Filesystem,
    stat_buf: String,
    buf: String,
    /// Collectors currently failing, with the message logged at the start of the episode.
    failing: HashMap<Collector, String>,
    page_size: f64,
    /// `node_dmi_info`, read once: firmware strings change only with a reboot (node_exporter
    /// reads them once too). Twenty sysfs reads saved per cycle.
    dmi: Option<Vec<Family>>,
    netstat_fields: read::Selection,
    vmstat_fields: read::Selection,
    /// Textfile family names already warned about for clashing with the agent's own.
    clashes: std::collections::HashSet<String>,
}

impl HostSampler {
    pub fn new(cfg: &SampleConfig) -> Self {
        HostSampler {
            cpu: stat::Cpu::new(),
            filesystem: filesystem::Filesystem::new(
                &cfg.proc_path,
                cfg.mount_points_exclude.clone(),
                cfg.fs_types_exclude.clone(),
                cfg.statfs_timeout,
            ),
            cfg: cfg.clone(),
            stat_buf: String::new(),
            buf: String::with_capacity(4096),
            failing: HashMap::new(),
            // SAFETY: sysconf only reads a constant of the running kernel.
            page_size: unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as f64,
            dmi: None,
            netstat_fields: read::Selection::new(cfg.netstat_fields.clone()),
            vmstat_fields: read::Selection::new(cfg.vmstat_fields.clone()),
            clashes: Default::default(),
        }
    }

    fn run_one(
        &mut self,
        c: Collector,
        stat_read: &Result<(), String>,
        out: &mut Vec<Family>,
    ) -> Result<(), String> {
        let proc = &self.cfg.proc_path;
        let e = |e: CollectError| e.to_string();
        match c {
            Collector::Cpu => {
                stat_read.clone()?;
                self.cpu
                    .collect(&proc.join("stat"), &self.stat_buf, out)
                    .map_err(e)?;
                cpusys::throttles_and_isolated(&self.cfg.sys_path, out);
                Ok(())
            }
            Collector::Stat => {
                stat_read.clone()?;
                stat::collect_stat(&proc.join("stat"), &self.stat_buf, out).map_err(e)
            }
            Collector::Meminfo => {
                let path = proc.join("meminfo");
                read_into(&path, &mut self.buf).map_err(e)?;
                meminfo::collect(&path, &self.buf, out).map_err(e)
            }
            Collector::Loadavg => {
                let path = proc.join("loadavg");
                read_into(&path, &mut self.buf).map_err(e)?;
                loadavg::collect(&path, &self.buf, out).map_err(e)
            }
            Collector::Netdev => {
                let path = proc.join("net/dev");
                read_into(&path, &mut self.buf).map_err(e)?;
                netdev::collect(&path, &self.buf, &self.cfg.sys_path, &self.cfg.netdev, out).map_err(e)
            }
            Collector::Filesystem => self.filesystem.collect(out).map_err(e),
            Collector::Time => {
                uname::collect_time(&self.cfg.sys_path, out);
                Ok(())
            }
            Collector::Uname => uname::collect_uname(out).map_err(|err| format!("uname: {err}")),
            Collector::Hwmon => hwmon::collect(&self.cfg.hwmon_path, out).map_err(e),
            Collector::ThermalZone => {
                thermal::collect(&self.cfg.thermal_path, out).map_err(e)?;
                cpusys::cooling_devices(&self.cfg.thermal_path, out);
                Ok(())
            }
            Collector::Diskstats => {
                diskstats::collect(proc, &self.cfg.udev_data_path, &self.cfg.diskstats, out).map_err(e)
            }
            Collector::Netclass => netclass::collect(
                &self.cfg.sys_path,
                &self.cfg.netclass,
                self.cfg.netclass_ignore_invalid_speed,
                out,
            )
            .map_err(e),
            Collector::Os => platform::os(&self.cfg.rootfs_path, out).map_err(e),
            Collector::Dmi => {
                if self.dmi.is_none() {
                    let mut v = Vec::new();
                    platform::dmi(&self.cfg.sys_path, &mut v).map_err(e)?;
                    self.dmi = Some(v);
                }
                out.extend(self.dmi.iter().flatten().cloned());
                Ok(())
            }
            Collector::Edac => platform::edac(&self.cfg.sys_path, out).map_err(e),
            Collector::Rapl => platform::rapl(&self.cfg.sys_path, out).map_err(e),
            Collector::Powersupplyclass => {
                platform::power_supply(&self.cfg.sys_path, &self.cfg.powersupplyclass, out).map_err(e)
            }
            Collector::Textfile => {
                textfile::collect(self.cfg.textfile_directory.as_deref(), out);
                Ok(())
            }
            Collector::Timex => timex::collect(proc, out).map_err(e),
            Collector::Mmc => gateway::mmc(&self.cfg.sys_path, out).map_err(e),
            Collector::Wireless => gateway::wireless(proc, out).map_err(e),
            Collector::Mdadm => storage::mdadm(proc, out).map_err(e),
            Collector::Nvme => storage::nvme(&self.cfg.sys_path, out).map_err(e),
            Collector::Tapestats => {
                storage::tapestats(&self.cfg.sys_path, &self.cfg.tapestats, out).map_err(e)
            }
            Collector::Fibrechannel => storage::fibrechannel(&self.cfg.sys_path, out).map_err(e),
            Collector::Bonding => net::bonding(&self.cfg.sys_path, out).map_err(e),
            Collector::Ipvs => net::ipvs(proc, out).map_err(e),
            Collector::Nfs => nfs::nfs(proc, out).map_err(e),
            Collector::Nfsd => nfs::nfsd(proc, out).map_err(e),
            Collector::Xfs => xfs::collect(&self.cfg.sys_path, out).map_err(e),
            Collector::Zfs => zfs::collect(proc, out).map_err(e),
            Collector::Infiniband => infiniband::collect(&self.cfg.sys_path, out).map_err(e),
            Collector::Bcache => bcache::collect(&self.cfg.sys_path, out).map_err(e),
            Collector::Btrfs => btrfs::collect(&self.cfg.sys_path, out).map_err(e),
            Collector::Cpufreq => cpusys::cpufreq(&self.cfg.sys_path, out).map_err(e),
            Collector::Entropy => kernel::entropy(proc, out).map_err(e),
            Collector::Filefd => kernel::filefd(proc, out).map_err(e),
            Collector::Pressure => kernel::pressure(proc, out).map_err(e),
            Collector::Vmstat => kernel::vmstat(proc, &mut self.vmstat_fields, out).map_err(e),
            Collector::Schedstat => kernel::schedstat(proc, out).map_err(e),
            Collector::Selinux => kernel::selinux(&self.cfg.sys_path, &self.cfg.rootfs_path, out).map_err(e),
            Collector::Sockstat => net::sockstat(proc, self.page_size, out).map_err(e),
            Collector::Softnet => net::softnet(proc, out).map_err(e),
            Collector::Netstat => net::netstat(proc, &mut self.netstat_fields, out).map_err(e),
            Collector::Arp => net::arp(proc, &self.cfg.arp, out).map_err(e),
            Collector::UdpQueues => net::udp_queues(proc, out).map_err(e),
            Collector::Conntrack => net::conntrack(proc, out).map_err(e),
        }
    }

    /// Runs every configured collector once.
    pub fn sample(&mut self) -> Cycle {
        let started = Instant::now();
        let timestamp_ms = crate::model::now_ms();
        let needs_stat = self
            .cfg
            .collectors
            .iter()
            .any(|c| matches!(c, Collector::Cpu | Collector::Stat));
        let stat_read = if needs_stat {
            read_into(&self.cfg.proc_path.join("stat"), &mut self.stat_buf).map_err(|e| e.to_string())
        } else {
            Ok(())
        };
        let mut families = Vec::with_capacity(512);
        let mut results = Vec::with_capacity(self.cfg.collectors.len());
        // The textfiles' families join last, so that one whose name a collector (or the agent)
        // already uses can be left out instead of exposed twice.
        let mut textfile = Vec::new();
        for i in 0..self.cfg.collectors.len() {
            let c = self.cfg.collectors[i];
            let t = Instant::now();
            let out = if c == Collector::Textfile {
                &mut textfile
            } else {
                &mut families
            };
            let mark = out.len();
            let outcome = self.run_one(c, &stat_read, out);
            if outcome.is_err() {
                out.truncate(mark); // never publish half a collector
            }
            match &outcome {
                Err(msg) => {
                    if self.failing.get(&c) != Some(msg) {
                        // A host without the collector's files: node_exporter logs that at
                        // debug level too.
                        if msg.starts_with(read::NO_DATA) {
                            // (CollectorResult::no_data says the same for the counters.)
                            log::debug!("collector {}: {msg}", c.name());
                        } else {
                            log::warn!("collector {} failed: {msg}", c.name());
                        }
                        self.failing.insert(c, msg.clone());
                    }
                }
                Ok(()) => {
                    if self.failing.remove(&c).is_some() {
                        log::info!("collector {} recovered", c.name());
                    }
                }
            }
            results.push(CollectorResult {
                collector: c,
                seconds: t.elapsed().as_secs_f64(),
                error: outcome.err(),
            });
        }
        // Without a directory the textfile collector reports only its own two families.
        if textfile.iter().any(|f| !f.name.starts_with("node_textfile_")) {
            let keep: Vec<bool> = {
                let taken: std::collections::HashSet<&str> =
                    families.iter().map(|f| f.name.as_str()).collect();
                textfile
                    .iter()
                    .map(|f| {
                        let reserved =
                            f.name.starts_with("outpost_") || f.name.starts_with("node_scrape_collector_");
                        !(reserved || taken.contains(f.name.as_str()))
                    })
                    .collect()
            };
            for (f, keep) in textfile.iter().zip(&keep) {
                if !keep && self.clashes.insert(f.name.clone()) {
                    log::warn!(
                        "textfile: {} is already reported by outpost; the textfile's series are left out",
                        f.name
                    );
                }
            }
            families.extend(textfile.into_iter().zip(keep).filter_map(|(f, k)| k.then_some(f)));
        } else {
            families.append(&mut textfile);
        }
        Cycle {
            snapshot: Snapshot {
                timestamp_ms,
                families,
            },
            results,
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}

/// node_exporter's per-collector self metrics, for rules that watch collector health.
pub fn collector_families(results: &[CollectorResult]) -> [Family; 2] {
    let mut duration = Family::new(
        "node_scrape_collector_duration_seconds",
        "node_exporter: Duration of a collector scrape.",
        MetricKind::Gauge,
    );
    let mut success = Family::new(
        "node_scrape_collector_success",
        "node_exporter: Whether a collector succeeded.",
        MetricKind::Gauge,
    );
    for r in results {
        let labels = vec![("collector", r.collector.name().to_string())];
        duration.push(labels.clone(), r.seconds);
        success.push(labels, if r.error.is_none() { 1.0 } else { 0.0 });
    }
    [duration, success]
}

#[derive(Default)]
struct Counts {
    cycles: u64,
    overruns: u64,
    last_cycle_seconds: f64,
    last_results: Vec<CollectorResult>,
    errors: HashMap<&'static str, u64>,
}

/// The sampler's own metrics: `outpost_sample_*` and node_exporter's
/// `node_scrape_collector_*` for the last cycle.
#[derive(Default)]
pub struct HostStats(std::sync::Mutex<Counts>);

impl HostStats {
    /// Records a finished cycle.
    pub fn cycle_done(&self, seconds: f64, results: Vec<CollectorResult>) {
        let mut c = lock(&self.0);
        c.cycles += 1;
        c.last_cycle_seconds = seconds;
        for r in &results {
            if r.error.is_some() && !r.no_data() {
                *c.errors.entry(r.collector.name()).or_default() += 1;
            }
        }
        c.last_results = results;
    }

    /// A tick found the previous cycle still running and was skipped.
    pub fn overrun(&self) {
        lock(&self.0).overruns += 1;
    }
}

impl Report for HostStats {
    fn report(&self, out: &mut Vec<Family>) {
        let c = lock(&self.0);
        out.push(Family::single(
            "outpost_sample_duration_seconds",
            "Wall time of the last host sampling cycle in seconds.",
            MetricKind::Gauge,
            c.last_cycle_seconds,
        ));
        out.push(Family::single(
            "outpost_sample_cycles_total",
            "Host sampling cycles completed.",
            MetricKind::Counter,
            c.cycles as f64,
        ));
        out.push(Family::single(
            "outpost_sample_overruns_total",
            "Sampling ticks skipped because the previous cycle was still running.",
            MetricKind::Counter,
            c.overruns as f64,
        ));
        let mut errors = Family::new(
            "outpost_sample_errors_total",
            "Host collector failures by collector (a host without the collector's files is not a failure).",
            MetricKind::Counter,
        );
        for r in &c.last_results {
            let n = c.errors.get(r.collector.name()).copied().unwrap_or(0);
            errors.push(vec![("collector", r.collector.name().to_string())], n as f64);
        }
        out.push(errors);
        out.extend(collector_families(&c.last_results));
    }
}

//! Runtime wiring: the tasks of a running agent on one current-thread tokio runtime.
//!
//! ```text
//!  interval tick ──> host sampler (blocking pool, sampling.rs) ──> store, telemetry
//!  /metrics server (async, bounded) <── telemetry (latest exposition + registered families)
//!  store thread ──> sinks, one task per config section (tasks.rs): mqtt, remote_write
//!  latest exposition ──> pushgateway (every interval; no store)
//!  [[scrape]] targets ──> one thread each (GET, parse, label) ──> store thread
//!  config topic ──> control (validate, decide) ──> replace the changed sections' tasks
//!  watchdog tick ──> WATCHDOG=1, only while sampling makes progress
//!  SIGTERM/SIGINT ──> STOPPING=1, stop every task against one deadline, final commit
//! ```
//! Each component has one [`Stop`] and the runtime one shutdown deadline
//! ([`SHUTDOWN`] from the signal): tasks are stopped together, then the store makes its final
//! commit with what is left of it (at least [`STORE_MIN`]).

mod sampling;
pub mod systemd;
pub mod tasks;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::time::{interval, MissedTickBehavior};

use self::sampling::Sampler;
use self::systemd::Notifier;
use self::tasks::{Context, Task, Tasks};
use crate::config::Config;
use crate::control::{Action, Applied, ConfigStats, Control};
use crate::model::pushtext::Latest;
use crate::model::uplink::Link;
use crate::model::{Family, MetricKind};
use crate::shutdown::Stop;
use crate::sinks::mqtt::{report_link, Links};
use crate::store::datadir::{DataDir, DataDirError};
use crate::store::StoreThread;
use crate::telemetry::{http, Report, Telemetry};
use crate::{TARGET, VERSION};

/// From SIGTERM/SIGINT to exit: every task and the store's final commit within this.
pub const SHUTDOWN: Duration = Duration::from_millis(1500);
/// The store's final commit gets at least this, whatever the tasks took.
pub const STORE_MIN: Duration = Duration::from_millis(300);
/// How long a task replaced by a remote config gets to stop.
const REPLACE: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub enum RunError {
    DataDir(DataDirError),
    Listen { addr: String, source: std::io::Error },
    Runtime(std::io::Error),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::DataDir(e) => write!(f, "{e}"),
            RunError::Listen { addr, source } => write!(
                f,
                "cannot serve metrics on {addr}: {source} (change [metrics] listen, or set [metrics] enabled = false)"
            ),
            RunError::Runtime(e) => write!(f, "cannot start the runtime: {e}"),
        }
    }
}

impl std::error::Error for RunError {}

/// `outpost_board_device_present`: the board profile's devices found at start.
struct BoardDevices(Vec<(&'static str, String, bool)>);

impl Report for BoardDevices {
    fn report(&self, out: &mut Vec<Family>) {
        let mut devices = Family::new(
            "outpost_board_device_present",
            "Whether a device the board profile lists is present (1) or missing (0).",
            MetricKind::Gauge,
        );
        for (kind, dev, present) in &self.0 {
            devices.push(
                vec![("device", dev.clone()), ("kind", (*kind).to_string())],
                if *present { 1.0 } else { 0.0 },
            );
        }
        out.push(devices);
    }
}

/// Runs the agent until SIGTERM or SIGINT.
pub fn run(cfg: Config) -> Result<(), RunError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("outpost")
        .max_blocking_threads(4)
        .build()
        .map_err(RunError::Runtime)?;
    let result = rt.block_on(agent(cfg));
    // A sampling cycle or request still in flight is abandoned, not awaited: its data is
    // not acknowledged and goes again after the restart.
    rt.shutdown_timeout(Duration::from_millis(100));
    result
}

async fn agent(cfg: Config) -> Result<(), RunError> {
    // Another agent on the same directory is fatal; a directory that cannot be written (yet) is
    // not: the agent samples and serves, and the store keeps retrying.
    let data = match DataDir::open(&cfg.agent.data_dir) {
        Ok(d) => Some(d),
        Err(e @ DataDirError::InUse { .. }) => return Err(RunError::DataDir(e)),
        Err(e) => {
            log::error!("{e}; running without a store until the directory is writable");
            None
        }
    };
    let data_path = data
        .as_ref()
        .map(|d| d.path().to_path_buf())
        .unwrap_or_else(|| cfg.agent.data_dir.clone());
    log::info!(
        "outpost {VERSION} ({TARGET}) starting: gateway id {:?}, config from {}",
        cfg.agent.id,
        cfg.origin
    );
    log::info!("storing data under {}", data_path.display());
    let telemetry = Telemetry::new();
    let config_stats = ConfigStats::register(&telemetry);

    // Remote config: the last known good is used from the start, before any broker answers.
    let (status_tx, status_rx) = watch::channel(None);
    let (incoming_tx, mut incoming_rx) = watch::channel(None);
    let (link_tx, mut link_rx) = watch::channel(Link::default());
    let remote = cfg.mqtt.as_ref().is_some_and(|m| m.remote_config);
    let (mut control, mut current) = if remote {
        let (c, a) = Control::start(cfg, data_path.clone(), status_tx, Arc::clone(&config_stats));
        (Some(c), a)
    } else {
        (None, Applied::from_file(cfg))
    };
    if current.version() != 0 {
        log::set_max_level(current.cfg.agent.log_level);
    }

    let store =
        StoreThread::spawn(data_path.clone(), current.cfg.store.clone(), data).map_err(RunError::Runtime)?;
    {
        let st = &current.cfg.store;
        log::info!(
            "store: {} in {}, commit every {} or {} KiB, at most {} MiB",
            st.backend.name(),
            data_path.join(st.backend.file_name()).display(),
            crate::config::units::format_duration(st.commit_interval),
            st.commit_bytes / 1024,
            st.max_bytes >> 20
        );
    }
    let store_handle = store.handle();
    let mut sampler = Sampler::new(&current.cfg.sample, &telemetry, &store_handle);
    if let Some(board) = &current.cfg.agent.board {
        log::info!(
            "board profile {} ({}, {})",
            board.name,
            board.description,
            board.source
        );
        let devices = board.check_devices(&current.cfg.sample.hwmon_path, &current.cfg.sample.thermal_path);
        for (kind, dev, present) in &devices {
            if !present {
                log::warn!("board {}: {kind} device {dev} is missing", board.name);
            }
        }
        telemetry.register_report("board", Arc::new(BoardDevices(devices)));
    }
    report_link(&telemetry, link_rx.clone());
    telemetry.register_report("store", Arc::new(store.handle()));

    let mut server = None;
    let metrics = current.cfg.metrics.clone();
    if metrics.enabled {
        let listener = TcpListener::bind(metrics.listen)
            .await
            .map_err(|source| RunError::Listen {
                addr: metrics.listen.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(RunError::Runtime)?;
        if !addr.ip().is_loopback() {
            log::warn!("metrics endpoint listens on {addr}, which is reachable from other hosts");
        }
        log::info!("serving metrics on http://{addr}/metrics");
        let s = http::Server {
            listener,
            telemetry: Arc::clone(&telemetry),
            max_connections: metrics.max_connections,
            request_timeout: metrics.request_timeout,
        };
        server = Some(Task::spawn("metrics endpoint", |stop: Stop| s.run(stop)));
    } else {
        log::info!("metrics endpoint disabled");
    }

    let ctx = Context {
        store: store_handle.clone(),
        telemetry: Arc::clone(&telemetry),
        scraped: Arc::new(Latest::default()),
        links: Links {
            link: Arc::new(link_tx),
            incoming: Arc::new(incoming_tx),
            config_status: status_rx,
        },
        stdin_done: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        inspect: Default::default(),
        data_dir: data_path.clone(),
        alert_gate: Default::default(),
    };
    let mut tasks = Tasks::start(&current.cfg, &ctx);

    let mut sigterm = signal(SignalKind::terminate()).map_err(RunError::Runtime)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(RunError::Runtime)?;
    let notifier = Notifier::from_env();
    let watchdog_every = notifier
        .watchdog_period()
        .map(|p| p / 2)
        .unwrap_or(Duration::from_secs(3600));
    // Sampling that has made no progress for this long means the agent is stuck: stop feeding
    // the watchdog and let systemd restart us.
    let stall_limit = |cfg: &Config| (cfg.sample.interval * 3).max(Duration::from_secs(30));

    log::info!(
        "sampling {} host collectors every {}",
        current.cfg.sample.collectors.len(),
        crate::config::units::format_duration(current.cfg.sample.interval)
    );
    let mut tick = interval(current.cfg.sample.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut watchdog_tick = interval(watchdog_every);
    watchdog_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_progress = Instant::now();
    let mut ready = false;
    let mut stall_warned = false;
    let mut stdin_tick = interval(Duration::from_millis(100));
    let mut stdin_ended = false;

    loop {
        // A switch to another config: from a remote message, or a rollback.
        let mut switch_to: Option<(Applied, bool)> = None;
        let health_deadline = control.as_ref().and_then(|c| c.deadline());
        tokio::select! {
            _ = tick.tick() => sampler.tick(),
            done = sampler.finished(), if sampler.is_running() => {
                if let Some(done) = done {
                    last_progress = Instant::now();
                    stall_warned = false;
                    if !ready {
                        ready = true;
                        log::info!("first sample: {} metric families in {:.1} ms", done.families, done.seconds * 1e3);
                        notifier.ready("sampling and serving");
                    }
                }
            },
            _ = watchdog_tick.tick(), if ready => {
                if last_progress.elapsed() < stall_limit(&current.cfg) {
                    notifier.watchdog();
                } else if !stall_warned {
                    stall_warned = true;
                    log::error!(
                        "no sampling progress for {:?}; withholding the watchdog so systemd restarts the agent",
                        last_progress.elapsed()
                    );
                }
            },
            changed = incoming_rx.changed(), if control.is_some() => {
                if changed.is_ok() {
                    let msg = incoming_rx.borrow_and_update().clone();
                    if let (Some(msg), Some(c)) = (msg, control.as_mut()) {
                        if let Action::Switch(next) = c.on_message(msg, &current) {
                            switch_to = Some((*next, false));
                        }
                    }
                }
            },
            changed = link_rx.changed(), if control.is_some() => {
                if changed.is_ok() {
                    let connections = link_rx.borrow_and_update().connections;
                    if let Some(c) = control.as_mut() {
                        c.on_link(connections, &current);
                    }
                }
            },
            _ = async { tokio::time::sleep_until(health_deadline.expect("guarded")).await }, if health_deadline.is_some() => {
                let last_error = link_rx.borrow().last_error.clone();
                if let Some(back) = control.as_mut().and_then(|c| c.rollback(last_error)) {
                    switch_to = Some((back, true));
                }
            },
            _ = stdin_tick.tick(), if current.cfg.logs.has_stdin() => {
                if ctx.stdin_done.load(std::sync::atomic::Ordering::SeqCst) {
                    stdin_ended = true;
                    break;
                }
            },
            _ = sigterm.recv() => { log::info!("SIGTERM received, stopping"); break; }
            _ = sigint.recv() => { log::info!("SIGINT received, stopping"); break; }
        }

        if let Some((next, rollback)) = switch_to {
            // Everything the new config needs was built and checked by validation; switching
            // cannot fail half-way. The sampler and the store take their sections in place;
            // every other section's task is replaced when its section changed.
            if next.changed(&current, "sample") {
                if next.cfg.sample.interval != current.cfg.sample.interval {
                    tick = interval(next.cfg.sample.interval);
                    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
                    tick.reset();
                }
                sampler.reconfigure(&next.cfg.sample);
            }
            if next.changed(&current, "store") {
                if let Err(e) = store_handle.reconfigure(next.cfg.store.clone()).await {
                    log::warn!("store: {e}");
                }
            }
            log::set_max_level(next.cfg.agent.log_level);
            let connections_before = link_rx.borrow().connections;
            let deadline = tokio::time::Instant::now() + REPLACE;
            let replaced = tasks.switch(&current, &next, &ctx, deadline).await;
            let uplink_changed = replaced.contains(&"mqtt");
            log::info!(
                "now running {}: sampling every {}",
                next.cfg.origin,
                crate::config::units::format_duration(next.cfg.sample.interval)
            );
            current = next;
            if !rollback {
                if let Some(c) = control.as_mut() {
                    c.switched(&current, uplink_changed.then_some(connections_before));
                }
            }
        }
    }

    let undelivered = if stdin_ended {
        drain(&store_handle, current.cfg.logs.drain_timeout).await
    } else {
        None
    };

    // One deadline for everything: tasks stop together, the store commits last.
    let deadline = Instant::now() + SHUTDOWN;
    notifier.stopping();
    let task_deadline = tokio::time::Instant::from_std(deadline - STORE_MIN);
    if let Some(s) = server {
        s.stop(task_deadline).await;
    }
    tasks.stop_all(task_deadline).await;
    let store_deadline = deadline.max(Instant::now() + STORE_MIN);
    match tokio::task::spawn_blocking(move || store.shutdown(store_deadline)).await {
        Ok(true) => {}
        _ => log::warn!("store did not finish its final commit in time"),
    }
    match undelivered {
        Some(0) => log::info!("stopped at the end of stdin: everything read was delivered"),
        Some(n) => log::warn!(
            "stopped at the end of stdin: {n} stored records not delivered yet; they stay in the store for the next start"
        ),
        None => log::info!("stopped"),
    }
    Ok(())
}

/// After the stdin source's end of input (everything read is durable): waits until every sink
/// that reads logs has acknowledged all of it, or `timeout`. Returns how many records are still
/// undelivered (an upper bound: a partly delivered chunk counts whole).
async fn drain(store: &crate::store::StoreHandle, timeout: Duration) -> Option<u64> {
    let target = store.durable_seq();
    log::info!(
        "end of stdin: everything read is stored; the sinks get up to {} to deliver it (logs.drain_timeout)",
        crate::config::units::format_duration(timeout)
    );
    let until = Instant::now() + timeout;
    loop {
        let stats = store.stats();
        let logs = crate::store::Class::Logs.index();
        let behind: Vec<(String, u64)> = stats
            .sinks
            .iter()
            .filter(|(_, b)| b.classes[logs] && b.acked < target)
            .map(|(n, b)| (n.clone(), b.records))
            .collect();
        if !stats.sinks.values().any(|b| b.classes[logs]) {
            log::info!("no sink reads logs: what was read stays in the store");
            return None;
        }
        if behind.is_empty() {
            return Some(0);
        }
        if Instant::now() >= until {
            for (name, n) in &behind {
                log::warn!("{name}: {n} records not delivered by the drain deadline");
            }
            return Some(behind.iter().map(|(_, n)| *n).sum::<u64>().max(1));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

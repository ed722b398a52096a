//! Runtime wiring: the tasks of a running agent on one current-thread tokio runtime.
//!
//! ```text
//!  interval tick ──> host sampler (blocking thread) ──> telemetry (latest exposition)
//!                                                           │
//!  /metrics server (async, bounded) <───────────────────────┘
//!  watchdog tick ──> WATCHDOG=1, only while sampling makes progress
//!  SIGTERM/SIGINT ──> STOPPING=1, stop serving, exit within 2 s
//! ```
//! The sampler runs on tokio's blocking pool, so reading pseudo-files never stalls the event
//! loop, and at most one cycle is in flight: a tick that finds the previous cycle still running
//! is counted as an overrun and skipped, never queued.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{interval, MissedTickBehavior};

use crate::config::Config;
use crate::datadir::{DataDir, DataDirError};
use crate::model::{stored, text};
use crate::sources::host::{Cycle, HostSampler};
use crate::store::{Class, StoreThread};
use crate::systemd::Notifier;
use crate::telemetry::{http, Telemetry, TARGET, VERSION};

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

/// Runs the agent until SIGTERM or SIGINT.
pub fn run(cfg: Config) -> Result<(), RunError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("outpost")
        .max_blocking_threads(4)
        .build()
        .map_err(RunError::Runtime)?;
    let result = rt.block_on(agent(cfg));
    // A sampling cycle still in flight is abandoned, not awaited: shutdown stays fast.
    rt.shutdown_timeout(Duration::from_millis(300));
    result
}

/// A finished cycle: the sampler back, its results, the rendered exposition and the snapshot
/// encoded for the store (both produced on the blocking thread).
type CycleJob = JoinHandle<(HostSampler, Cycle, String, Vec<u8>)>;

fn start_cycle(mut sampler: HostSampler) -> CycleJob {
    tokio::task::spawn_blocking(move || {
        let cycle = sampler.sample();
        let mut exposition = String::with_capacity(64 * 1024);
        text::encode(&cycle.snapshot.families, &mut exposition);
        let record = stored::encode_snapshot(&cycle.snapshot);
        (sampler, cycle, exposition, record)
    })
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
    let store = StoreThread::spawn(data_path.clone(), cfg.store.clone(), data).map_err(RunError::Runtime)?;
    log::info!(
        "store: {} in {}, commit every {} or {} KiB, at most {} MiB",
        cfg.store.backend.name(),
        data_path.join(cfg.store.backend.file_name()).display(),
        crate::config::units::format_duration(cfg.store.commit_interval),
        cfg.store.commit_bytes / 1024,
        cfg.store.max_bytes >> 20
    );
    let store_handle = store.handle();
    let telemetry = Telemetry::new();
    telemetry.set_store(store.handle());
    if let Some(board) = &cfg.agent.board {
        log::info!(
            "board profile {} ({}, {})",
            board.name,
            board.description,
            board.source
        );
        let devices = board.check_devices(&cfg.sample.hwmon_path, &cfg.sample.thermal_path);
        for (kind, dev, present) in &devices {
            if !present {
                log::warn!("board {}: {kind} device {dev} is missing", board.name);
            }
        }
        telemetry.set_board_devices(devices);
    }

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut server_task = None;
    if cfg.metrics.enabled {
        let listener = TcpListener::bind(cfg.metrics.listen)
            .await
            .map_err(|source| RunError::Listen {
                addr: cfg.metrics.listen.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(RunError::Runtime)?;
        if !addr.ip().is_loopback() {
            log::warn!("metrics endpoint listens on {addr}, which is reachable from other hosts");
        }
        log::info!("serving metrics on http://{addr}/metrics");
        let server = http::Server {
            listener,
            telemetry: Arc::clone(&telemetry),
            max_connections: cfg.metrics.max_connections,
            request_timeout: cfg.metrics.request_timeout,
        };
        server_task = Some(tokio::spawn(server.run(shutdown_rx.clone())));
    } else {
        log::info!("metrics endpoint disabled");
    }

    let mut mqtt_task = None;
    if let Some(mqtt) = &cfg.mqtt {
        log::info!(
            "mqtt: forwarding to {}:{} under {}/{}/",
            mqtt.host,
            mqtt.port,
            mqtt.topic_prefix,
            cfg.agent.id
        );
        let sink = crate::sinks::mqtt::MqttSink {
            cfg: mqtt.clone(),
            gateway: cfg.agent.id.clone(),
            store: store.handle(),
        };
        mqtt_task = Some(tokio::spawn(sink.run(shutdown_rx.clone())));
    }

    let mut sigterm = signal(SignalKind::terminate()).map_err(RunError::Runtime)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(RunError::Runtime)?;
    let notifier = Notifier::from_env();
    let watchdog_every = notifier
        .watchdog_period()
        .map(|p| p / 2)
        .unwrap_or(Duration::from_secs(3600));
    // Sampling that has made no progress for this long means the agent is stuck: stop feeding
    // the watchdog and let systemd restart us.
    let stall_limit = (cfg.sample.interval * 3).max(Duration::from_secs(30));

    log::info!(
        "sampling {} host collectors every {}",
        cfg.sample.collectors.len(),
        crate::config::units::format_duration(cfg.sample.interval)
    );
    let mut sampler = Some(HostSampler::new(&cfg.sample));
    let mut running: Option<CycleJob> = None;
    let mut tick = interval(cfg.sample.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut watchdog_tick = interval(watchdog_every);
    watchdog_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_progress = Instant::now();
    let mut ready = false;
    let mut stall_warned = false;

    loop {
        tokio::select! {
            _ = tick.tick() => match sampler.take() {
                Some(s) => running = Some(start_cycle(s)),
                None => {
                    telemetry.overrun();
                    log::debug!("sampling tick skipped: previous cycle still running");
                }
            },
            joined = async { running.as_mut().expect("guarded by is_some").await }, if running.is_some() => {
                running = None;
                match joined {
                    Ok((s, cycle, exposition, record)) => {
                        sampler = Some(s);
                        store_handle.append(Class::Metrics, cycle.snapshot.timestamp_ms, record);
                        last_progress = Instant::now();
                        stall_warned = false;
                        let families = cycle.snapshot.families.len();
                        let seconds = cycle.seconds;
                        telemetry.cycle_done(cycle.seconds, cycle.results, exposition);
                        if !ready {
                            ready = true;
                            log::info!("first sample: {families} metric families in {:.1} ms", seconds * 1e3);
                            notifier.ready("sampling and serving");
                        }
                    }
                    Err(e) => {
                        log::error!("sampling cycle failed: {e}; starting a fresh sampler");
                        sampler = Some(HostSampler::new(&cfg.sample));
                    }
                }
            },
            _ = watchdog_tick.tick(), if ready => {
                if last_progress.elapsed() < stall_limit {
                    notifier.watchdog();
                } else if !stall_warned {
                    stall_warned = true;
                    log::error!(
                        "no sampling progress for {:?}; withholding the watchdog so systemd restarts the agent",
                        last_progress.elapsed()
                    );
                }
            },
            _ = sigterm.recv() => { log::info!("SIGTERM received, stopping"); break; }
            _ = sigint.recv() => { log::info!("SIGINT received, stopping"); break; }
        }
    }

    notifier.stopping();
    let _ = shutdown_tx.send(true);
    if let Some(task) = server_task {
        let _ = tokio::time::timeout(Duration::from_millis(500), task).await;
    }
    if let Some(task) = mqtt_task {
        // Publishes the offline status and disconnects; what is unacknowledged stays stored.
        let _ = tokio::time::timeout(Duration::from_millis(500), task).await;
    }
    match tokio::task::spawn_blocking(move || store.shutdown(Duration::from_millis(1200))).await {
        Ok(true) => {}
        _ => log::warn!("store did not finish its final commit in time"),
    }
    log::info!("stopped");
    Ok(())
}

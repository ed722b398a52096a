//! Runtime wiring: the tasks of a running agent on one current-thread tokio runtime.
//!
//! ```text
//!  interval tick ──> host sampler (blocking thread) ──> telemetry (latest exposition)
//!                                                           │
//!  /metrics server (async, bounded) <───────────────────────┘
//!  sampler ──> store thread ──> MQTT sink (its own task) ──> broker
//!                          └──> remote_write sink (live + backlog lanes) ──> Prometheus
//!  latest exposition ──> Pushgateway sink (every interval; no store) ──> Pushgateway
//!  [[scrape]] targets ──> one thread each (GET, parse, label) ──> store thread
//!  config topic ──> control (validate, decide) ──> switch sampler / store bounds / sink
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
use crate::control::{Action, Applied, Control};
use crate::datadir::{DataDir, DataDirError};
use crate::model::staleness::Staleness;
use crate::model::{stored, text};
use crate::sinks::mqtt::{Link, Links, MqttSink};
use crate::sinks::pushgateway::PushgatewaySink;
use crate::sinks::remote_write::RemoteWriteSink;
use crate::sources::host::{Cycle, HostSampler};
use crate::sources::scrape::pushtext::Latest;
use crate::sources::scrape::Scrapers;
use crate::store::{Class, StoreThread};
use crate::systemd::Notifier;
use crate::telemetry::{http, Telemetry};
use crate::{TARGET, VERSION};

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

/// The sampler and what it remembers between cycles (series seen last time, for staleness
/// markers); moved to the blocking thread for a cycle and back.
struct Sampling {
    host: HostSampler,
    stale: Staleness,
}

/// A finished cycle: the sampling state back, its results, the rendered exposition and the
/// snapshot encoded for the store (both produced on the blocking thread).
type CycleJob = JoinHandle<(Sampling, Cycle, String, Vec<u8>)>;

fn start_cycle(mut sampling: Sampling, telemetry: Arc<Telemetry>) -> CycleJob {
    tokio::task::spawn_blocking(move || {
        let mut cycle = sampling.host.sample();
        let mut exposition = String::with_capacity(64 * 1024);
        text::encode(&cycle.snapshot.families, &mut exposition);
        // The stored snapshot also carries the agent's own metrics (the push sinks forward
        // them; /metrics renders them live) and the stale markers of vanished series.
        cycle.snapshot.families.extend(telemetry.families());
        sampling.stale.mark(&mut cycle.snapshot);
        let record = stored::encode_snapshot(&cycle.snapshot);
        (sampling, cycle, exposition, record)
    })
}

/// The running MQTT sink and the channels that outlive it (a remote config that changes
/// `[mqtt]` replaces the sink, not the channels).
struct Uplink {
    links: Links,
    task: Option<(JoinHandle<()>, watch::Sender<bool>)>,
}

impl Uplink {
    fn start(&mut self, cfg: &Config, store: &crate::store::StoreHandle) {
        let Some(mqtt) = &cfg.mqtt else { return };
        log::info!(
            "mqtt: forwarding to {} under {}/{}/",
            mqtt.url(),
            mqtt.topic_prefix,
            cfg.agent.id
        );
        let sink = MqttSink {
            cfg: mqtt.clone(),
            gateway: cfg.agent.id.clone(),
            store: store.clone(),
            links: self.links.clone(),
        };
        let (tx, rx) = watch::channel(false);
        self.task = Some((tokio::spawn(sink.run(rx)), tx));
    }

    /// Publishes the offline status and disconnects; what is unacknowledged stays stored.
    async fn stop(&mut self) {
        if let Some((task, tx)) = self.task.take() {
            let _ = tx.send(true);
            let _ = tokio::time::timeout(Duration::from_millis(500), task).await;
        }
    }
}

/// A push sink's task and its own shutdown switch.
type SinkTask = (JoinHandle<()>, watch::Sender<bool>);

/// The HTTP push sinks. Each is replaced as a whole when its section changes.
#[derive(Default)]
struct Pushers {
    remote_write: Option<SinkTask>,
    pushgateway: Option<SinkTask>,
}

impl Pushers {
    fn start_remote_write(
        &mut self,
        cfg: &Config,
        store: &crate::store::StoreHandle,
        telemetry: &Arc<Telemetry>,
    ) {
        let Some(rw) = &cfg.remote_write else { return };
        log::info!(
            "remote_write: sending to {} as job={:?} instance={:?}",
            rw.endpoint.url,
            rw.job,
            rw.instance
        );
        let sink = RemoteWriteSink {
            cfg: rw.clone(),
            store: store.clone(),
            telemetry: Arc::clone(telemetry),
        };
        let (tx, rx) = watch::channel(false);
        self.remote_write = Some((tokio::spawn(sink.run(rx)), tx));
    }

    fn start_pushgateway(&mut self, cfg: &Config, telemetry: &Arc<Telemetry>, scraped: &Arc<Latest>) {
        let Some(pg) = &cfg.pushgateway else { return };
        let sink = PushgatewaySink {
            cfg: pg.clone(),
            telemetry: Arc::clone(telemetry),
            scraped: Arc::clone(scraped),
        };
        let (tx, rx) = watch::channel(false);
        self.pushgateway = Some((tokio::spawn(sink.run(rx)), tx));
    }

    /// Stops the given sinks together and waits for them a little (the Pushgateway's group
    /// delete); what remote_write had not delivered stays stored.
    async fn stop(tasks: Vec<Option<SinkTask>>) {
        let mut joins = Vec::new();
        for (task, tx) in tasks.into_iter().flatten() {
            let _ = tx.send(true);
            joins.push(task);
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            for j in joins {
                let _ = j.await;
            }
        })
        .await;
    }
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

    // Remote config: the last known good is used from the start, before any broker answers.
    let (status_tx, status_rx) = watch::channel(None);
    let (incoming_tx, mut incoming_rx) = watch::channel(None);
    let (link_tx, mut link_rx) = watch::channel(Link::default());
    let remote = cfg.mqtt.as_ref().is_some_and(|m| m.remote_config);
    let (mut control, mut current) = if remote {
        let (c, a) = Control::start(cfg, data_path.clone(), status_tx, Arc::clone(&telemetry));
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
    telemetry.set_store(store.handle());
    telemetry.set_link(link_rx.clone());
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
        telemetry.set_board_devices(devices);
    }

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut server_task = None;
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
        let server = http::Server {
            listener,
            telemetry: Arc::clone(&telemetry),
            max_connections: metrics.max_connections,
            request_timeout: metrics.request_timeout,
        };
        server_task = Some(tokio::spawn(server.run(shutdown_rx.clone())));
    } else {
        log::info!("metrics endpoint disabled");
    }

    let mut uplink = Uplink {
        links: Links {
            link: Arc::new(link_tx),
            incoming: Arc::new(incoming_tx),
            config_status: status_rx,
        },
        task: None,
    };
    uplink.start(&current.cfg, &store_handle);
    let mut pushers = Pushers::default();
    pushers.start_remote_write(&current.cfg, &store_handle, &telemetry);
    // The scraped targets' latest values, for the Pushgateway sink.
    let scraped = Arc::new(Latest::default());
    pushers.start_pushgateway(&current.cfg, &telemetry, &scraped);
    // `[[scrape]]` is local-only, so the jobs live as long as the agent.
    let scrapers = Scrapers::start(
        &current.cfg.scrape,
        &current.cfg.agent.id,
        &store_handle,
        &telemetry,
        &scraped,
    );

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
    let mut sampler = Some(Sampling {
        host: HostSampler::new(&current.cfg.sample),
        stale: Staleness::default(),
    });
    // Set when the sampling settings changed while a cycle was running with the old ones.
    let mut rebuild_sampler = false;
    let mut running: Option<CycleJob> = None;
    let mut tick = interval(current.cfg.sample.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut watchdog_tick = interval(watchdog_every);
    watchdog_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_progress = Instant::now();
    let mut ready = false;
    let mut stall_warned = false;

    loop {
        // A switch to another config: from a remote message, or a rollback.
        let mut switch_to: Option<(Applied, bool)> = None;
        let health_deadline = control.as_ref().and_then(|c| c.deadline());
        tokio::select! {
            _ = tick.tick() => match sampler.take() {
                Some(s) => running = Some(start_cycle(s, Arc::clone(&telemetry))),
                None => {
                    telemetry.overrun();
                    log::debug!("sampling tick skipped: previous cycle still running");
                }
            },
            joined = async { running.as_mut().expect("guarded by is_some").await }, if running.is_some() => {
                running = None;
                match joined {
                    Ok((s, cycle, exposition, record)) => {
                        let mut s = s;
                        if rebuild_sampler {
                            s.host = HostSampler::new(&current.cfg.sample);
                        }
                        sampler = Some(s);
                        rebuild_sampler = false;
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
                        sampler = Some(Sampling {
                            host: HostSampler::new(&current.cfg.sample),
                            stale: Staleness::default(),
                        });
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
            _ = sigterm.recv() => { log::info!("SIGTERM received, stopping"); break; }
            _ = sigint.recv() => { log::info!("SIGINT received, stopping"); break; }
        }

        if let Some((next, rollback)) = switch_to {
            // Everything the new config needs was built and checked by validation; switching
            // cannot fail half-way.
            if next.changed(&current, "sample") {
                if next.cfg.sample.interval != current.cfg.sample.interval {
                    tick = interval(next.cfg.sample.interval);
                    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
                    tick.reset();
                }
                match sampler.as_mut() {
                    Some(s) => s.host = HostSampler::new(&next.cfg.sample),
                    None => rebuild_sampler = true,
                }
            }
            if next.changed(&current, "store") {
                if let Err(e) = store_handle.reconfigure(next.cfg.store.clone()).await {
                    log::warn!("store: {e}");
                }
            }
            log::set_max_level(next.cfg.agent.log_level);
            let uplink_changed = next.changed(&current, "mqtt");
            let connections_before = link_rx.borrow().connections;
            if uplink_changed {
                uplink.stop().await;
                uplink.start(&next.cfg, &store_handle);
            }
            if next.changed(&current, "remote_write") {
                Pushers::stop(vec![pushers.remote_write.take()]).await;
                pushers.start_remote_write(&next.cfg, &store_handle, &telemetry);
            }
            if next.changed(&current, "pushgateway") {
                Pushers::stop(vec![pushers.pushgateway.take()]).await;
                pushers.start_pushgateway(&next.cfg, &telemetry, &scraped);
            }
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

    notifier.stopping();
    scrapers.stop();
    let _ = shutdown_tx.send(true);
    if let Some(task) = server_task {
        let _ = tokio::time::timeout(Duration::from_millis(500), task).await;
    }
    tokio::join!(
        uplink.stop(),
        Pushers::stop(vec![pushers.remote_write.take(), pushers.pushgateway.take()])
    );
    match tokio::task::spawn_blocking(move || store.shutdown(Duration::from_millis(1200))).await {
        Ok(true) => {}
        _ => log::warn!("store did not finish its final commit in time"),
    }
    log::info!("stopped");
    Ok(())
}

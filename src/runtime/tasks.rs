//! Tasks by config section: each component that can be started, replaced and stopped on its
//! own is a row of [`COMPONENTS`] — the config section it owns and how to start it from a
//! config. The runtime starts them all from the first config; a remote config that changes a
//! section replaces exactly that section's task (stop, then start from the new config), and
//! shutdown stops them all against one deadline. Every task gets its own [`Stop`].
//!
//! A new source or sink is a row here plus its start function (and its section in `config`).
//! The host sampler and the store are not rows: they keep state a restart would lose (the
//! sampler's stale-series tracker, the store's open file), so they take a changed section in
//! place (`runtime::sampling`, `StoreHandle::reconfigure`).

use std::future::Future;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::Config;
use crate::control::Applied;
use crate::engine::Engine;
use crate::model::alert::InspectSlot;
use crate::model::pushtext::Latest;
use crate::shutdown::Stop;
use crate::sinks::alerts::route::{AlertGate, Gate};
use crate::sinks::alerts::stats::AlertStats;
use crate::sinks::alerts::AlertSinks;
use crate::sinks::logstash::LogstashSink;
use crate::sinks::mqtt::{Links, MqttSink};
use crate::sinks::pushgateway::PushgatewaySink;
use crate::sinks::remote_write::RemoteWriteSink;
use crate::sources::logs::{Env, LogSources};
use crate::sources::scrape::Scrapers;
use crate::sources::sensors::Sensors;
use crate::store::StoreHandle;
use crate::telemetry::Telemetry;

/// What the components share, beyond their config section.
#[derive(Clone)]
pub struct Context {
    pub store: StoreHandle,
    pub telemetry: Arc<Telemetry>,
    /// The scraped targets' latest values, for the Pushgateway sink.
    pub scraped: Arc<Latest>,
    /// The MQTT sink's channels, which outlive sink instances.
    pub links: Links,
    /// Set by a stdin log source at the end of its input (the runtime then drains and exits).
    pub stdin_done: Arc<std::sync::atomic::AtomicBool>,
    /// Where the log sources find the signature engine (set by the `signatures` task).
    pub inspect: InspectSlot,
    /// The data directory (the engine's state file, the Alertmanager sink's active alerts).
    pub data_dir: std::path::PathBuf,
    /// The MQTT uplink's alert route (`[alerts.mqtt]`, shadow mode), set by the `alerts` row.
    pub alert_gate: AlertGate,
}

/// A running component: its stop switch and what to wait for.
pub struct Task {
    name: &'static str,
    stop: Stop,
    /// An async task to await; `None` for threads that are left to end by themselves (a
    /// scrape in flight is abandoned, its result discarded).
    join: Option<JoinHandle<()>>,
    /// Threads still running, for components whose threads must be gone before a
    /// replacement starts (log sources hand their last checkpoint to the store on the way out).
    running: Option<Arc<std::sync::atomic::AtomicUsize>>,
}

impl Task {
    /// Spawns `run` on the runtime with a fresh stop switch.
    pub fn spawn<F, Fut>(name: &'static str, run: F) -> Task
    where
        F: FnOnce(Stop) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let stop = Stop::new();
        let join = tokio::spawn(run(stop.clone()));
        Task {
            name,
            stop,
            join: Some(join),
            running: None,
        }
    }

    /// A component that runs on threads of its own, which obey `stop`.
    pub fn threads(name: &'static str, stop: Stop) -> Task {
        Task {
            name,
            stop,
            join: None,
            running: None,
        }
    }

    /// A component on threads of its own that count themselves in `running`; stopping it
    /// waits (until the deadline) for the count to reach zero.
    pub fn counted_threads(
        name: &'static str,
        stop: Stop,
        running: Arc<std::sync::atomic::AtomicUsize>,
    ) -> Task {
        Task {
            name,
            stop,
            join: None,
            running: Some(running),
        }
    }

    /// Trips the stop switch and waits for the task until `deadline`.
    pub async fn stop(self, deadline: Instant) {
        self.stop.stop_by(deadline.into_std());
        if let Some(join) = self.join {
            if tokio::time::timeout_at(deadline, join).await.is_err() {
                log::warn!("{}: still stopping at the deadline; left behind", self.name);
            }
        }
        if let Some(running) = self.running {
            while running.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                if Instant::now() >= deadline {
                    log::warn!("{}: still stopping at the deadline; left behind", self.name);
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    }
}

/// A component owned by a config section.
struct Component {
    section: &'static str,
    /// Other sections it reads: a change there replaces it too.
    also: &'static [&'static str],
    start: fn(&Config, &Context) -> Option<Task>,
}

const COMPONENTS: &[Component] = &[
    // First, so the alert sinks hold their data in the store before any other sink
    // acknowledges it, and the uplink has its alert route before its first batch. It reads
    // `[signatures] shadow` too.
    Component {
        section: "alerts",
        also: &["signatures"],
        start: start_alerts,
    },
    Component {
        section: "mqtt",
        also: &[],
        start: start_mqtt,
    },
    Component {
        section: "remote_write",
        also: &[],
        start: start_remote_write,
    },
    Component {
        section: "pushgateway",
        also: &[],
        start: start_pushgateway,
    },
    Component {
        section: "scrape",
        also: &[],
        start: start_scrape,
    },
    // Board sensors come from the local file (agent.board is local only); remote configs
    // change `[[sensor]]` entries.
    Component {
        section: "sensor",
        also: &[],
        start: start_sensors,
    },
    // Before the log sources, so their first events are classified.
    Component {
        section: "signatures",
        also: &[],
        start: start_signatures,
    },
    Component {
        section: "logs",
        also: &[],
        start: start_logs,
    },
    Component {
        section: "logstash",
        also: &[],
        start: start_logstash,
    },
];

fn start_mqtt(cfg: &Config, ctx: &Context) -> Option<Task> {
    let mqtt = cfg.mqtt.as_ref()?;
    log::info!(
        "mqtt: forwarding to {} under {}/{}/",
        mqtt.url(),
        mqtt.topic_prefix,
        cfg.agent.id
    );
    let sink = MqttSink {
        cfg: mqtt.clone(),
        gateway: cfg.agent.id.clone(),
        store: ctx.store.clone(),
        links: ctx.links.clone(),
        alerts: ctx.alert_gate.clone(),
        alert_stats: ctx.telemetry.register_with("alerts", AlertStats::default),
    };
    Some(Task::spawn("mqtt", |stop| sink.run(stop)))
}

/// The alert sinks (`[alerts]`): each its own task on the delivery engine, reading the
/// store's `alerts` class. In shadow mode none starts (their decisions wait in the store
/// until it ends) and the uplink publishes no alert.
fn start_alerts(cfg: &Config, ctx: &Context) -> Option<Task> {
    let shadow = cfg.signatures.as_ref().is_some_and(|s| s.shadow);
    let stats = ctx.telemetry.register_with("alerts", AlertStats::default);
    stats.set_shadow(shadow);
    ctx.alert_gate.set(Gate {
        route: cfg.alerts.as_ref().map(|a| a.mqtt.clone()).unwrap_or_default(),
        shadow,
    });
    let alerts = cfg.alerts.as_ref()?;
    let sinks = alerts.sinks();
    if shadow {
        log::warn!(
            "alerts: SHADOW MODE ([signatures] shadow = true): no alert is sent{}{}; decisions are              recorded and shown at /errors, outpost_alerts_shadow is 1",
            if sinks.is_empty() { String::new() } else { format!(" to {}", sinks.join(", ")) },
            if cfg.mqtt.is_some() { " or over MQTT" } else { "" }
        );
        return None;
    }
    if sinks.is_empty() {
        return None;
    }
    if cfg.signatures.is_none() {
        log::warn!(
            "alerts: the signature engine is off ([signatures] absent or enabled = false): only              decisions already stored will be delivered"
        );
    }
    log::info!("alerts: delivering decisions to {}", sinks.join(", "));
    let run = AlertSinks {
        cfg: alerts.clone(),
        store: ctx.store.clone(),
        telemetry: Arc::clone(&ctx.telemetry),
        data_dir: ctx.data_dir.clone(),
        gateway: cfg.agent.id.clone(),
    };
    Some(Task::spawn("alerts", |stop| run.run(stop)))
}

fn start_remote_write(cfg: &Config, ctx: &Context) -> Option<Task> {
    let rw = cfg.remote_write.as_ref()?;
    log::info!(
        "remote_write: sending to {} as job={:?} instance={:?}",
        rw.endpoint.url,
        rw.job,
        rw.instance
    );
    let sink = RemoteWriteSink {
        cfg: rw.clone(),
        store: ctx.store.clone(),
        telemetry: Arc::clone(&ctx.telemetry),
    };
    Some(Task::spawn("remote_write", |stop| sink.run(stop)))
}

fn start_pushgateway(cfg: &Config, ctx: &Context) -> Option<Task> {
    let pg = cfg.pushgateway.as_ref()?;
    let sink = PushgatewaySink {
        cfg: pg.clone(),
        telemetry: Arc::clone(&ctx.telemetry),
        scraped: Arc::clone(&ctx.scraped),
    };
    Some(Task::spawn("pushgateway", |stop| sink.run(stop)))
}

fn start_scrape(cfg: &Config, ctx: &Context) -> Option<Task> {
    if cfg.scrape.is_empty() {
        return None;
    }
    let stop = Stop::new();
    Scrapers::start(
        &cfg.scrape,
        &cfg.agent.id,
        &ctx.store,
        &ctx.telemetry,
        &ctx.scraped,
        stop.clone(),
    );
    Some(Task::threads("scrape", stop))
}

/// The sensors (board profile and `[[sensor]]`): a thread per bus. A changed `[[sensor]]`
/// restarts them; pulse counters continue from their saved totals.
fn start_sensors(cfg: &Config, ctx: &Context) -> Option<Task> {
    let enabled: Vec<_> = cfg.sensors.iter().filter(|s| s.enabled).collect();
    if enabled.is_empty() {
        // Replaces the report of sensors a previous config had.
        Sensors::start(&[], &ctx.telemetry, ctx.data_dir.clone(), Stop::new());
        return None;
    }
    let list: Vec<String> = enabled
        .iter()
        .map(|s| format!("{} ({} on {})", s.name, s.driver.name(), s.bus_name))
        .collect();
    log::info!("sensors: reading {}", list.join(", "));
    let stop = Stop::new();
    let running = Sensors::start(&cfg.sensors, &ctx.telemetry, ctx.data_dir.clone(), stop.clone());
    Some(Task::counted_threads("sensors", stop, running))
}

/// All log sources are one component: a changed `[logs]` restarts them all, and each resumes
/// from its checkpoint in the store (kept by source name), so nothing is read twice or lost.
fn start_logs(cfg: &Config, ctx: &Context) -> Option<Task> {
    if cfg.logs.sources.is_empty() {
        return None;
    }
    let stop = Stop::new();
    let mut env = Env::new(&cfg.logs, &cfg.agent.id, ctx.store.clone(), &ctx.telemetry);
    env.stdin_done = Arc::clone(&ctx.stdin_done);
    env.inspect = ctx.inspect.clone();
    let running = LogSources::start(&cfg.logs, Arc::new(env), stop.clone());
    Some(Task::counted_threads("logs", stop, running))
}

/// The signature engine: classifies the log sources' events (through `ctx.inspect`), keeps
/// its state in the data directory and stores its decisions. A changed `[signatures]`
/// replaces it; the new engine starts from the state the old one wrote on its way out.
fn start_signatures(cfg: &Config, ctx: &Context) -> Option<Task> {
    let sc = cfg.signatures.as_ref()?;
    let engine = match Engine::new(sc.clone(), &cfg.agent.id, &cfg.logs.redact_keys) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            log::error!("signatures: the engine cannot start: {e}");
            return None;
        }
    };
    crate::engine::task::restore(&engine, &ctx.data_dir);
    log::info!(
        "signatures: catalog {} ({} signatures in {} categories, canonicalization {}){}",
        sc.catalog.origin,
        sc.catalog.signatures.len(),
        sc.catalog.categories.len(),
        sc.canonicalization.as_str(),
        if sc.shadow {
            "; SHADOW MODE: decisions are recorded and shown, nothing is sent"
        } else {
            ""
        }
    );
    ctx.telemetry
        .register_report("signatures", Arc::clone(&engine.stats) as _);
    ctx.telemetry.set_view(
        "/errors",
        Some(Arc::new(crate::engine::view::ErrorsView(Arc::clone(&engine)))),
    );
    ctx.inspect.set(Some(Arc::clone(&engine) as _));
    let stop = Stop::new();
    let running = crate::engine::task::start(
        engine,
        crate::engine::task::Hooks {
            store: ctx.store.clone(),
            data_dir: ctx.data_dir.clone(),
            inspect: ctx.inspect.clone(),
            telemetry: Arc::clone(&ctx.telemetry),
        },
        stop.clone(),
    );
    Some(Task::counted_threads("signatures", stop, running))
}

fn start_logstash(cfg: &Config, ctx: &Context) -> Option<Task> {
    let ls = cfg.logstash.as_ref()?;
    log::info!("logstash: sending log events to {}", ls.target_name());
    let sink = LogstashSink {
        cfg: ls.clone(),
        store: ctx.store.clone(),
        telemetry: Arc::clone(&ctx.telemetry),
    };
    Some(Task::spawn("logstash", |stop| sink.run(stop)))
}

/// The running components, one slot per row of [`COMPONENTS`].
pub struct Tasks {
    running: Vec<Option<Task>>,
}

impl Tasks {
    /// Starts every component the config has.
    pub fn start(cfg: &Config, ctx: &Context) -> Tasks {
        Tasks {
            running: COMPONENTS.iter().map(|c| (c.start)(cfg, ctx)).collect(),
        }
    }

    /// Replaces the tasks whose section differs between `current` and `next`; the old ones
    /// get until `deadline` to stop. Returns the sections replaced.
    pub async fn switch(
        &mut self,
        current: &Applied,
        next: &Applied,
        ctx: &Context,
        deadline: Instant,
    ) -> Vec<&'static str> {
        let mut replaced = Vec::new();
        for (c, slot) in COMPONENTS.iter().zip(self.running.iter_mut()) {
            if !next.changed(current, c.section) && !c.also.iter().any(|a| next.changed(current, a)) {
                continue;
            }
            if let Some(task) = slot.take() {
                task.stop(deadline).await;
            }
            *slot = (c.start)(&next.cfg, ctx);
            replaced.push(c.section);
        }
        replaced
    }

    /// Stops every task at once; each gets until `deadline`.
    pub async fn stop_all(self, deadline: Instant) {
        let tasks: Vec<Task> = self.running.into_iter().flatten().collect();
        // Trip every switch first, so they all stop together, then wait for each.
        for t in &tasks {
            t.stop.stop_by(deadline.into_std());
        }
        for t in tasks {
            t.stop(deadline).await;
        }
    }
}

//! The host sampler as the runtime drives it: one cycle at a time on tokio's blocking pool,
//! so reading pseudo-files never stalls the event loop. A tick that finds the previous cycle
//! still running is counted as an overrun and skipped, never queued. A changed `[sample]`
//! section is taken in place (the stale-series tracker survives it), after the cycle that is
//! running, if any.

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::config::SampleConfig;
use crate::model::staleness::Staleness;
use crate::model::{stored, text};
use crate::sources::host::{Cycle, HostSampler, HostStats};
use crate::store::{Append, Class, StoreHandle};
use crate::telemetry::Telemetry;

/// The sampler and what it remembers between cycles (series seen last time, for staleness
/// markers); moved to the blocking thread for a cycle and back.
struct State {
    host: HostSampler,
    stale: Staleness,
}

/// A finished cycle: the state back, its results, the rendered exposition and the snapshot
/// encoded for the store (both produced on the blocking thread).
type CycleJob = JoinHandle<(State, Cycle, String, Vec<u8>)>;

/// What a finished cycle reports to the runtime.
pub struct Done {
    pub families: usize,
    pub seconds: f64,
}

pub struct Sampler {
    cfg: SampleConfig,
    idle: Option<State>,
    running: Option<CycleJob>,
    /// Set when the settings changed while a cycle was running with the old ones.
    rebuild: bool,
    telemetry: Arc<Telemetry>,
    stats: Arc<HostStats>,
    store: StoreHandle,
}

impl Sampler {
    pub fn new(cfg: &SampleConfig, telemetry: &Arc<Telemetry>, store: &StoreHandle) -> Sampler {
        Sampler {
            cfg: cfg.clone(),
            idle: Some(State {
                host: HostSampler::new(cfg),
                stale: Staleness::default(),
            }),
            running: None,
            rebuild: false,
            telemetry: Arc::clone(telemetry),
            stats: telemetry.register::<HostStats>("host"),
            store: store.clone(),
        }
    }

    /// A tick: starts a cycle, or counts an overrun.
    pub fn tick(&mut self) {
        let Some(mut state) = self.idle.take() else {
            self.stats.overrun();
            log::debug!("sampling tick skipped: previous cycle still running");
            return;
        };
        let telemetry = Arc::clone(&self.telemetry);
        self.running = Some(tokio::task::spawn_blocking(move || {
            let mut cycle = state.host.sample();
            let mut exposition = String::with_capacity(64 * 1024);
            text::encode(&cycle.snapshot.families, &mut exposition);
            // The stored snapshot also carries the agent's own metrics (the push sinks forward
            // them; /metrics renders them live) and the stale markers of vanished series.
            cycle.snapshot.families.extend(telemetry.families());
            state.stale.mark(&mut cycle.snapshot);
            let record = stored::encode_snapshot(&cycle.snapshot);
            (state, cycle, exposition, record)
        }));
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Waits for the running cycle (call only while [`Sampler::is_running`]), stores and
    /// publishes it. `None` when the cycle failed (a fresh sampler takes over).
    pub async fn finished(&mut self) -> Option<Done> {
        let joined = self.running.as_mut().expect("called while running").await;
        self.running = None;
        match joined {
            Ok((mut state, cycle, exposition, record)) => {
                if std::mem::take(&mut self.rebuild) {
                    state.host = HostSampler::new(&self.cfg);
                }
                self.idle = Some(state);
                if let Append::Stopped =
                    self.store
                        .append(Class::Metrics, cycle.snapshot.timestamp_ms, record)
                {
                    log::warn!("sampling: the store has stopped; this cycle is not stored");
                }
                let done = Done {
                    families: cycle.snapshot.families.len(),
                    seconds: cycle.seconds,
                };
                self.stats.cycle_done(cycle.seconds, cycle.results);
                self.telemetry.publish(exposition);
                Some(done)
            }
            Err(e) => {
                log::error!("sampling cycle failed: {e}; starting a fresh sampler");
                self.idle = Some(State {
                    host: HostSampler::new(&self.cfg),
                    stale: Staleness::default(),
                });
                None
            }
        }
    }

    /// New `[sample]` settings: taken now, or after the running cycle.
    pub fn reconfigure(&mut self, cfg: &SampleConfig) {
        self.cfg = cfg.clone();
        match self.idle.as_mut() {
            Some(s) => s.host = HostSampler::new(cfg),
            None => self.rebuild = true,
        }
    }
}

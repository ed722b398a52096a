//! The running engine's thread: once a second it ticks the engine (reminders, resolves,
//! deferred decisions) with the wall clock, takes the decisions the sources' threads made,
//! appends them to the store's `alerts` class (highest priority, evicted last) and keeps the
//! state file.
//!
//! Order matters for "never lose a decision, never forget one was made": the state that
//! records a decision is written only after the decision is durable in the store. A crash in
//! between re-decides it after the restart (a duplicate, which receivers de-duplicate by
//! `fingerprint + kind + first_seen`), never loses it.
//!
//! Shadow mode stores nothing: decisions are logged, counted and shown (`/errors`), and no
//! sink can send what is not in the store.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::state::{self, Loaded};
use super::Engine;
use crate::model::alert::{Decision, Inspect, InspectSlot};
use crate::model::now_ms;
use crate::shutdown::Stop;
use crate::store::{Append, Class, StoreHandle, Ticket};
use crate::telemetry::{lock, Telemetry};

/// Restores the state saved in `data_dir` into `engine` (a damaged file is moved aside and
/// reported).
pub fn restore(engine: &Engine, data_dir: &std::path::Path) {
    match state::load(data_dir) {
        Loaded::Fresh => {}
        Loaded::Restored(g) => {
            let n = g.groups.len();
            let firing = g.groups.values().filter(|x| x.firing).count();
            *lock(&engine.groups) = *g;
            log::info!("signatures: restored {n} group(s), {firing} firing, from the state file");
        }
        Loaded::Damaged(why) => {
            log::warn!("signatures: starting with empty state: {why}");
            engine.stats.state_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What the engine's thread works with besides the engine.
pub struct Hooks {
    pub store: StoreHandle,
    pub data_dir: PathBuf,
    /// Where the log sources find the engine; emptied when the thread ends.
    pub inspect: InspectSlot,
    /// Where `/errors` is served; removed when the thread ends.
    pub telemetry: Arc<Telemetry>,
}

/// Starts the engine's thread; it ends when `stop` trips, after storing what was decided,
/// writing the state and unhooking the engine from the sources and `/errors` (unless a
/// newer engine took its place already). Returns the running count for the runtime.
pub fn start(engine: Arc<Engine>, hooks: Hooks, stop: Stop) -> Arc<AtomicUsize> {
    let running = Arc::new(AtomicUsize::new(1));
    let count = Arc::clone(&running);
    let spawned = std::thread::Builder::new()
        .name("signatures".into())
        .spawn(move || {
            let me: Arc<dyn Inspect> = Arc::clone(&engine) as _;
            // Unhooked as soon as the stop comes, before the last round: events the sources
            // still read on their way out are stored unclassified instead of being counted
            // (or decided on) after the state was written for the last time.
            let unhook = || {
                if hooks.inspect.clear_if(&me) {
                    hooks.telemetry.set_view("/errors", None);
                }
            };
            run(&engine, &hooks.store, &hooks.data_dir, &stop, &unhook);
            count.fetch_sub(1, Ordering::SeqCst);
        });
    if let Err(e) = spawned {
        log::error!("signatures: cannot start the engine's thread: {e}");
        running.store(0, Ordering::SeqCst);
    }
    running
}

fn run(engine: &Engine, store: &StoreHandle, dir: &std::path::Path, stop: &Stop, unhook: &dyn Fn()) {
    let interval = engine.cfg.state_interval;
    let mut last_save = Instant::now();
    let mut last_tick = Instant::now();
    let mut saved_changes = lock(&engine.groups).changes;
    let mut waiting: Option<Ticket> = None;
    loop {
        // Short naps: a decision made on a source's thread is stored within one, and the
        // state that records it written as soon as the store says it is durable.
        let stopping = stop.sleep_until(Instant::now() + STEP);
        if stopping {
            unhook();
        }
        let mut decided = engine.take_outbox();
        if last_tick.elapsed() >= TICK || stopping {
            decided.extend(engine.tick(now_ms()));
            last_tick = Instant::now();
        }
        for d in &decided {
            report(d);
            if d.shadow {
                continue;
            }
            match store.append(Class::Alerts, now_ms(), d.encode()) {
                Append::Accepted(t) => waiting = Some(t),
                _ => {
                    engine.stats.store_errors.fetch_add(1, Ordering::Relaxed);
                    log::warn!(
                        "signatures: the store did not take the {} decision for {}",
                        d.kind.as_str(),
                        d.fingerprint
                    );
                }
            }
        }
        if stopping {
            // Give the last decisions until the deadline to become durable.
            while let Some(t) = waiting {
                if store.is_durable(t) || Instant::now() >= stop.deadline() {
                    waiting = None;
                } else {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        let durable = waiting.is_none_or(|t| store.is_durable(t));
        if durable {
            waiting = None;
        }
        let changes = lock(&engine.groups).changes;
        let due = !decided.is_empty()
            || engine.stats.pending.load(Ordering::Relaxed) > 1
            || last_save.elapsed() >= interval
            || stopping;
        if durable && changes != saved_changes && due {
            let bytes = state::encode(&lock(&engine.groups));
            match state::save_bytes(dir, &bytes) {
                Ok(()) => {
                    saved_changes = changes;
                    engine.stats.state_writes.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    engine.stats.state_errors.fetch_add(1, Ordering::Relaxed);
                    log::warn!(
                        "signatures: cannot write the state file in {}: {e}",
                        dir.display()
                    );
                }
            }
            last_save = Instant::now();
        }
        // 0: everything is on disk; 1: counts wait for state_interval; 2: a decision waits.
        // Read the flag before the count: a decision made in between sets the flag after
        // bumping the count, so either the count differs or the exchange fails.
        let flag = engine.stats.pending.load(Ordering::SeqCst);
        let current = lock(&engine.groups).changes;
        if current == saved_changes && waiting.is_none() {
            let _ = engine
                .stats
                .pending
                .compare_exchange(flag, 0, Ordering::SeqCst, Ordering::SeqCst);
        } else if flag == 0 {
            engine.stats.pending.store(1, Ordering::Relaxed);
        }
        if stopping {
            break;
        }
    }
}

/// How often the thread wakes, and how often it ticks the engine.
const STEP: Duration = Duration::from_millis(100);
const TICK: Duration = Duration::from_secs(1);

/// One log line per decision (the agent's own log, which the engine never classifies).
fn report(d: &Decision) {
    let shadow = if d.shadow { " (shadow: not sent)" } else { "" };
    log::info!(
        "alert {}{shadow}: {} {}/{} policy={} severity={} count={}: {}",
        d.kind.as_str(),
        d.fingerprint,
        d.category,
        d.signature.as_deref().unwrap_or("-"),
        d.policy,
        d.severity,
        d.count,
        d.summary
    );
}

//! The one stop signal every task and thread of the agent obeys.
//!
//! The runtime owns one [`Stop`] per component (a sink, the scrapers, the `/metrics` server)
//! and trips it to stop or replace that component; async tasks await [`Stop::stopped`],
//! threads sleep in [`Stop::sleep_until`] and wake at once when it trips. The switch carries
//! the runtime's one deadline ([`Stop::deadline`]): a component's last words (the MQTT
//! offline status, the Pushgateway's group delete) are bounded by it, not by timeouts of
//! their own.
//! It sits at the floor (it imports nothing of the crate), so sources and sinks take it
//! without importing the runtime that owns it.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The deadline of a stop that came without one (a component dropped, a test).
const DEFAULT_GRACE: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Inner {
    stopped: Mutex<bool>,
    deadline: Mutex<Option<Instant>>,
    wake: Condvar,
    notify: tokio::sync::Notify,
}

/// A stop switch shared by a component and the runtime; clones share the switch.
#[derive(Clone, Default)]
pub struct Stop(Arc<Inner>);

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Trips the switch with the time by which the component must be gone.
    pub fn stop_by(&self, deadline: Instant) {
        *self.0.deadline.lock().unwrap_or_else(|e| e.into_inner()) = Some(deadline);
        self.stop();
    }

    /// When the component must be gone: the deadline of the stop, or a second from now.
    pub fn deadline(&self) -> Instant {
        self.0
            .deadline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or_else(|| Instant::now() + DEFAULT_GRACE)
    }

    /// Trips the switch: every waiter wakes, now and later.
    pub fn stop(&self) {
        *self.0.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.0.wake.notify_all();
        self.0.notify.notify_waiters();
    }

    pub fn is_stopped(&self) -> bool {
        *self.0.stopped.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves once the switch is tripped (at once if it already is).
    pub async fn stopped(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }

    /// Blocks until `deadline` (for threads); true when the switch tripped meanwhile.
    pub fn sleep_until(&self, deadline: Instant) -> bool {
        let mut stopped = self.0.stopped.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if *stopped {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stopped = self
                .0
                .wake
                .wait_timeout(stopped, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_wake_at_once_when_stopped() {
        let stop = Stop::new();
        let s = stop.clone();
        let t = std::thread::spawn(move || s.sleep_until(Instant::now() + Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(20));
        let asked = Instant::now();
        stop.stop();
        assert!(t.join().unwrap(), "woken by the stop");
        assert!(asked.elapsed() < Duration::from_secs(1));
        assert!(!Stop::new().sleep_until(Instant::now() + Duration::from_millis(5)));
        let by = Instant::now() + Duration::from_millis(700);
        stop.stop_by(by);
        assert_eq!(
            stop.deadline(),
            by,
            "the runtime's deadline travels with the stop"
        );
    }

    #[test]
    fn tasks_see_a_stop_from_before_and_after_they_wait() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let early = Stop::new();
            early.stop();
            early.stopped().await;
            let late = Stop::new();
            let l = late.clone();
            let waiter = tokio::spawn(async move { l.stopped().await });
            tokio::task::yield_now().await;
            late.stop();
            tokio::time::timeout(Duration::from_secs(1), waiter)
                .await
                .expect("woken")
                .unwrap();
        });
    }
}

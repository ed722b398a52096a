//! systemd integration: `READY=1` once the agent serves, `WATCHDOG=1` from the main loop,
//! `STOPPING=1` on shutdown, and `STATUS=` lines an operator sees in `systemctl status`.
//!
//! Outside systemd (no `NOTIFY_SOCKET`) every call is a no-op. A failed notification is logged
//! once and never stops the agent: systemd's watchdog will act if the failures persist.

use std::cell::Cell;
use std::time::Duration;

use sd_notify::NotifyState;

pub struct Notifier {
    enabled: bool,
    watchdog: Option<Duration>,
    warned: Cell<bool>,
}

impl Notifier {
    pub fn from_env() -> Self {
        Notifier {
            enabled: std::env::var_os("NOTIFY_SOCKET").is_some(),
            watchdog: sd_notify::watchdog_enabled(),
            warned: Cell::new(false),
        }
    }

    /// The watchdog period systemd asked for, if any.
    pub fn watchdog_period(&self) -> Option<Duration> {
        self.watchdog
    }

    fn send(&self, states: &[NotifyState]) {
        if !self.enabled {
            return;
        }
        if let Err(e) = sd_notify::notify(states) {
            if !self.warned.replace(true) {
                log::warn!("cannot notify systemd: {e}");
            }
        } else {
            self.warned.set(false);
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// Pings the watchdog, if systemd asked for one for this process.
    pub fn watchdog(&self) {
        if self.watchdog.is_some() {
            self.send(&[NotifyState::Watchdog]);
        }
    }

    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }
}

//! Pacing shared by the sinks: jittered exponential backoff for reconnects and retries, and a
//! token bucket that limits how fast a backlog drains after an outage (so a fleet coming back
//! online does not saturate a metered uplink or its receiver).

use std::time::{Duration, Instant};

/// A random number from the kernel's pool, for jitter (no RNG crate needed for that).
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most b.len() bytes into b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), libc::GRND_NONBLOCK) };
    if n == 8 {
        u64::from_le_bytes(b)
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64 ^ std::process::id() as u64)
            .unwrap_or(7)
    }
}

/// Full jitter: a uniformly random wait in [0, min(max, min * 2^attempt)].
pub fn backoff(min: Duration, max: Duration, attempt: u32) -> Duration {
    let cap = min.saturating_mul(1u32 << attempt.min(16)).min(max);
    let ms = cap.as_millis().max(1) as u64;
    Duration::from_millis(random_u64() % (ms + 1))
}

/// A token bucket in bytes per second for a backlog lane; rate 0 means unlimited.
pub struct Bucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    pub fn new(rate: u64) -> Bucket {
        Bucket {
            rate: rate as f64,
            tokens: rate as f64,
            at: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.rate.max(1.0));
        self.at = now;
    }

    /// Bytes the next backlog batch may carry now, or how long to wait for enough of them
    /// (a quarter of a second's worth, or one batch, whichever is smaller).
    pub fn allowance(&mut self, batch: usize) -> Result<usize, Duration> {
        if self.rate <= 0.0 {
            return Ok(batch);
        }
        self.refill();
        let want = (self.rate / 4.0).min(batch as f64).max(1.0);
        if self.tokens >= want {
            Ok((self.tokens as usize).clamp(1, batch))
        } else {
            Err(Duration::from_secs_f64((want - self.tokens) / self.rate))
        }
    }

    pub fn spend(&mut self, bytes: usize) {
        if self.rate > 0.0 {
            self.tokens -= bytes as f64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_and_capped() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(60));
        for attempt in 0..30 {
            let cap = min.saturating_mul(1 << attempt.min(16)).min(max);
            for _ in 0..20 {
                assert!(backoff(min, max, attempt) <= cap);
            }
        }
        // The first wait is jittered too: not always the same.
        let waits: std::collections::HashSet<_> = (0..20).map(|_| backoff(min, max, 0)).collect();
        assert!(waits.len() > 1);
    }

    #[test]
    fn bucket_limits_the_backlog_rate() {
        let mut b = Bucket::new(0);
        assert_eq!(b.allowance(1000), Ok(1000), "0 is unlimited");
        let mut b = Bucket::new(10_000);
        // A full bucket allows one batch of at most a second's worth.
        assert_eq!(b.allowance(64 << 10), Ok(10_000));
        b.spend(10_000);
        let wait = b.allowance(64 << 10).unwrap_err();
        assert!(
            wait > Duration::from_millis(200) && wait <= Duration::from_millis(250),
            "{wait:?}"
        );
        // An oversized record overdraws the bucket; the wait grows accordingly.
        b.spend(20_000);
        assert!(b.allowance(64 << 10).unwrap_err() > Duration::from_secs(2));
    }
}

//! The MQTT uplink: forwards stored records in batches to `<prefix>/<id>/<class>` and keeps
//! `<prefix>/<id>/status` (retained) up to date, with a retained last will saying "offline".
//!
//! Delivery is at least once, with the store as the only source of truth: a batch is
//! acknowledged in the store only after the broker's PUBACK for every publish that carried it.
//! rumqttc does not return packet ids from `publish`, so this task is the only publisher and
//! matches the `Outgoing::Publish(pkid)` events, which come in publish order, to its batches.
//! With a clean session rumqttc forgets unacknowledged publishes on reconnect; a fresh client
//! per connection makes that explicit, and everything not acknowledged is read again from the
//! store and re-sent. Reconnects back off exponentially with full jitter, the first one
//! included, so a fleet does not reconnect in step after a broker restart.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::watch;

use super::payload::batch_json;
use crate::config::validate::MqttConfig;
use crate::store::{Class, StoreHandle};
use crate::telemetry::VERSION;

pub const SINK: &str = "mqtt";

/// One read from the store, sent as one publish per class present in it.
struct Batch {
    after: u64,
    last: u64,
    /// Publishes not yet acknowledged by the broker.
    outstanding: usize,
}

/// A random number from the kernel's pool, for jitter (no RNG crate needed for that).
fn random_u64() -> u64 {
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

fn status(state: &str, boot_id: &str, started_at: i64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "state": state,
        "version": VERSION,
        "boot_id": boot_id,
        "started_at": started_at,
    }))
    .expect("plain data serializes")
}

pub struct MqttSink {
    pub cfg: MqttConfig,
    pub gateway: String,
    pub store: StoreHandle,
}

impl MqttSink {
    fn topic(&self, leaf: &str) -> String {
        format!("{}/{}/{leaf}", self.cfg.topic_prefix, self.gateway)
    }

    fn options(&self, boot_id: &str, started_at: i64) -> MqttOptions {
        let mut o = MqttOptions::new(self.cfg.client_id.clone(), self.cfg.host.clone(), self.cfg.port);
        o.set_keep_alive(self.cfg.keep_alive)
            .set_clean_session(true)
            .set_inflight(self.cfg.max_inflight as u16 * 3)
            // A batch must fit: raise rumqttc's 10 KiB default packet limits.
            .set_max_packet_size(1 << 20, self.cfg.max_batch_bytes * 2 + 64 * 1024)
            .set_last_will(LastWill::new(
                self.topic("status"),
                status("offline", boot_id, started_at),
                QoS::AtLeastOnce,
                true,
            ));
        if let Some(user) = &self.cfg.username {
            o.set_credentials(user.clone(), self.cfg.password.clone().unwrap_or_default());
        }
        o
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        if let Err(e) = self.store.register_sink(SINK, &Class::ALL).await {
            log::error!("mqtt: {e}");
            return;
        }
        let boot_id = format!("{:016x}", random_u64());
        let started_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let qos = if self.cfg.qos == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        let mut attempt = 0u32;
        loop {
            // Jittered before every attempt, the first included.
            let wait = backoff(self.cfg.reconnect_min, self.cfg.reconnect_max, attempt);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
            attempt = attempt.saturating_add(1);
            let (client, mut events) = AsyncClient::new(self.options(&boot_id, started_at), 64);
            // Connect.
            let connected = tokio::select! {
                r = events.poll() => r,
                _ = shutdown.changed() => return,
            };
            match connected {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {}
                Ok(other) => {
                    log::warn!("mqtt: unexpected first event {other:?}");
                    continue;
                }
                Err(e) => {
                    log::warn!("mqtt: cannot connect to {}:{}: {e}", self.cfg.host, self.cfg.port);
                    continue;
                }
            }
            log::info!(
                "mqtt: connected to {}:{} as {}",
                self.cfg.host,
                self.cfg.port,
                self.cfg.client_id
            );
            attempt = 0;
            let online = status("online", &boot_id, started_at);
            let stop = self
                .session(&client, &mut events, qos, online, &mut shutdown)
                .await;
            if stop {
                let _ = client
                    .publish(
                        self.topic("status"),
                        QoS::AtLeastOnce,
                        true,
                        status("offline", &boot_id, started_at),
                    )
                    .await;
                let _ = client.disconnect().await;
                // Let the eventloop flush the offline status and the DISCONNECT, briefly.
                let _ = tokio::time::timeout(Duration::from_millis(300), async {
                    while let Ok(ev) = events.poll().await {
                        if matches!(ev, Event::Outgoing(Outgoing::Disconnect)) {
                            break;
                        }
                    }
                })
                .await;
                return;
            }
        }
    }

    /// One connection: read, publish, match PUBACKs, acknowledge. Returns true on shutdown,
    /// false when the connection is lost.
    async fn session(
        &self,
        client: &AsyncClient,
        events: &mut rumqttc::EventLoop,
        qos: QoS,
        online: Vec<u8>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        let mut batches: HashMap<u64, Batch> = HashMap::new();
        let mut next_batch = 0u64;
        // Every publish of this task in publish order, waiting for its packet id: the batch it
        // carries, or None for a status message.
        let mut unassigned: VecDeque<Option<u64>> = VecDeque::new();
        unassigned.push_back(None);
        if client
            .publish(self.topic("status"), QoS::AtLeastOnce, true, online)
            .await
            .is_err()
        {
            return false;
        }
        let mut by_pkid: HashMap<u16, u64> = HashMap::new();
        // Everything after the store's cursor is re-read on every new connection.
        let mut after = 0u64;
        let mut linger = tokio::time::interval(self.cfg.linger);
        linger.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let room = batches.len() < self.cfg.max_inflight;
            tokio::select! {
                ev = events.poll() => match ev {
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        if let Some(Some(id)) = unassigned.pop_front() {
                            if qos == QoS::AtMostOnce {
                                self.done(&mut batches, id).await;
                            } else {
                                by_pkid.insert(pkid, id);
                            }
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        if let Some(id) = by_pkid.remove(&ack.pkid) {
                            self.done(&mut batches, id).await;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        log::warn!("mqtt: connection lost: {e}; {} batches unacknowledged will be re-sent", batches.len());
                        return false;
                    }
                },
                _ = linger.tick(), if room => {
                    let records = match self
                        .store
                        .read_after(SINK, after, self.cfg.max_batch_records, self.cfg.max_batch_bytes)
                        .await
                    {
                        Ok(r) => r,
                        Err(e) => {
                            log::warn!("mqtt: store: {e}");
                            continue;
                        }
                    };
                    let Some(last) = records.last().map(|r| r.seq) else { continue };
                    let id = next_batch;
                    next_batch += 1;
                    let mut outstanding = 0;
                    for class in Class::ALL {
                        let of_class: Vec<_> = records.iter().filter(|r| r.class == class).collect();
                        if of_class.is_empty() {
                            continue;
                        }
                        let payload = batch_json(&self.gateway, class, &of_class);
                        unassigned.push_back(Some(id));
                        if client.publish(self.topic(class.name()), qos, false, payload).await.is_err() {
                            return false;
                        }
                        outstanding += 1;
                    }
                    batches.insert(id, Batch { after, last, outstanding });
                    after = last;
                    // More may be waiting: come back at once instead of after the linger.
                    linger.reset_immediately();
                }
                _ = shutdown.changed() => return true,
            }
        }
    }

    async fn done(&self, batches: &mut HashMap<u64, Batch>, id: u64) {
        let Some(b) = batches.get_mut(&id) else { return };
        b.outstanding = b.outstanding.saturating_sub(1);
        if b.outstanding == 0 {
            let b = batches.remove(&id).expect("present");
            if let Err(e) = self.store.ack_range(SINK, b.after, b.last).await {
                log::warn!("mqtt: store: {e}");
            }
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
}

//! The MQTT uplink: forwards stored records in batches to `<prefix>/<id>/<class>`, keeps
//! `<prefix>/<id>/status` (retained) up to date with a retained last will saying "offline",
//! receives the retained `<prefix>/<id>/config` and publishes `<prefix>/<id>/config/status`.
//!
//! Delivery is at least once, with the store as the only source of truth: a batch is
//! acknowledged in the store only after the broker's PUBACK for every publish that carried it.
//! rumqttc does not return packet ids from `publish`, so this task is the only publisher and
//! matches the `Outgoing::Publish(pkid)` events, which come in publish order, to its batches.
//! With a clean session rumqttc forgets unacknowledged publishes on reconnect; a fresh client
//! per connection makes that explicit, and everything not acknowledged is read again from the
//! store and re-sent. Reconnects back off exponentially with full jitter, the first one
//! included, so a fleet does not reconnect in step after a broker restart.
//!
//! **Live first.** Each connection splits the store at the durable sequence number it finds
//! when it connects: everything after it is *live* and goes out as soon as it is durable;
//! everything up to it that is not acknowledged is the *backlog*, drained in order behind the
//! live data at `backfill_rate` bytes per second. Each lane always has an in-flight slot of
//! its own, so neither can starve the other; the store's range acknowledgements let the live
//! lane acknowledge ahead of the backlog.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{
    AsyncClient, ConnectionError, Event, LastWill, MqttOptions, Outgoing, Packet, QoS, StateError,
    TlsConfiguration, Transport,
};
use tokio::sync::watch;

use super::alerts::route::{admit, AlertGate, Gate, Verdict};
use super::alerts::stats::{self, AlertStats};
use super::payload::{batch_json, gzip};
use crate::config::{Compression, MqttConfig};
use crate::model::alert::Decision;
pub use crate::model::uplink::{Incoming, Link, MAX_INCOMING};
use crate::net::pace::{backoff, random_u64, Bucket};
use crate::shutdown::Stop;
use crate::store::{Class, Record, StoreHandle};
use crate::telemetry::{Report, Telemetry};
use crate::VERSION;

pub const SINK: &str = "mqtt";

/// Channels between the sink and the runtime; they outlive sink instances (a remote config
/// that changes `[mqtt]` replaces the sink).
#[derive(Clone)]
pub struct Links {
    pub link: Arc<watch::Sender<Link>>,
    /// Config payloads, latest wins (the topic is retained desired state).
    pub incoming: Arc<watch::Sender<Option<Incoming>>>,
    /// The retained `config/status` payload to publish, when there is one.
    pub config_status: watch::Receiver<Option<Arc<Vec<u8>>>>,
}

/// The uplink's state as the agent's own metrics (`outpost_mqtt_*`), registered once by the
/// runtime: the channel outlives sink instances, so do the counts.
pub struct LinkReport(pub watch::Receiver<Link>);

impl Report for LinkReport {
    fn report(&self, out: &mut Vec<crate::model::Family>) {
        use crate::model::{Family, MetricKind};
        let l = self.0.borrow().clone();
        out.push(Family::single(
            "outpost_mqtt_connected",
            "Whether the MQTT uplink is connected (1) or not (0).",
            MetricKind::Gauge,
            if l.connected { 1.0 } else { 0.0 },
        ));
        out.push(Family::single(
            "outpost_mqtt_connections_total",
            "Successful connections to the MQTT broker.",
            MetricKind::Counter,
            l.connections as f64,
        ));
    }
}

/// Registers the uplink's metrics with the agent's telemetry.
pub fn report_link(telemetry: &Telemetry, link: watch::Receiver<Link>) {
    telemetry.register_report("mqtt", std::sync::Arc::new(LinkReport(link)));
}

/// One read from the store, sent as one publish per class present in it.
struct Batch {
    after: u64,
    last: u64,
    live: bool,
    /// Publishes not yet acknowledged by the broker.
    outstanding: usize,
    /// Alert decisions it carries, by kind (counted as delivered at the PUBACK).
    alerts: Vec<(&'static str, u64)>,
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
    pub links: Links,
    /// Which alert decisions go out on `<prefix>/<id>/alerts` (`[alerts.mqtt]`).
    pub alerts: AlertGate,
    pub alert_stats: Arc<AlertStats>,
}

/// The state of one connection.
struct Session {
    batches: HashMap<u64, Batch>,
    next_batch: u64,
    /// Every publish of this task in publish order, waiting for its packet id: the batch it
    /// carries, or None for a status message.
    unassigned: VecDeque<Option<u64>>,
    by_pkid: HashMap<u16, u64>,
    live_in: usize,
    backlog_in: usize,
}

impl MqttSink {
    fn topic(&self, leaf: &str) -> String {
        format!("{}/{}/{leaf}", self.cfg.topic_prefix, self.gateway)
    }

    fn options(&self, boot_id: &str, started_at: i64) -> MqttOptions {
        let mut o = MqttOptions::new(self.cfg.client_id.clone(), self.cfg.host.clone(), self.cfg.port);
        o.set_keep_alive(self.cfg.keep_alive)
            .set_clean_session(true)
            // Two lanes of batches (one publish per class each) plus status messages.
            .set_inflight(((self.cfg.max_inflight + 1) * 3 + 4) as u16)
            // A batch must fit: raise rumqttc's 10 KiB default packet limits.
            .set_max_packet_size(MAX_INCOMING, self.cfg.max_batch_bytes * 2 + 64 * 1024)
            .set_last_will(LastWill::new(
                self.topic("status"),
                status("offline", boot_id, started_at),
                QoS::AtLeastOnce,
                true,
            ));
        if let Some(tls) = &self.cfg.tls {
            o.set_transport(Transport::Tls(TlsConfiguration::Rustls(Arc::clone(&tls.client))));
        }
        if let Some(user) = &self.cfg.username {
            o.set_credentials(user.clone(), self.cfg.password.clone().unwrap_or_default());
        }
        o
    }

    fn set_link(&self, f: impl FnOnce(&mut Link)) {
        self.links.link.send_modify(f);
    }

    /// Runs until `stop` trips.
    pub async fn run(mut self, stop: Stop) {
        if let Err(e) = self.store.register_sink(SINK, &Class::ALL).await {
            log::error!("mqtt: {e}");
            return;
        }
        self.set_link(|l| l.connected = false);
        let boot_id = format!("{:016x}", random_u64());
        let started_at = crate::model::now_ms();
        let url = self.cfg.url();
        let mut attempt = 0u32;
        // Set when the retained config was too large to receive: the next connections do not
        // subscribe to it again (that would end every connection the same way).
        let mut config_too_large = false;
        loop {
            // Jittered before every attempt, the first included.
            let wait = backoff(self.cfg.reconnect_min, self.cfg.reconnect_max, attempt);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.stopped() => return,
            }
            attempt = attempt.saturating_add(1);
            let (client, mut events) = AsyncClient::new(self.options(&boot_id, started_at), 64);
            let connected = tokio::select! {
                r = events.poll() => r,
                _ = stop.stopped() => return,
            };
            match connected {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {}
                Ok(other) => {
                    log::warn!("mqtt: unexpected first event {other:?}");
                    continue;
                }
                Err(e) => {
                    let msg = format!("cannot connect to {url}: {e}");
                    if attempt == 1 || attempt % 10 == 0 {
                        log::warn!("mqtt: {msg}");
                    }
                    self.set_link(|l| l.last_error = Some(msg));
                    continue;
                }
            }
            log::info!("mqtt: connected to {url} as {}", self.cfg.client_id);
            attempt = 0;
            self.set_link(|l| {
                l.connected = true;
                l.connections += 1;
            });
            let online = status("online", &boot_id, started_at);
            let end = self
                .session(&client, &mut events, online, config_too_large, &stop)
                .await;
            self.set_link(|l| l.connected = false);
            match end {
                End::Shutdown => {
                    let _ = client
                        .publish(
                            self.topic("status"),
                            QoS::AtLeastOnce,
                            true,
                            status("offline", &boot_id, started_at),
                        )
                        .await;
                    let _ = client.disconnect().await;
                    // Let the eventloop flush the offline status and the DISCONNECT, within
                    // the runtime's shutdown deadline.
                    let by = tokio::time::Instant::from_std(stop.deadline());
                    let _ = tokio::time::timeout_at(by, async {
                        while let Ok(ev) = events.poll().await {
                            if matches!(ev, Event::Outgoing(Outgoing::Disconnect)) {
                                break;
                            }
                        }
                    })
                    .await;
                    return;
                }
                End::Lost(e) => {
                    if let ConnectionError::MqttState(StateError::Deserialization(
                        rumqttc::Error::PayloadSizeLimitExceeded(n),
                    )) = &e
                    {
                        if !config_too_large {
                            log::error!(
                                "mqtt: a {n}-byte packet exceeds the {MAX_INCOMING}-byte limit; \
                                 not subscribing to the config topic again until restart"
                            );
                            config_too_large = true;
                            self.links
                                .incoming
                                .send_replace(Some(Incoming::TooLarge(Some(*n))));
                        }
                    }
                    self.set_link(|l| l.last_error = Some(format!("connection to {url} lost: {e}")));
                }
                End::Failed => {}
            }
        }
    }

    /// One connection: subscribe, read, publish, match PUBACKs, acknowledge.
    async fn session(
        &mut self,
        client: &AsyncClient,
        events: &mut rumqttc::EventLoop,
        online: Vec<u8>,
        config_too_large: bool,
        stop: &Stop,
    ) -> End {
        let qos = if self.cfg.qos == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        let mut s = Session {
            batches: HashMap::new(),
            next_batch: 0,
            unassigned: VecDeque::new(),
            by_pkid: HashMap::new(),
            live_in: 0,
            backlog_in: 0,
        };
        let config_topic = self.topic("config");
        if self
            .publish_status(client, &mut s, "status", online)
            .await
            .is_err()
        {
            return End::Failed;
        }
        if self.cfg.remote_config
            && !config_too_large
            && client
                .subscribe(config_topic.clone(), QoS::AtLeastOnce)
                .await
                .is_err()
        {
            return End::Failed;
        }
        let mut config_status = self.links.config_status.clone();
        let current = config_status.borrow_and_update().clone();
        if let Some(payload) = current {
            if self
                .publish_status(client, &mut s, "config/status", payload.to_vec())
                .await
                .is_err()
            {
                return End::Failed;
            }
        }
        // Live: everything after what was durable when this connection came up.
        self.store.opened().await;
        let boundary = self.store.durable_seq();
        let mut live_after = boundary;
        // Backlog: whatever is unacknowledged up to the boundary (the store skips what is
        // acknowledged; after 0 means "from the sink's cursor").
        let mut backlog_after = 0u64;
        let mut backlog_open = true;
        let mut backlog_records = 0u64;
        let mut backlog_at = tokio::time::Instant::now();
        let mut bucket = Bucket::new(self.cfg.backfill_rate);
        let drain_started = Instant::now();
        let mut linger = tokio::time::interval(self.cfg.linger);
        linger.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let max = self.cfg.max_inflight;
        loop {
            let total = s.live_in + s.backlog_in;
            // Each lane always has one slot of its own.
            let live_room = total < max || s.live_in == 0;
            let backlog_room = (total < max && s.backlog_in + 1 < max) || s.backlog_in == 0;
            tokio::select! {
                ev = events.poll() => match ev {
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        if let Some(Some(id)) = s.unassigned.pop_front() {
                            if qos == QoS::AtMostOnce {
                                self.done(&mut s, id).await;
                            } else {
                                s.by_pkid.insert(pkid, id);
                            }
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        if let Some(id) = s.by_pkid.remove(&ack.pkid) {
                            self.done(&mut s, id).await;
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic == config_topic => {
                        self.links.incoming.send_replace(Some(Incoming::Config(Arc::new(p.payload.to_vec()))));
                    }
                    Ok(Event::Incoming(Packet::SubAck(ack))) => {
                        if ack.return_codes.iter().any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure)) {
                            log::warn!("mqtt: the broker refused the subscription to {config_topic}; remote config is off for this connection");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        log::warn!(
                            "mqtt: connection lost: {e}; {} batches unacknowledged will be re-sent",
                            s.batches.len()
                        );
                        return End::Lost(e);
                    }
                },
                _ = linger.tick(), if live_room => {
                    let records = match self
                        .store
                        .read_between(SINK, live_after, u64::MAX, self.cfg.max_batch_records, self.cfg.max_batch_bytes)
                        .await
                    {
                        Ok(r) => r,
                        Err(e) => {
                            log::warn!("mqtt: store: {e}");
                            continue;
                        }
                    };
                    let Some(last) = records.last().map(|r| r.seq) else { continue };
                    if self.send(client, &mut s, qos, live_after, &records, true).await.is_err() {
                        return End::Failed;
                    }
                    live_after = last;
                    if records.len() >= self.cfg.max_batch_records {
                        // More is waiting: come back at once instead of after the linger.
                        linger.reset_immediately();
                    }
                }
                _ = tokio::time::sleep_until(backlog_at), if backlog_open && backlog_room => {
                    let bytes = match bucket.allowance(self.cfg.max_batch_bytes) {
                        Ok(b) => b,
                        Err(wait) => {
                            backlog_at = tokio::time::Instant::now() + wait;
                            continue;
                        }
                    };
                    let records = match self
                        .store
                        .read_between(SINK, backlog_after, boundary, self.cfg.max_batch_records, bytes)
                        .await
                    {
                        Ok(r) => r,
                        Err(e) => {
                            log::warn!("mqtt: store: {e}");
                            backlog_at = tokio::time::Instant::now() + Duration::from_secs(1);
                            continue;
                        }
                    };
                    let Some(last) = records.last().map(|r| r.seq) else {
                        backlog_open = false;
                        if backlog_records > 0 {
                            log::info!(
                                "mqtt: backlog of {backlog_records} records sent in {:.1} s",
                                drain_started.elapsed().as_secs_f64()
                            );
                        }
                        continue;
                    };
                    if backlog_records == 0 {
                        log::info!("mqtt: sending the backlog (records up to seq {boundary}) behind live data");
                    }
                    bucket.spend(records.iter().map(|r| r.data.len()).sum());
                    backlog_records += records.len() as u64;
                    if self.send(client, &mut s, qos, backlog_after, &records, false).await.is_err() {
                        return End::Failed;
                    }
                    backlog_after = last;
                }
                changed = config_status.changed() => {
                    if changed.is_err() {
                        continue;
                    }
                    let payload = config_status.borrow_and_update().clone();
                    if let Some(payload) = payload {
                        if self.publish_status(client, &mut s, "config/status", payload.to_vec()).await.is_err() {
                            return End::Failed;
                        }
                    }
                }
                _ = stop.stopped() => return End::Shutdown,
            }
        }
    }

    async fn publish_status(
        &self,
        client: &AsyncClient,
        s: &mut Session,
        leaf: &str,
        payload: Vec<u8>,
    ) -> Result<(), rumqttc::ClientError> {
        s.unassigned.push_back(None);
        client
            .publish(self.topic(leaf), QoS::AtLeastOnce, true, payload)
            .await
    }

    /// Publishes `records` (read after `after`) as one batch: one publish per class.
    async fn send(
        &self,
        client: &AsyncClient,
        s: &mut Session,
        qos: QoS,
        after: u64,
        records: &[Record],
        live: bool,
    ) -> Result<(), rumqttc::ClientError> {
        let Some(last) = records.last().map(|r| r.seq) else {
            return Ok(());
        };
        let id = s.next_batch;
        s.next_batch += 1;
        let mut outstanding = 0;
        let mut alerts = Vec::new();
        let gate = self.alerts.get();
        for class in Class::ALL {
            let mut of_class: Vec<&Record> = records.iter().filter(|r| r.class == class).collect();
            if class == Class::Alerts {
                of_class.retain(|r| self.admit_alert(&gate, r, &mut alerts));
            }
            if of_class.is_empty() {
                continue;
            }
            let mut payload = batch_json(&self.gateway, class, &of_class);
            if self.cfg.compression == Compression::Gzip {
                payload = gzip(&payload);
            }
            s.unassigned.push_back(Some(id));
            outstanding += 1;
            client
                .publish(self.topic(class.name()), qos, false, payload)
                .await?;
        }
        if outstanding == 0 {
            // Every record was an alert this route does not take: nothing to wait for.
            if let Err(e) = self.store.ack_range(SINK, after, last).await {
                log::warn!("mqtt: store: {e}");
            }
            return Ok(());
        }
        s.batches.insert(
            id,
            Batch {
                after,
                last,
                live,
                outstanding,
                alerts,
            },
        );
        if live {
            s.live_in += 1;
        } else {
            s.backlog_in += 1;
        }
        Ok(())
    }

    async fn done(&self, s: &mut Session, id: u64) {
        let Some(b) = s.batches.get_mut(&id) else { return };
        b.outstanding = b.outstanding.saturating_sub(1);
        if b.outstanding > 0 {
            return;
        }
        let Some(b) = s.batches.remove(&id) else { return };
        if b.live {
            s.live_in -= 1;
        } else {
            s.backlog_in -= 1;
        }
        for (kind, n) in &b.alerts {
            self.alert_stats.count(SINK, kind, stats::DELIVERED, *n);
        }
        if let Err(e) = self.store.ack_range(SINK, b.after, b.last).await {
            log::warn!("mqtt: store: {e}");
        }
    }

    /// Whether the alert record goes out on this uplink (`[alerts.mqtt]`, shadow mode); a
    /// decision that does not is counted by reason and acknowledged with its batch.
    fn admit_alert(&self, gate: &Gate, r: &Record, kinds: &mut Vec<(&'static str, u64)>) -> bool {
        let Ok(d) = Decision::decode(&r.data) else {
            // Sent as it is: the payload says it is undecodable, and the receiver decides.
            return true;
        };
        let kind = d.kind.as_str();
        match admit(&gate.route, gate.shadow, &d) {
            Verdict::Send => {
                match kinds.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, n)) => *n += 1,
                    None => kinds.push((kind, 1)),
                }
                true
            }
            Verdict::Skip(why) => {
                self.alert_stats.count(SINK, kind, why, 1);
                false
            }
        }
    }
}

enum End {
    Shutdown,
    /// The connection broke.
    Lost(ConnectionError),
    /// A request could not be queued (the event loop is gone).
    Failed,
}

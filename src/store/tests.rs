//! The store's behaviour, run against every backend compiled in: ordering, independent
//! cursors, ack-then-delete, eviction order and counts, crash consistency (a store dropped
//! without closing), damaged files, and failing disks (injected errors).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::backend::{BackendError, BackendKind};
use super::queue::Store;
use super::record::Class;
use super::stats::DropReason;
use crate::config::StoreConfig;
use crate::model::now_ms;

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let d = std::env::temp_dir().join(format!("outpost-store-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn backends() -> Vec<BackendKind> {
    #[allow(unused_mut)]
    let mut v = vec![BackendKind::Redb];
    #[cfg(feature = "store-sled")]
    v.push(BackendKind::Sled);
    v
}

fn cfg(kind: BackendKind) -> StoreConfig {
    StoreConfig {
        backend: kind,
        min_free_disk: 0,
        ..StoreConfig::default()
    }
}

fn payload(seq_hint: u64, len: usize) -> Vec<u8> {
    let mut v = seq_hint.to_le_bytes().to_vec();
    v.resize(len, 0xA5);
    v
}

fn open(dir: &Path, cfg: &StoreConfig) -> Store {
    // sled releases its file lock from a background thread a moment after the last handle is
    // dropped, so reopening right after a simulated crash can find it still held (the agent
    // retries such an open after a backoff; the tests retry briefly).
    let mut tries = 0;
    loop {
        let s = Store::open(dir, cfg.clone(), None);
        if s.is_available() {
            return s;
        }
        let why = s.stats().unavailable.unwrap_or_default();
        tries += 1;
        if tries >= 30 || !why.contains("lock") {
            panic!("store did not open: {why}");
        }
        drop(s);
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn seqs(store: &mut Store, sink: &str) -> Vec<u64> {
    let mut out = Vec::new();
    loop {
        let batch = store.read(sink, 100, 1 << 20).unwrap();
        if batch.is_empty() {
            return out;
        }
        out.extend(batch.iter().map(|r| r.seq));
    }
}

#[test]
fn ordered_reads_across_classes_and_independent_cursors() {
    for kind in backends() {
        let d = Dir::new("order");
        let mut s = open(&d.0, &cfg(kind));
        s.register_sink("mqtt", &Class::ALL, true);
        s.register_sink("rw", &[Class::Metrics], true);
        for i in 0..30u64 {
            let class = Class::ALL[(i % 3) as usize];
            assert_eq!(s.append(class, now_ms(), payload(i, 100)), i + 1);
        }
        // Not durable yet: nothing to read.
        assert!(s.read("mqtt", 10, 1 << 20).unwrap().is_empty(), "{kind:?}");
        s.commit().unwrap();
        assert_eq!(s.durable_seq(), 30);
        assert_eq!(seqs(&mut s, "mqtt"), (1..=30).collect::<Vec<_>>(), "{kind:?}");
        assert_eq!(
            seqs(&mut s, "rw"),
            (1..=30).step_by(3).collect::<Vec<_>>(),
            "{kind:?}"
        );
        // Data matches what was appended.
        s.rewind("mqtt");
        let first = s.read("mqtt", 1, 1 << 20).unwrap();
        assert_eq!(first[0].data, payload(0, 100));
        assert_eq!(first[0].class, Class::Metrics);
        s.close();
    }
}

#[test]
fn a_record_is_deleted_only_when_every_sink_that_wants_it_acked() {
    for kind in backends() {
        let d = Dir::new("ack");
        let mut s = open(&d.0, &cfg(kind));
        s.register_sink("mqtt", &Class::ALL, true);
        s.register_sink("rw", &[Class::Metrics], true);
        for i in 0..10 {
            s.append(Class::Metrics, now_ms(), payload(i, 50));
        }
        s.append(Class::Logs, now_ms(), payload(99, 50));
        s.commit().unwrap();
        s.ack("mqtt", 11);
        s.commit().unwrap();
        let st = s.stats();
        assert_eq!(
            st.records[Class::Metrics.index()],
            10,
            "rw has not acked metrics ({kind:?})"
        );
        assert_eq!(
            st.records[Class::Logs.index()],
            0,
            "only mqtt wants logs ({kind:?})"
        );
        assert_eq!(st.sinks["mqtt"].records, 0);
        assert_eq!(st.sinks["rw"].records, 10);
        s.ack("rw", 11);
        s.commit().unwrap();
        assert_eq!(s.stats().records, [0, 0, 0], "{kind:?}");
        s.close();
        // Cursors survive a restart.
        let mut s = open(&d.0, &cfg(kind));
        s.register_sink("mqtt", &Class::ALL, true);
        let seq = s.append(Class::Alerts, now_ms(), payload(12, 10));
        assert!(seq > 11, "{kind:?}: sequence number {seq} reused");
        s.commit().unwrap();
        assert_eq!(seqs(&mut s, "mqtt"), vec![seq], "{kind:?}");
        s.close();
    }
}

#[test]
fn with_no_sink_configured_data_is_kept() {
    for kind in backends() {
        let d = Dir::new("nosink");
        let mut s = open(&d.0, &cfg(kind));
        for i in 0..5 {
            s.append(Class::Metrics, now_ms(), payload(i, 10));
        }
        s.commit().unwrap();
        s.close();
        let mut s = open(&d.0, &cfg(kind));
        assert_eq!(s.stats().records[0], 5);
        // A sink configured later starts with the oldest data kept.
        s.register_sink("late", &Class::ALL, true);
        assert_eq!(seqs(&mut s, "late"), vec![1, 2, 3, 4, 5], "{kind:?}");
        s.close();
    }
}

#[test]
fn unacknowledged_reads_are_delivered_again_after_a_restart() {
    for kind in backends() {
        let d = Dir::new("redeliver");
        let mut s = open(&d.0, &cfg(kind));
        s.register_sink("mqtt", &Class::ALL, true);
        for i in 0..6 {
            s.append(Class::Logs, now_ms(), payload(i, 10));
        }
        s.commit().unwrap();
        assert_eq!(seqs(&mut s, "mqtt").len(), 6);
        s.ack("mqtt", 3);
        s.commit().unwrap();
        drop(s); // crash: no close
        let mut s = open(&d.0, &cfg(kind));
        s.register_sink("mqtt", &Class::ALL, true);
        assert_eq!(seqs(&mut s, "mqtt"), vec![4, 5, 6], "{kind:?}");
        assert_eq!(s.stats().unclean_starts, 1);
        s.close();
    }
}

#[test]
fn a_crash_keeps_what_was_committed_and_never_reuses_sequence_numbers() {
    for kind in backends() {
        let d = Dir::new("crash");
        let mut s = open(&d.0, &cfg(kind));
        for i in 0..100 {
            s.append(Class::Metrics, now_ms(), payload(i, 200));
        }
        s.commit().unwrap();
        for i in 100..150 {
            s.append(Class::Metrics, now_ms(), payload(i, 200));
        }
        drop(s); // crash before the second commit
        let mut s = open(&d.0, &cfg(kind));
        assert_eq!(s.stats().records[0], 100, "{kind:?}");
        let next = s.append(Class::Metrics, now_ms(), payload(0, 1));
        assert!(next >= 101, "{kind:?}: seq {next} reused");
        s.commit().unwrap();
        s.register_sink("x", &Class::ALL, true);
        let got = seqs(&mut s, "x");
        assert_eq!(got.len(), 101);
        assert_eq!(&got[..100], &(1..=100).collect::<Vec<_>>()[..]);
        s.close();
    }
}

#[test]
fn eviction_goes_metrics_then_logs_then_alerts_oldest_first_and_is_counted() {
    for kind in backends() {
        let d = Dir::new("evict");
        let mut c = cfg(kind);
        c.max_bytes = 400 << 10;
        let mut s = open(&d.0, &c);
        // 3 commits of 100 KiB per class: 900 KiB offered, 400 KiB allowed.
        for round in 0..3u64 {
            for class in [Class::Alerts, Class::Logs, Class::Metrics] {
                for i in 0..10 {
                    s.append(class, now_ms(), payload(round * 100 + i, 10 << 10));
                }
            }
            s.commit().unwrap();
        }
        let st = s.stats();
        assert!(
            st.bytes.iter().sum::<u64>() <= c.max_bytes,
            "{kind:?}: {:?}",
            st.bytes
        );
        assert_eq!(
            st.records[Class::Metrics.index()],
            0,
            "{kind:?}: metrics go first"
        );
        assert_eq!(st.records[Class::Alerts.index()], 30, "{kind:?}: alerts go last");
        assert!(st.records[Class::Logs.index()] < 30);
        let dropped_metrics = st
            .dropped
            .get(&(Class::Metrics, DropReason::MaxBytes))
            .copied()
            .unwrap_or(0);
        let dropped_logs = st
            .dropped
            .get(&(Class::Logs, DropReason::MaxBytes))
            .copied()
            .unwrap_or(0);
        assert_eq!(dropped_metrics, 30);
        assert_eq!(
            dropped_logs + st.records[Class::Logs.index()],
            30,
            "every record is kept or counted"
        );
        // Oldest first within a class: the logs left are the newest.
        s.register_sink("x", &[Class::Logs], true);
        let left = s.read("x", 100, 100 << 20).unwrap();
        let hints: Vec<u64> = left
            .iter()
            .map(|r| u64::from_le_bytes(r.data[..8].try_into().unwrap()))
            .collect();
        assert!(
            hints.iter().all(|h| *h >= 100),
            "{kind:?}: old logs kept: {hints:?}"
        );
        s.close();
    }
}

#[test]
fn records_older_than_max_age_are_evicted() {
    for kind in backends() {
        let d = Dir::new("age");
        let mut c = cfg(kind);
        c.max_age = [
            Duration::from_secs(3600),
            Duration::from_secs(7200),
            Duration::from_secs(86400),
        ];
        let mut s = open(&d.0, &c);
        let old = now_ms() - 3 * 3600 * 1000;
        s.append(Class::Metrics, old, payload(1, 10));
        s.append(Class::Logs, old, payload(2, 10));
        s.append(Class::Alerts, old, payload(3, 10));
        s.commit().unwrap();
        s.append(Class::Metrics, now_ms(), payload(4, 10));
        s.commit().unwrap();
        let st = s.stats();
        assert_eq!(
            st.records,
            [1, 0, 1],
            "{kind:?}: metrics and logs are past their age"
        );
        assert_eq!(st.dropped[&(Class::Metrics, DropReason::MaxAge)], 1);
        assert_eq!(st.dropped[&(Class::Logs, DropReason::MaxAge)], 1);
        s.close();
    }
}

#[test]
fn a_failing_disk_loses_nothing_within_the_memory_bound() {
    for kind in backends() {
        let d = Dir::new("fail");
        let mut s = open(&d.0, &cfg(kind));
        s.register_sink("x", &Class::ALL, true);
        s.inject = Some((3, || BackendError::Io(std::io::Error::other("injected EIO"))));
        for round in 0..3u64 {
            s.append(Class::Logs, now_ms(), payload(round, 100));
            assert!(s.commit().is_err());
            assert!(!s.is_available());
            assert!(!s.stats().healthy);
            s.retry_now();
        }
        s.append(Class::Logs, now_ms(), payload(3, 100));
        s.commit().expect("disk is back");
        assert!(s.is_available());
        assert_eq!(seqs(&mut s, "x"), vec![1, 2, 3, 4], "{kind:?}");
        assert_eq!(s.stats().write_errors, 3);
        s.close();
    }
}

#[test]
fn disk_full_evicts_to_make_room_and_keeps_running() {
    for kind in backends() {
        let d = Dir::new("full");
        let mut s = open(&d.0, &cfg(kind));
        for i in 0..20 {
            s.append(Class::Metrics, now_ms(), payload(i, 1000));
        }
        s.commit().unwrap();
        s.inject = Some((1, || {
            BackendError::Full(std::io::Error::from_raw_os_error(libc::ENOSPC))
        }));
        s.append(Class::Alerts, now_ms(), payload(100, 10));
        assert!(matches!(s.commit(), Err(BackendError::Full(_))));
        s.retry_now();
        if let Err(e) = s.commit() {
            panic!("{kind:?}: second attempt failed: {e}; stats {:?}", s.stats());
        }
        assert_eq!(s.stats().records[Class::Alerts.index()], 1, "{kind:?}");
        s.close();
    }
}

#[test]
fn memory_buffer_is_bounded_while_the_disk_is_down() {
    let d = Dir::new("bound");
    let mut c = cfg(BackendKind::Redb);
    c.commit_bytes = 64 << 10; // in-memory bound: 4 MiB
    let mut s = open(&d.0, &c);
    s.inject = Some((1, || BackendError::Io(std::io::Error::other("injected EIO"))));
    s.append(Class::Metrics, now_ms(), payload(0, 10));
    assert!(s.commit().is_err());
    for i in 0..1000 {
        s.append(Class::Metrics, now_ms(), payload(i, 10 << 10));
    }
    let st = s.stats();
    assert!(st.pending_records < 1000);
    let dropped = st.dropped[&(Class::Metrics, DropReason::WriteError)];
    assert_eq!(dropped + st.pending_records, 1001, "every record kept or counted");
    s.retry_now();
    s.commit().unwrap();
    assert_eq!(s.stats().records[0], 1001 - dropped);
    s.close();
}

fn damage(path: &Path, how: &str) {
    let mut bytes = std::fs::read(path).unwrap();
    match how {
        "truncate" => bytes.truncate(bytes.len() / 3),
        "flip" => {
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            for _ in 0..64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % bytes.len();
                bytes[i] ^= 0xFF;
            }
        }
        "garbage" => bytes = vec![0x42; bytes.len().max(4096)],
        "empty-header" => {
            for b in bytes.iter_mut().take(4096) {
                *b = 0;
            }
        }
        _ => unreachable!(),
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_damaged_redb_file_is_quarantined_and_the_store_starts_fresh() {
    for how in ["truncate", "flip", "garbage", "empty-header"] {
        let d = Dir::new("damage");
        let c = cfg(BackendKind::Redb);
        let mut s = open(&d.0, &c);
        for i in 0..300 {
            s.append(Class::Logs, now_ms(), payload(i, 500));
        }
        s.commit().unwrap();
        s.close();
        damage(&d.0.join("store.redb"), how);
        // Opening must not panic, and must leave a working store.
        let mut s = Store::open(&d.0, c.clone(), None);
        assert!(s.is_available(), "{how}: {:?}", s.stats().unavailable);
        s.register_sink("x", &Class::ALL, true);
        let readable = seqs(&mut s, "x").len() as u64;
        let st = s.stats();
        let quarantined = st.recoveries.values().sum::<u64>();
        let corrupt = st
            .dropped
            .get(&(Class::Logs, DropReason::Corrupt))
            .copied()
            .unwrap_or(0);
        // Either the damage was detected (quarantine, or damaged chunks dropped and counted) or
        // it hit only free space and everything reads back.
        eprintln!("{how}: quarantined {quarantined}, corrupt records dropped {corrupt}, readable {readable}");
        assert!(
            quarantined > 0 || corrupt > 0 || readable == 300,
            "{how}: damage went unnoticed: {readable} readable"
        );
        if quarantined > 0 {
            assert!(
                d.0.join("quarantine").read_dir().unwrap().next().is_some(),
                "{how}"
            );
        }
        let seq = s.append(Class::Alerts, now_ms(), payload(1, 1));
        assert!(seq > 300, "{how}: sequence numbers restarted at {seq}");
        s.commit().expect("fresh store takes writes");
        s.close();
    }
}

#[test]
fn a_store_of_another_format_version_is_quarantined() {
    let d = Dir::new("version");
    let c = cfg(BackendKind::Redb);
    let mut s = open(&d.0, &c);
    s.append(Class::Logs, now_ms(), payload(1, 10));
    s.commit().unwrap();
    s.close();
    {
        let mut b = super::backend::open(BackendKind::Redb, &d.0.join("store.redb"), 1 << 20, false).unwrap();
        let mut batch = super::backend::WriteBatch::default();
        batch
            .meta
            .push(("format".into(), postcard::to_allocvec(&99u32).unwrap()));
        b.commit(batch).unwrap();
    }
    let s = open(&d.0, &c);
    let st = s.stats();
    assert_eq!(st.recoveries.get("unreadable"), Some(&1), "{:?}", st.recoveries);
    assert_eq!(st.records, [0, 0, 0]);
    s.close();
}

#[test]
fn quarantine_is_bounded() {
    let d = Dir::new("qbound");
    let c = cfg(BackendKind::Redb);
    for _ in 0..6 {
        let mut s = open(&d.0, &c);
        s.append(Class::Logs, now_ms(), payload(1, 10));
        s.commit().unwrap();
        s.close();
        damage(&d.0.join("store.redb"), "garbage");
        Store::open(&d.0, c.clone(), None).close();
        std::thread::sleep(Duration::from_millis(1100)); // distinct quarantine names
    }
    let n = d.0.join("quarantine").read_dir().unwrap().count();
    assert!(n <= 3, "{n} quarantined stores kept");
}

#[test]
fn a_panic_inside_store_code_quarantines_the_store_at_the_next_start() {
    let d = Dir::new("panic");
    let c = cfg(BackendKind::Redb);
    let mut s = open(&d.0, &c);
    s.append(Class::Logs, now_ms(), payload(1, 10));
    s.commit().unwrap();
    // A panic while inside store code (as a damaged file can cause in a storage engine).
    let marker = d.0.join("store.panicked");
    let dir = d.0.clone();
    let t = std::thread::spawn(move || {
        let _guard = super::recovery::InStore::enter(&dir);
        panic!("simulated storage engine panic");
    });
    assert!(t.join().is_err());
    assert!(marker.exists(), "panic hook did not leave a marker");
    drop(s);
    let s = open(&d.0, &c);
    assert_eq!(s.stats().recoveries.get("panic"), Some(&1));
    assert!(!marker.exists());
    s.close();
}

/// Random operation sequences against a model of the contract, on every backend: appends,
/// commits, in-order reads and acknowledgements, live reads from a random later position
/// acknowledged ahead of the backlog, by two sinks with different classes, clean restarts and
/// crashes (dropping the store without closing it). Reads must return exactly the model's
/// unacknowledged durable records in order; a crash loses only what was not committed.
/// `MODEL_TRACE=1` prints every step.
#[test]
fn random_operations_follow_the_model() {
    use std::collections::BTreeMap;

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }
    /// Acknowledged intervals, kept naively (no merging) so the model stays obviously right.
    fn acked(ivs: &[(u64, u64)], seq: u64) -> bool {
        ivs.iter().any(|(a, b)| *a <= seq && seq <= *b)
    }
    /// The largest p with 1..=p acknowledged.
    fn prefix(ivs: &[(u64, u64)]) -> u64 {
        let mut v = ivs.to_vec();
        v.sort_unstable();
        let mut p = 0u64;
        for (a, b) in v {
            if a <= p + 1 {
                p = p.max(b);
            }
        }
        p
    }
    let sinks: [(&str, &[Class]); 2] = [("all", &Class::ALL), ("metrics", &[Class::Metrics])];
    for kind in backends() {
        for seed in 1..=12u64 {
            let d = Dir::new("model");
            let c = cfg(kind);
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut durable: BTreeMap<u64, (Class, Vec<u8>)> = BTreeMap::new();
            let mut pending: Vec<(u64, Class, Vec<u8>)> = Vec::new();
            let mut acks: [Vec<(u64, u64)>; 2] = Default::default();
            let mut given = [0u64; 2];
            let mut last_seq = 0u64;
            let mut s = open(&d.0, &c);
            for (name, classes) in sinks {
                s.register_sink(name, classes, true);
            }
            for step in 0..300 {
                let ctx = format!("{kind:?} seed {seed} step {step}");
                let op = rng.below(100);
                if std::env::var_os("MODEL_TRACE").is_some() {
                    eprintln!(
                        "{ctx}: op {op} given {given:?} acks {acks:?} durable {:?} pending {:?}",
                        durable.keys().collect::<Vec<_>>(),
                        pending.iter().map(|p| p.0).collect::<Vec<_>>()
                    );
                }
                match op {
                    0..=39 => {
                        let class = Class::ALL[rng.below(3) as usize];
                        let data = payload(rng.below(1 << 30), 1 + rng.below(300) as usize);
                        let seq = s.append(class, now_ms(), data.clone());
                        assert!(seq > last_seq, "{ctx}: seq {seq} not above {last_seq}");
                        last_seq = seq;
                        pending.push((seq, class, data));
                    }
                    40..=54 => {
                        s.commit().unwrap();
                        for (seq, class, data) in pending.drain(..) {
                            durable.insert(seq, (class, data));
                        }
                    }
                    55..=84 => {
                        // In order (from the read position), or live (from a later position).
                        let i = rng.below(2) as usize;
                        let (name, classes) = sinks[i];
                        let live = op >= 75;
                        let newest = durable.keys().next_back().copied().unwrap_or(0);
                        let after = if live {
                            given[i] + rng.below(newest.saturating_sub(given[i]) + 1)
                        } else {
                            given[i]
                        };
                        let n = 1 + rng.below(20) as usize;
                        let batch = if live {
                            s.read_after(name, after, n, 1 << 20).unwrap()
                        } else {
                            s.read(name, n, 1 << 20).unwrap()
                        };
                        let want: Vec<u64> = durable
                            .iter()
                            .filter(|(seq, (class, _))| {
                                **seq > after && classes.contains(class) && !acked(&acks[i], **seq)
                            })
                            .map(|(seq, _)| *seq)
                            .take(n)
                            .collect();
                        let got: Vec<u64> = batch.iter().map(|r| r.seq).collect();
                        assert_eq!(
                            got,
                            want,
                            "{ctx}: {} read {name} after {after}",
                            if live { "live" } else { "in-order" }
                        );
                        for r in &batch {
                            assert_eq!(durable[&r.seq], (r.class, r.data.clone()), "{ctx}: data");
                        }
                        if let Some(last) = got.last().copied() {
                            if !live {
                                given[i] = last;
                            }
                            if rng.below(3) > 0 {
                                if live {
                                    s.ack_range(name, after, last);
                                    acks[i].push((after + 1, last));
                                } else {
                                    s.ack(name, last);
                                    acks[i].push((0, last));
                                }
                                given[i] = given[i].max(prefix(&acks[i]));
                            }
                        }
                    }
                    85..=92 => {
                        s.close();
                        for (seq, class, data) in pending.drain(..) {
                            durable.insert(seq, (class, data));
                        }
                        s = open(&d.0, &c);
                        for (name, classes) in sinks {
                            s.register_sink(name, classes, true);
                        }
                        given = [prefix(&acks[0]), prefix(&acks[1])];
                    }
                    _ => {
                        // A killed process: pending records are lost; acknowledgements are
                        // not (the ack journal keeps them, and they only ever name durable
                        // records).
                        drop(s);
                        pending.clear();
                        // Numbers of records that never became durable may be handed out again
                        // (nobody can have seen them); durable ones never.
                        last_seq = durable.keys().next_back().copied().unwrap_or(0).min(last_seq);
                        s = open(&d.0, &c);
                        for (name, classes) in sinks {
                            s.register_sink(name, classes, true);
                        }
                        given = [prefix(&acks[0]), prefix(&acks[1])];
                    }
                }
                // The store may hold acknowledged records until whole chunks are acknowledged,
                // never fewer than the model's unacknowledged ones.
                let live = durable
                    .iter()
                    .filter(|(seq, (class, _))| {
                        (0..2)
                            .filter(|i| sinks[*i].1.contains(class))
                            .any(|i| !acked(&acks[i], **seq))
                    })
                    .count() as u64;
                let held: u64 = s.stats().records.iter().sum();
                assert!(
                    held >= live,
                    "{ctx}: store holds {held} records, the model {live}"
                );
            }
            s.close();
        }
    }
}

#[test]
fn cursor_ranges_merge_and_advance() {
    use super::queue::Cursor;
    let mut c = Cursor::at(10);
    c.add(20, 25);
    c.add(30, 30);
    assert_eq!((c.acked, c.ranges.clone()), (10, vec![(20, 25), (30, 30)]));
    assert!(c.is_acked(5) && c.is_acked(22) && !c.is_acked(11) && !c.is_acked(26));
    assert!(c.covers(21, 25) && !c.covers(19, 25) && c.covers(1, 10) && c.covers(5, 10));
    c.add(26, 29); // joins both ranges
    assert_eq!(c.ranges, vec![(20, 30)]);
    c.add(11, 19); // closes the gap: the cursor passes everything
    assert_eq!((c.acked, c.ranges.is_empty()), (30, true));
    c.add(5, 8); // already acknowledged
    assert_eq!(c.acked, 30);
    c.add(31, 31);
    assert_eq!(c.acked, 31);
}

#[test]
fn live_data_can_be_acknowledged_before_the_backlog() {
    for kind in backends() {
        let d = Dir::new("live");
        let c = cfg(kind);
        let mut s = open(&d.0, &c);
        s.register_sink("up", &Class::ALL, true);
        for i in 0..10 {
            s.append(Class::Metrics, now_ms(), payload(i, 50));
        }
        s.commit().unwrap(); // backlog: 1..=10
        for i in 10..13 {
            s.append(Class::Metrics, now_ms(), payload(i, 50));
        }
        s.commit().unwrap(); // live: 11..=13
                             // Live first: read the tail, acknowledge it ahead of the backlog.
        let live = s.read_after("up", 10, 100, 1 << 20).unwrap();
        assert_eq!(live.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![11, 12, 13]);
        s.ack_range("up", 10, 13);
        s.commit().unwrap();
        assert_eq!(
            s.stats().records[0],
            10,
            "{kind:?}: the live chunk is gone, the backlog kept"
        );
        drop(s); // crash: the range acknowledgement was committed
        let mut s = open(&d.0, &c);
        s.register_sink("up", &Class::ALL, true);
        assert_eq!(
            seqs(&mut s, "up"),
            (1..=10).collect::<Vec<_>>(),
            "{kind:?}: backlog only"
        );
        s.ack("up", 10);
        s.commit().unwrap();
        assert_eq!(s.stats().records, [0, 0, 0], "{kind:?}");
        assert_eq!(
            s.stats().sinks["up"].acked,
            13,
            "{kind:?}: cursor passed the range"
        );
        s.close();
    }
}

/// The bytes of a cleanly closed store holding 400 log records written in four commits.
fn store_file_with_400_records(c: &StoreConfig) -> Vec<u8> {
    let d = Dir::new("src-store");
    let mut s = open(&d.0, c);
    for i in 0..400 {
        s.append(Class::Logs, now_ms(), payload(i, 500));
        if i % 100 == 99 {
            s.commit().unwrap();
        }
    }
    s.close();
    std::fs::read(d.0.join("store.redb")).unwrap()
}

#[test]
fn a_store_truncated_anywhere_opens_usable() {
    let c = cfg(BackendKind::Redb);
    let original = store_file_with_400_records(&c);
    let len = original.len();
    for k in 0..24usize {
        let at = (k * 7919 * 4099) % len;
        let t = Dir::new("trunc");
        std::fs::write(t.0.join("store.redb"), &original[..at]).unwrap();
        let s = Store::open(&t.0, c.clone(), None);
        assert!(
            s.is_available(),
            "truncated at {at} of {len}: {:?}",
            s.stats().unavailable
        );
        s.close();
    }
}

#[test]
fn a_store_with_flipped_bits_opens_usable_or_is_quarantined_after_a_panic() {
    let c = cfg(BackendKind::Redb);
    let original = store_file_with_400_records(&c);
    let (mut panics, mut quarantines) = (0, 0);
    for seed in 1..=40u64 {
        let mut bytes = original.clone();
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        for _ in 0..32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % bytes.len();
            bytes[i] ^= 1 << (x % 8);
        }
        let t = Dir::new("flip");
        std::fs::write(t.0.join("store.redb"), &bytes).unwrap();
        // Where panics unwind, a panic inside the engine leaves the marker; the next open
        // quarantines (the store thread does exactly this; release builds restart instead).
        let first = std::panic::catch_unwind(|| Store::open(&t.0, c.clone(), None));
        let s = match first {
            Ok(s) => s,
            Err(_) => {
                panics += 1;
                assert!(
                    t.0.join("store.panicked").exists(),
                    "seed {seed}: panic without marker"
                );
                Store::open(&t.0, c.clone(), None)
            }
        };
        assert!(s.is_available(), "seed {seed}: {:?}", s.stats().unavailable);
        quarantines += s.stats().recoveries.values().sum::<u64>();
        s.close();
    }
    eprintln!("40 damaged stores: {panics} engine panics, {quarantines} quarantined");
}

#[test]
fn a_checkpoint_is_durable_only_with_the_records_before_it() {
    for kind in backends() {
        let dir = Dir::new("checkpoint");
        let c = cfg(kind);
        let mut s = open(&dir.0, &c);
        assert_eq!(s.checkpoint("app"), None);
        s.append(Class::Logs, now_ms(), payload(1, 40));
        s.set_checkpoint("app", b"offset=40".to_vec());
        s.commit().unwrap();
        s.append(Class::Logs, now_ms(), payload(2, 40));
        s.set_checkpoint("app", b"offset=80".to_vec());
        // The process sees its newest position at once …
        assert_eq!(s.checkpoint("app").as_deref(), Some(&b"offset=80"[..]));
        // … but a crash before the commit keeps the old one, with exactly the records it covers.
        drop(s);
        let mut s = open(&dir.0, &c);
        assert_eq!(
            s.checkpoint("app").as_deref(),
            Some(&b"offset=40"[..]),
            "{kind:?}"
        );
        s.register_sink("x", &[Class::Logs], true);
        assert_eq!(seqs(&mut s, "x").len(), 1, "{kind:?}");
        s.append(Class::Logs, now_ms(), payload(3, 40));
        s.set_checkpoint("app", b"offset=80".to_vec());
        s.commit().unwrap();
        s.close();
        let s = open(&dir.0, &c);
        assert_eq!(
            s.checkpoint("app").as_deref(),
            Some(&b"offset=80"[..]),
            "{kind:?}"
        );
    }
}

#[test]
fn acknowledgements_survive_a_killed_process_through_the_journal() {
    for kind in backends() {
        let dir = Dir::new("ackjournal");
        let c = cfg(kind);
        let mut s = open(&dir.0, &c);
        s.register_sink("x", &[Class::Logs], true);
        for i in 0..10 {
            s.append(Class::Logs, now_ms(), payload(i, 40));
        }
        s.commit().unwrap();
        assert_eq!(seqs(&mut s, "x").len(), 10);
        let first = s.read("x", 100, 1 << 20).unwrap_or_default();
        let _ = first;
        s.ack_range("x", 0, 6);
        // Killed before the next commit: the journal has the acknowledgement.
        drop(s);
        let mut s = open(&dir.0, &c);
        s.register_sink("x", &[Class::Logs], true);
        let left = seqs(&mut s, "x");
        assert_eq!(left, vec![7, 8, 9, 10], "{kind:?}");
        s.commit().unwrap();
        assert_eq!(std::fs::metadata(dir.0.join("acks.journal")).unwrap().len(), 0);
        s.close();
    }
}

//! `[store]`, resolved: the store's engine, commit cadence and bounds. The contract these
//! settings tune is in `src/store/mod.rs`.

use std::time::Duration;

use super::check::{duration, size};
use super::schema::RawStore;
use super::Problems;

/// `[store]`, resolved. See the contract in `src/store/mod.rs`.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub backend: BackendKind,
    pub commit_interval: Duration,
    /// How long what can be recovered without the store may wait for a commit: records of
    /// sources that can read their input again (files, journald: their checkpoint waits with
    /// them) and acknowledgements (journaled for a killed process).
    pub commit_interval_rereadable: Duration,
    pub commit_bytes: u64,
    pub max_bytes: u64,
    /// Per class, indexed by `Class::index()`: metrics, logs, alerts.
    pub max_age: [Duration; 3],
    pub min_free_disk: u64,
    pub cache_bytes: u64,
    pub quarantine_max_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: BackendKind::Redb,
            commit_interval: Duration::from_secs(1),
            commit_interval_rereadable: Duration::from_secs(5),
            commit_bytes: 256 << 10,
            max_bytes: 512 << 20,
            max_age: [
                Duration::from_secs(7 * 86_400),
                Duration::from_secs(7 * 86_400),
                Duration::from_secs(30 * 86_400),
            ],
            min_free_disk: 128 << 20,
            cache_bytes: 4 << 20,
            quarantine_max_bytes: 256 << 20,
        }
    }
}

/// Which engine to use (`[store] backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Redb,
    #[cfg(feature = "store-sled")]
    Sled,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Redb => "redb",
            #[cfg(feature = "store-sled")]
            BackendKind::Sled => "sled",
        }
    }

    /// The file or directory the backend keeps under the data directory.
    pub fn file_name(self) -> &'static str {
        match self {
            BackendKind::Redb => "store.redb",
            #[cfg(feature = "store-sled")]
            BackendKind::Sled => "store.sled",
        }
    }
}

/// Resolves `[store]`.
pub fn resolve(p: &mut Problems, st: &RawStore) -> StoreConfig {
    let d = StoreConfig::default();
    let backend = match st.backend.as_deref() {
        None | Some("redb") => BackendKind::Redb,
        #[cfg(feature = "store-sled")]
        Some("sled") => BackendKind::Sled,
        #[cfg(not(feature = "store-sled"))]
        Some("sled") => {
            p.add(
                "store.backend",
                "this build has no sled backend (build with --features store-sled)",
            );
            BackendKind::Redb
        }
        Some(other) => {
            p.add(
                "store.backend",
                format!("unknown backend {other:?}; use \"redb\" or \"sled\""),
            );
            BackendKind::Redb
        }
    };
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    let age = |p: &mut Problems, key: &str, v: Option<&str>, default: Duration| {
        duration(
            p,
            key,
            v,
            default,
            Duration::from_secs(60),
            Duration::from_secs(10 * 365 * 86_400),
        )
    };
    StoreConfig {
        backend,
        commit_interval: duration(
            p,
            "store.commit_interval",
            st.commit_interval.as_deref(),
            d.commit_interval,
            Duration::from_millis(10),
            Duration::from_secs(3600),
        ),
        commit_interval_rereadable: duration(
            p,
            "store.commit_interval_rereadable",
            st.commit_interval_rereadable.as_deref(),
            d.commit_interval_rereadable,
            Duration::from_millis(10),
            Duration::from_secs(3600),
        ),
        commit_bytes: size(
            p,
            "store.commit_bytes",
            st.commit_bytes.as_deref(),
            d.commit_bytes,
            4 * KIB,
            64 * MIB,
        ),
        max_bytes: size(
            p,
            "store.max_bytes",
            st.max_bytes.as_deref(),
            d.max_bytes,
            MIB,
            1 << 50,
        ),
        max_age: [
            age(
                p,
                "store.max_age.metrics",
                st.max_age.metrics.as_deref(),
                d.max_age[0],
            ),
            age(p, "store.max_age.logs", st.max_age.logs.as_deref(), d.max_age[1]),
            age(
                p,
                "store.max_age.alerts",
                st.max_age.alerts.as_deref(),
                d.max_age[2],
            ),
        ],
        min_free_disk: size(
            p,
            "store.min_free_disk",
            st.min_free_disk.as_deref(),
            d.min_free_disk,
            0,
            1 << 50,
        ),
        cache_bytes: size(
            p,
            "store.cache_size",
            st.cache_size.as_deref(),
            d.cache_bytes,
            256 * KIB,
            GIB,
        ),
        quarantine_max_bytes: size(
            p,
            "store.quarantine_max_bytes",
            st.quarantine_max_bytes.as_deref(),
            d.quarantine_max_bytes,
            0,
            1 << 50,
        ),
    }
}

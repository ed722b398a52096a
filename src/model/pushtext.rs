//! The latest values of scraped targets as Pushgateway groups: written by the scrape threads
//! (`sources::scrape::pushtext` renders them), read by the Pushgateway sink each interval.
//! It lives in `model` because it is the data between a source and a sink, which never import
//! each other.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One target's latest text and the grouping key it is pushed under.
#[derive(Debug, Clone)]
pub struct Group {
    pub grouping: Vec<(String, String)>,
    pub text: Arc<String>,
}

/// The latest text of every target, written by the scrape threads, read by the Pushgateway
/// sink each interval.
#[derive(Debug, Default)]
pub struct Latest {
    groups: Mutex<BTreeMap<(String, String), Group>>,
    /// `Some(extra grouping labels)` while a Pushgateway is configured; the threads render
    /// nothing otherwise.
    extra: Mutex<Option<Vec<(String, String)>>>,
}

impl Latest {
    /// A Pushgateway is (or is no longer) configured, with these grouping labels beyond
    /// job and instance.
    pub fn configure(&self, extra: Option<Vec<(String, String)>>) {
        if extra.is_none() {
            self.groups.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
        *self.extra.lock().unwrap_or_else(|e| e.into_inner()) = extra;
    }

    pub fn extra(&self) -> Option<Vec<(String, String)>> {
        self.extra.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, job: &str, instance: &str, group: Group) {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((job.to_string(), instance.to_string()), group);
    }

    pub fn groups(&self) -> Vec<Group> {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

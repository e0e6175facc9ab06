//! Remembers recently published event ids, because EventBridge delivers at least once: the same
//! event arriving twice at one warm instance must not notify twice. Bounded; oldest ids go first.

use std::collections::{HashSet, VecDeque};

/// How many event ids a warm instance remembers.
pub const DEFAULT_CAPACITY: usize = 1024;

#[derive(Debug)]
pub struct RecentIds {
    capacity: usize,
    order: VecDeque<String>,
    members: HashSet<String>,
}

impl RecentIds {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            order: VecDeque::with_capacity(capacity),
            members: HashSet::with_capacity(capacity),
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.members.contains(id)
    }

    /// Records `id` as published, forgetting the oldest id when full.
    pub fn record(&mut self, id: &str) {
        if !self.members.insert(id.to_owned()) {
            return;
        }
        self.order.push_back(id.to_owned());
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.members.remove(&oldest);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

impl Default for RecentIds {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_ids_and_forgets_the_oldest_beyond_capacity() {
        let mut ids = RecentIds::new(3);
        for id in ["a", "b", "c"] {
            ids.record(id);
        }
        assert!(ids.contains("a"));
        ids.record("d");
        assert!(!ids.contains("a"), "oldest id is evicted");
        assert!(ids.contains("b") && ids.contains("c") && ids.contains("d"));
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn recording_an_id_twice_does_not_evict_others() {
        let mut ids = RecentIds::new(2);
        ids.record("a");
        ids.record("b");
        ids.record("b");
        assert!(ids.contains("a"));
        assert_eq!(ids.len(), 2);
    }

    #[test]
    fn default_capacity_holds_1024_ids() {
        let mut ids = RecentIds::default();
        for i in 0..=DEFAULT_CAPACITY {
            ids.record(&i.to_string());
        }
        assert!(!ids.contains("0"));
        assert!(ids.contains("1"));
        assert_eq!(ids.len(), DEFAULT_CAPACITY);
    }
}

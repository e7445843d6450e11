//! Teachers' own views of their records, kept for a moment: a teacher reading their record
//! again and again (and the document service reading it for each certificate) costs eight
//! queries each time otherwise. Every change made through this instance forgets the record at
//! once; a change made through another instance is seen within the time to live. Employer
//! checks and internal reads never use it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portal_common::values::Trn;

use crate::domain::Teacher;

/// Records kept at most; past it, expired ones go, then all.
const CAPACITY: usize = 20_000;

pub struct RecordCache {
    ttl: Duration,
    entries: Mutex<HashMap<Trn, (Instant, Arc<Teacher>)>>,
}

impl RecordCache {
    /// A cache keeping records for `ttl`; zero keeps nothing.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Trn, (Instant, Arc<Teacher>)>> {
        // Every update is one insert or remove: a poisoned map is still consistent.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, trn: Trn) -> Option<Arc<Teacher>> {
        let entries = self.entries();
        entries
            .get(&trn)
            .filter(|(stored, _)| stored.elapsed() < self.ttl)
            .map(|(_, teacher)| teacher.clone())
    }

    pub fn put(&self, trn: Trn, teacher: Arc<Teacher>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= CAPACITY {
            let ttl = self.ttl;
            entries.retain(|_, (stored, _)| stored.elapsed() < ttl);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(trn, (Instant::now(), teacher));
    }

    pub fn forget(&self, trn: Trn) {
        self.entries().remove(&trn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::{REFERENCE_DATE, demo_drafts};

    fn teacher() -> Arc<Teacher> {
        let record = demo_drafts()[0]
            .parse(&crate::domain::AlertCatalogue::default(), REFERENCE_DATE)
            .unwrap();
        Arc::new(Teacher {
            person: crate::domain::Person {
                trn: Trn::from_number(1).unwrap(),
                first_name: record.name.first.as_str().into(),
                middle_name: String::new(),
                last_name: record.name.last.as_str().into(),
                first_name_key: String::new(),
                last_name_key: String::new(),
                previous_names: Vec::new(),
                date_of_birth: record.date_of_birth,
                nino: None,
                contact: record.contact,
                status: record.status,
                merged_into: None,
            },
            statuses: record.statuses,
            induction: record.induction,
            npqs: Vec::new(),
            mqs: Vec::new(),
            alerts: Vec::new(),
        })
    }

    #[test]
    fn records_are_kept_for_their_time_and_forgotten_on_change() {
        let trn = Trn::from_number(1).unwrap();
        let cache = RecordCache::new(Duration::from_millis(200));
        assert!(cache.get(trn).is_none());
        cache.put(trn, teacher());
        assert!(cache.get(trn).is_some());
        cache.forget(trn);
        assert!(cache.get(trn).is_none());
        cache.put(trn, teacher());
        std::thread::sleep(Duration::from_millis(250));
        assert!(cache.get(trn).is_none(), "expired");
        let off = RecordCache::new(Duration::ZERO);
        off.put(trn, teacher());
        assert!(off.get(trn).is_none(), "a zero time to live keeps nothing");
    }
}

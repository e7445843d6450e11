//! Records kept for a moment: a teacher reading their record again and again (and the document
//! service reading it for each certificate), and employers checking the same teachers, cost
//! eight queries each time otherwise. Every change made through this instance forgets the
//! record at once; a change made through another instance is seen within the time to live.
//! Internal reads never use it.
//!
//! A record is read from the database by one caller at a time: callers that miss it together
//! (as everyone reading it does the moment it expires) wait for the first one's read instead
//! of repeating it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use portal_common::values::Trn;

use crate::domain::Teacher;

/// Records kept at most; past it, expired ones go, then all.
const CAPACITY: usize = 20_000;

type Entries = HashMap<Trn, (Instant, Arc<Teacher>)>;

pub struct RecordCache {
    ttl: Duration,
    entries: Mutex<Entries>,
    /// The read in progress of each record being read.
    reads: Mutex<HashMap<Trn, Arc<tokio::sync::Mutex<()>>>>,
    /// Counts changes: a read that began before a change is not kept after it.
    changes: AtomicU64,
}

/// Locks a map whose every update is one insert or remove, so a poisoned one is consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl RecordCache {
    /// A cache keeping records for `ttl`; zero keeps nothing.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            reads: Mutex::new(HashMap::new()),
            changes: AtomicU64::new(0),
        }
    }

    /// The record of `trn`, when it is kept.
    pub fn get(&self, trn: Trn) -> Option<Arc<Teacher>> {
        lock(&self.entries)
            .get(&trn)
            .filter(|(stored, _)| stored.elapsed() < self.ttl)
            .map(|(_, teacher)| teacher.clone())
    }

    /// The record of `trn`, kept or read by `read`. One read per record at a time: a caller
    /// that misses while another reads waits for that read and takes what it kept.
    pub async fn get_or_read<E, Fut>(
        &self,
        trn: Trn,
        read: impl FnOnce() -> Fut,
    ) -> Result<Option<Arc<Teacher>>, E>
    where
        Fut: Future<Output = Result<Option<Teacher>, E>>,
    {
        if let Some(teacher) = self.get(trn) {
            return Ok(Some(teacher));
        }
        if self.ttl.is_zero() {
            return Ok(read().await?.map(Arc::new));
        }
        let turn = Turn::take(self, trn);
        let _held = turn.gate.lock().await;
        if let Some(teacher) = self.get(trn) {
            return Ok(Some(teacher));
        }
        let changes = self.changes.load(Ordering::Acquire);
        let teacher = read().await?.map(Arc::new);
        if let Some(teacher) = &teacher {
            self.keep(trn, teacher.clone(), changes);
        }
        Ok(teacher)
    }

    /// Where the change count stands: what a read begun now passes to [`Self::keep`].
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// Keeps a record read when the change count was `changes`, unless something changed since.
    pub fn keep(&self, trn: Trn, teacher: Arc<Teacher>, changes: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = lock(&self.entries);
        if self.changes.load(Ordering::Acquire) != changes {
            return;
        }
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
        let mut entries = lock(&self.entries);
        self.changes.fetch_add(1, Ordering::AcqRel);
        entries.remove(&trn);
    }
}

/// A caller's place in the line to read one record; the line goes when its last caller does,
/// whether it finished or was cancelled.
struct Turn<'a> {
    cache: &'a RecordCache,
    trn: Trn,
    gate: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> Turn<'a> {
    fn take(cache: &'a RecordCache, trn: Trn) -> Self {
        let gate = lock(&cache.reads).entry(trn).or_default().clone();
        Self { cache, trn, gate }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut reads = lock(&self.cache.reads);
        // Clones are taken only under this lock: two left are the map's and this one.
        if Arc::strong_count(&self.gate) == 2 {
            reads.remove(&self.trn);
        }
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
                date_of_death: None,
                contact: record.contact,
                status: record.status,
                merged_into: None,
            },
            statuses: record.statuses,
            induction: record.induction,
            npqs: Vec::new(),
            mqs: Vec::new(),
            alerts: Vec::new(),
            qtls: crate::domain::Qtls::default(),
        })
    }

    async fn read_counted(
        reads: &AtomicU64,
        teacher: Option<Arc<Teacher>>,
    ) -> Result<Option<Teacher>, ()> {
        reads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(teacher.map(|t| (*t).clone()))
    }

    /// The record from `cache`, read (and counted in `reads`) when it is not kept.
    async fn record(cache: &RecordCache, trn: Trn, reads: &AtomicU64) -> Option<Arc<Teacher>> {
        cache
            .get_or_read(trn, || read_counted(reads, Some(teacher())))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn records_are_kept_for_their_time_and_forgotten_on_change() {
        let trn = Trn::from_number(1).unwrap();
        let reads = AtomicU64::new(0);
        let cache = RecordCache::new(Duration::from_millis(200));
        assert!(record(&cache, trn, &reads).await.is_some());
        assert!(record(&cache, trn, &reads).await.is_some());
        assert_eq!(reads.load(Ordering::SeqCst), 1, "kept");
        cache.forget(trn);
        record(&cache, trn, &reads).await;
        assert_eq!(reads.load(Ordering::SeqCst), 2, "forgotten on change");
        tokio::time::sleep(Duration::from_millis(250)).await;
        record(&cache, trn, &reads).await;
        assert_eq!(reads.load(Ordering::SeqCst), 3, "expired");
        let off = RecordCache::new(Duration::ZERO);
        record(&off, trn, &reads).await;
        record(&off, trn, &reads).await;
        let kept = reads.load(Ordering::SeqCst);
        assert_eq!(kept, 5, "a zero time to live keeps nothing");
    }

    #[tokio::test]
    async fn callers_that_miss_together_share_one_read() {
        let trn = Trn::from_number(1).unwrap();
        let reads = Arc::new(AtomicU64::new(0));
        let cache = Arc::new(RecordCache::new(Duration::from_secs(60)));
        let mut callers = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (cache, reads) = (cache.clone(), reads.clone());
            callers.spawn(async move {
                cache
                    .get_or_read(trn, || read_counted(&reads, Some(teacher())))
                    .await
            });
        }
        for found in callers.join_all().await {
            assert!(found.unwrap().is_some());
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        assert!(lock(&cache.reads).is_empty(), "no line is left behind");
        // A record that is not there is not kept: each miss reads again.
        let other = Trn::from_number(2).unwrap();
        for _ in 0..2 {
            let missing = cache.get_or_read(other, || read_counted(&reads, None));
            assert!(missing.await.unwrap().is_none());
        }
        assert_eq!(reads.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_read_overtaken_by_a_change_is_not_kept() {
        let trn = Trn::from_number(1).unwrap();
        let reads = AtomicU64::new(0);
        let cache = RecordCache::new(Duration::from_secs(60));
        let change = async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            cache.forget(trn);
        };
        let (old, ()) = tokio::join!(record(&cache, trn, &reads), change);
        assert!(old.is_some());
        record(&cache, trn, &reads).await;
        let overtaken = reads.load(Ordering::SeqCst);
        assert_eq!(overtaken, 2, "the overtaken read was not kept");
    }

    #[tokio::test]
    async fn a_cancelled_read_leaves_the_record_readable() {
        let trn = Trn::from_number(1).unwrap();
        let reads = AtomicU64::new(0);
        let cache = RecordCache::new(Duration::from_secs(60));
        let cancelled =
            tokio::time::timeout(Duration::from_millis(5), record(&cache, trn, &reads)).await;
        assert!(cancelled.is_err());
        assert!(lock(&cache.reads).is_empty());
        assert!(record(&cache, trn, &reads).await.is_some());
    }
}

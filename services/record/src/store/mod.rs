//! Persistence of teacher records. Every change, and every read by anyone but the teacher, is
//! written with its audit event in one transaction.

mod audit;
mod cache;
mod changes;
mod checks;
mod email;
pub mod entities;
mod feed;
mod load;
mod one_login;
mod rows;
mod trn_requests;
mod trn_searches;
mod trns;
mod watch;
mod writes;

pub use audit::{AuditEntry, AuditPage};

use load::{assemble, load};

pub use email::{EmailChange, NewEmail};
pub use feed::{FeedEvent, FeedFilter, FeedPage, cursor, parse_cursor};
pub use one_login::LinkProof;
pub use trn_requests::{TrnRequestPage, TrnRequestView};
pub use trn_searches::{Claimed, Decided, TrnCaseDetails, TrnCaseView, row_trn};
pub use watch::WatchPage;

use std::ops::RangeInclusive;

use portal_common::db::Writers;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait};

use crate::domain::AlertCatalogue;
use crate::error::Error;
use entities::{alert_type, trn_allocation};

/// What a missing record is called in errors.
pub const TEACHER: &str = "teacher record";

/// A merge chain longer than this is treated as broken rather than followed for ever.
const MAX_MERGE_HOPS: usize = 4;

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    trn_range: RangeInclusive<u32>,
    catalogue: AlertCatalogue,
    cache: std::sync::Arc<cache::RecordCache>,
    writers: Writers,
    feed: std::sync::Arc<feed::FeedSignal>,
}

impl Store {
    /// A store over a migrated database, allocating TRNs from `trn_range`.
    /// Teachers' own reads of their records are kept for `cache_ttl` (zero keeps none).
    pub async fn new(
        db: DatabaseConnection,
        trn_range: RangeInclusive<u32>,
        cache_ttl: std::time::Duration,
    ) -> Result<Self, Error> {
        let seed = trn_allocation::ActiveModel {
            id: Set(1),
            next_trn: Set(i64::from(*trn_range.start())),
        };
        // Several instances may start at once: the first insert wins, the rest do nothing.
        trn_allocation::Entity::insert(seed)
            .on_conflict(
                OnConflict::column(trn_allocation::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&db)
            .await?;
        let catalogue = AlertCatalogue::new(
            alert_type::Entity::find()
                .all(&db)
                .await?
                .into_iter()
                .map(rows::alert_type),
        );
        Ok(Self {
            writers: Writers::of(&db),
            db,
            trn_range,
            catalogue,
            cache: std::sync::Arc::new(cache::RecordCache::new(cache_ttl)),
            feed: std::sync::Arc::new(feed::FeedSignal::new()),
        })
    }

    /// Brings the query planner's statistics of the record's tables up to date (ANALYZE), as a
    /// bulk load needs while it grows them from nothing.
    pub async fn refresh_statistics(&self) -> Result<(), Error> {
        use sea_orm::ConnectionTrait as _;
        self.db.execute_unprepared("ANALYZE").await?;
        Ok(())
    }

    /// The alert types, as loaded at start.
    pub fn catalogue(&self) -> &AlertCatalogue {
        &self.catalogue
    }
}

/// Rows per INSERT statement: well under PostgreSQL's 65 535 bind parameters.
const INSERT_CHUNK: usize = 1000;

/// Inserts rows in multi-row statements.
async fn insert_all<A>(db: &impl ConnectionTrait, mut models: Vec<A>) -> Result<(), Error>
where
    A: sea_orm::ActiveModelTrait + Send,
{
    while !models.is_empty() {
        let rest = models.split_off(models.len().min(INSERT_CHUNK));
        let chunk = std::mem::replace(&mut models, rest);
        A::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sea_orm_migration::MigratorTrait as _;

    use super::*;
    use portal_common::Caller;
    use portal_common::values::Trn;

    use crate::domain::{AuditAction, Held, Induction, Mq, NewRecord, TrnQuery};
    use crate::seed::{REFERENCE_DATE, demo_drafts};

    /// A store on a fresh SQLite file, and a count of the statements it runs.
    async fn counted_store() -> (Store, Arc<AtomicUsize>) {
        counted_store_keeping(std::time::Duration::ZERO).await
    }

    /// [`counted_store`], keeping records read for `ttl`.
    async fn counted_store_keeping(ttl: std::time::Duration) -> (Store, Arc<AtomicUsize>) {
        let path =
            std::env::temp_dir().join(format!("portal-store-{:016x}.db", rand::random::<u64>()));
        let mut db = sea_orm::Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        crate::migration::Migrator::up(&db, None).await.unwrap();
        let statements = Arc::new(AtomicUsize::new(0));
        let counter = statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        (
            Store::new(db, 1..=9_999_999, ttl).await.unwrap(),
            statements,
        )
    }

    fn caller() -> Caller {
        Caller {
            principal: portal_common::Principal::Service("test".into()),
            request_id: "test".into(),
            on_behalf_of: None,
            session_id: None,
            source: None,
        }
    }

    #[tokio::test]
    async fn a_record_fetch_issues_a_fixed_number_of_queries() {
        let (store, statements) = counted_store().await;
        let drafts = demo_drafts();
        let bare = NewRecord {
            statuses: Vec::new(),
            induction: Induction::default(),
            npqs: Vec::new(),
            mqs: Vec::new(),
            ..drafts[1].parse(store.catalogue(), REFERENCE_DATE).unwrap()
        };
        let mut full = drafts[0].parse(store.catalogue(), REFERENCE_DATE).unwrap();
        let mq = drafts[1]
            .parse(store.catalogue(), REFERENCE_DATE)
            .unwrap()
            .mqs
            .remove(0);
        full.mqs = vec![mq; 12];
        let alert = crate::domain::NewAlert::parse(
            "alert",
            &dqt_proto::dqt::portal::v1::Alert {
                code: "T6".into(),
                start_date: "2020-01-01".into(),
                ..Default::default()
            },
            store.catalogue(),
            REFERENCE_DATE,
        )
        .unwrap();
        full.alerts = vec![alert; 15];
        full.induction.periods = vec![full.induction.periods[0].clone(); 9];
        let caller = caller();
        let trns = store
            .insert_records(
                &[bare, full],
                AuditEntry {
                    caller: &caller,
                    action: AuditAction::TeacherSeed,
                },
            )
            .await
            .unwrap();

        let mut counts = Vec::new();
        for trn in &trns {
            let before = statements.load(Ordering::SeqCst);
            let teacher = store.teacher(*trn).await.unwrap().unwrap();
            counts.push((statements.load(Ordering::SeqCst) - before, teacher));
        }
        let (bare_count, bare) = &counts[0];
        let (full_count, full) = &counts[1];
        assert!(bare.mqs.is_empty() && bare.alerts.is_empty());
        assert_eq!(
            (
                full.mqs.len(),
                full.alerts.len(),
                full.induction.periods.len()
            ),
            (12, 15, 9)
        );
        assert!(matches!(
            full.mqs[0],
            Held {
                value: Mq { .. },
                ..
            }
        ));
        assert_eq!(bare_count, full_count);
        assert_eq!(*full_count, 8);
    }

    #[tokio::test]
    async fn a_bulk_check_issues_a_fixed_number_of_queries_however_many_it_holds() {
        let (store, statements) = counted_store().await;
        let drafts = demo_drafts();
        let records: Vec<NewRecord> = (0..50)
            .map(|i| {
                drafts[i % 3]
                    .parse(store.catalogue(), REFERENCE_DATE)
                    .unwrap()
            })
            .collect();
        let caller = caller();
        let audit = || AuditEntry {
            caller: &caller,
            action: AuditAction::TeacherSeed,
        };
        let trns = store.insert_records(&records, audit()).await.unwrap();
        let query = |i: usize| TrnQuery {
            trn: trns[i],
            date_of_birth: records[i].date_of_birth.unwrap().date(),
        };
        let mut counts = Vec::new();
        for size in [1, 50] {
            let mut queries: Vec<TrnQuery> = (0..size).map(query).collect();
            queries.push(TrnQuery {
                trn: Trn::from_number(9_999_999).unwrap(),
                ..query(0)
            });
            let before = statements.load(Ordering::SeqCst);
            let answers = store
                .check_teachers(
                    &queries,
                    AuditAction::EmployerBulkCheck,
                    |_| "f".into(),
                    audit(),
                )
                .await
                .unwrap();
            counts.push(statements.load(Ordering::SeqCst) - before);
            assert_eq!(answers.iter().filter(|a| a.is_some()).count(), size);
            assert!(answers.last().unwrap().is_none());
        }
        assert_eq!(counts[0], counts[1], "{counts:?}");
    }

    #[tokio::test]
    async fn a_check_of_a_kept_record_costs_one_insert_and_a_change_is_seen_at_once() {
        let (store, statements) = counted_store_keeping(std::time::Duration::from_secs(60)).await;
        let record = demo_drafts()[0]
            .parse(store.catalogue(), REFERENCE_DATE)
            .unwrap();
        let caller = caller();
        let audit = || AuditEntry {
            caller: &caller,
            action: AuditAction::TeacherSeed,
        };
        let trn = store
            .insert_records(std::slice::from_ref(&record), audit())
            .await
            .unwrap()[0];
        let queries = [TrnQuery {
            trn,
            date_of_birth: record.date_of_birth.unwrap().date(),
        }];
        let check = || {
            store.check_teachers(
                &queries,
                AuditAction::EmployerCheck,
                |_| "f".into(),
                audit(),
            )
        };
        assert!(check().await.unwrap()[0].is_some());
        let before = statements.load(Ordering::SeqCst);
        let answer = check().await.unwrap().pop().unwrap().unwrap();
        assert_eq!(
            statements.load(Ordering::SeqCst) - before,
            1,
            "the audit row, nothing else"
        );
        assert!(answer.alerts.is_empty());
        // A change through this store is seen by the next check.
        let alert = crate::domain::NewAlert::parse(
            "alert",
            &dqt_proto::dqt::portal::v1::Alert {
                code: "T1".into(),
                start_date: "2020-01-01".into(),
                ..Default::default()
            },
            store.catalogue(),
            REFERENCE_DATE,
        )
        .unwrap();
        store.add_alert(trn, &alert, audit()).await.unwrap();
        let after = check().await.unwrap().pop().unwrap().unwrap();
        assert_eq!(after.alerts.len(), 1);
    }

    #[tokio::test]
    async fn decided_evidence_is_deleted_after_its_retention() {
        use crate::domain::{Decision, NewChangeRequest};
        use dqt_proto::dqt::portal::v1 as pb;
        let (store, _) = counted_store().await;
        let record = demo_drafts()[0]
            .parse(store.catalogue(), REFERENCE_DATE)
            .unwrap();
        let caller = caller();
        let audit = || AuditEntry {
            caller: &caller,
            action: AuditAction::TeacherSeed,
        };
        let trn = store.insert_records(&[record], audit()).await.unwrap()[0];
        let request = NewChangeRequest::name(&pb::RequestNameChangeRequest {
            first_name: "Zoë".into(),
            last_name: "Kelly".into(),
            evidence_file_name: "deed.pdf".into(),
            evidence: b"%PDF-1.7".to_vec(),
            ..Default::default()
        })
        .unwrap();
        let open = store
            .create_change_request(trn, &request, audit())
            .await
            .unwrap();
        let later = chrono::Utc::now() + chrono::Duration::seconds(5);
        assert_eq!(
            store.delete_expired_evidence(later).await.unwrap(),
            0,
            "open: kept"
        );
        store
            .review_change_request(open.id, &Decision::Approve, audit())
            .await
            .unwrap();
        assert_eq!(
            store
                .delete_expired_evidence(chrono::Utc::now() - chrono::Duration::seconds(5))
                .await
                .unwrap(),
            0,
            "retention not over"
        );
        assert_eq!(store.delete_expired_evidence(later).await.unwrap(), 1);
        let rows = entities::change_request::Entity::find()
            .all(&store.db)
            .await
            .unwrap();
        assert_eq!(rows[0].evidence, None);
        assert_eq!(
            rows[0].evidence_file_name, "deed.pdf",
            "the decision's facts stay"
        );
    }

    #[tokio::test]
    async fn batches_take_consecutive_trns_and_stop_at_the_end_of_the_range() {
        let path =
            std::env::temp_dir().join(format!("portal-store-{:016x}.db", rand::random::<u64>()));
        let db = sea_orm::Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        crate::migration::Migrator::up(&db, None).await.unwrap();
        let store = Store::new(db, 2_000_000..=2_000_004, std::time::Duration::ZERO)
            .await
            .unwrap();
        let record = demo_drafts()[2]
            .parse(store.catalogue(), REFERENCE_DATE)
            .unwrap();
        let caller = caller();
        let audit = || AuditEntry {
            caller: &caller,
            action: AuditAction::TeacherSeed,
        };
        let first = store
            .insert_records(&vec![record.clone(); 3], audit())
            .await
            .unwrap();
        let numbers: Vec<u32> = first.iter().map(|t| t.number()).collect();
        assert_eq!(numbers, [2_000_000, 2_000_001, 2_000_002]);
        let too_many = store
            .insert_records(&vec![record.clone(); 3], audit())
            .await;
        assert!(matches!(too_many, Err(Error::TrnRangeExhausted)));
        // The refused batch took nothing: the last two still fit.
        let rest = store
            .insert_records(&vec![record; 2], audit())
            .await
            .unwrap();
        assert_eq!(rest.last().map(|t| t.number()), Some(2_000_004));
    }
}

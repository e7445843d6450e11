//! Persistence of teacher records. Every change, and every read by anyone but the teacher, is
//! written with its audit event in one transaction.

mod cache;
mod changes;
mod checks;
mod email;
pub mod entities;
mod rows;

pub use changes::ChangeRow;
pub use checks::TrnQuery;
pub use email::{EmailChange, NewEmail};

use std::collections::HashMap;
use std::ops::RangeInclusive;

use chrono::{NaiveDate, Utc};
use portal_common::Caller;
use portal_common::db::{Write, Writers, begin_write};
use portal_common::values::Trn;
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DatabaseConnection,
    DbErr, EntityTrait, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};

use crate::domain::{
    AlertCatalogue, AlertCloseError, Induction, Mq, NewAlert, NewRecord, Npq, Person,
    ProfessionalStatus, Teacher, TeacherUpdate,
};
use crate::error::Error;
use entities::{
    alert, alert_type, audit_event, induction_exemption, induction_period, person, previous_name,
    trn_allocation,
};

/// What a missing record is called in errors.
pub const TEACHER: &str = "teacher record";

/// A merge chain longer than this is treated as broken rather than followed for ever.
const MAX_MERGE_HOPS: usize = 4;

/// Who did what, for the audit log. Free text never holds personal data.
pub struct AuditEntry<'a> {
    pub caller: &'a Caller,
    pub action: &'static str,
}

impl AuditEntry<'_> {
    fn model(&self, trn: Option<Trn>) -> audit_event::ActiveModel {
        audit_event::ActiveModel {
            time: Set(Utc::now()),
            actor: Set(self.caller.actor().to_owned()),
            action: Set(self.action.to_owned()),
            trn: Set(trn.map(|t| t.to_string())),
            request_id: Set(self.caller.request_id.clone()),
            on_behalf_of: Set(self.caller.on_behalf_of.clone()),
            query_fingerprint: Set(None),
            ..Default::default()
        }
    }
}

/// One page of the audit log, newest first.
pub struct AuditPage {
    pub events: Vec<audit_event::Model>,
    /// The id to continue below, when there may be more.
    pub next_before: Option<i64>,
}

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    trn_range: RangeInclusive<u32>,
    catalogue: AlertCatalogue,
    cache: std::sync::Arc<cache::RecordCache>,
    writers: Writers,
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
        })
    }

    /// The alert types, as loaded at start.
    pub fn catalogue(&self) -> &AlertCatalogue {
        &self.catalogue
    }

    /// Creates records with the next TRNs of the range, each with its audit event, in one
    /// transaction: all of them or none. Returns the TRNs in order.
    #[tracing::instrument(name = "store", skip_all, fields(op = "insert_records"))]
    pub async fn insert_records(
        &self,
        records: &[NewRecord],
        audit: AuditEntry<'_>,
    ) -> Result<Vec<Trn>, Error> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let txn = begin_write(&self.db, &self.writers).await?;
        let trns = self.allocate_trns(&txn, records.len()).await?;
        let now = Utc::now();
        let inserted = person::Entity::insert_many(
            records
                .iter()
                .zip(&trns)
                .map(|(record, &trn)| rows::new_person(record, trn, now)),
        )
        .exec_with_returning(&txn)
        .await?;
        let ids: HashMap<&str, i64> = inserted.iter().map(|p| (p.trn.as_str(), p.id)).collect();
        let person_ids = trns
            .iter()
            .map(|trn| ids.get(trn.to_string().as_str()).copied())
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| Error::Corrupt("inserted records came back incomplete".into()))?;
        // Rows are built before each await: lazy iterators over borrowed records would make
        // the future lifetime-generic, which tonic's Send bound cannot express.
        let pairs = || records.iter().zip(person_ids.iter().copied());
        let previous: Vec<_> = pairs()
            .flat_map(|(r, id)| {
                r.previous_names
                    .iter()
                    .map(move |p| rows::previous_name(id, p))
            })
            .collect();
        insert_all(&txn, previous).await?;
        let statuses: Vec<_> = pairs()
            .flat_map(|(r, id)| {
                r.statuses
                    .iter()
                    .map(move |s| rows::professional_status(id, s))
            })
            .collect();
        insert_all(&txn, statuses).await?;
        let exemptions: Vec<_> = pairs()
            .flat_map(|(r, id)| rows::exemptions(id, &r.induction))
            .collect();
        insert_all(&txn, exemptions).await?;
        let periods: Vec<_> = pairs()
            .flat_map(|(r, id)| rows::periods(id, &r.induction))
            .collect();
        insert_all(&txn, periods).await?;
        let npqs: Vec<_> = pairs()
            .flat_map(|(r, id)| r.npqs.iter().map(move |n| rows::npq(id, n)))
            .collect();
        insert_all(&txn, npqs).await?;
        let mqs: Vec<_> = pairs()
            .flat_map(|(r, id)| r.mqs.iter().map(move |m| rows::mq(id, m)))
            .collect();
        insert_all(&txn, mqs).await?;
        let alerts: Vec<_> = pairs()
            .flat_map(|(r, id)| r.alerts.iter().map(move |a| rows::alert(id, a)))
            .collect();
        insert_all(&txn, alerts).await?;
        let audits: Vec<_> = trns.iter().map(|&trn| audit.model(Some(trn))).collect();
        insert_all(&txn, audits).await?;
        txn.commit().await?;
        Ok(trns)
    }

    /// Creates one record and returns it as held.
    #[tracing::instrument(name = "store", skip_all, fields(op = "create_teacher"))]
    pub async fn create_teacher(
        &self,
        record: &NewRecord,
        audit: AuditEntry<'_>,
    ) -> Result<Teacher, Error> {
        let trns = self
            .insert_records(std::slice::from_ref(record), audit)
            .await?;
        let trn = trns
            .first()
            .copied()
            .ok_or_else(|| Error::Corrupt("no TRN allocated".into()))?;
        Ok(load(&self.db, &self.catalogue, trn, false)
            .await?
            .ok_or(Error::NotFound(TEACHER))?
            .1)
    }

    /// Takes the next `count` TRNs inside the caller's transaction. The row lock of the update
    /// serialises concurrent creates, also across instances sharing one PostgreSQL.
    async fn allocate_trns(
        &self,
        txn: &impl ConnectionTrait,
        count: usize,
    ) -> Result<Vec<Trn>, Error> {
        let count = i64::try_from(count).map_err(|_| Error::TrnRangeExhausted)?;
        let last_allowed = i64::from(*self.trn_range.end()) + 1 - count;
        let updated = trn_allocation::Entity::update_many()
            .col_expr(
                trn_allocation::Column::NextTrn,
                Expr::col(trn_allocation::Column::NextTrn).add(count),
            )
            .filter(trn_allocation::Column::Id.eq(1))
            .filter(trn_allocation::Column::NextTrn.lte(last_allowed))
            .exec_with_returning(txn)
            .await?;
        let first = updated
            .first()
            .map(|row| row.next_trn - count)
            .ok_or(Error::TrnRangeExhausted)?;
        (first..first + count)
            .map(|n| {
                u32::try_from(n)
                    .ok()
                    .and_then(Trn::from_number)
                    .ok_or(Error::TrnRangeExhausted)
            })
            .collect()
    }

    /// The record of `trn`, if there is one, as its teacher reads it: possibly kept from a
    /// moment ago (see [`cache`]).
    #[tracing::instrument(name = "store", skip_all, fields(op = "teacher"))]
    pub async fn teacher(&self, trn: Trn) -> Result<Option<std::sync::Arc<Teacher>>, Error> {
        self.cache
            .get_or_read(trn, || async {
                Ok(load(&self.db, &self.catalogue, trn, false)
                    .await?
                    .map(|(_, t)| t))
            })
            .await
    }

    /// The record of `trn`, read on behalf of someone other than its teacher: the read is
    /// audited in the same transaction.
    #[tracing::instrument(name = "store", skip_all, fields(op = "teacher_audited"))]
    pub async fn teacher_audited(
        &self,
        trn: Trn,
        audit: AuditEntry<'_>,
    ) -> Result<Option<Teacher>, Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let teacher = load(&txn, &self.catalogue, trn, false).await?;
        if teacher.is_some() {
            audit.model(Some(trn)).insert(&txn).await?;
        }
        txn.commit().await?;
        Ok(teacher.map(|(_, t)| t))
    }

    /// The person a sign-in with `trn` would reach: the record itself, or the one it was merged
    /// into. The same queries run whether or not the TRN exists.
    #[tracing::instrument(name = "store", skip_all, fields(op = "sign_in_candidate"))]
    pub async fn sign_in_candidate(&self, trn: Trn) -> Result<Option<Person>, Error> {
        let mut current = trn;
        for _ in 0..MAX_MERGE_HOPS {
            let person = load_person(&self.db, current, false).await?;
            match person {
                Some((_, person)) if person.merged_into.is_some() => {
                    current = person.merged_into.unwrap_or(current);
                }
                other => return Ok(other.map(|(_, p)| p)),
            }
        }
        Ok(None)
    }

    /// Opens a change of the record of `trn`: a transaction holding the person's row lock,
    /// the record as it stands, and the person's row id.
    async fn begin_change(&self, trn: Trn) -> Result<(Write, i64, Teacher), Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let (id, teacher) = load(&txn, &self.catalogue, trn, true)
            .await?
            .ok_or(Error::NotFound(TEACHER))?;
        Ok((txn, id, teacher))
    }

    /// Closes a change: the audit event, then the record as it now stands, then commit.
    async fn finish_change(
        &self,
        txn: Write,
        trn: Trn,
        audit: AuditEntry<'_>,
    ) -> Result<Teacher, Error> {
        audit.model(Some(trn)).insert(&txn).await?;
        let (_, teacher) = load(&txn, &self.catalogue, trn, false)
            .await?
            .ok_or(Error::NotFound(TEACHER))?;
        txn.commit().await?;
        self.cache.forget(trn);
        Ok(teacher)
    }

    /// Changes the person on a record; a changed name is kept as a previous name.
    #[tracing::instrument(name = "store", skip_all, fields(op = "update_teacher"))]
    pub async fn update_teacher(
        &self,
        trn: Trn,
        update: &TeacherUpdate,
        audit: AuditEntry<'_>,
    ) -> Result<Teacher, Error> {
        let (txn, id, teacher) = self.begin_change(trn).await?;
        if let Some(Some(target)) = update.merged_into {
            check_merge_target(&txn, trn, target).await?;
        }
        let today = Utc::now().date_naive();
        let mut person = teacher.person;
        let previous = person.apply(update, today);
        let mut row = rows::person_update(id, &person);
        row.updated_at = Set(Utc::now());
        row.update(&txn).await?;
        if let Some(previous) = previous {
            rows::previous_name(id, &previous).insert(&txn).await?;
        }
        self.finish_change(txn, trn, audit).await
    }

    /// Adds a professional status; a first QTS may also decide induction.
    #[tracing::instrument(name = "store", skip_all, fields(op = "add_professional_status"))]
    pub async fn add_professional_status(
        &self,
        trn: Trn,
        status: &ProfessionalStatus,
        audit: AuditEntry<'_>,
    ) -> Result<Teacher, Error> {
        let (txn, id, teacher) = self.begin_change(trn).await?;
        teacher
            .check_new_status(status)
            .map_err(Error::FailedPrecondition)?;
        rows::professional_status(id, status).insert(&txn).await?;
        if let Some(induction) = teacher.induction.after_award(status) {
            write_induction(&txn, id, &induction).await?;
        }
        self.finish_change(txn, trn, audit).await
    }

    /// Replaces the induction, which must suit the record's statuses.
    #[tracing::instrument(name = "store", skip_all, fields(op = "set_induction"))]
    pub async fn set_induction(
        &self,
        trn: Trn,
        induction: &Induction,
        audit: AuditEntry<'_>,
    ) -> Result<Teacher, Error> {
        let (txn, id, teacher) = self.begin_change(trn).await?;
        induction.check_against("induction", &teacher.statuses)?;
        write_induction(&txn, id, induction).await?;
        self.finish_change(txn, trn, audit).await
    }

    /// Adds an NPQ, at most one of each type.
    #[tracing::instrument(name = "store", skip_all, fields(op = "add_npq"))]
    pub async fn add_npq(
        &self,
        trn: Trn,
        npq: &Npq,
        audit: AuditEntry<'_>,
    ) -> Result<Teacher, Error> {
        let (txn, id, teacher) = self.begin_change(trn).await?;
        teacher
            .check_new_npq(npq)
            .map_err(Error::FailedPrecondition)?;
        rows::npq(id, npq).insert(&txn).await?;
        self.finish_change(txn, trn, audit).await
    }

    /// Adds a mandatory qualification.
    #[tracing::instrument(name = "store", skip_all, fields(op = "add_mq"))]
    pub async fn add_mq(&self, trn: Trn, mq: &Mq, audit: AuditEntry<'_>) -> Result<Teacher, Error> {
        let (txn, id, _) = self.begin_change(trn).await?;
        rows::mq(id, mq).insert(&txn).await?;
        self.finish_change(txn, trn, audit).await
    }

    /// Adds an alert.
    #[tracing::instrument(name = "store", skip_all, fields(op = "add_alert"))]
    pub async fn add_alert(
        &self,
        trn: Trn,
        alert: &NewAlert,
        audit: AuditEntry<'_>,
    ) -> Result<Teacher, Error> {
        let (txn, id, _) = self.begin_change(trn).await?;
        rows::alert(id, alert).insert(&txn).await?;
        self.finish_change(txn, trn, audit).await
    }

    /// Closes an open alert of the record on `end`.
    #[tracing::instrument(name = "store", skip_all, fields(op = "close_alert"))]
    pub async fn close_alert(
        &self,
        trn: Trn,
        alert_id: i64,
        end: NaiveDate,
        audit: AuditEntry<'_>,
    ) -> Result<Teacher, Error> {
        let (txn, _, teacher) = self.begin_change(trn).await?;
        let held = teacher
            .alerts
            .iter()
            .find(|a| a.id == alert_id)
            .ok_or(Error::NotFound("alert"))?;
        held.check_close("end_date", end).map_err(|e| match e {
            AlertCloseError::AlreadyClosed => {
                Error::FailedPrecondition("the alert is already closed")
            }
            AlertCloseError::Invalid(violation) => violation.into(),
        })?;
        alert::ActiveModel {
            id: Set(alert_id),
            end_date: Set(Some(end)),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        self.finish_change(txn, trn, audit).await
    }

    /// A page of audit events, newest first, below `before` when given, of one TRN when given.
    /// Reading the audit log is itself audited.
    #[tracing::instrument(name = "store", skip_all, fields(op = "audit_events"))]
    pub async fn audit_events(
        &self,
        trn: Option<Trn>,
        before: Option<i64>,
        limit: u64,
        audit: AuditEntry<'_>,
    ) -> Result<AuditPage, Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let mut query = audit_event::Entity::find()
            .order_by_desc(audit_event::Column::Id)
            .limit(limit + 1);
        if let Some(trn) = trn {
            query = query.filter(audit_event::Column::Trn.eq(trn.to_string()));
        }
        if let Some(before) = before {
            query = query.filter(audit_event::Column::Id.lt(before));
        }
        let mut events = query.all(&txn).await?;
        audit.model(trn).insert(&txn).await?;
        txn.commit().await?;
        let more = events.len() as u64 > limit;
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_before = more.then(|| events.last().map(|e| e.id)).flatten();
        Ok(AuditPage {
            events,
            next_before,
        })
    }
}

/// A merge target must be another record that is not itself merged.
async fn check_merge_target(txn: &Write, trn: Trn, target: Trn) -> Result<(), Error> {
    let field = "teacher.merged_into_trn";
    if target == trn {
        return Err(
            portal_common::FieldViolation::new(field, "must be another record's TRN").into(),
        );
    }
    let target_row = person::Entity::find()
        .filter(person::Column::Trn.eq(target.to_string()))
        .one(txn)
        .await?;
    match target_row {
        Some(row) if row.merged_into_trn.is_none() => Ok(()),
        _ => Err(portal_common::FieldViolation::new(
            field,
            "must be the TRN of a record that is not itself merged",
        )
        .into()),
    }
}

/// Replaces the induction of person `id`: its status and dates, exemptions and periods.
async fn write_induction(txn: &Write, id: i64, induction: &Induction) -> Result<(), Error> {
    person::ActiveModel {
        id: Set(id),
        induction_status: Set(induction.status.as_str().to_owned()),
        induction_start_date: Set(induction.start),
        induction_completed_date: Set(induction.completed),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .update(txn)
    .await?;
    induction_exemption::Entity::delete_many()
        .filter(induction_exemption::Column::PersonId.eq(id))
        .exec(txn)
        .await?;
    induction_period::Entity::delete_many()
        .filter(induction_period::Column::PersonId.eq(id))
        .exec(txn)
        .await?;
    insert_all(txn, rows::exemptions(id, induction).collect()).await?;
    insert_all(txn, rows::periods(id, induction).collect()).await?;
    Ok(())
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

/// A person and their previous names: two queries. With `lock`, the person's row is locked
/// for the enclosing transaction (PostgreSQL; SQLite locks the whole database on write).
async fn load_person(
    db: &impl ConnectionTrait,
    trn: Trn,
    lock: bool,
) -> Result<Option<(person::Model, Person)>, Error> {
    let mut query = person::Entity::find().filter(person::Column::Trn.eq(trn.to_string()));
    if lock {
        query = query.lock_exclusive();
    }
    let row = query.one(db).await?;
    // Run the second query even for an unknown TRN so that both cases do the same work.
    let id = row.as_ref().map_or(0, |p| p.id);
    let previous = previous_name::Entity::find()
        .filter(previous_name::Column::PersonId.eq(id))
        .order_by_desc(previous_name::Column::EndedOn)
        .order_by_desc(previous_name::Column::Id)
        .all(db)
        .await?;
    row.map(|row| rows::person(&row, previous).map(|p| (row, p)))
        .transpose()
}

/// The rows of one table that belong to the persons `ids`, grouped by person, each group in
/// `order`: one query however many persons.
async fn children<E: EntityTrait>(
    db: &impl ConnectionTrait,
    person_column: E::Column,
    ids: &[i64],
    order: &[E::Column],
    person_of: impl Fn(&E::Model) -> i64,
) -> Result<HashMap<i64, Vec<E::Model>>, DbErr> {
    let mut query = E::find().filter(person_column.is_in(ids.iter().copied()));
    for &column in order {
        query = query.order_by_asc(column);
    }
    let mut grouped: HashMap<i64, Vec<E::Model>> = HashMap::new();
    for row in query.all(db).await? {
        grouped.entry(person_of(&row)).or_default().push(row);
    }
    Ok(grouped)
}

/// A whole record: eight queries however much it holds.
async fn load(
    db: &impl ConnectionTrait,
    catalogue: &AlertCatalogue,
    trn: Trn,
    lock: bool,
) -> Result<Option<(i64, Teacher)>, Error> {
    let Some((row, person)) = load_person(db, trn, lock).await? else {
        return Ok(None);
    };
    let id = row.id;
    let teacher = assemble(db, catalogue, vec![(row, person)])
        .await?
        .pop()
        .ok_or(Error::NotFound(TEACHER))?;
    Ok(Some((id, teacher)))
}

/// Whole records of persons already read: six queries however many persons and whatever they
/// hold.
async fn assemble(
    db: &impl ConnectionTrait,
    catalogue: &AlertCatalogue,
    persons: Vec<(person::Model, Person)>,
) -> Result<Vec<Teacher>, Error> {
    let ids: Vec<i64> = persons.iter().map(|(row, _)| row.id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    use entities::{
        alert as a, induction_exemption as e, induction_period as p, mandatory_qualification as m,
        npq_qualification as n, professional_status as s,
    };
    // Independent reads: on a pool they run at once, each on its own connection (inside a
    // transaction they queue on its one connection).
    let (mut statuses, mut exemptions, mut periods, mut npqs, mut mqs, mut alerts) = tokio::try_join!(
        children::<s::Entity>(db, s::Column::PersonId, &ids, &[s::Column::Id], |r| r
            .person_id),
        children::<e::Entity>(db, e::Column::PersonId, &ids, &[e::Column::Id], |r| r
            .person_id),
        children::<p::Entity>(
            db,
            p::Column::PersonId,
            &ids,
            &[p::Column::StartDate, p::Column::Id],
            |r| r.person_id,
        ),
        children::<n::Entity>(
            db,
            n::Column::PersonId,
            &ids,
            &[n::Column::AwardedDate, n::Column::Id],
            |r| r.person_id,
        ),
        children::<m::Entity>(
            db,
            m::Column::PersonId,
            &ids,
            &[m::Column::StartDate, m::Column::Id],
            |r| r.person_id,
        ),
        children::<a::Entity>(
            db,
            a::Column::PersonId,
            &ids,
            &[a::Column::StartDate, a::Column::Id],
            |r| r.person_id,
        ),
    )?;
    persons
        .into_iter()
        .map(|(row, person)| {
            let id = row.id;
            rows::teacher(
                person,
                &row,
                rows::Children {
                    statuses: statuses.remove(&id).unwrap_or_default(),
                    exemptions: exemptions.remove(&id).unwrap_or_default(),
                    periods: periods.remove(&id).unwrap_or_default(),
                    npqs: npqs.remove(&id).unwrap_or_default(),
                    mqs: mqs.remove(&id).unwrap_or_default(),
                    alerts: alerts.remove(&id).unwrap_or_default(),
                },
                catalogue,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sea_orm_migration::MigratorTrait as _;

    use super::*;
    use crate::domain::{Held, Mq, NewRecord};
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
                    action: "test",
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
            action: "test",
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
                .check_teachers(&queries, "employer.bulk_check", |_| "f".into(), audit())
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
            action: "test",
        };
        let trn = store
            .insert_records(std::slice::from_ref(&record), audit())
            .await
            .unwrap()[0];
        let queries = [TrnQuery {
            trn,
            date_of_birth: record.date_of_birth.unwrap().date(),
        }];
        let check = || store.check_teachers(&queries, "employer.check", |_| "f".into(), audit());
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
            action: "test",
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
        let (open, _) = store
            .create_change_request(trn, &request, audit())
            .await
            .unwrap();
        let later = Utc::now() + chrono::Duration::seconds(5);
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
                .delete_expired_evidence(Utc::now() - chrono::Duration::seconds(5))
                .await
                .unwrap(),
            0,
            "retention not over"
        );
        assert_eq!(store.delete_expired_evidence(later).await.unwrap(), 1);
        let (rows, _) = store
            .change_requests(None, None, 10, audit())
            .await
            .unwrap();
        assert_eq!(rows[0].0.evidence, None);
        assert_eq!(
            rows[0].0.evidence_file_name, "deed.pdf",
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
            action: "test",
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

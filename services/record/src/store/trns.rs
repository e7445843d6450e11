//! New records and their TRNs, allocated in order from the configured range.

use std::collections::HashMap;

use chrono::Utc;
use portal_common::db::begin_write;
use portal_common::values::Trn;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ColumnTrait as _, ConnectionTrait, EntityTrait, QueryFilter as _};

use super::entities::{person, trn_allocation};
use super::feed::{NewEvent, append};
use super::load::with_previous_names;
use super::{AuditEntry, Store, TEACHER, assemble, insert_all, load, rows};
use crate::domain::{ChangeEventType, NewRecord, Teacher};
use crate::error::Error;

impl Store {
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
        let trns = self.insert_records_in(&txn, records, audit).await?;
        self.commit(txn).await?;
        Ok(trns)
    }
    /// [`Self::insert_records`] inside the caller's transaction, which must be committed with
    /// [`Self::commit`] (it writes to the change feed).
    pub(super) async fn insert_records_in(
        &self,
        txn: &impl ConnectionTrait,
        records: &[NewRecord],
        audit: AuditEntry<'_>,
    ) -> Result<Vec<Trn>, Error> {
        let trns = self.allocate_trns(txn, records.len()).await?;
        let now = Utc::now();
        let inserted = person::Entity::insert_many(
            records
                .iter()
                .zip(&trns)
                .map(|(record, &trn)| rows::new_person(record, trn, now)),
        )
        .exec_with_returning(txn)
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
        insert_all(txn, previous).await?;
        let statuses: Vec<_> = pairs()
            .flat_map(|(r, id)| {
                r.statuses
                    .iter()
                    .map(move |s| rows::professional_status(id, s))
            })
            .collect();
        insert_all(txn, statuses).await?;
        let exemptions: Vec<_> = pairs()
            .flat_map(|(r, id)| rows::exemptions(id, &r.induction))
            .collect();
        insert_all(txn, exemptions).await?;
        let periods: Vec<_> = pairs()
            .flat_map(|(r, id)| rows::periods(id, &r.induction))
            .collect();
        insert_all(txn, periods).await?;
        let npqs: Vec<_> = pairs()
            .flat_map(|(r, id)| r.npqs.iter().map(move |n| rows::npq(id, n)))
            .collect();
        insert_all(txn, npqs).await?;
        let mqs: Vec<_> = pairs()
            .flat_map(|(r, id)| r.mqs.iter().map(move |m| rows::mq(id, m)))
            .collect();
        insert_all(txn, mqs).await?;
        let alerts: Vec<_> = pairs()
            .flat_map(|(r, id)| r.alerts.iter().map(move |a| rows::alert(id, a)))
            .collect();
        insert_all(txn, alerts).await?;
        let audits: Vec<_> = trns.iter().map(|&trn| audit.model(Some(trn))).collect();
        insert_all(txn, audits).await?;
        let created = assemble(
            txn,
            &self.catalogue,
            with_previous_names(txn, inserted).await?,
        )
        .await?;
        let events = created
            .iter()
            .map(|teacher| NewEvent::of(ChangeEventType::TeacherCreated, teacher))
            .collect();
        append(txn, events).await?;
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
}

//! Employers' watch lists: the teachers each employer client has checked and asked to be told
//! about. The changes it is told of come from the change feed (see `feed`); each delivery, each
//! listing and each change to the list is audited.

use chrono::{DateTime, Utc};
use portal_common::Caller;
use portal_common::db::{begin_write, write_turn};
use portal_common::values::Trn;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _,
};

use super::checks::checkable;
use super::entities::watched_teacher;
use super::{AuditEntry, Store};
use crate::domain::{AuditAction, Teacher};
use crate::error::Error;

/// One page of a client's watched teachers, oldest watch first.
pub struct WatchPage {
    /// Those still in use, as held now.
    pub teachers: Vec<Teacher>,
    /// The id to continue after, when there may be more.
    pub next_after: Option<i64>,
}

impl Store {
    /// Puts `trn` (already matched by a check) on `client_id`'s watch list, if it is not there
    /// already; when the client started watching it.
    #[tracing::instrument(name = "store", skip_all, fields(op = "watch_teacher"))]
    pub async fn watch_teacher(&self, client_id: &str, trn: Trn) -> Result<DateTime<Utc>, Error> {
        let row = watched_teacher::ActiveModel {
            client_id: Set(client_id.to_owned()),
            trn: Set(trn.to_string()),
            watch_time: Set(Utc::now()),
            ..Default::default()
        };
        {
            let _turn = write_turn(&self.writers).await?;
            watched_teacher::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([
                        watched_teacher::Column::ClientId,
                        watched_teacher::Column::Trn,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&self.db)
                .await?;
        }
        watched_teacher::Entity::find()
            .filter(watched_teacher::Column::ClientId.eq(client_id))
            .filter(watched_teacher::Column::Trn.eq(trn.to_string()))
            .one(&self.db)
            .await?
            .map(|row| row.watch_time)
            .ok_or(Error::NotFound("watched teacher"))
    }

    /// Takes `trn` off the calling client's watch list, with its audit event.
    #[tracing::instrument(name = "store", skip_all, fields(op = "unwatch_teacher"))]
    pub async fn unwatch_teacher(
        &self,
        client_id: &str,
        trn: Trn,
        audit: AuditEntry<'_>,
    ) -> Result<(), Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let deleted = watched_teacher::Entity::delete_many()
            .filter(watched_teacher::Column::ClientId.eq(client_id))
            .filter(watched_teacher::Column::Trn.eq(trn.to_string()))
            .exec(&txn)
            .await?;
        if deleted.rows_affected == 0 {
            return Err(Error::NotFound("watched teacher"));
        }
        audit.model(Some(trn)).insert(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// A page of `client_id`'s watched teachers after watch `after`; each shown is audited.
    #[tracing::instrument(name = "store", skip_all, fields(op = "watched_teachers"))]
    pub async fn watched_teachers(
        &self,
        client_id: &str,
        after: Option<i64>,
        limit: u64,
        audit: AuditEntry<'_>,
    ) -> Result<WatchPage, Error> {
        let mut query = watched_teacher::Entity::find()
            .filter(watched_teacher::Column::ClientId.eq(client_id))
            .order_by_asc(watched_teacher::Column::Id)
            .limit(limit + 1);
        if let Some(after) = after {
            query = query.filter(watched_teacher::Column::Id.gt(after));
        }
        let mut rows = query.all(&self.db).await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let trns: Vec<Trn> = rows
            .iter()
            .filter_map(|row| Trn::parse("trn", &row.trn).ok())
            .collect();
        let records = self.records(&trns).await?;
        let teachers: Vec<Teacher> = trns
            .iter()
            .filter_map(|trn| records.get(trn))
            .filter(|teacher| checkable(teacher))
            .map(|teacher| Teacher::clone(teacher.as_ref()))
            .collect();
        let shown = teachers
            .iter()
            .map(|t| {
                super::checks::CheckEvent::matched(AuditAction::EmployerWatchList, t.person.trn)
            })
            .collect();
        self.audit_checks(&audit, shown).await?;
        Ok(WatchPage {
            teachers,
            next_after: more.then(|| rows.last().map(|row| row.id)).flatten(),
        })
    }

    /// Records that a change to `trn` was delivered to an employer watching it.
    #[tracing::instrument(name = "store", skip_all, fields(op = "audit_delivery"))]
    pub async fn audit_delivery(&self, caller: &Caller, trn: Trn) -> Result<(), Error> {
        let audit = AuditEntry {
            caller,
            action: AuditAction::EmployerWatchDelivery,
        };
        let _turn = write_turn(&self.writers).await?;
        audit.model(Some(trn)).insert(&self.db).await?;
        Ok(())
    }
}

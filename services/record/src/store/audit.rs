//! The audit log: who did what to a record, or read it, and when; written with each change or
//! read, read back a page at a time.

use chrono::Utc;
use portal_common::Caller;
use portal_common::db::begin_write;
use portal_common::values::Trn;
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, EntityTrait, QueryFilter as _,
    QueryOrder as _, QuerySelect as _,
};

use super::entities::audit_event;
use super::{Store, rows};
use crate::domain::{AuditAction, AuditEvent};
use crate::error::Error;

/// Who did what, for the audit log. Free text never holds personal data.
pub struct AuditEntry<'a> {
    pub caller: &'a Caller,
    pub action: AuditAction,
}

impl AuditEntry<'_> {
    pub(super) fn model(&self, trn: Option<Trn>) -> audit_event::ActiveModel {
        audit_event::ActiveModel {
            time: Set(Utc::now()),
            actor: Set(self.caller.actor().to_owned()),
            action: Set(self.action.as_str().to_owned()),
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
    pub events: Vec<AuditEvent>,
    /// The id to continue below, when there may be more.
    pub next_before: Option<i64>,
}

impl Store {
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
        let mut rows = query.all(&txn).await?;
        audit.model(trn).insert(&txn).await?;
        txn.commit().await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_before = more.then(|| rows.last().map(|e| e.id)).flatten();
        Ok(AuditPage {
            events: rows.into_iter().map(rows::audit_event).collect(),
            next_before,
        })
    }
}

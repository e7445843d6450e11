//! Change requests: the teacher's own requests to change a name or date of birth, and their
//! review.

use chrono::{DateTime, Utc};
use portal_common::db::begin_write;
use portal_common::values::Trn;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, DbErr, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _, SqlErr,
};

use super::entities::{change_request, person};
use super::feed::NewEvent;
use super::{AuditEntry, Store, TEACHER, rows};
use crate::domain::{
    ChangeEventType, ChangeRequest, ChangeStatus, Decision, KeptEvidence, NewChangeRequest,
    RequestedChange, TeacherUpdate,
};
use crate::error::Error;

/// Refusal of a second open request of a kind.
const ONE_OPEN: &str = "an open request of this kind is already waiting for review";

impl Store {
    /// Files a request; one open request of each kind per teacher.
    #[tracing::instrument(name = "store", skip_all, fields(op = "create_change_request"))]
    pub async fn create_change_request(
        &self,
        trn: Trn,
        request: &NewChangeRequest,
        audit: AuditEntry<'_>,
    ) -> Result<ChangeRequest, Error> {
        let (txn, id, _) = self.begin_change(trn).await?;
        let kind = request.change.kind();
        let open = change_request::Entity::find()
            .filter(change_request::Column::PersonId.eq(id))
            .filter(change_request::Column::Kind.eq(kind.as_str()))
            .filter(change_request::Column::Status.eq(ChangeStatus::Open.as_str()))
            .one(&txn)
            .await?;
        if open.is_some() {
            return Err(Error::FailedPrecondition(ONE_OPEN));
        }
        let (first, middle, last, date_of_birth) = match &request.change {
            RequestedChange::Name(name) => (
                Some(name.first.as_str().to_owned()),
                Some(name.middle.as_str().to_owned()),
                Some(name.last.as_str().to_owned()),
                None,
            ),
            RequestedChange::DateOfBirth(date) => (None, None, None, Some(date.date())),
        };
        let inserted = change_request::ActiveModel {
            person_id: Set(id),
            kind: Set(kind.as_str().to_owned()),
            status: Set(ChangeStatus::Open.as_str().to_owned()),
            requested_first_name: Set(first),
            requested_middle_name: Set(middle),
            requested_last_name: Set(last),
            requested_date_of_birth: Set(date_of_birth),
            evidence_file_name: Set(request.evidence.file_name.clone()),
            evidence_content_type: Set(request.evidence.content_type.to_owned()),
            evidence: Set(Some(request.evidence.content.clone())),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(|e| match e.sql_err() {
            // The partial unique index caught a concurrent request.
            Some(SqlErr::UniqueConstraintViolation(_)) => Error::FailedPrecondition(ONE_OPEN),
            _ => Error::Database(e),
        })?;
        audit.model(Some(trn)).insert(&txn).await?;
        txn.commit().await?;
        Ok(rows::change_request(inserted, trn))
    }

    /// A teacher's requests, newest first.
    #[tracing::instrument(name = "store", skip_all, fields(op = "teacher_change_requests"))]
    pub async fn teacher_change_requests(&self, trn: Trn) -> Result<Vec<ChangeRequest>, Error> {
        let Some(person) = person::Entity::find()
            .filter(person::Column::Trn.eq(trn.to_string()))
            .one(&self.db)
            .await?
        else {
            return Err(Error::NotFound(TEACHER));
        };
        Ok(change_request::Entity::find()
            .filter(change_request::Column::PersonId.eq(person.id))
            .order_by_desc(change_request::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| rows::change_request(row, trn))
            .collect())
    }

    /// Requests for review, oldest first, after `after` when given, of one status when given.
    /// The listing is audited.
    #[tracing::instrument(name = "store", skip_all, fields(op = "change_requests"))]
    pub async fn change_requests(
        &self,
        status: Option<ChangeStatus>,
        after: Option<i64>,
        limit: u64,
        audit: AuditEntry<'_>,
    ) -> Result<(Vec<ChangeRequest>, Option<i64>), Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let mut query = change_request::Entity::find()
            .order_by_asc(change_request::Column::Id)
            .limit(limit + 1);
        if let Some(status) = status {
            query = query.filter(change_request::Column::Status.eq(status.as_str()));
        }
        if let Some(after) = after {
            query = query.filter(change_request::Column::Id.gt(after));
        }
        let mut requests = query.all(&txn).await?;
        let more = requests.len() as u64 > limit;
        requests.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let trns = trns_of(&txn, requests.iter().map(|r| r.person_id)).await?;
        audit.model(None).insert(&txn).await?;
        txn.commit().await?;
        let next = more.then(|| requests.last().map(|r| r.id)).flatten();
        let rows = requests
            .into_iter()
            .map(|r| {
                let trn = trns
                    .get(&r.person_id)
                    .copied()
                    .ok_or(Error::NotFound(TEACHER))?;
                Ok(rows::change_request(r, trn))
            })
            .collect::<Result<_, Error>>()?;
        Ok((rows, next))
    }

    /// Approves (applying the change in the same transaction: an old name becomes a previous
    /// name) or rejects an open request.
    #[tracing::instrument(name = "store", skip_all, fields(op = "review_change_request"))]
    pub async fn review_change_request(
        &self,
        id: i64,
        decision: &Decision,
        audit: AuditEntry<'_>,
    ) -> Result<ChangeRequest, Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let request = change_request::Entity::find_by_id(id)
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or(Error::NotFound("change request"))?;
        if ChangeStatus::from_stored(&request.status) != Some(ChangeStatus::Open) {
            return Err(Error::FailedPrecondition(
                "the request has already been decided",
            ));
        }
        let trn = trns_of(&txn, [request.person_id])
            .await?
            .get(&request.person_id)
            .copied()
            .ok_or(Error::NotFound(TEACHER))?;
        // Any error below drops the transaction uncommitted: nothing is half written.
        let (person_id, teacher) = super::load(&txn, &self.catalogue, trn, true)
            .await?
            .ok_or(Error::NotFound(TEACHER))?;
        let status = match decision {
            Decision::Approve => {
                let update = approved_update(&request)?;
                let mut person = teacher.person;
                let previous = person.apply(&update, Utc::now().date_naive());
                let mut row = rows::person_update(person_id, &person);
                row.updated_at = Set(Utc::now());
                row.update(&txn).await?;
                if let Some(previous) = previous {
                    rows::previous_name(person_id, &previous)
                        .insert(&txn)
                        .await?;
                }
                ChangeStatus::Approved
            }
            Decision::Reject { .. } => ChangeStatus::Rejected,
        };
        let decided = change_request::ActiveModel {
            id: Set(id),
            status: Set(status.as_str().to_owned()),
            decided_at: Set(Some(Utc::now())),
            decided_by: Set(Some(audit.caller.actor().to_owned())),
            reject_reason: Set(match decision {
                Decision::Reject { reason } => Some(reason.clone()),
                Decision::Approve => None,
            }),
            ..Default::default()
        };
        // Only an open request is decided: a concurrent review finds nothing left to change.
        let updated = change_request::Entity::update_many()
            .set(decided)
            .filter(change_request::Column::Id.eq(id))
            .filter(change_request::Column::Status.eq(ChangeStatus::Open.as_str()))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(Error::FailedPrecondition(
                "the request has already been decided",
            ));
        }
        audit.model(Some(trn)).insert(&txn).await?;
        let row = change_request::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(Error::NotFound("change request"))?;
        let decided = rows::change_request(row, trn);
        let (_, teacher) = super::load(&txn, &self.catalogue, trn, false)
            .await?
            .ok_or(Error::NotFound(TEACHER))?;
        let request = crate::views::change_request(&decided);
        let events = match status {
            ChangeStatus::Approved => vec![
                NewEvent::of(ChangeEventType::TeacherUpdated, &teacher),
                NewEvent::of(ChangeEventType::ChangeRequestApproved, &teacher)
                    .with_change_request(request),
            ],
            _ => vec![
                NewEvent::of(ChangeEventType::ChangeRequestRejected, &teacher)
                    .with_change_request(request),
            ],
        };
        super::feed::append(&txn, events).await?;
        self.commit(txn).await?;
        self.cache.forget(trn);
        Ok(decided)
    }

    /// A request's evidence, while it is kept: it goes `retention` after the decision. The
    /// read is audited.
    #[tracing::instrument(name = "store", skip_all, fields(op = "change_request_evidence"))]
    pub async fn change_request_evidence(
        &self,
        id: i64,
        retention: chrono::Duration,
        audit: AuditEntry<'_>,
    ) -> Result<KeptEvidence, Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let request = change_request::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(Error::NotFound("change request"))?;
        let expired = request
            .decided_at
            .is_some_and(|decided| decided + retention <= Utc::now());
        if request.evidence.is_none() || expired {
            return Err(Error::NotFound(
                "evidence: it is deleted once its retention ends",
            ));
        }
        let trn = trns_of(&txn, [request.person_id])
            .await?
            .get(&request.person_id)
            .copied();
        audit.model(trn).insert(&txn).await?;
        txn.commit().await?;
        Ok(KeptEvidence {
            id: request.id,
            file_name: request.evidence_file_name,
            content_type: request.evidence_content_type,
            content: request.evidence.unwrap_or_default(),
        })
    }

    /// Deletes the evidence of requests decided before `cutoff`; returns how many.
    #[tracing::instrument(name = "store", skip_all, fields(op = "delete_expired_evidence"))]
    pub async fn delete_expired_evidence(&self, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
        let deleted = change_request::Entity::update_many()
            .col_expr(
                change_request::Column::Evidence,
                Expr::value(Option::<Vec<u8>>::None),
            )
            .filter(change_request::Column::DecidedAt.lt(cutoff))
            .filter(change_request::Column::Evidence.is_not_null())
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected)
    }
}

/// The update an approved request applies.
fn approved_update(request: &change_request::Model) -> Result<TeacherUpdate, Error> {
    let corrupt = || Error::Corrupt(format!("change request {}", request.id));
    match (
        &request.requested_last_name,
        request.requested_date_of_birth,
    ) {
        (Some(last), None) => {
            let part = |value: &Option<String>, field: &str| {
                portal_common::values::NamePart::parse_optional(
                    field,
                    value.as_deref().unwrap_or_default(),
                )
                .map_err(|_| corrupt())
            };
            Ok(TeacherUpdate {
                first_name: Some(part(&request.requested_first_name, "first_name")?),
                middle_name: Some(part(&request.requested_middle_name, "middle_name")?),
                last_name: Some(
                    portal_common::values::NamePart::parse("last_name", last)
                        .map_err(|_| corrupt())?,
                ),
                ..TeacherUpdate::default()
            })
        }
        (None, Some(date)) => Ok(TeacherUpdate {
            date_of_birth: Some(portal_common::values::DateOfBirth::from_stored(date)),
            ..TeacherUpdate::default()
        }),
        _ => Err(corrupt()),
    }
}

/// The TRNs of persons, in one query.
async fn trns_of(
    db: &impl sea_orm::ConnectionTrait,
    ids: impl IntoIterator<Item = i64>,
) -> Result<std::collections::HashMap<i64, Trn>, Error> {
    let ids: Vec<i64> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    person::Entity::find()
        .filter(person::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| {
            Trn::parse("trn", &p.trn)
                .map(|trn| (p.id, trn))
                .map_err(|_| Error::Corrupt(format!("person {}: trn", p.id)))
        })
        .collect()
}

//! Requests for a TRN: each answered in one transaction with its audit event (and the record
//! it creates, when no existing one is the person's), idempotent per client and request id.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use portal_common::db::{Write, begin_write};
use portal_common::values::{DateOfBirth, NamePart, Nino, PersonName, Trn};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait,
    QueryFilter as _, QueryOrder as _, QuerySelect as _,
};

use super::entities::{person, previous_name, trn_request};
use super::feed::{NewEvent, append};
use super::{AuditEntry, Store, TEACHER, rows};
use crate::domain::{
    AuditAction, ChangeEventType, Person, Resolution, TrnMatch, TrnRequestInput, TrnRequestStatus,
};
use crate::error::Error;

/// The most records the search for an existing one reads: more sharing a date of birth or a
/// NINO than this is a case for review anyway.
const MAX_CANDIDATES: u64 = 200;

/// A TRN request as the store answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrnRequestView {
    pub request_id: String,
    pub status: TrnRequestStatus,
    pub trn: Option<Trn>,
    pub candidates: Vec<Trn>,
    pub created_at: DateTime<Utc>,
}

/// One page of TRN requests, oldest first.
pub struct TrnRequestPage {
    pub requests: Vec<TrnRequestView>,
    /// The id to continue after, when there may be more.
    pub next_after: Option<i64>,
}

fn view(row: &trn_request::Model) -> Result<TrnRequestView, Error> {
    let corrupt = |column: &str| Error::Corrupt(format!("trn_request {} {column}", row.id));
    let trn = |text: &str| Trn::parse("trn", text).map_err(|_| corrupt("trn"));
    Ok(TrnRequestView {
        request_id: row.request_id.clone(),
        status: TrnRequestStatus::from_stored(&row.status).ok_or_else(|| corrupt("status"))?,
        trn: row.trn.as_deref().map(trn).transpose()?,
        candidates: row
            .candidates
            .split(',')
            .filter(|t| !t.is_empty())
            .map(trn)
            .collect::<Result<_, _>>()?,
        created_at: row.created_at,
    })
}

/// The request as it was asked, read back to create its record on review.
fn asked(row: &trn_request::Model) -> Result<TrnRequestInput, Error> {
    let corrupt = || Error::Corrupt(format!("trn_request {} details", row.id));
    Ok(TrnRequestInput {
        request_id: row.request_id.clone(),
        name: PersonName::parse(
            ["first_name", "middle_name", "last_name"],
            &row.first_name,
            &row.middle_name,
            &row.last_name,
        )
        .map_err(|_| corrupt())?,
        previous_last_name: (!row.previous_last_name.is_empty())
            .then(|| NamePart::parse("previous_last_name", &row.previous_last_name))
            .transpose()
            .map_err(|_| corrupt())?,
        date_of_birth: DateOfBirth::from_stored(row.date_of_birth),
        nino: row
            .national_insurance_number
            .as_deref()
            .map(|n| Nino::parse("national_insurance_number", n))
            .transpose()
            .map_err(|_| corrupt())?,
        email: (!row.email.is_empty()).then(|| row.email.clone()),
    })
}

/// The persons that share a date of birth or a NINO, with their previous names: two queries.
pub(super) async fn candidates(
    db: &impl ConnectionTrait,
    date_of_birth: DateOfBirth,
    nino: Option<&Nino>,
) -> Result<Vec<Person>, Error> {
    let mut condition = Condition::any().add(person::Column::DateOfBirth.eq(date_of_birth.date()));
    if let Some(nino) = nino {
        condition = condition.add(person::Column::NationalInsuranceNumber.eq(nino.as_str()));
    }
    let found = person::Entity::find()
        .filter(condition)
        .order_by_asc(person::Column::Id)
        .limit(MAX_CANDIDATES)
        .all(db)
        .await?;
    let ids: Vec<i64> = found.iter().map(|p| p.id).collect();
    let mut previous: HashMap<i64, Vec<previous_name::Model>> = HashMap::new();
    for name in previous_name::Entity::find()
        .filter(previous_name::Column::PersonId.is_in(ids))
        .all(db)
        .await?
    {
        previous.entry(name.person_id).or_default().push(name);
    }
    found
        .iter()
        .map(|row| rows::person(row, previous.remove(&row.id).unwrap_or_default()))
        .collect()
}

impl Store {
    /// Answers a request for a TRN (the matching rule is in `domain::trn_request`): the same
    /// request again gives the stored answer, a different one under the same id is refused.
    #[tracing::instrument(name = "store", skip_all, fields(op = "create_trn_request"))]
    pub async fn create_trn_request(
        &self,
        client_id: &str,
        input: &TrnRequestInput,
        audit: AuditEntry<'_>,
    ) -> Result<TrnRequestView, Error> {
        let fingerprint = input.fingerprint();
        if let Some(answered) = self.answered(client_id, input, &fingerprint).await? {
            return Ok(answered);
        }
        match self
            .answer_trn_request(client_id, input, &fingerprint, audit)
            .await
        {
            // The same request made at the same moment elsewhere committed first: its answer
            // stands, and this one's transaction (and any record it made) was rolled back.
            Err(Error::Database(error)) => {
                match self.answered(client_id, input, &fingerprint).await? {
                    Some(answered) => Ok(answered),
                    None => Err(Error::Database(error)),
                }
            }
            other => other,
        }
    }

    /// The stored answer to this client's request of the same id, if there is one.
    async fn answered(
        &self,
        client_id: &str,
        input: &TrnRequestInput,
        fingerprint: &str,
    ) -> Result<Option<TrnRequestView>, Error> {
        let Some(row) = trn_request::Entity::find()
            .filter(trn_request::Column::ClientId.eq(client_id))
            .filter(trn_request::Column::RequestId.eq(&input.request_id))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        if row.fingerprint != fingerprint {
            return Err(Error::RequestExists);
        }
        view(&row).map(Some)
    }

    async fn answer_trn_request(
        &self,
        client_id: &str,
        input: &TrnRequestInput,
        fingerprint: &str,
        audit: AuditEntry<'_>,
    ) -> Result<TrnRequestView, Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let found = candidates(&txn, input.date_of_birth, input.nino.as_ref()).await?;
        let (status, trn, candidates) = match input.decide(&found) {
            TrnMatch::Definite(trn) => (TrnRequestStatus::Completed, Some(trn), Vec::new()),
            TrnMatch::Possible(trns) => (TrnRequestStatus::PendingReview, None, trns),
            TrnMatch::None => {
                let created = AuditEntry {
                    caller: audit.caller,
                    action: AuditAction::TeacherCreate,
                };
                let trns = self
                    .insert_records_in(&txn, &[input.new_record()], created)
                    .await?;
                (
                    TrnRequestStatus::Completed,
                    trns.first().copied(),
                    Vec::new(),
                )
            }
        };
        let now = Utc::now();
        let row = trn_request::ActiveModel {
            client_id: Set(client_id.to_owned()),
            request_id: Set(input.request_id.clone()),
            fingerprint: Set(fingerprint.to_owned()),
            status: Set(status.as_str().to_owned()),
            trn: Set(trn.map(|t| t.to_string())),
            candidates: Set(candidates
                .iter()
                .map(Trn::to_string)
                .collect::<Vec<_>>()
                .join(",")),
            first_name: Set(input.name.first.as_str().to_owned()),
            middle_name: Set(input.name.middle.as_str().to_owned()),
            last_name: Set(input.name.last.as_str().to_owned()),
            previous_last_name: Set(input
                .previous_last_name
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default()),
            date_of_birth: Set(input.date_of_birth.date()),
            national_insurance_number: Set(input.nino.as_ref().map(|n| n.as_str().to_owned())),
            email: Set(input.email.clone().unwrap_or_default()),
            created_at: Set(now),
            resolved_at: Set((status == TrnRequestStatus::Completed).then_some(now)),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        audit.model(trn).insert(&txn).await?;
        let answered = view(&row)?;
        self.completed(&txn, &answered).await?;
        self.commit(txn).await?;
        Ok(answered)
    }

    /// The change feed's event of a request answered with a TRN, carrying its record; nothing
    /// for a request still waiting for review.
    async fn completed(&self, txn: &Write, request: &TrnRequestView) -> Result<(), Error> {
        let Some(trn) = request.trn else {
            return Ok(());
        };
        let (_, teacher) = super::load(txn, &self.catalogue, trn, false)
            .await?
            .ok_or(Error::NotFound(TEACHER))?;
        let event = NewEvent::of(ChangeEventType::TrnRequestCompleted, &teacher)
            .with_trn_request(crate::views::trn_request(request));
        append(txn, vec![event]).await
    }

    /// A request by its id: the calling client's own, else the only one of that id.
    async fn trn_request_row(
        &self,
        db: &impl ConnectionTrait,
        client_id: &str,
        request_id: &str,
    ) -> Result<trn_request::Model, Error> {
        let rows = trn_request::Entity::find()
            .filter(trn_request::Column::RequestId.eq(request_id))
            .order_by_asc(trn_request::Column::Id)
            .limit(100)
            .all(db)
            .await?;
        let own = rows.iter().find(|r| r.client_id == client_id);
        match (own, rows.as_slice()) {
            (Some(row), _) | (None, [row]) => Ok(row.clone()),
            (None, []) => Err(Error::NotFound("TRN request")),
            (None, _) => Err(Error::FailedPrecondition(
                "several clients made a request under this id: ask the one it belongs to",
            )),
        }
    }

    /// A request by its id (see [`Self::trn_request_row`]).
    #[tracing::instrument(name = "store", skip_all, fields(op = "trn_request"))]
    pub async fn trn_request(
        &self,
        client_id: &str,
        request_id: &str,
    ) -> Result<TrnRequestView, Error> {
        view(
            &self
                .trn_request_row(&self.db, client_id, request_id)
                .await?,
        )
    }

    /// A page of requests, oldest first, after `after`, of one status when given.
    #[tracing::instrument(name = "store", skip_all, fields(op = "trn_requests"))]
    pub async fn trn_requests(
        &self,
        status: Option<TrnRequestStatus>,
        after: Option<i64>,
        limit: u64,
    ) -> Result<TrnRequestPage, Error> {
        let mut query = trn_request::Entity::find()
            .order_by_asc(trn_request::Column::Id)
            .limit(limit + 1);
        if let Some(status) = status {
            query = query.filter(trn_request::Column::Status.eq(status.as_str()));
        }
        if let Some(after) = after {
            query = query.filter(trn_request::Column::Id.gt(after));
        }
        let mut rows = query.all(&self.db).await?;
        let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(TrnRequestPage {
            next_after: more.then(|| rows.last().map(|r| r.id)).flatten(),
            requests: rows.iter().map(view).collect::<Result<_, _>>()?,
        })
    }

    /// Resolves a request waiting for review: with an existing active record's TRN, or with a
    /// new record made from what was asked.
    #[tracing::instrument(name = "store", skip_all, fields(op = "resolve_trn_request"))]
    pub async fn resolve_trn_request(
        &self,
        client_id: &str,
        request_id: &str,
        resolution: Resolution,
        audit: AuditEntry<'_>,
    ) -> Result<TrnRequestView, Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let row = self.trn_request_row(&txn, client_id, request_id).await?;
        if row.status != TrnRequestStatus::PendingReview.as_str() {
            return Err(Error::FailedPrecondition(
                "the request is not waiting for review",
            ));
        }
        let trn = match resolution {
            Resolution::Existing(trn) => {
                let active = super::load::load_person(&txn, trn, false)
                    .await?
                    .is_some_and(|(_, p)| {
                        p.status == crate::domain::PersonStatus::Active && p.merged_into.is_none()
                    });
                if !active {
                    return Err(Error::NotFound("record in use with this TRN"));
                }
                trn
            }
            Resolution::CreateNew => {
                let created = AuditEntry {
                    caller: audit.caller,
                    action: AuditAction::TeacherCreate,
                };
                let record = asked(&row)?.new_record();
                self.insert_records_in(&txn, &[record], created)
                    .await?
                    .first()
                    .copied()
                    .ok_or_else(|| Error::Corrupt("no TRN allocated".into()))?
            }
        };
        let resolved = trn_request::ActiveModel {
            id: Set(row.id),
            status: Set(TrnRequestStatus::Completed.as_str().to_owned()),
            trn: Set(Some(trn.to_string())),
            resolved_at: Set(Some(Utc::now())),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        audit.model(Some(trn)).insert(&txn).await?;
        let answered = view(&resolved)?;
        self.completed(&txn, &answered).await?;
        self.commit(txn).await?;
        Ok(answered)
    }
}

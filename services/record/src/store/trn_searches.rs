//! Lost-TRN searches and the cases made of them. A search is kept as `received` in the call
//! that makes it (the same work whatever it will find), matched later by the worker in
//! `crate::trn_searches`, then either answered by email and deleted, or kept as an `open`
//! case until DfE staff resolve it; a resolved case is deleted, with its details, once their
//! retention ends. Each step is one transaction with its audit event, and each step's
//! condition on the state makes a step taken twice (two instances, a retry) change nothing
//! the second time.

use chrono::{DateTime, Utc};
use portal_common::Caller;
use portal_common::db::{begin_write, write_turn};
use portal_common::trn_search::TrnSearch;
use portal_common::values::{DateOfBirth, Trn};
use sea_orm::sea_query::{Condition, Expr, Query};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait,
    QueryFilter as _, QueryOrder as _, QuerySelect as _,
};

use super::entities::{alert, person, trn_search};
use super::trn_requests::candidates;
use super::{AuditEntry, Store, TEACHER};
use crate::domain::{AuditAction, CaseResolution, PersonStatus, TrnCaseStatus, rank};
use crate::error::Error;

/// The state of a search not yet matched.
const RECEIVED: &str = "received";

/// A search as the worker takes it up.
pub type Claimed = trn_search::Model;

/// What matching decided for a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// One record in use with no open alert: its TRN, and the email on it (empty when none).
    Found { trn: Trn, record_email: String },
    /// A case for DfE staff, with the records to look at first.
    Case(Vec<Trn>),
}

/// What a person gave, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrnCaseDetails {
    pub first_name: String,
    pub last_name: String,
    pub previous_last_name: String,
    pub date_of_birth: DateOfBirth,
    pub nino: Option<String>,
    pub email: String,
}

/// A case as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrnCaseView {
    pub id: String,
    pub status: TrnCaseStatus,
    pub created_at: DateTime<Utc>,
    pub details: TrnCaseDetails,
    pub candidates: Vec<Trn>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The TRN a resolved case was resolved with; `None` for no match.
    pub trn: Option<Trn>,
}

fn trns(row: &trn_search::Model, text: &str) -> Result<Vec<Trn>, Error> {
    text.split(',')
        .filter(|t| !t.is_empty())
        .map(|t| Trn::parse("trn", t).map_err(|_| corrupt(row, "candidates")))
        .collect()
}

fn corrupt(row: &trn_search::Model, column: &str) -> Error {
    Error::Corrupt(format!("trn_search {} {column}", row.id))
}

/// The TRN a row holds, if any.
pub fn row_trn(row: &trn_search::Model) -> Result<Option<Trn>, Error> {
    row.trn
        .as_deref()
        .map(|t| Trn::parse("trn", t).map_err(|_| corrupt(row, "trn")))
        .transpose()
}

fn view(row: &trn_search::Model) -> Result<TrnCaseView, Error> {
    Ok(TrnCaseView {
        id: row.case_id.clone(),
        status: TrnCaseStatus::from_stored(&row.state).ok_or_else(|| corrupt(row, "state"))?,
        created_at: row.created_at,
        details: TrnCaseDetails {
            first_name: row.first_name.clone(),
            last_name: row.last_name.clone(),
            previous_last_name: row.previous_last_name.clone(),
            date_of_birth: DateOfBirth::from_stored(row.date_of_birth),
            nino: row.national_insurance_number.clone(),
            email: row.email.clone(),
        },
        candidates: trns(row, &row.candidates)?,
        resolved_at: row.resolved_at,
        trn: row_trn(row)?,
    })
}

/// The search a row holds, read back to match it.
fn search(row: &trn_search::Model) -> Result<TrnSearch, Error> {
    use portal_common::values::{NamePart, Nino};
    let bad = |_| corrupt(row, "details");
    Ok(TrnSearch {
        first_name: NamePart::parse("first_name", &row.first_name).map_err(bad)?,
        last_name: NamePart::parse("last_name", &row.last_name).map_err(bad)?,
        previous_last_name: (!row.previous_last_name.is_empty())
            .then(|| NamePart::parse("previous_last_name", &row.previous_last_name))
            .transpose()
            .map_err(bad)?,
        date_of_birth: DateOfBirth::from_stored(row.date_of_birth),
        nino: row
            .national_insurance_number
            .as_deref()
            .map(|n| Nino::parse("national_insurance_number", n))
            .transpose()
            .map_err(bad)?,
        email: row.email.clone(),
    })
}

/// An audit event of a case, naming it by its id (never by what it holds).
fn case_event(
    caller: &Caller,
    action: AuditAction,
    trn: Option<Trn>,
    case_id: &str,
) -> super::entities::audit_event::ActiveModel {
    let mut event = AuditEntry { caller, action }.model(trn);
    event.details = Set(Some(format!("case {case_id}")));
    event
}

/// The record service itself, acting on a search made in the request `request_id`.
fn worker(request_id: &str) -> Caller {
    Caller {
        principal: portal_common::Principal::Service(crate::NAME.to_owned()),
        request_id: request_id.to_owned(),
        on_behalf_of: None,
        session_id: None,
        source: None,
    }
}

/// Whether the record of `trn` has an alert open (not closed, not removed as in error).
async fn has_open_alert(db: &impl ConnectionTrait, trn: Trn) -> Result<bool, Error> {
    let person_ids = Query::select()
        .column(person::Column::Id)
        .from(person::Entity)
        .and_where(person::Column::Trn.eq(trn.to_string()))
        .to_owned();
    Ok(alert::Entity::find()
        .filter(alert::Column::PersonId.in_subquery(person_ids))
        .filter(alert::Column::EndDate.is_null())
        .filter(alert::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .is_some())
}

impl Store {
    /// Keeps a search as received, under `case_id` (chosen by the caller, so that a repeat of
    /// the same call keeps nothing twice). One insert whatever the search will find.
    #[tracing::instrument(name = "store", skip_all, fields(op = "keep_trn_search"))]
    pub async fn keep_trn_search(
        &self,
        case_id: &str,
        search: &TrnSearch,
        request_id: &str,
    ) -> Result<(), Error> {
        let _turn = write_turn(&self.writers).await?;
        let row = trn_search::ActiveModel {
            case_id: Set(case_id.to_owned()),
            state: Set(RECEIVED.to_owned()),
            first_name: Set(search.first_name.as_str().to_owned()),
            last_name: Set(search.last_name.as_str().to_owned()),
            previous_last_name: Set(search
                .previous_last_name
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default()),
            date_of_birth: Set(search.date_of_birth.date()),
            national_insurance_number: Set(search.nino.as_ref().map(|n| n.as_str().to_owned())),
            email: Set(search.email.clone()),
            candidates: Set(String::new()),
            trn: Set(None),
            request_id: Set(request_id.to_owned()),
            email_due: Set(false),
            lease_until: Set(None),
            created_at: Set(Utc::now()),
            resolved_at: Set(None),
            ..Default::default()
        };
        let inserted = trn_search::Entity::insert(row)
            .on_conflict(
                sea_orm::sea_query::OnConflict::column(trn_search::Column::CaseId)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        if inserted == 0 {
            tracing::info!("a lost-TRN search kept before was sent again");
        }
        Ok(())
    }

    /// Claims up to `limit` searches with work due (received, or a case whose email is due),
    /// oldest first, for `lease`: no other instance takes them until it runs out.
    #[tracing::instrument(name = "store", skip_all, fields(op = "claim_trn_searches"))]
    pub async fn claim_trn_searches(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u64,
    ) -> Result<Vec<Claimed>, Error> {
        let claimable = || {
            Condition::all()
                .add(
                    Condition::any()
                        .add(trn_search::Column::State.eq(RECEIVED))
                        .add(trn_search::Column::EmailDue.eq(true)),
                )
                .add(
                    Condition::any()
                        .add(trn_search::Column::LeaseUntil.is_null())
                        .add(trn_search::Column::LeaseUntil.lt(now)),
                )
        };
        let due = Query::select()
            .column(trn_search::Column::Id)
            .from(trn_search::Entity)
            .cond_where(claimable())
            .order_by(trn_search::Column::Id, sea_orm::Order::Asc)
            .limit(limit)
            .to_owned();
        let _turn = write_turn(&self.writers).await?;
        // The condition is checked again on each row as it is updated, so two instances that
        // chose the same rows do not both take them.
        let mut claimed = trn_search::Entity::update_many()
            .col_expr(trn_search::Column::LeaseUntil, Expr::value(now + lease))
            .filter(trn_search::Column::Id.in_subquery(due))
            .filter(claimable())
            .exec_with_returning(&self.db)
            .await?;
        claimed.sort_by_key(|row| row.id);
        Ok(claimed)
    }

    /// Leaves a claimed search to be tried again from `at`.
    pub async fn retry_trn_search(&self, id: i64, at: DateTime<Utc>) -> Result<(), Error> {
        let _turn = write_turn(&self.writers).await?;
        trn_search::Entity::update_many()
            .col_expr(trn_search::Column::LeaseUntil, Expr::value(at))
            .filter(trn_search::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Matches a received search against the records (rule in `domain::trn_search`).
    #[tracing::instrument(name = "store", skip_all, fields(op = "match_trn_search"))]
    pub async fn match_trn_search(&self, row: &Claimed) -> Result<Decided, Error> {
        let search = search(row)?;
        let records = candidates(&self.db, search.date_of_birth, search.nino.as_ref()).await?;
        let ranked = rank(&search, &records);
        if let Some(trn) = ranked.only_match()
            && !has_open_alert(&self.db, trn).await?
        {
            let record_email = records
                .iter()
                .find(|p| p.trn == trn)
                .map(|p| p.contact.email.clone())
                .unwrap_or_default();
            return Ok(Decided::Found { trn, record_email });
        }
        Ok(Decided::Case(ranked.candidates))
    }

    /// A received search whose TRN has been queued to be sent: its details are deleted, and
    /// the answer audited against the record. `false` when another instance got there first.
    #[tracing::instrument(name = "store", skip_all, fields(op = "trn_search_answered"))]
    pub async fn trn_search_answered(&self, row: &Claimed, trn: Trn) -> Result<bool, Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let deleted = trn_search::Entity::delete_many()
            .filter(trn_search::Column::Id.eq(row.id))
            .filter(trn_search::Column::State.eq(RECEIVED))
            .exec(&txn)
            .await?
            .rows_affected;
        if deleted == 0 {
            return Ok(false);
        }
        let caller = worker(&row.request_id);
        AuditEntry {
            caller: &caller,
            action: AuditAction::TrnSearchAnswer,
        }
        .model(Some(trn))
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// A received search becomes an open case, its acknowledgement due. `false` when another
    /// instance got there first.
    #[tracing::instrument(name = "store", skip_all, fields(op = "open_trn_case"))]
    pub async fn open_trn_case(&self, row: &Claimed, candidates: &[Trn]) -> Result<bool, Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let opened = trn_search::Entity::update_many()
            .col_expr(
                trn_search::Column::State,
                Expr::value(TrnCaseStatus::Open.as_str()),
            )
            .col_expr(
                trn_search::Column::Candidates,
                Expr::value(
                    candidates
                        .iter()
                        .map(Trn::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            )
            .col_expr(trn_search::Column::EmailDue, Expr::value(true))
            .filter(trn_search::Column::Id.eq(row.id))
            .filter(trn_search::Column::State.eq(RECEIVED))
            .exec(&txn)
            .await?
            .rows_affected;
        if opened == 0 {
            return Ok(false);
        }
        let caller = worker(&row.request_id);
        case_event(&caller, AuditAction::TrnCaseOpen, None, &row.case_id)
            .insert(&txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The email a case's state called for has been queued (if the case is still in the
    /// state it was queued for).
    pub async fn trn_case_emailed(&self, id: i64, state: TrnCaseStatus) -> Result<(), Error> {
        let _turn = write_turn(&self.writers).await?;
        trn_search::Entity::update_many()
            .col_expr(trn_search::Column::EmailDue, Expr::value(false))
            .col_expr(
                trn_search::Column::LeaseUntil,
                Expr::value(None::<DateTime<Utc>>),
            )
            .filter(trn_search::Column::Id.eq(id))
            .filter(trn_search::Column::State.eq(state.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// A page of cases, oldest first, of one status when given; the listing is audited.
    #[tracing::instrument(name = "store", skip_all, fields(op = "trn_cases"))]
    pub async fn trn_cases(
        &self,
        status: Option<TrnCaseStatus>,
        after: Option<i64>,
        limit: u64,
        audit: AuditEntry<'_>,
    ) -> Result<(Vec<TrnCaseView>, Option<i64>), Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let states: Vec<&str> = match status {
            Some(status) => vec![status.as_str()],
            None => TrnCaseStatus::ALL.iter().map(|s| s.as_str()).collect(),
        };
        let mut query = trn_search::Entity::find()
            .filter(trn_search::Column::State.is_in(states))
            .order_by_asc(trn_search::Column::Id)
            .limit(limit + 1);
        if let Some(after) = after {
            query = query.filter(trn_search::Column::Id.gt(after));
        }
        let mut rows = query.all(&txn).await?;
        audit.model(None).insert(&txn).await?;
        txn.commit().await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = more.then(|| rows.last().map(|r| r.id)).flatten();
        let cases = rows.iter().map(view).collect::<Result<_, _>>()?;
        Ok((cases, next))
    }

    /// Resolves an open case: with the TRN of a record in use, or as no match. Its email is
    /// then due, queued by the worker.
    #[tracing::instrument(name = "store", skip_all, fields(op = "resolve_trn_case"))]
    pub async fn resolve_trn_case(
        &self,
        case_id: &str,
        resolution: CaseResolution,
        audit: AuditEntry<'_>,
    ) -> Result<TrnCaseView, Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let row = trn_search::Entity::find()
            .filter(trn_search::Column::CaseId.eq(case_id))
            .filter(trn_search::Column::State.ne(RECEIVED))
            .one(&txn)
            .await?
            .ok_or(Error::NotFound("TRN case"))?;
        if row.state != TrnCaseStatus::Open.as_str() {
            return Err(Error::FailedPrecondition("the case is already resolved"));
        }
        let trn = match resolution {
            CaseResolution::Found(trn) => {
                let status = person::Entity::find()
                    .select_only()
                    .column(person::Column::Status)
                    .filter(person::Column::Trn.eq(trn.to_string()))
                    .into_tuple::<String>()
                    .one(&txn)
                    .await?
                    .ok_or(Error::NotFound(TEACHER))?;
                if PersonStatus::from_stored(&status) != Some(PersonStatus::Active) {
                    return Err(Error::FailedPrecondition(
                        "the record is no longer in use: resolve with the record in use",
                    ));
                }
                Some(trn)
            }
            CaseResolution::NoMatch => None,
        };
        let now = Utc::now();
        let mut resolved: trn_search::ActiveModel = row.clone().into();
        resolved.state = Set(TrnCaseStatus::Resolved.as_str().to_owned());
        resolved.trn = Set(trn.map(|t| t.to_string()));
        resolved.resolved_at = Set(Some(now));
        resolved.email_due = Set(true);
        let resolved = resolved.update(&txn).await?;
        case_event(audit.caller, audit.action, trn, case_id)
            .insert(&txn)
            .await?;
        txn.commit().await?;
        view(&resolved)
    }

    /// Deletes the cases resolved before `before` whose email has gone, each deletion audited.
    #[tracing::instrument(name = "store", skip_all, fields(op = "delete_expired_trn_cases"))]
    pub async fn delete_expired_trn_cases(&self, before: DateTime<Utc>) -> Result<u64, Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let expired = trn_search::Entity::find()
            .filter(trn_search::Column::State.eq(TrnCaseStatus::Resolved.as_str()))
            .filter(trn_search::Column::EmailDue.eq(false))
            .filter(trn_search::Column::ResolvedAt.lt(before))
            .order_by_asc(trn_search::Column::Id)
            .limit(500)
            .all(&txn)
            .await?;
        if expired.is_empty() {
            return Ok(0);
        }
        let caller = worker("retention");
        for row in &expired {
            case_event(
                &caller,
                AuditAction::TrnCaseDelete,
                row_trn(row)?,
                &row.case_id,
            )
            .insert(&txn)
            .await?;
        }
        let deleted = trn_search::Entity::delete_many()
            .filter(trn_search::Column::Id.is_in(expired.iter().map(|r| r.id)))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok(deleted)
    }
}

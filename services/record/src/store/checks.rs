//! Employer checks: by TRN and date of birth (one at a time or up to 500 at once) and by
//! surname and date of birth. A fixed number of queries answers any of them, and every check
//! is audited: matches under the teacher's TRN, misses by a keyed fingerprint only.

use std::collections::HashMap;

use chrono::NaiveDate;
use portal_common::db::begin_write;
use portal_common::values::Trn;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait as _, Condition, ConnectionTrait, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _,
};

use super::entities::{audit_event, person, previous_name};
use super::{AuditEntry, Store, assemble, rows};
use crate::domain::{Person, PersonStatus, Teacher};
use crate::error::Error;

/// The audit actions of employer checks, which the teacher sees.
const CHECK_ACTIONS: [&str; 3] = ["employer.check", "employer.find", "employer.bulk_check"];
/// The audit action of a check that matched nobody.
const MISS: &str = "employer.no_match";

/// One check by TRN and date of birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrnQuery {
    pub trn: Trn,
    pub date_of_birth: NaiveDate,
}

/// Persons with their previous names, two queries for any number.
async fn with_previous_names(
    db: &impl ConnectionTrait,
    rows: Vec<person::Model>,
) -> Result<Vec<(person::Model, Person)>, Error> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut previous: HashMap<i64, Vec<previous_name::Model>> = HashMap::new();
    if !ids.is_empty() {
        for name in previous_name::Entity::find()
            .filter(previous_name::Column::PersonId.is_in(ids))
            .order_by_desc(previous_name::Column::EndedOn)
            .order_by_desc(previous_name::Column::Id)
            .all(db)
            .await?
        {
            previous.entry(name.person_id).or_default().push(name);
        }
    }
    rows.into_iter()
        .map(|row| {
            let person = rows::person(&row, previous.remove(&row.id).unwrap_or_default())?;
            Ok((row, person))
        })
        .collect()
}

/// Whether employers may see a record at all: in use and not merged away.
fn checkable(row: &person::Model) -> bool {
    row.status == PersonStatus::Active.as_str() && row.merged_into_trn.is_none()
}

impl Store {
    /// Answers checks by TRN and date of birth: for each query, the teacher when both match a
    /// record in use (following one merge), else `None`. A wrong date of birth and an unknown
    /// TRN are the same miss. Each match is audited under `action`, each miss by fingerprint.
    #[tracing::instrument(name = "store", skip_all, fields(op = "check_teachers"))]
    pub async fn check_teachers(
        &self,
        queries: &[TrnQuery],
        action: &'static str,
        fingerprint: impl Fn(&TrnQuery) -> String,
        audit: AuditEntry<'_>,
    ) -> Result<Vec<Option<Teacher>>, Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let wanted: Vec<String> = queries.iter().map(|q| q.trn.to_string()).collect();
        let mut found: HashMap<String, person::Model> = person::Entity::find()
            .filter(person::Column::Trn.is_in(wanted))
            .all(&txn)
            .await?
            .into_iter()
            .map(|p| (p.trn.clone(), p))
            .collect();
        // A merged record answers for the one it was merged into.
        let targets: Vec<String> = found
            .values()
            .filter_map(|p| p.merged_into_trn.clone())
            .filter(|t| !found.contains_key(t))
            .collect();
        if !targets.is_empty() {
            for target in person::Entity::find()
                .filter(person::Column::Trn.is_in(targets))
                .all(&txn)
                .await?
            {
                found.insert(target.trn.clone(), target);
            }
        }
        let resolve = |trn: &str| -> Option<&person::Model> {
            let first = found.get(trn)?;
            match &first.merged_into_trn {
                Some(target) => found.get(target),
                None => Some(first),
            }
        };
        let matched: Vec<Option<person::Model>> = queries
            .iter()
            .map(|q| {
                resolve(&q.trn.to_string())
                    .filter(|p| checkable(p) && p.date_of_birth == Some(q.date_of_birth))
                    .cloned()
            })
            .collect();
        let mut unique: Vec<person::Model> = Vec::new();
        for row in matched.iter().flatten() {
            if !unique.iter().any(|u| u.id == row.id) {
                unique.push(row.clone());
            }
        }
        let teachers = assemble(
            &txn,
            &self.catalogue,
            with_previous_names(&txn, unique).await?,
        )
        .await?;
        let by_id: HashMap<Trn, Teacher> =
            teachers.into_iter().map(|t| (t.person.trn, t)).collect();
        let mut events = Vec::with_capacity(queries.len());
        let answers: Vec<Option<Teacher>> = queries
            .iter()
            .zip(&matched)
            .map(|(query, row)| {
                let teacher = row
                    .as_ref()
                    .and_then(|r| Trn::parse("trn", &r.trn).ok())
                    .and_then(|trn| by_id.get(&trn).cloned());
                events.push(match &teacher {
                    Some(t) => AuditEntry {
                        caller: audit.caller,
                        action,
                    }
                    .model(Some(t.person.trn)),
                    None => miss(&audit, fingerprint(query)),
                });
                teacher
            })
            .collect();
        super::insert_all(&txn, events).await?;
        txn.commit().await?;
        Ok(answers)
    }

    /// Everyone in use whose current or previous surname is `surname_key` and who was born on
    /// `date_of_birth`. The search is audited: each match under its TRN, no match by fingerprint.
    #[tracing::instrument(name = "store", skip_all, fields(op = "find_teachers"))]
    pub async fn find_teachers(
        &self,
        surname_key: &str,
        date_of_birth: NaiveDate,
        fingerprint: String,
        audit: AuditEntry<'_>,
    ) -> Result<Vec<Teacher>, Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let by_previous = previous_name::Entity::find()
            .select_only()
            .column(previous_name::Column::PersonId)
            .filter(previous_name::Column::LastNameKey.eq(surname_key))
            .into_tuple::<i64>()
            .all(&txn)
            .await?;
        let rows: Vec<person::Model> = person::Entity::find()
            .filter(person::Column::DateOfBirth.eq(date_of_birth))
            .filter(
                Condition::any()
                    .add(person::Column::LastNameKey.eq(surname_key))
                    .add(person::Column::Id.is_in(by_previous)),
            )
            .order_by_asc(person::Column::Trn)
            .all(&txn)
            .await?
            .into_iter()
            .filter(checkable)
            .collect();
        let teachers = assemble(
            &txn,
            &self.catalogue,
            with_previous_names(&txn, rows).await?,
        )
        .await?;
        let events: Vec<_> = if teachers.is_empty() {
            vec![miss(&audit, fingerprint)]
        } else {
            teachers
                .iter()
                .map(|t| {
                    AuditEntry {
                        caller: audit.caller,
                        action: "employer.find",
                    }
                    .model(Some(t.person.trn))
                })
                .collect()
        };
        super::insert_all(&txn, events).await?;
        txn.commit().await?;
        Ok(teachers)
    }

    /// The employer checks of a teacher's record, newest first.
    #[tracing::instrument(name = "store", skip_all, fields(op = "record_checks"))]
    pub async fn record_checks(&self, trn: Trn) -> Result<Vec<audit_event::Model>, Error> {
        Ok(audit_event::Entity::find()
            .filter(audit_event::Column::Trn.eq(trn.to_string()))
            .filter(audit_event::Column::Action.is_in(CHECK_ACTIONS))
            .order_by_desc(audit_event::Column::Id)
            .limit(1000)
            .all(&self.db)
            .await?)
    }
}

/// The audit event of a check that matched nobody: what was asked, only as a fingerprint.
fn miss(audit: &AuditEntry<'_>, fingerprint: String) -> audit_event::ActiveModel {
    let mut event = AuditEntry {
        caller: audit.caller,
        action: MISS,
    }
    .model(None);
    event.query_fingerprint = Set(Some(fingerprint));
    event
}

//! Employer checks: by TRN and date of birth (one at a time or up to 500 at once) and by
//! surname and date of birth. A fixed number of queries answers any of them, and every check
//! is audited: matches under the teacher's TRN, misses by a keyed fingerprint only.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use portal_common::db::write_turn;
use portal_common::values::Trn;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait as _, Condition, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _,
};

use super::entities::{audit_event, person, previous_name};
use super::load::with_previous_names;
use super::{AuditEntry, Store, assemble, rows};
use crate::domain::{AuditAction, AuditEvent, PersonStatus, Teacher, TrnQuery};
use crate::error::Error;

/// Whether employers may see a record at all: in use and not merged away.
pub(super) fn checkable(teacher: &Teacher) -> bool {
    teacher.person.status == PersonStatus::Active && teacher.person.merged_into.is_none()
}

type Records = HashMap<Trn, Arc<Teacher>>;

impl Store {
    /// The records of `trns` that exist: from the cache where it holds them, the rest read
    /// together (a fixed number of queries however many) and kept.
    pub(super) async fn records(&self, trns: &[Trn]) -> Result<Records, Error> {
        let mut found = Records::with_capacity(trns.len());
        let mut missing = Vec::new();
        for trn in trns {
            match self.cache.get(*trn) {
                Some(teacher) => {
                    found.insert(*trn, teacher);
                }
                None => missing.push(trn.to_string()),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let changes = self.cache.changes();
        let rows = person::Entity::find()
            .filter(person::Column::Trn.is_in(missing))
            .all(&self.db)
            .await?;
        let read = assemble(
            &self.db,
            &self.catalogue,
            with_previous_names(&self.db, rows).await?,
        )
        .await?;
        for teacher in read {
            let (trn, teacher) = (teacher.person.trn, Arc::new(teacher));
            self.cache.keep(trn, teacher.clone(), changes);
            found.insert(trn, teacher);
        }
        Ok(found)
    }

    /// Writes the audit events of one call's employer checks: one INSERT, a transaction of its
    /// own. On PostgreSQL the rows travel as three arrays (action, TRN, fingerprint) beside what
    /// they share, so that 500 of them cost one short statement rather than 3,500 parameters.
    pub(super) async fn audit_checks(
        &self,
        audit: &AuditEntry<'_>,
        events: Vec<CheckEvent>,
    ) -> Result<(), Error> {
        use sea_orm::{ConnectionTrait as _, DbBackend, Statement, Value};
        let _turn = write_turn(&self.writers).await?;
        if self.db.get_database_backend() != DbBackend::Postgres {
            let rows = events
                .into_iter()
                .map(|event| {
                    let mut row = AuditEntry {
                        caller: audit.caller,
                        action: event.action,
                    }
                    .model(event.trn);
                    row.query_fingerprint = Set(event.fingerprint);
                    row
                })
                .collect();
            return super::insert_all(&self.db, rows).await;
        }
        let caller = audit.caller;
        // Text arrays, an empty element standing for NULL (the driver binds no NULL elements).
        let column = |values: Vec<String>| Value::from(values);
        let (mut actions, mut trns, mut fingerprints) = (Vec::new(), Vec::new(), Vec::new());
        for event in events {
            actions.push(event.action.as_str().to_owned());
            trns.push(event.trn.map(|t| t.to_string()).unwrap_or_default());
            fingerprints.push(event.fingerprint.unwrap_or_default());
        }
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO audit_events \
             (time, actor, action, trn, request_id, on_behalf_of, query_fingerprint) \
             SELECT $1, $2, u.action, NULLIF(u.trn, ''), $3, $4, NULLIF(u.fingerprint, '') \
             FROM unnest($5::varchar[], $6::varchar[], $7::varchar[]) AS u(action, trn, fingerprint)",
            [
                Value::from(chrono::Utc::now()),
                Value::from(caller.actor().to_owned()),
                Value::from(caller.request_id.clone()),
                Value::from(caller.on_behalf_of.clone()),
                column(actions),
                column(trns),
                column(fingerprints),
            ],
        );
        self.db.execute_raw(statement).await?;
        Ok(())
    }

    /// Answers checks by TRN and date of birth: for each query, the teacher when both match a
    /// record in use (following one merge), else `None`. A wrong date of birth and an unknown
    /// TRN are the same miss. Each match is audited under `action`, each miss by fingerprint.
    /// The records are read first (from the cache where it holds them), then every audit
    /// event is written in one statement: a check costs one commit.
    #[tracing::instrument(name = "store", skip_all, fields(op = "check_teachers"))]
    pub async fn check_teachers(
        &self,
        queries: &[TrnQuery],
        action: AuditAction,
        fingerprint: impl Fn(&TrnQuery) -> String,
        audit: AuditEntry<'_>,
    ) -> Result<Vec<Option<Teacher>>, Error> {
        let mut wanted: Vec<Trn> = queries.iter().map(|q| q.trn).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut records = self.records(&wanted).await?;
        // A merged record answers for the one it was merged into.
        let targets: Vec<Trn> = records
            .values()
            .filter_map(|t| t.person.merged_into)
            .filter(|target| !records.contains_key(target))
            .collect();
        if !targets.is_empty() {
            records.extend(self.records(&targets).await?);
        }
        let resolve = |trn: Trn| -> Option<&Arc<Teacher>> {
            let first = records.get(&trn)?;
            match first.person.merged_into {
                Some(target) => records.get(&target),
                None => Some(first),
            }
        };
        let mut events = Vec::with_capacity(queries.len());
        let answers: Vec<Option<Teacher>> = queries
            .iter()
            .map(|query| {
                let teacher = resolve(query.trn).filter(|t| {
                    checkable(t)
                        && t.person.date_of_birth.map(|d| d.date()) == Some(query.date_of_birth)
                });
                events.push(match teacher {
                    Some(t) => CheckEvent::matched(action, t.person.trn),
                    None => CheckEvent::miss(fingerprint(query)),
                });
                teacher.map(|t| Teacher::clone(t))
            })
            .collect();
        self.audit_checks(&audit, events).await?;
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
        let by_previous = previous_name::Entity::find()
            .select_only()
            .column(previous_name::Column::PersonId)
            .filter(previous_name::Column::LastNameKey.eq(surname_key))
            .into_tuple::<i64>()
            .all(&self.db)
            .await?;
        let trns: Vec<String> = person::Entity::find()
            .select_only()
            .column(person::Column::Trn)
            .filter(person::Column::DateOfBirth.eq(date_of_birth))
            .filter(
                Condition::any()
                    .add(person::Column::LastNameKey.eq(surname_key))
                    .add(person::Column::Id.is_in(by_previous)),
            )
            .order_by_asc(person::Column::Trn)
            .into_tuple::<String>()
            .all(&self.db)
            .await?;
        let trns: Vec<Trn> = trns
            .iter()
            .filter_map(|trn| Trn::parse("trn", trn).ok())
            .collect();
        let records = self.records(&trns).await?;
        let teachers: Vec<Teacher> = trns
            .iter()
            .filter_map(|trn| records.get(trn))
            .filter(|t| checkable(t))
            .map(|t| Teacher::clone(t))
            .collect();
        let events: Vec<_> = if teachers.is_empty() {
            vec![CheckEvent::miss(fingerprint)]
        } else {
            teachers
                .iter()
                .map(|t| CheckEvent::matched(AuditAction::EmployerFind, t.person.trn))
                .collect()
        };
        self.audit_checks(&audit, events).await?;
        Ok(teachers)
    }

    /// The employer checks of a teacher's record, newest first.
    #[tracing::instrument(name = "store", skip_all, fields(op = "record_checks"))]
    pub async fn record_checks(&self, trn: Trn) -> Result<Vec<AuditEvent>, Error> {
        let checks = AuditAction::record_checks().map(AuditAction::as_str);
        Ok(audit_event::Entity::find()
            .filter(audit_event::Column::Trn.eq(trn.to_string()))
            .filter(audit_event::Column::Action.is_in(checks))
            .order_by_desc(audit_event::Column::Id)
            .limit(1000)
            .all(&self.db)
            .await?
            .into_iter()
            .map(rows::audit_event)
            .collect())
    }
}

/// The audit event of one check: under the teacher's TRN when it matched, else only a keyed
/// fingerprint of what was asked.
pub(super) struct CheckEvent {
    action: AuditAction,
    trn: Option<Trn>,
    fingerprint: Option<String>,
}

impl CheckEvent {
    pub(super) fn matched(action: AuditAction, trn: Trn) -> Self {
        Self {
            action,
            trn: Some(trn),
            fingerprint: None,
        }
    }

    fn miss(fingerprint: String) -> Self {
        Self {
            action: AuditAction::EmployerNoMatch,
            trn: None,
            fingerprint: Some(fingerprint),
        }
    }
}

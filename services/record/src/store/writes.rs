//! Changes to a record by internal clients: each in one transaction holding the person's row,
//! with its audit event, the record read back as it now stands.

use chrono::{NaiveDate, Utc};
use portal_common::db::{Write, begin_write};
use portal_common::values::Trn;
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, EntityTrait, QueryFilter as _,
};

use super::entities::{alert, induction_exemption, induction_period, person};
use super::feed::{NewEvent, append};
use super::{AuditEntry, Store, TEACHER, insert_all, load, rows};
use crate::domain::{
    AlertCloseError, AlertCorrection, AlertRemoval, ChangeEventType, Induction, Mq, NewAlert, Npq,
    ProfessionalStatus, Qtls, Teacher, TeacherUpdate,
};
use crate::error::Error;

impl Store {
    /// Opens a change of the record of `trn`: a transaction holding the person's row lock,
    /// the record as it stands, and the person's row id.
    pub(super) async fn begin_change(&self, trn: Trn) -> Result<(Write, i64, Teacher), Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let (id, teacher) = load(&txn, &self.catalogue, trn, true)
            .await?
            .ok_or(Error::NotFound(TEACHER))?;
        Ok((txn, id, teacher))
    }
    /// Closes a change: the audit event, the record as it now stands, the change feed's events
    /// of `kinds` carrying it, then commit.
    pub(super) async fn finish_change(
        &self,
        txn: Write,
        trn: Trn,
        audit: AuditEntry<'_>,
        kinds: &[ChangeEventType],
    ) -> Result<Teacher, Error> {
        self.finish_change_with(txn, trn, audit, None, |teacher| {
            NewEvent::all(kinds, teacher)
        })
        .await
    }
    /// [`Self::finish_change`], the audit event keeping `details` too, the events as `events`
    /// makes them from the record as it now stands.
    pub(super) async fn finish_change_with(
        &self,
        txn: Write,
        trn: Trn,
        audit: AuditEntry<'_>,
        details: Option<String>,
        events: impl FnOnce(&Teacher) -> Vec<NewEvent>,
    ) -> Result<Teacher, Error> {
        let mut event = audit.model(Some(trn));
        event.details = Set(details);
        event.insert(&txn).await?;
        let (_, teacher) = load(&txn, &self.catalogue, trn, false)
            .await?
            .ok_or(Error::NotFound(TEACHER))?;
        append(&txn, events(&teacher)).await?;
        self.commit(txn).await?;
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
        let before = teacher.person;
        let mut person = before.clone();
        let previous = person.apply(update, today);
        let kinds: Vec<_> = person.change_from(&before).into_iter().collect();
        let mut row = rows::person_update(id, &person);
        row.updated_at = Set(Utc::now());
        row.update(&txn).await?;
        if let Some(previous) = previous {
            rows::previous_name(id, &previous).insert(&txn).await?;
        }
        self.finish_change(txn, trn, audit, &kinds).await
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
        let decided = teacher.induction.after_award(status, teacher.qtls);
        if let Some(induction) = &decided {
            write_induction(&txn, id, induction).await?;
        }
        let before = teacher.induction.status;
        self.finish_change_with(txn, trn, audit, None, |after| {
            let added = NewEvent::of(ChangeEventType::ProfessionalStatusAdded, after)
                .with_status_added(status);
            let induction = decided.map(|_| {
                NewEvent::of(ChangeEventType::InductionUpdated, after).with_induction_before(before)
            });
            std::iter::once(added).chain(induction).collect()
        })
        .await
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
        induction.check_against("induction", &teacher.statuses, teacher.qtls)?;
        write_induction(&txn, id, induction).await?;
        let before = teacher.induction.status;
        self.finish_change_with(txn, trn, audit, None, |after| {
            vec![
                NewEvent::of(ChangeEventType::InductionUpdated, after)
                    .with_induction_before(before),
            ]
        })
        .await
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
        self.finish_change(txn, trn, audit, &[ChangeEventType::QualificationAdded])
            .await
    }
    /// Adds a mandatory qualification.
    #[tracing::instrument(name = "store", skip_all, fields(op = "add_mq"))]
    pub async fn add_mq(&self, trn: Trn, mq: &Mq, audit: AuditEntry<'_>) -> Result<Teacher, Error> {
        let (txn, id, _) = self.begin_change(trn).await?;
        rows::mq(id, mq).insert(&txn).await?;
        self.finish_change(txn, trn, audit, &[ChangeEventType::QualificationAdded])
            .await
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
        self.finish_change(txn, trn, audit, &[ChangeEventType::AlertAdded])
            .await
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
        let held = held_alert(&teacher, alert_id)?;
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
        self.finish_change(txn, trn, audit, &[ChangeEventType::AlertClosed])
            .await
    }
    /// Corrects an alert of the record: its details or dates (an end cleared reopens it).
    #[tracing::instrument(name = "store", skip_all, fields(op = "update_alert"))]
    pub async fn update_alert(
        &self,
        trn: Trn,
        correction: &AlertCorrection,
        audit: AuditEntry<'_>,
    ) -> Result<Teacher, Error> {
        let (txn, _, teacher) = self.begin_change(trn).await?;
        let held = held_alert(&teacher, correction.alert_id)?;
        let corrected = held.corrected(correction)?;
        alert::ActiveModel {
            id: Set(corrected.id),
            details: Set(corrected.details),
            start_date: Set(corrected.start),
            end_date: Set(corrected.end),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        self.finish_change(txn, trn, audit, &[ChangeEventType::AlertUpdated])
            .await
    }
    /// Removes an alert entered in error: it stays in its table, out of every view, and the
    /// audit event keeps which alert it was and why it went.
    #[tracing::instrument(name = "store", skip_all, fields(op = "delete_alert"))]
    pub async fn delete_alert(
        &self,
        trn: Trn,
        removal: &AlertRemoval,
        audit: AuditEntry<'_>,
    ) -> Result<Teacher, Error> {
        let (txn, _, teacher) = self.begin_change(trn).await?;
        let held = held_alert(&teacher, removal.alert_id)?;
        alert::ActiveModel {
            id: Set(held.id),
            deleted_at: Set(Some(Utc::now())),
            delete_reason: Set(Some(removal.reason.clone())),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        let noted = format!(
            "alert {} ({}) removed: {}",
            held.id, held.kind.code, removal.reason
        );
        self.finish_change_with(txn, trn, audit, Some(noted), |after| {
            vec![NewEvent::of(ChangeEventType::AlertDeleted, after)]
        })
        .await
    }
    /// Sets the record's QTLS status and its award date.
    #[tracing::instrument(name = "store", skip_all, fields(op = "set_qtls"))]
    pub async fn set_qtls(
        &self,
        trn: Trn,
        qtls: Qtls,
        audit: AuditEntry<'_>,
    ) -> Result<Teacher, Error> {
        let (txn, id, _) = self.begin_change(trn).await?;
        rows::qtls_update(id, qtls).update(&txn).await?;
        self.finish_change(txn, trn, audit, &[ChangeEventType::QtlsUpdated])
            .await
    }
    /// Closes the record of a teacher who has died: deactivated, with the date of death.
    #[tracing::instrument(name = "store", skip_all, fields(op = "set_deceased"))]
    pub async fn set_deceased(
        &self,
        trn: Trn,
        died: NaiveDate,
        audit: AuditEntry<'_>,
    ) -> Result<Teacher, Error> {
        let (txn, id, mut teacher) = self.begin_change(trn).await?;
        teacher.person.deceased("date_of_death", died)?;
        rows::person_update(id, &teacher.person)
            .update(&txn)
            .await?;
        self.finish_change(txn, trn, audit, &[ChangeEventType::TeacherDeceased])
            .await
    }
}

/// The alert `id` of the record, or NOT_FOUND.
fn held_alert(teacher: &Teacher, id: i64) -> Result<&crate::domain::Alert, Error> {
    teacher
        .alerts
        .iter()
        .find(|a| a.id == id)
        .ok_or(Error::NotFound("alert"))
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

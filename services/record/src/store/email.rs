//! Contact details, and new email addresses waiting for the code sent to them. Every field
//! but the email changes at once; a new email is kept beside the record until its code comes
//! back, and only then replaces the old one.

use chrono::{DateTime, Utc};
use portal_common::values::Trn;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _,
};

use super::entities::{email_change, person};
use super::{AuditEntry, Store, TEACHER, rows};
use crate::domain::{ChangeEventType, ContactDetails};
use crate::error::Error;

/// Where an email change is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Its code has been sent and not yet given back.
    Pending,
    /// A later change replaced it before its code came back.
    Superseded,
    /// Its code came back: the record holds the new address.
    Confirmed,
    /// Too many wrong codes.
    Void,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Superseded => "superseded",
            Self::Confirmed => "confirmed",
            Self::Void => "void",
        }
    }
}

/// A new email address to keep waiting for its code.
pub struct NewEmail<'a> {
    pub email: &'a str,
    /// Keyed digest of the code sent to it.
    pub code_digest: String,
    pub expires_at: DateTime<Utc>,
}

/// An email change waiting for its code.
#[derive(Debug, Clone)]
pub struct EmailChange {
    pub id: i64,
    pub new_email: String,
    pub code_digest: String,
    pub expires_at: DateTime<Utc>,
    /// The address it replaces (empty when the record holds none).
    pub old_email: String,
}

impl Store {
    /// When the email changes of the record of `trn` asked for since `since` were asked, oldest
    /// first.
    #[tracing::instrument(name = "store", skip_all, fields(op = "email_changes_since"))]
    pub async fn email_changes_since(
        &self,
        trn: Trn,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, Error> {
        let Some(person_id) = self.person_id(trn).await? else {
            return Err(Error::NotFound(TEACHER));
        };
        Ok(email_change::Entity::find()
            .select_only()
            .column(email_change::Column::CreatedAt)
            .filter(email_change::Column::PersonId.eq(person_id))
            .filter(email_change::Column::CreatedAt.gt(since))
            .order_by_asc(email_change::Column::CreatedAt)
            .into_tuple::<DateTime<Utc>>()
            .all(&self.db)
            .await?)
    }

    /// Replaces the named contact fields (already checked) of the record of `trn`, other than
    /// the email, and keeps `new_email` waiting for its code in place of any that waited: one
    /// transaction with its audit event. The contact details as they now stand, and the email
    /// waiting.
    #[tracing::instrument(name = "store", skip_all, fields(op = "update_contact"))]
    pub async fn update_contact(
        &self,
        trn: Trn,
        fields: &[&str],
        details: &ContactDetails,
        new_email: Option<NewEmail<'_>>,
        audit: AuditEntry<'_>,
    ) -> Result<(ContactDetails, Option<String>), Error> {
        let (txn, id, teacher) = self.begin_change(trn).await?;
        let mut person = teacher.person.clone();
        for field in fields.iter().filter(|f| **f != "email") {
            person.contact.set(field, details.get(field));
        }
        let kinds: Vec<_> = person.change_from(&teacher.person).into_iter().collect();
        let mut row = rows::person_update(id, &person);
        row.updated_at = Set(Utc::now());
        row.update(&txn).await?;
        let waiting = match new_email {
            Some(new) => {
                supersede(&txn, id).await?;
                email_change::ActiveModel {
                    person_id: Set(id),
                    new_email: Set(new.email.to_owned()),
                    code_digest: Set(new.code_digest),
                    tries: Set(0),
                    status: Set(Status::Pending.as_str().to_owned()),
                    created_at: Set(Utc::now()),
                    expires_at: Set(new.expires_at),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
                Some(new.email.to_owned())
            }
            None => None,
        };
        let contact = self
            .finish_change(txn, trn, audit, &kinds)
            .await?
            .person
            .contact;
        Ok((contact, waiting))
    }

    /// The email change of the record of `trn` waiting for its code, if any.
    #[tracing::instrument(name = "store", skip_all, fields(op = "pending_email_change"))]
    pub async fn pending_email_change(&self, trn: Trn) -> Result<Option<EmailChange>, Error> {
        let Some((person_id, old_email)) = person::Entity::find()
            .select_only()
            .column(person::Column::Id)
            .column(person::Column::Email)
            .filter(person::Column::Trn.eq(trn.to_string()))
            .into_tuple::<(i64, String)>()
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let change = email_change::Entity::find()
            .filter(email_change::Column::PersonId.eq(person_id))
            .filter(email_change::Column::Status.eq(Status::Pending.as_str()))
            .order_by_desc(email_change::Column::Id)
            .one(&self.db)
            .await?;
        Ok(change.map(|row| EmailChange {
            id: row.id,
            new_email: row.new_email,
            code_digest: row.code_digest,
            expires_at: row.expires_at,
            old_email,
        }))
    }

    /// Counts a try at the code of change `id`: the tries so far, this one included, or `None`
    /// when the change no longer waits. One statement, so concurrent tries all count.
    #[tracing::instrument(name = "store", skip_all, fields(op = "try_email_change"))]
    pub async fn try_email_change(&self, id: i64) -> Result<Option<i32>, Error> {
        let rows = email_change::Entity::update_many()
            .col_expr(
                email_change::Column::Tries,
                Expr::col(email_change::Column::Tries).add(1),
            )
            .filter(email_change::Column::Id.eq(id))
            .filter(email_change::Column::Status.eq(Status::Pending.as_str()))
            .exec_with_returning(&self.db)
            .await?;
        Ok(rows.first().map(|row| row.tries))
    }

    /// Voids change `id`: its code no longer works.
    #[tracing::instrument(name = "store", skip_all, fields(op = "void_email_change"))]
    pub async fn void_email_change(&self, id: i64) -> Result<(), Error> {
        email_change::Entity::update_many()
            .col_expr(
                email_change::Column::Status,
                Expr::value(Status::Void.as_str()),
            )
            .filter(email_change::Column::Id.eq(id))
            .filter(email_change::Column::Status.eq(Status::Pending.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Applies change `id` to the record of `trn`: its address replaces the email, in one
    /// transaction with its audit event. `None` when the change no longer waits (used by a
    /// concurrent confirmation, superseded, or void).
    #[tracing::instrument(name = "store", skip_all, fields(op = "confirm_email_change"))]
    pub async fn confirm_email_change(
        &self,
        trn: Trn,
        id: i64,
        audit: AuditEntry<'_>,
    ) -> Result<Option<ContactDetails>, Error> {
        let (txn, person_id, teacher) = self.begin_change(trn).await?;
        let confirmed = email_change::Entity::update_many()
            .col_expr(
                email_change::Column::Status,
                Expr::value(Status::Confirmed.as_str()),
            )
            .filter(email_change::Column::Id.eq(id))
            .filter(email_change::Column::PersonId.eq(person_id))
            .filter(email_change::Column::Status.eq(Status::Pending.as_str()))
            .exec_with_returning(&txn)
            .await?;
        let Some(change) = confirmed.into_iter().next() else {
            return Ok(None);
        };
        let mut person = teacher.person;
        person.contact.email = change.new_email;
        let mut row = rows::person_update(person_id, &person);
        row.updated_at = Set(Utc::now());
        row.update(&txn).await?;
        Ok(Some(
            self.finish_change(txn, trn, audit, &[ChangeEventType::TeacherUpdated])
                .await?
                .person
                .contact,
        ))
    }

    /// The email address on the record of `trn`, read now rather than from the cache; `None`
    /// when there is no such record.
    #[tracing::instrument(name = "store", skip_all, fields(op = "email"))]
    pub async fn email(&self, trn: Trn) -> Result<Option<String>, Error> {
        Ok(person::Entity::find()
            .select_only()
            .column(person::Column::Email)
            .filter(person::Column::Trn.eq(trn.to_string()))
            .into_tuple::<String>()
            .one(&self.db)
            .await?)
    }

    async fn person_id(&self, trn: Trn) -> Result<Option<i64>, Error> {
        Ok(person::Entity::find()
            .select_only()
            .column(person::Column::Id)
            .filter(person::Column::Trn.eq(trn.to_string()))
            .into_tuple::<i64>()
            .one(&self.db)
            .await?)
    }
}

/// Marks the change waiting for `person_id` as replaced.
async fn supersede(txn: &impl sea_orm::ConnectionTrait, person_id: i64) -> Result<(), Error> {
    email_change::Entity::update_many()
        .col_expr(
            email_change::Column::Status,
            Expr::value(Status::Superseded.as_str()),
        )
        .filter(email_change::Column::PersonId.eq(person_id))
        .filter(email_change::Column::Status.eq(Status::Pending.as_str()))
        .exec(txn)
        .await?;
    Ok(())
}

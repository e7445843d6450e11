//! Links between GOV.UK One Login accounts and TRNs (rules in `domain::one_login`). Each link
//! and unlink is one transaction with its audit event; the unique indexes on subject and TRN
//! keep one account per TRN and one TRN per account whatever runs at once.

use chrono::Utc;
use portal_common::db::begin_write;
use portal_common::values::Trn;
use portal_common::{Assurance, Caller, Principal};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter as _, SqlErr,
};

use super::entities::one_login_link;
use super::trn_requests::candidates;
use super::{AuditEntry, Store, TEACHER};
use crate::domain::{AuditAction, PersonStatus, VerifiedIdentity};
use crate::error::Error;

/// How a link was proved, as its audit event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProof {
    /// One Login verified the person's identity, and it named the record alone.
    VerifiedIdentity,
    /// The holder gave the details sign-in takes.
    SignInDetails,
}

impl LinkProof {
    fn as_str(self) -> &'static str {
        match self {
            Self::VerifiedIdentity => "proved by identity verified by One Login",
            Self::SignInDetails => "proved by sign-in details",
        }
    }
}

/// The teacher of `trn`, acting in request `request_id`: who links their own record.
fn teacher(trn: Trn, request_id: &str) -> Caller {
    Caller {
        principal: Principal::Teacher {
            trn,
            assurance: Assurance::Verified,
        },
        request_id: request_id.to_owned(),
        on_behalf_of: None,
        session_id: None,
        source: None,
    }
}

async fn link_of(
    db: &impl ConnectionTrait,
    column: one_login_link::Column,
    value: &str,
) -> Result<Option<one_login_link::Model>, Error> {
    Ok(one_login_link::Entity::find()
        .filter(column.eq(value))
        .one(db)
        .await?)
}

fn unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

impl Store {
    /// The TRN a One Login account signs in to: the record it is linked to (followed through
    /// merges), or the one record its verified identity names, then linked. `None` when
    /// neither; the flag says the link was made now.
    #[tracing::instrument(name = "store", skip_all, fields(op = "resolve_one_login"))]
    pub async fn resolve_one_login(
        &self,
        subject: &str,
        identity: Option<&VerifiedIdentity>,
        request_id: &str,
    ) -> Result<Option<(Trn, bool)>, Error> {
        if let Some(link) = link_of(&self.db, one_login_link::Column::Subject, subject).await? {
            return self
                .linked_record(&link)
                .await
                .map(|trn| Some((trn, false)));
        }
        let Some(identity) = identity else {
            return Ok(None);
        };
        let mut records = Vec::new();
        for date in identity.birth_dates() {
            let born = portal_common::values::DateOfBirth::from_stored(*date);
            records.extend(candidates(&self.db, born, None).await?);
        }
        let Some(trn) = identity.only_match(&records) else {
            return Ok(None);
        };
        match self
            .link(subject, trn, LinkProof::VerifiedIdentity, request_id)
            .await
        {
            Ok(()) => Ok(Some((trn, true))),
            // The record is another account's: its holder proves it with sign-in details,
            // which then meet the same refusal.
            Err(Error::AlreadyLinked) => {
                match link_of(&self.db, one_login_link::Column::Subject, subject).await? {
                    // Linked meanwhile by a sign-in of the same account.
                    Some(link) => self
                        .linked_record(&link)
                        .await
                        .map(|trn| Some((trn, false))),
                    None => Ok(None),
                }
            }
            Err(other) => Err(other),
        }
    }

    /// The record in use a link leads to.
    async fn linked_record(&self, link: &one_login_link::Model) -> Result<Trn, Error> {
        let trn = Trn::parse("trn", &link.trn)
            .map_err(|_| Error::Corrupt("a One Login link's TRN".into()))?;
        match self.sign_in_candidate(trn).await? {
            Some(person) if person.status == PersonStatus::Active => Ok(person.trn),
            _ => Err(Error::FailedPrecondition(
                "the record this One Login account is linked to is no longer in use",
            )),
        }
    }

    /// Links `subject` to `trn`, proved as `proof`. Linking the same pair again changes
    /// nothing; either linked to another: `AlreadyLinked`.
    #[tracing::instrument(name = "store", skip_all, fields(op = "link_one_login"))]
    pub async fn link(
        &self,
        subject: &str,
        trn: Trn,
        proof: LinkProof,
        request_id: &str,
    ) -> Result<(), Error> {
        match self.sign_in_candidate(trn).await? {
            Some(person) if person.trn == trn && person.status == PersonStatus::Active => {}
            _ => return Err(Error::NotFound(TEACHER)),
        }
        let txn = begin_write(&self.db, &self.writers).await?;
        let by_subject = link_of(&txn, one_login_link::Column::Subject, subject).await?;
        let by_trn = link_of(&txn, one_login_link::Column::Trn, &trn.to_string()).await?;
        match (by_subject, by_trn) {
            (Some(a), Some(b)) if a.id == b.id => return Ok(()),
            (None, None) => {}
            _ => return Err(Error::AlreadyLinked),
        }
        let inserted = one_login_link::ActiveModel {
            subject: Set(subject.to_owned()),
            trn: Set(trn.to_string()),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&txn)
        .await;
        match inserted {
            Ok(_) => {}
            Err(error) if unique_violation(&error) => return Err(Error::AlreadyLinked),
            Err(error) => return Err(error.into()),
        }
        let caller = teacher(trn, request_id);
        let mut event = AuditEntry {
            caller: &caller,
            action: AuditAction::OneLoginLink,
        }
        .model(Some(trn));
        event.details = Set(Some(proof.as_str().to_owned()));
        event.insert(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Removes the One Login link of `trn`, audited.
    #[tracing::instrument(name = "store", skip_all, fields(op = "unlink_one_login"))]
    pub async fn unlink_one_login(&self, trn: Trn, audit: AuditEntry<'_>) -> Result<(), Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let removed = one_login_link::Entity::delete_many()
            .filter(one_login_link::Column::Trn.eq(trn.to_string()))
            .exec(&txn)
            .await?
            .rows_affected;
        if removed == 0 {
            return Err(Error::NotFound("One Login link"));
        }
        audit.model(Some(trn)).insert(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}

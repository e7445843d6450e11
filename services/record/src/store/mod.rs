//! Persistence of teacher records. Every change, and every read by anyone but the teacher, is
//! written with its audit event in one transaction.

pub mod entities;

use std::ops::RangeInclusive;

use chrono::Utc;
use portal_common::Caller;
use portal_common::values::Trn;
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DatabaseConnection,
    DbErr, EntityTrait as _, QueryFilter as _, QueryOrder as _, TransactionTrait as _,
};

use crate::domain::{NewTeacher, PersonStatus, Teacher};
use crate::error::Error;
use entities::{audit_event, person, previous_name, trn_allocation};

/// A merge chain longer than this is treated as broken rather than followed for ever.
const MAX_MERGE_HOPS: usize = 4;

/// Who did what, for the audit log. Free text never holds personal data.
pub struct AuditEntry<'a> {
    pub caller: &'a Caller,
    pub action: &'static str,
}

impl AuditEntry<'_> {
    fn model(&self, trn: Trn) -> audit_event::ActiveModel {
        audit_event::ActiveModel {
            time: Set(Utc::now()),
            actor: Set(self.caller.actor().to_owned()),
            action: Set(self.action.to_owned()),
            trn: Set(Some(trn.to_string())),
            request_id: Set(self.caller.request_id.clone()),
            on_behalf_of: Set(self.caller.on_behalf_of.clone()),
            ..Default::default()
        }
    }
}

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    trn_range: RangeInclusive<u32>,
}

impl Store {
    /// A store over a migrated database, allocating TRNs from `trn_range`.
    pub async fn new(
        db: DatabaseConnection,
        trn_range: RangeInclusive<u32>,
    ) -> Result<Self, DbErr> {
        let seed = trn_allocation::ActiveModel {
            id: Set(1),
            next_trn: Set(i64::from(*trn_range.start())),
        };
        // Several instances may start at once: the first insert wins, the rest do nothing.
        trn_allocation::Entity::insert(seed)
            .on_conflict(
                OnConflict::column(trn_allocation::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&db)
            .await?;
        Ok(Self { db, trn_range })
    }

    /// Creates a record with the next TRN of the range.
    pub async fn create_teacher(
        &self,
        new: &NewTeacher,
        audit: AuditEntry<'_>,
    ) -> Result<Teacher, Error> {
        let txn = self.db.begin().await?;
        let trn = self.allocate_trn(&txn).await?;
        let now = Utc::now();
        let person = person::ActiveModel {
            trn: Set(trn.to_string()),
            first_name: Set(new.name.first.as_str().to_owned()),
            middle_name: Set(new.name.middle.as_str().to_owned()),
            last_name: Set(new.name.last.as_str().to_owned()),
            first_name_key: Set(new.name.first.normalised()),
            last_name_key: Set(new.name.last.normalised()),
            date_of_birth: Set(Some(new.date_of_birth.date())),
            national_insurance_number: Set(new.nino.as_ref().map(|n| n.as_str().to_owned())),
            email: Set(new.contact.email.clone()),
            phone: Set(new.contact.phone.clone()),
            address_line1: Set(new.contact.address_line1.clone()),
            address_line2: Set(new.contact.address_line2.clone()),
            town: Set(new.contact.town.clone()),
            postcode: Set(new.contact.postcode.clone()),
            status: Set(PersonStatus::Active.as_str().to_owned()),
            merged_into_trn: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        audit.model(trn).insert(&txn).await?;
        txn.commit().await?;
        Teacher::from_rows(person, Vec::new())
    }

    /// Takes the next TRN inside the caller's transaction. The row lock of the update
    /// serialises concurrent creates, also across instances sharing one PostgreSQL.
    async fn allocate_trn(&self, txn: &impl ConnectionTrait) -> Result<Trn, Error> {
        let updated = trn_allocation::Entity::update_many()
            .col_expr(
                trn_allocation::Column::NextTrn,
                Expr::col(trn_allocation::Column::NextTrn).add(1),
            )
            .filter(trn_allocation::Column::Id.eq(1))
            .filter(trn_allocation::Column::NextTrn.lte(i64::from(*self.trn_range.end())))
            .exec_with_returning(txn)
            .await?;
        let allocated = updated
            .first()
            .map(|row| row.next_trn - 1)
            .ok_or(Error::TrnRangeExhausted)?;
        u32::try_from(allocated)
            .ok()
            .and_then(Trn::from_number)
            .ok_or(Error::TrnRangeExhausted)
    }

    /// The record of `trn`, if there is one.
    pub async fn teacher(&self, trn: Trn) -> Result<Option<Teacher>, Error> {
        load(&self.db, trn).await
    }

    /// The record of `trn`, read on behalf of someone other than its teacher: the read is
    /// audited in the same transaction.
    pub async fn teacher_audited(
        &self,
        trn: Trn,
        audit: AuditEntry<'_>,
    ) -> Result<Option<Teacher>, Error> {
        let txn = self.db.begin().await?;
        let teacher = load(&txn, trn).await?;
        if teacher.is_some() {
            audit.model(trn).insert(&txn).await?;
        }
        txn.commit().await?;
        Ok(teacher)
    }

    /// The record a sign-in with `trn` would reach: the record itself, or the one it was merged
    /// into. The same queries run whether or not the TRN exists.
    pub async fn sign_in_candidate(&self, trn: Trn) -> Result<Option<Teacher>, Error> {
        let mut current = trn;
        for _ in 0..MAX_MERGE_HOPS {
            let teacher = load(&self.db, current).await?;
            match teacher {
                Some(teacher) if teacher.merged_into.is_some() => {
                    current = teacher.merged_into.unwrap_or(current);
                }
                other => return Ok(other),
            }
        }
        Ok(None)
    }
}

/// A record and its previous names: two queries however many names it has.
async fn load(db: &impl ConnectionTrait, trn: Trn) -> Result<Option<Teacher>, Error> {
    let person = person::Entity::find()
        .filter(person::Column::Trn.eq(trn.to_string()))
        .one(db)
        .await?;
    // Run the second query even for an unknown TRN so that both cases do the same work.
    let person_id = person.as_ref().map_or(0, |p| p.id);
    let previous = previous_name::Entity::find()
        .filter(previous_name::Column::PersonId.eq(person_id))
        .order_by_desc(previous_name::Column::EndedOn)
        .order_by_desc(previous_name::Column::Id)
        .all(db)
        .await?;
    person.map(|p| Teacher::from_rows(p, previous)).transpose()
}

//! Reading whole records: a person and their previous names in two queries, a whole record in
//! eight, any number of persons' records in a fixed number; and the reads a teacher, an
//! internal reader and a sign-in make.

use std::collections::HashMap;

use portal_common::db::begin_write;
use portal_common::values::Trn;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait, QueryFilter as _,
    QueryOrder as _, QuerySelect as _,
};

use super::entities::{person, previous_name};
use super::{AuditEntry, MAX_MERGE_HOPS, Store, TEACHER, rows};
use crate::domain::{AlertCatalogue, Person, Teacher};
use crate::error::Error;

impl Store {
    /// The record of `trn`, if there is one, as its teacher reads it: possibly kept from a
    /// moment ago (see [`cache`]).
    #[tracing::instrument(name = "store", skip_all, fields(op = "teacher"))]
    pub async fn teacher(&self, trn: Trn) -> Result<Option<std::sync::Arc<Teacher>>, Error> {
        self.cache
            .get_or_read(trn, || async {
                Ok(load(&self.db, &self.catalogue, trn, false)
                    .await?
                    .map(|(_, t)| t))
            })
            .await
    }
    /// The record of `trn`, read on behalf of someone other than its teacher: the read is
    /// audited in the same transaction.
    #[tracing::instrument(name = "store", skip_all, fields(op = "teacher_audited"))]
    pub async fn teacher_audited(
        &self,
        trn: Trn,
        audit: AuditEntry<'_>,
    ) -> Result<Option<Teacher>, Error> {
        let txn = begin_write(&self.db, &self.writers).await?;
        let teacher = load(&txn, &self.catalogue, trn, false).await?;
        if teacher.is_some() {
            audit.model(Some(trn)).insert(&txn).await?;
        }
        txn.commit().await?;
        Ok(teacher.map(|(_, t)| t))
    }
    /// The person a sign-in with `trn` would reach: the record itself, or the one it was merged
    /// into. The same queries run whether or not the TRN exists.
    #[tracing::instrument(name = "store", skip_all, fields(op = "sign_in_candidate"))]
    pub async fn sign_in_candidate(&self, trn: Trn) -> Result<Option<Person>, Error> {
        let mut current = trn;
        for _ in 0..MAX_MERGE_HOPS {
            let person = load_person(&self.db, current, false).await?;
            match person {
                Some((_, person)) if person.merged_into.is_some() => {
                    current = person.merged_into.unwrap_or(current);
                }
                other => return Ok(other.map(|(_, p)| p)),
            }
        }
        Ok(None)
    }
}

/// A person and their previous names: two queries. With `lock`, the person's row is locked
/// for the enclosing transaction (PostgreSQL; SQLite locks the whole database on write).
pub(super) async fn load_person(
    db: &impl ConnectionTrait,
    trn: Trn,
    lock: bool,
) -> Result<Option<(person::Model, Person)>, Error> {
    let mut query = person::Entity::find().filter(person::Column::Trn.eq(trn.to_string()));
    if lock {
        query = query.lock_exclusive();
    }
    let row = query.one(db).await?;
    // Run the second query even for an unknown TRN so that both cases do the same work.
    let id = row.as_ref().map_or(0, |p| p.id);
    let previous = previous_name::Entity::find()
        .filter(previous_name::Column::PersonId.eq(id))
        .order_by_desc(previous_name::Column::EndedOn)
        .order_by_desc(previous_name::Column::Id)
        .all(db)
        .await?;
    row.map(|row| rows::person(&row, previous).map(|p| (row, p)))
        .transpose()
}
/// The rows of one table that belong to the persons `ids`, grouped by person, each group in
/// `order`: one query however many persons.
pub(super) async fn children<E: EntityTrait>(
    db: &impl ConnectionTrait,
    person_column: E::Column,
    ids: &[i64],
    order: &[E::Column],
    person_of: impl Fn(&E::Model) -> i64,
) -> Result<HashMap<i64, Vec<E::Model>>, DbErr> {
    let mut query = E::find().filter(person_column.is_in(ids.iter().copied()));
    for &column in order {
        query = query.order_by_asc(column);
    }
    let mut grouped: HashMap<i64, Vec<E::Model>> = HashMap::new();
    for row in query.all(db).await? {
        grouped.entry(person_of(&row)).or_default().push(row);
    }
    Ok(grouped)
}
/// Persons with their previous names, two queries for any number.
pub(super) async fn with_previous_names(
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

/// Whole records of persons already read: six queries however many persons and whatever they
/// hold.
pub(super) async fn assemble(
    db: &impl ConnectionTrait,
    catalogue: &AlertCatalogue,
    persons: Vec<(person::Model, Person)>,
) -> Result<Vec<Teacher>, Error> {
    let ids: Vec<i64> = persons.iter().map(|(row, _)| row.id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    use super::entities::{
        alert as a, induction_exemption as e, induction_period as p, mandatory_qualification as m,
        npq_qualification as n, professional_status as s,
    };
    // Independent reads: on a pool they run at once, each on its own connection (inside a
    // transaction they queue on its one connection).
    let (mut statuses, mut exemptions, mut periods, mut npqs, mut mqs, mut alerts) = tokio::try_join!(
        children::<s::Entity>(db, s::Column::PersonId, &ids, &[s::Column::Id], |r| r
            .person_id),
        children::<e::Entity>(db, e::Column::PersonId, &ids, &[e::Column::Id], |r| r
            .person_id),
        children::<p::Entity>(
            db,
            p::Column::PersonId,
            &ids,
            &[p::Column::StartDate, p::Column::Id],
            |r| r.person_id,
        ),
        children::<n::Entity>(
            db,
            n::Column::PersonId,
            &ids,
            &[n::Column::AwardedDate, n::Column::Id],
            |r| r.person_id,
        ),
        children::<m::Entity>(
            db,
            m::Column::PersonId,
            &ids,
            &[m::Column::StartDate, m::Column::Id],
            |r| r.person_id,
        ),
        children::<a::Entity>(
            db,
            a::Column::PersonId,
            &ids,
            &[a::Column::StartDate, a::Column::Id],
            |r| r.person_id,
        ),
    )?;
    persons
        .into_iter()
        .map(|(row, person)| {
            let id = row.id;
            rows::teacher(
                person,
                &row,
                rows::Children {
                    statuses: statuses.remove(&id).unwrap_or_default(),
                    exemptions: exemptions.remove(&id).unwrap_or_default(),
                    periods: periods.remove(&id).unwrap_or_default(),
                    npqs: npqs.remove(&id).unwrap_or_default(),
                    mqs: mqs.remove(&id).unwrap_or_default(),
                    alerts: alerts.remove(&id).unwrap_or_default(),
                },
                catalogue,
            )
        })
        .collect()
}

/// A whole record: eight queries however much it holds.
pub(super) async fn load(
    db: &impl ConnectionTrait,
    catalogue: &AlertCatalogue,
    trn: Trn,
    lock: bool,
) -> Result<Option<(i64, Teacher)>, Error> {
    let Some((row, person)) = load_person(db, trn, lock).await? else {
        return Ok(None);
    };
    let id = row.id;
    let teacher = assemble(db, catalogue, vec![(row, person)])
        .await?
        .pop()
        .ok_or(Error::NotFound(TEACHER))?;
    Ok(Some((id, teacher)))
}

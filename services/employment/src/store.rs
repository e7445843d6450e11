//! Persistence of employments. Every query names the teacher's TRN: one teacher never reaches
//! another's rows, and an id that is not theirs is simply not found.

use chrono::Utc;
use portal_common::values::Trn;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, DatabaseConnection, EntityTrait as _,
    QueryFilter as _, QueryOrder as _,
};

use crate::domain::{Employment, EmploymentType};
use crate::error::Error;

pub mod employment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "employments")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub trn: String,
        pub establishment_name: String,
        pub urn: Option<String>,
        pub local_authority_code: Option<String>,
        pub establishment_number: Option<String>,
        pub role: String,
        pub employment_type: String,
        pub start_date: Date,
        pub end_date: Option<Date>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn from_row(row: employment::Model) -> Result<(i64, Employment), Error> {
    Ok((
        row.id,
        Employment {
            employment_type: EmploymentType::from_stored(&row.employment_type)
                .ok_or(Error::Corrupt(row.id))?,
            establishment_name: row.establishment_name,
            urn: row.urn,
            local_authority_code: row.local_authority_code,
            establishment_number: row.establishment_number,
            role: row.role,
            start: row.start_date,
            end: row.end_date,
        },
    ))
}

fn columns(row: &mut employment::ActiveModel, e: &Employment) {
    row.establishment_name = Set(e.establishment_name.clone());
    row.urn = Set(e.urn.clone());
    row.local_authority_code = Set(e.local_authority_code.clone());
    row.establishment_number = Set(e.establishment_number.clone());
    row.role = Set(e.role.clone());
    row.employment_type = Set(e.employment_type.as_str().to_owned());
    row.start_date = Set(e.start);
    row.end_date = Set(e.end);
    row.updated_at = Set(Utc::now());
}

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// A teacher's employments, latest start first.
    #[tracing::instrument(name = "store", skip_all, fields(op = "list"))]
    pub async fn list(&self, trn: Trn) -> Result<Vec<(i64, Employment)>, Error> {
        employment::Entity::find()
            .filter(employment::Column::Trn.eq(trn.to_string()))
            .order_by_desc(employment::Column::StartDate)
            .order_by_desc(employment::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(from_row)
            .collect()
    }

    /// One of the teacher's employments.
    #[tracing::instrument(name = "store", skip_all, fields(op = "get"))]
    pub async fn get(&self, trn: Trn, id: i64) -> Result<Option<Employment>, Error> {
        employment::Entity::find_by_id(id)
            .filter(employment::Column::Trn.eq(trn.to_string()))
            .one(&self.db)
            .await?
            .map(|row| from_row(row).map(|(_, e)| e))
            .transpose()
    }

    #[tracing::instrument(name = "store", skip_all, fields(op = "create"))]
    pub async fn create(&self, trn: Trn, e: &Employment) -> Result<i64, Error> {
        let mut row = employment::ActiveModel {
            trn: Set(trn.to_string()),
            created_at: Set(Utc::now()),
            ..Default::default()
        };
        columns(&mut row, e);
        Ok(row.insert(&self.db).await?.id)
    }

    /// Replaces one of the teacher's employments; false when there is none with that id.
    #[tracing::instrument(name = "store", skip_all, fields(op = "update"))]
    pub async fn update(&self, trn: Trn, id: i64, e: &Employment) -> Result<bool, Error> {
        let mut row = <employment::ActiveModel as Default>::default();
        columns(&mut row, e);
        let updated = employment::Entity::update_many()
            .set(row)
            .filter(employment::Column::Id.eq(id))
            .filter(employment::Column::Trn.eq(trn.to_string()))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected == 1)
    }

    /// Deletes one of the teacher's employments; false when there is none with that id.
    #[tracing::instrument(name = "store", skip_all, fields(op = "delete"))]
    pub async fn delete(&self, trn: Trn, id: i64) -> Result<bool, Error> {
        let deleted = employment::Entity::delete_many()
            .filter(employment::Column::Id.eq(id))
            .filter(employment::Column::Trn.eq(trn.to_string()))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected == 1)
    }
}

//! The employment service's schema.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(M0001Employments), Box::new(M0002TextTrn)]
    }
}

struct M0001Employments;

impl MigrationName for M0001Employments {
    fn name(&self) -> &str {
        "m0001_employments"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Employments {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("employments")
                    .col(big_pk_auto("id"))
                    .col(char_len("trn", 7))
                    .col(string_len("establishment_name", 200))
                    .col(char_len_null("urn", 6))
                    .col(char_len_null("local_authority_code", 3))
                    .col(char_len_null("establishment_number", 4))
                    .col(string_len("role", 200))
                    .col(string_len("employment_type", 32))
                    .col(date("start_date"))
                    .col(date_null("end_date"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("employments_trn")
                    .table("employments")
                    .col("trn")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("employments").to_owned())
            .await
    }
}

/// The TRN as `varchar(7)`: PostgreSQL compares a `char` column with the driver's text
/// parameters by casting the column, which its index does not serve.
struct M0002TextTrn;

impl MigrationName for M0002TextTrn {
    fn name(&self) -> &str {
        "m0002_text_trn"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002TextTrn {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        portal_common::db::on_postgres(
            manager,
            &["ALTER TABLE employments ALTER COLUMN trn TYPE varchar(7)"],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        portal_common::db::on_postgres(
            manager,
            &["ALTER TABLE employments ALTER COLUMN trn TYPE char(7)"],
        )
        .await
    }
}

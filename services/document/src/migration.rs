//! The document service's schema: the register of issued documents.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(M0001IssuedDocuments)]
    }
}

struct M0001IssuedDocuments;

impl MigrationName for M0001IssuedDocuments {
    fn name(&self) -> &str {
        "m0001_issued_documents"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0001IssuedDocuments {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("issued_documents")
                    .col(string_len("verification_code", 32).primary_key())
                    .col(char_len("trn", 7))
                    .col(string_len("kind", 32))
                    .col(string_len_null("qualification_id", 64))
                    .col(string_len("holder_name", 310))
                    .col(char_len("sha256", 64))
                    .col(timestamp_with_time_zone("issued_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("issued_documents_trn")
                    .table("issued_documents")
                    .col("trn")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("issued_documents").to_owned())
            .await
    }
}

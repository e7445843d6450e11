//! The identity service's schema: client accounts. Sessions live in the session store.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(M0001Clients)]
    }
}

struct M0001Clients;

impl MigrationName for M0001Clients {
    fn name(&self) -> &str {
        "m0001_clients"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Clients {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("clients")
                    .col(string_len("client_id", 64).primary_key())
                    .col(string_len("display_name", 200))
                    .col(string_len("secret_hash", 200))
                    .col(string_len("roles", 500))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("clients").to_owned())
            .await
    }
}

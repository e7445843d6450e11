//! The record service's schema. Migrations are frozen once released: change the schema by
//! adding one, never by editing one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(M0001Persons)]
    }
}

struct M0001Persons;

impl MigrationName for M0001Persons {
    fn name(&self) -> &str {
        "m0001_persons"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Persons {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("trn_allocation")
                    .col(integer("id").primary_key())
                    .col(big_integer("next_trn"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("persons")
                    .col(big_pk_auto("id"))
                    .col(char_len_uniq("trn", 7))
                    .col(string_len("first_name", 100))
                    .col(string_len("middle_name", 100))
                    .col(string_len("last_name", 100))
                    .col(string_len("first_name_key", 100))
                    .col(string_len("last_name_key", 100))
                    .col(date_null("date_of_birth"))
                    .col(string_len_null("national_insurance_number", 9))
                    .col(string_len("email", 254))
                    .col(string_len("phone", 32))
                    .col(string_len("address_line1", 200))
                    .col(string_len("address_line2", 200))
                    .col(string_len("town", 100))
                    .col(string_len("postcode", 16))
                    .col(string_len("status", 16))
                    .col(char_len_null("merged_into_trn", 7))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("persons_last_name_key_date_of_birth")
                    .table("persons")
                    .col("last_name_key")
                    .col("date_of_birth")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("previous_names")
                    .col(big_pk_auto("id"))
                    .col(big_integer("person_id"))
                    .col(string_len("first_name", 100))
                    .col(string_len("middle_name", 100))
                    .col(string_len("last_name", 100))
                    .col(string_len("last_name_key", 100))
                    .col(date("ended_on"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("previous_names_person")
                            .from("previous_names", "person_id")
                            .to("persons", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("previous_names_person_id")
                    .table("previous_names")
                    .col("person_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("previous_names_last_name_key")
                    .table("previous_names")
                    .col("last_name_key")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_events")
                    .col(big_pk_auto("id"))
                    .col(timestamp_with_time_zone("time"))
                    .col(string_len("actor", 100))
                    .col(string_len("action", 64))
                    .col(char_len_null("trn", 7))
                    .col(string_len("request_id", 128))
                    .col(string_len_null("on_behalf_of", 128))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_events_trn_id")
                    .table("audit_events")
                    .col("trn")
                    .col("id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "audit_events",
            "previous_names",
            "persons",
            "trn_allocation",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

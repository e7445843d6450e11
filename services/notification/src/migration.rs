//! The notification service's schema.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(M0001Messages), Box::new(M0002FeedCursors)]
    }
}

struct M0001Messages;

impl MigrationName for M0001Messages {
    fn name(&self) -> &str {
        "m0001_messages"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Messages {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("messages")
                    .col(big_pk_auto("id"))
                    .col(string_len("caller", 64))
                    .col(string_len("idempotency_key", 200))
                    .col(string_len("template", 64))
                    .col(string_len("recipient", 254))
                    // The template's values (a JSON object), until the message is finished
                    // with: then they are erased, codes with them.
                    .col(text_null("parameters"))
                    .col(string_len("status", 16))
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("lease_until"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("finished_at"))
                    .col(string_len_null("last_error", 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("messages_caller_key")
                    .table("messages")
                    .col("caller")
                    .col("idempotency_key")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("messages_due")
                    .table("messages")
                    .col("status")
                    .col("next_attempt_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("messages").to_owned())
            .await
    }
}

struct M0002FeedCursors;

impl MigrationName for M0002FeedCursors {
    fn name(&self) -> &str {
        "m0002_feed_cursors"
    }
}

/// Where this service is in each feed it follows (the record service's changes): the cursor
/// of the last event whose emails are queued, saved with them.
#[async_trait::async_trait]
impl MigrationTrait for M0002FeedCursors {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("feed_cursors")
                    .col(string_len("feed", 40).primary_key())
                    .col(string_len("cursor", 100))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("feed_cursors").to_owned())
            .await
    }
}

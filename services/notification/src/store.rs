//! The durable outbox: a message is a row from the moment it is acknowledged until it is
//! delivered, given up on or expired, and then keeps only what the logs and metrics need.
//! Deliveries are claimed with a lease, so that several instances (or one restarted after a
//! crash) never lose a message and seldom send one twice.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait as _, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _,
};

pub mod feed_cursor {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "feed_cursors")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub feed: String,
        pub cursor: String,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod message {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "messages")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub caller: String,
        pub idempotency_key: String,
        pub template: String,
        pub recipient: String,
        pub parameters: Option<String>,
        pub status: String,
        pub attempts: i32,
        pub next_attempt_at: DateTimeUtc,
        pub lease_until: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub finished_at: Option<DateTimeUtc>,
        pub last_error: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for its (next) delivery.
    Queued,
    /// Taken by the mail server (or written to the outbox folder).
    Sent,
    /// Refused for good by the mail server.
    Failed,
    /// Not delivered before it stopped being worth delivering.
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }
}

/// A message to queue.
pub struct NewMessage<'a> {
    pub caller: &'a str,
    pub idempotency_key: &'a str,
    pub template: &'static str,
    pub recipient: &'a str,
    pub parameters: &'a BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// A message claimed for delivery.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub template: String,
    pub recipient: String,
    pub parameters: BTreeMap<String, String>,
    pub attempts: i32,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    writers: portal_common::db::Writers,
}

impl Store {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            writers: portal_common::db::Writers::of(&db),
            db,
        }
    }

    /// Stores a message, or finds the one already stored under the caller's key; the id, and
    /// whether it was new.
    #[tracing::instrument(name = "store", skip_all, fields(op = "queue"))]
    pub async fn queue(&self, new: &NewMessage<'_>) -> Result<(i64, bool), crate::Error> {
        queue_in(&self.db, new).await
    }

    /// Where this service is in `feed`: the cursor saved with the last event's emails.
    #[tracing::instrument(name = "store", skip_all, fields(op = "feed_cursor"))]
    pub async fn feed_cursor(&self, feed: &str) -> Result<Option<String>, DbErr> {
        Ok(feed_cursor::Entity::find_by_id(feed.to_owned())
            .one(&self.db)
            .await?
            .map(|row| row.cursor))
    }

    /// Stores the emails of one event of `feed` and moves its cursor past the event, in one
    /// transaction: the ids of the messages that are new (an email already stored under its
    /// key, say by another instance, is not stored again).
    #[tracing::instrument(name = "store", skip_all, fields(op = "queue_from_feed"))]
    pub async fn queue_from_feed(
        &self,
        feed: &str,
        cursor: &str,
        messages: &[NewMessage<'_>],
    ) -> Result<Vec<i64>, crate::Error> {
        let txn = portal_common::db::begin_write(&self.db, &self.writers).await?;
        let mut new = Vec::new();
        for message in messages {
            if let (id, true) = queue_in(&txn, message).await? {
                new.push(id);
            }
        }
        let row = feed_cursor::ActiveModel {
            feed: Set(feed.to_owned()),
            cursor: Set(cursor.to_owned()),
            updated_at: Set(Utc::now()),
        };
        feed_cursor::Entity::insert(row)
            .on_conflict(
                OnConflict::column(feed_cursor::Column::Feed)
                    .update_columns([feed_cursor::Column::Cursor, feed_cursor::Column::UpdatedAt])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        Ok(new)
    }

    /// Claims up to `limit` messages due now, oldest first, for `lease`: no other delivery
    /// takes them until the lease runs out (a process that died mid-delivery hands its
    /// messages on that way).
    #[tracing::instrument(name = "store", skip_all, fields(op = "claim"))]
    pub async fn claim(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u64,
    ) -> Result<Vec<Claimed>, DbErr> {
        let claimable = || {
            Condition::all()
                .add(message::Column::Status.eq(Status::Queued.as_str()))
                .add(message::Column::NextAttemptAt.lte(now))
                .add(
                    Condition::any()
                        .add(message::Column::LeaseUntil.is_null())
                        .add(message::Column::LeaseUntil.lt(now)),
                )
        };
        let due = Query::select()
            .column(message::Column::Id)
            .from(message::Entity)
            .cond_where(claimable())
            .order_by(message::Column::Id, sea_orm::Order::Asc)
            .limit(limit)
            .to_owned();
        // The claim condition is checked again on each row as it is updated, so two instances
        // that chose the same rows do not both take them.
        let rows = message::Entity::update_many()
            .col_expr(message::Column::LeaseUntil, Expr::value(now + lease))
            .filter(message::Column::Id.in_subquery(due))
            .filter(claimable())
            .exec_with_returning(&self.db)
            .await?;
        let mut claimed: Vec<Claimed> = rows
            .into_iter()
            .map(|row| Claimed {
                parameters: row
                    .parameters
                    .as_deref()
                    .and_then(|p| serde_json::from_str(p).ok())
                    .unwrap_or_default(),
                id: row.id,
                template: row.template,
                recipient: row.recipient,
                attempts: row.attempts,
                expires_at: row.expires_at,
            })
            .collect();
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    /// Ends a message: sent, failed or expired. Its parameters are erased.
    #[tracing::instrument(name = "store", skip_all, fields(op = "finish"))]
    pub async fn finish(
        &self,
        id: i64,
        status: Status,
        attempts: i32,
        error: Option<&str>,
    ) -> Result<(), DbErr> {
        let now = Utc::now();
        message::Entity::update_many()
            .col_expr(message::Column::Status, Expr::value(status.as_str()))
            .col_expr(message::Column::Parameters, Expr::value(None::<String>))
            .col_expr(message::Column::Attempts, Expr::value(attempts))
            .col_expr(
                message::Column::LeaseUntil,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(message::Column::FinishedAt, Expr::value(Some(now)))
            .col_expr(
                message::Column::LastError,
                Expr::value(error.map(str::to_owned)),
            )
            .filter(message::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Puts a message back in the queue for another try at `next`.
    #[tracing::instrument(name = "store", skip_all, fields(op = "retry"))]
    pub async fn retry(
        &self,
        id: i64,
        attempts: i32,
        next: DateTime<Utc>,
        error: &str,
    ) -> Result<(), DbErr> {
        message::Entity::update_many()
            .col_expr(message::Column::Attempts, Expr::value(attempts))
            .col_expr(message::Column::NextAttemptAt, Expr::value(next))
            .col_expr(
                message::Column::LeaseUntil,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(
                message::Column::LastError,
                Expr::value(Some(error.to_owned())),
            )
            .filter(message::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// When the oldest message still waiting was queued.
    #[tracing::instrument(name = "store", skip_all, fields(op = "oldest_queued"))]
    pub async fn oldest_queued(&self) -> Result<Option<DateTime<Utc>>, DbErr> {
        message::Entity::find()
            .select_only()
            .column(message::Column::CreatedAt)
            .filter(message::Column::Status.eq(Status::Queued.as_str()))
            .order_by_asc(message::Column::Id)
            .into_tuple::<DateTime<Utc>>()
            .one(&self.db)
            .await
    }

    /// Deletes finished messages older than `before`; how many.
    #[tracing::instrument(name = "store", skip_all, fields(op = "purge"))]
    pub async fn purge(&self, before: DateTime<Utc>) -> Result<u64, DbErr> {
        Ok(message::Entity::delete_many()
            .filter(message::Column::Status.ne(Status::Queued.as_str()))
            .filter(message::Column::FinishedAt.lt(before))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}

/// Stores a message, or finds the one already stored under the caller's key; the id, and
/// whether it was new.
/// [`Store::queue`] on `db`, which may be a transaction.
async fn queue_in(
    db: &impl ConnectionTrait,
    new: &NewMessage<'_>,
) -> Result<(i64, bool), crate::Error> {
    let now = Utc::now();
    let parameters = serde_json::to_string(new.parameters)
        .map_err(|e| DbErr::Custom(format!("parameters: {e}")))?;
    let row = message::ActiveModel {
        caller: Set(new.caller.to_owned()),
        idempotency_key: Set(new.idempotency_key.to_owned()),
        template: Set(new.template.to_owned()),
        recipient: Set(new.recipient.to_owned()),
        parameters: Set(Some(parameters)),
        status: Set(Status::Queued.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        created_at: Set(now),
        expires_at: Set(new.expires_at),
        finished_at: Set(None),
        last_error: Set(None),
        ..Default::default()
    };
    let inserted = message::Entity::insert(row)
        .on_conflict_do_nothing_on([message::Column::Caller, message::Column::IdempotencyKey])
        .exec(db)
        .await?;
    if let sea_orm::TryInsertResult::Inserted(result) = inserted {
        return Ok((result.last_insert_id, true));
    }
    let existing = message::Entity::find()
        .filter(message::Column::Caller.eq(new.caller))
        .filter(message::Column::IdempotencyKey.eq(new.idempotency_key))
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the message just found".into()))?;
    Ok((existing.id, false))
}

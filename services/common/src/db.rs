//! Database connections: PostgreSQL by URL in deployment, an SQLite file per service when
//! embedded. Each service applies its own migrations at start.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{
    ConnAcquireErr, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};
use sea_orm_migration::MigratorTrait;
use tokio::sync::OwnedMutexGuard;

use crate::component;
use crate::config::Databases;

/// Connects to a service's database.
pub async fn connect(
    databases: &Databases,
    database: component::Database<'_>,
) -> Result<DatabaseConnection, DbErr> {
    let url = match database.url {
        Some(url) => url.to_owned(),
        None => sqlite_url(&databases.data_dir, database.name)?,
    };
    let embedded = url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(databases.database_max_connections)
        .min_connections(1)
        // A database that cannot be reached answers UNAVAILABLE well within a caller's
        // deadline, rather than holding the call until the deadline passes.
        .connect_timeout(Duration::from_secs(1))
        .acquire_timeout(Duration::from_secs(1))
        .sqlx_logging(false);
    if embedded {
        // A local file is never unreachable; what a connection waits for there is SQLite's
        // lock (a new file switching to WAL, a writer), under the same bound as a write.
        options.acquire_timeout(SQLITE_WRITE_WAIT);
        options.map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_WRITE_WAIT)
                .foreign_keys(true)
        });
    }
    Database::connect(options).await
}

/// Connects to a service's database, applying `M`'s pending migrations first when start-up
/// migrations are on. When they are off (several replicas, with a migration job run before
/// them) it refuses to start on a schema that is behind, rather than fail on its first query.
pub async fn open<M: MigratorTrait>(
    databases: &Databases,
    database: component::Database<'_>,
) -> Result<DatabaseConnection, DbErr> {
    let db = connect(databases, database).await?;
    if databases.migrate_on_start {
        M::up(&db, None).await?;
    } else {
        let pending = M::get_pending_migrations(&db).await?.len();
        if pending > 0 {
            return Err(DbErr::Custom(format!(
                "the {} database has {pending} pending migrations: run `portal migrate` first",
                database.name
            )));
        }
    }
    Ok(db)
}

/// Applies `M`'s pending migrations to a service's database (`portal migrate`), as the task
/// a component's `migrate` returns.
pub fn migrate<'a, M: MigratorTrait>(
    databases: &'a Databases,
    database: component::Database<'a>,
) -> component::Task<'a, ()> {
    Box::pin(async move {
        M::up(&connect(databases, database).await?, None).await?;
        Ok(())
    })
}

fn sqlite_url(data_dir: &Path, name: &str) -> Result<String, DbErr> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", data_dir.display())))?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        data_dir.join(format!("{name}.db")).display()
    ))
}

/// The longest a write waits for an embedded database's write lock before it fails.
const SQLITE_WRITE_WAIT: Duration = Duration::from_secs(5);

/// The writers of one database, let in one at a time in the order they came. SQLite allows
/// one writer at a time, and its own wait for the lock sleeps in steps of up to 100 ms while
/// holding a pooled connection: under concurrent writes that stretched the slowest calls to
/// seconds and ran the pool dry. PostgreSQL needs no such line.
#[derive(Clone, Default)]
pub struct Writers(Option<Arc<tokio::sync::Mutex<()>>>);

impl Writers {
    /// The line for `db`: one on SQLite, none on PostgreSQL.
    pub fn of(db: &DatabaseConnection) -> Self {
        Self((db.get_database_backend() == DbBackend::Sqlite).then(Default::default))
    }
}

/// A transaction that writes. On SQLite it holds the database's writer turn until it is
/// committed or dropped.
pub struct Write {
    txn: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl Write {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }
}

#[tonic::async_trait]
impl ConnectionTrait for Write {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }
}

/// Begins a transaction that will write, after the writers ahead of it (failing as a pool
/// timeout when that takes longer than [`SQLITE_WRITE_WAIT`]). On SQLite it takes
/// the write lock at once (`BEGIN IMMEDIATE`), so that a read lock never has to be upgraded;
/// PostgreSQL ignores the mode.
pub async fn begin_write(db: &DatabaseConnection, writers: &Writers) -> Result<Write, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait as _};
    let turn = write_turn(writers).await?;
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    Ok(Write { txn, _turn: turn })
}

/// The writers' turn for a write of one statement, which needs no transaction of its own: on
/// SQLite its place in the line (held until dropped), on PostgreSQL nothing.
pub async fn write_turn(writers: &Writers) -> Result<Option<OwnedMutexGuard<()>>, DbErr> {
    match &writers.0 {
        Some(line) => tokio::time::timeout(SQLITE_WRITE_WAIT, line.clone().lock_owned())
            .await
            .map(Some)
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
        None => Ok(None),
    }
}

/// Runs schema statements on PostgreSQL only (for what SQLite has no notion of, such as
/// column types it does not enforce).
pub async fn on_postgres(
    manager: &sea_orm_migration::SchemaManager<'_>,
    statements: &[&str],
) -> Result<(), DbErr> {
    if manager.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(());
    }
    use sea_orm::ConnectionTrait as _;
    for statement in statements {
        manager
            .get_connection()
            .execute_unprepared(statement)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An embedded database of two connections with a table `t`, in a directory of `name`.
    async fn embedded(name: &str) -> (DatabaseConnection, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("portal-{name}-{}", std::process::id()));
        let databases = Databases {
            data_dir: dir.clone(),
            migrate_on_start: true,
            database_max_connections: 2,
        };
        let record = component::Database {
            name: "record",
            url: None,
        };
        let db = connect(&databases, record).await.unwrap();
        db.execute_unprepared("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
            .await
            .unwrap();
        (db, dir)
    }

    #[tokio::test]
    async fn sqlite_writers_wait_in_line_without_holding_connections() {
        let (db, dir) = embedded("writers").await;
        let writers = Writers::of(&db);
        let first = begin_write(&db, &writers).await.unwrap();
        let mut later = tokio::task::JoinSet::new();
        for n in 0..4 {
            let (db, writers) = (db.clone(), writers.clone());
            later.spawn(async move {
                let txn = begin_write(&db, &writers).await?;
                txn.execute_unprepared(&format!("INSERT INTO t VALUES ({n})"))
                    .await?;
                txn.commit().await
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The writers in line hold no connection, so the pool's second one serves a read at
        // once. Waiting in SQLite's busy handler instead, one held it until it gave up on the
        // lock and failed, and only then did the read get a connection.
        let count = "SELECT COUNT(*) AS n FROM t";
        let read = db
            .query_one_raw(Statement::from_string(DbBackend::Sqlite, count))
            .await;
        assert!(read.is_ok(), "{read:?}");
        first
            .execute_unprepared("INSERT INTO t VALUES (9)")
            .await
            .unwrap();
        first.commit().await.unwrap();
        for written in later.join_all().await {
            written.unwrap();
        }
        let rows = db
            .query_one_raw(Statement::from_string(DbBackend::Sqlite, count))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rows.try_get::<i64>("", "n").unwrap(), 5);
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_writer_kept_waiting_too_long_fails_as_a_pool_timeout() {
        let (db, dir) = embedded("writer-wait").await;
        let writers = Writers::of(&db);
        let first = begin_write(&db, &writers).await.unwrap();
        let second = begin_write(&db, &writers).await;
        assert!(matches!(
            second.err(),
            Some(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))
        ));
        first.commit().await.unwrap();
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }
}

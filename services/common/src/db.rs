//! Database connections: PostgreSQL by URL in deployment, an SQLite file per service when
//! embedded. Each service applies its own migrations at start.

use std::path::Path;
use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

use crate::config::{Component, Databases};

/// Connects to a service's database.
pub async fn connect(
    databases: &Databases,
    component: Component,
) -> Result<DatabaseConnection, DbErr> {
    let url = match databases.url_of(component) {
        Some(url) => url.to_owned(),
        None => sqlite_url(&databases.data_dir, component.name())?,
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
        options.map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        });
    }
    Database::connect(options).await
}

/// Connects to a service's database and, when `migrate`, applies `M`'s pending migrations.
/// Otherwise (several replicas, with a migration job run before them) it refuses to start on
/// a schema that is behind, rather than fail on its first query.
pub async fn open<M: MigratorTrait>(
    databases: &Databases,
    component: Component,
    migrate: bool,
) -> Result<DatabaseConnection, DbErr> {
    let db = connect(databases, component).await?;
    if migrate {
        M::up(&db, None).await?;
    } else {
        let pending = M::get_pending_migrations(&db).await?.len();
        if pending > 0 {
            return Err(DbErr::Custom(format!(
                "the {} database has {pending} pending migrations: run `portal migrate` first",
                component.name()
            )));
        }
    }
    Ok(db)
}

fn sqlite_url(data_dir: &Path, name: &str) -> Result<String, DbErr> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", data_dir.display())))?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        data_dir.join(format!("{name}.db")).display()
    ))
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), so that concurrent writers wait their turn under the busy timeout
/// instead of failing when a read lock cannot be upgraded; PostgreSQL ignores the mode.
pub async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait as _};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
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

//! The record service: owner of teacher records, their history and the audit of who read or
//! changed them.

pub mod api;
pub mod domain;
pub mod error;
pub mod migration;
pub mod paging;
pub mod seed;
pub mod store;
pub mod views;

use dqt_proto::dqt::record::v1::record_service_server::{RecordServiceServer, SERVICE_NAME};
use portal_common::notification::Notifier;
use portal_common::server::Served;
use portal_common::upstream::Upstream;
use portal_common::{Component, Config, Signer};
use sea_orm::DbErr;

/// Connects to the record database and applies its migrations (`portal migrate`).
pub async fn migrate(config: &Config) -> Result<sea_orm::DatabaseConnection, DbErr> {
    portal_common::db::open::<migration::Migrator>(&config.databases, Component::Record, true).await
}

/// Connects to the record database, migrating it first when start-up migrations are on.
async fn open(config: &Config) -> Result<sea_orm::DatabaseConnection, DbErr> {
    let migrate = config.databases.migrate_on_start;
    portal_common::db::open::<migration::Migrator>(&config.databases, Component::Record, migrate)
        .await
}

/// The record store over the migrated database, allocating TRNs from the configured range.
pub async fn open_store(config: &Config) -> Result<store::Store, error::Error> {
    if config.trn_range_start == 0
        || config.trn_range_start > config.trn_range_end
        || config.trn_range_end > 9_999_999
    {
        return Err(DbErr::Custom("the TRN range must lie within 0000001..=9999999".into()).into());
    }
    let db = open(config).await?;
    store::Store::new(
        db,
        config.trn_range_start..=config.trn_range_end,
        std::time::Duration::from_millis(config.record_cache_ms),
    )
    .await
}

/// Deletes evidence whose retention has ended, now and then, for as long as the process runs.
/// (Reads already refuse expired evidence; this removes the bytes.)
async fn delete_expired_evidence(store: store::Store, retention: chrono::Duration) {
    let every = retention.to_std().unwrap_or_default().clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(3600),
    );
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        match store
            .delete_expired_evidence(chrono::Utc::now() - retention)
            .await
        {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "expired change-request evidence deleted"),
            Err(error) => tracing::warn!(%error, "expired evidence could not be deleted"),
        }
    }
}

/// The record service, ready to serve: database migrated, API behind the principal check.
/// It sends the codes and notices of email changes through `notification`.
pub async fn served(
    config: &Config,
    signer: &Signer,
    notification: Upstream,
) -> Result<Served, error::Error> {
    let store = open_store(config).await?;
    let retention = chrono::Duration::seconds(
        i64::try_from(config.evidence_retention_seconds).unwrap_or(i64::MAX / 1000),
    );
    tokio::spawn(delete_expired_evidence(store.clone(), retention));
    let api = RecordServiceServer::with_interceptor(
        api::RecordApi::new(
            store,
            signer.clone(),
            retention,
            config.verification,
            Notifier::new(notification, signer.clone(), "record"),
        ),
        signer.interceptor(),
    );
    Ok(Served {
        routes: tonic::service::Routes::new(api),
        services: vec![SERVICE_NAME],
    })
}

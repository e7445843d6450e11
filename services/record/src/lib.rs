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
use portal_common::server::Served;
use portal_common::{Component, Config, Signer};
use sea_orm::DbErr;
use sea_orm_migration::MigratorTrait as _;

/// Connects to the record database and applies its migrations.
pub async fn migrate(config: &Config) -> Result<sea_orm::DatabaseConnection, DbErr> {
    let db = portal_common::db::connect(&config.databases, Component::Record).await?;
    migration::Migrator::up(&db, None).await?;
    Ok(db)
}

/// The record store over the migrated database, allocating TRNs from the configured range.
pub async fn open_store(config: &Config) -> Result<store::Store, error::Error> {
    if config.trn_range_start == 0
        || config.trn_range_start > config.trn_range_end
        || config.trn_range_end > 9_999_999
    {
        return Err(DbErr::Custom("the TRN range must lie within 0000001..=9999999".into()).into());
    }
    let db = migrate(config).await?;
    store::Store::new(db, config.trn_range_start..=config.trn_range_end).await
}

/// The record service, ready to serve: database migrated, API behind the principal check.
pub async fn served(config: &Config, signer: &Signer) -> Result<Served, error::Error> {
    let store = open_store(config).await?;
    let api =
        RecordServiceServer::with_interceptor(api::RecordApi::new(store), signer.interceptor());
    Ok(Served {
        routes: tonic::service::Routes::new(api),
        services: vec![SERVICE_NAME],
    })
}

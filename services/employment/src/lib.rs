//! The employment service: employment details entered by teachers, in its own database.

pub mod api;
pub mod domain;
pub mod migration;
pub mod store;

use dqt_proto::dqt::employment::v1::employment_service_server::{
    EmploymentServiceServer, SERVICE_NAME,
};
use portal_common::server::Served;
use portal_common::{Component, Config, Signer};
use sea_orm::DbErr;
use sea_orm_migration::MigratorTrait as _;

/// Connects to the employment database and applies its migrations.
pub async fn migrate(config: &Config) -> Result<sea_orm::DatabaseConnection, DbErr> {
    let db = portal_common::db::connect(&config.databases, Component::Employment).await?;
    migration::Migrator::up(&db, None).await?;
    Ok(db)
}

/// The employment service, ready to serve.
pub async fn served(config: &Config, signer: &Signer) -> Result<Served, DbErr> {
    let store = store::Store::new(migrate(config).await?);
    Ok(Served {
        routes: tonic::service::Routes::new(EmploymentServiceServer::with_interceptor(
            api::EmploymentApi::new(store),
            signer.interceptor(),
        )),
        services: vec![SERVICE_NAME],
    })
}

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

/// Connects to the employment database and applies its migrations (`portal migrate`).
pub async fn migrate(config: &Config) -> Result<sea_orm::DatabaseConnection, DbErr> {
    portal_common::db::open::<migration::Migrator>(&config.databases, Component::Employment, true)
        .await
}

/// Connects to the employment database, migrating it first when start-up migrations are on.
async fn open(config: &Config) -> Result<sea_orm::DatabaseConnection, DbErr> {
    let migrate = config.databases.migrate_on_start;
    portal_common::db::open::<migration::Migrator>(
        &config.databases,
        Component::Employment,
        migrate,
    )
    .await
}

/// The employment service, ready to serve.
pub async fn served(config: &Config, signer: &Signer) -> Result<Served, DbErr> {
    let store = store::Store::new(open(config).await?);
    Ok(Served {
        routes: tonic::service::Routes::new(EmploymentServiceServer::with_interceptor(
            api::EmploymentApi::new(store),
            signer.interceptor(),
        )),
        services: vec![SERVICE_NAME],
    })
}

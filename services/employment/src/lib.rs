//! The employment service: employment details entered by teachers, in its own database.
//! Its API (`dqt.employment.v1.EmploymentService`) answers UNIMPLEMENTED until the employment
//! issue lands; the schema and the principal check are in place.

pub mod migration;

use dqt_proto::dqt::employment::v1::employment_service_server::{
    EmploymentService, EmploymentServiceServer, SERVICE_NAME,
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

struct EmploymentApi;

#[tonic::async_trait]
impl EmploymentService for EmploymentApi {}

/// The employment service, ready to serve.
pub async fn served(config: &Config, signer: &Signer) -> Result<Served, DbErr> {
    migrate(config).await?;
    Ok(Served {
        routes: tonic::service::Routes::new(EmploymentServiceServer::with_interceptor(
            EmploymentApi,
            signer.interceptor(),
        )),
        services: vec![SERVICE_NAME],
    })
}

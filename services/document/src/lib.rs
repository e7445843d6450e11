//! The document service: certificates and letters as PDFs, and the register of issued documents.
//! Its API (`dqt.document.v1.DocumentService`) answers UNIMPLEMENTED until the employment
//! issue lands; the schema and the principal check are in place.

pub mod migration;

use dqt_proto::dqt::document::v1::document_service_server::{
    DocumentService, DocumentServiceServer, SERVICE_NAME,
};
use portal_common::server::Served;
use portal_common::{Component, Config, Signer};
use sea_orm::DbErr;
use sea_orm_migration::MigratorTrait as _;

/// Connects to the document database and applies its migrations.
pub async fn migrate(config: &Config) -> Result<sea_orm::DatabaseConnection, DbErr> {
    let db = portal_common::db::connect(&config.databases, Component::Document).await?;
    migration::Migrator::up(&db, None).await?;
    Ok(db)
}

struct DocumentApi;

#[tonic::async_trait]
impl DocumentService for DocumentApi {}

/// The document service, ready to serve.
pub async fn served(config: &Config, signer: &Signer) -> Result<Served, DbErr> {
    migrate(config).await?;
    Ok(Served {
        routes: tonic::service::Routes::new(DocumentServiceServer::with_interceptor(
            DocumentApi,
            signer.interceptor(),
        )),
        services: vec![SERVICE_NAME],
    })
}

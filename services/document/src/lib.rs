//! The document service: certificates and letters as PDFs made from the teacher's record, and
//! the register of issued documents that employers verify against.

pub mod api;
pub mod code;
pub mod documents;
pub mod entitlement;
pub mod error;
pub mod fonts;
pub mod layout;
pub mod migration;
pub mod pdf;
pub mod register;

use std::sync::Arc;

use dqt_proto::dqt::document::v1::document_service_server::{DocumentServiceServer, SERVICE_NAME};
use portal_common::server::Served;
use portal_common::upstream::Upstream;
use portal_common::{Component, Config, Signer};
use sea_orm::DbErr;
use sea_orm_migration::MigratorTrait as _;

/// Connects to the document database and applies its migrations.
pub async fn migrate(config: &Config) -> Result<sea_orm::DatabaseConnection, DbErr> {
    let db = portal_common::db::connect(&config.databases, Component::Document).await?;
    migration::Migrator::up(&db, None).await?;
    Ok(db)
}

/// The document service, ready to serve: fonts parsed, register migrated.
pub async fn served(config: &Config, signer: &Signer, record: Upstream) -> Result<Served, DbErr> {
    let fonts = Fonts::load().map_err(|e| DbErr::Custom(format!("fonts: {e}")))?;
    let register = register::Register::new(migrate(config).await?);
    let api = api::DocumentApi::new(Arc::new(fonts), register, record, signer.clone());
    Ok(Served {
        routes: tonic::service::Routes::new(DocumentServiceServer::with_interceptor(
            api,
            signer.interceptor(),
        )),
        services: vec![SERVICE_NAME],
    })
}

use fonts::Fonts;

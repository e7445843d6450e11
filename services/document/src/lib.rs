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

/// Connects to the document database and applies its migrations (`portal migrate`).
pub async fn migrate(config: &Config) -> Result<sea_orm::DatabaseConnection, DbErr> {
    portal_common::db::open::<migration::Migrator>(&config.databases, Component::Document, true)
        .await
}

/// Connects to the document database, migrating it first when start-up migrations are on.
async fn open(config: &Config) -> Result<sea_orm::DatabaseConnection, DbErr> {
    let migrate = config.databases.migrate_on_start;
    portal_common::db::open::<migration::Migrator>(&config.databases, Component::Document, migrate)
        .await
}

/// The document service, ready to serve: fonts parsed, register migrated.
pub async fn served(config: &Config, signer: &Signer, record: Upstream) -> Result<Served, DbErr> {
    let fonts = Fonts::load().map_err(|e| DbErr::Custom(format!("fonts: {e}")))?;
    let register = register::Register::new(open(config).await?);
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

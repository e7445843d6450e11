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

use dqt_proto::dqt::document::v1::document_service_server::DocumentServiceServer;
use portal_common::component::{Context, names};
use portal_common::config::parse_host_port;
use portal_common::server::Served;
use tonic::codec::CompressionEncoding;

use fonts::Fonts;

/// The document service's name.
pub const NAME: &str = names::DOCUMENT;

/// The document service's own settings.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Settings {
    /// Address of the document service.
    #[arg(id = "document_addr", long = "document-addr", env = "PORTAL_DOCUMENT_ADDR", default_value = "127.0.0.1:50055", value_parser = parse_host_port)]
    pub addr: String,
    /// Document service database URL (postgres://...); embedded SQLite when unset.
    #[arg(
        id = "document_database_url",
        long = "document-database-url",
        env = "PORTAL_DOCUMENT_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

impl Settings {
    /// The document service, ready to serve: fonts parsed, register migrated.
    async fn served(&self, context: &Context<'_>) -> anyhow::Result<Served> {
        let fonts = Fonts::load().map_err(|e| anyhow::anyhow!("fonts: {e}"))?;
        portal_common::metrics::metrics().issuing(register::kind_texts());
        let db =
            portal_common::db::open::<migration::Migrator>(&context.shared.databases, self.db())
                .await?;
        let signer = context.signer;
        let api = api::DocumentApi::new(
            Arc::new(fonts),
            register::Register::new(db),
            context.upstream(names::RECORD)?,
            signer.clone(),
        );
        Ok(Served::one(
            DocumentServiceServer::new(api)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip),
            signer,
        ))
    }
}

portal_common::service_component!(
    Settings,
    name: NAME,
    calls: [names::RECORD],
    migrator: migration::Migrator,
);

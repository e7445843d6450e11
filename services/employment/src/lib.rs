//! The employment service: employment details entered by teachers, in its own database.

pub mod api;
pub mod domain;
pub mod error;
pub mod migration;
pub mod store;

use dqt_proto::dqt::employment::v1::employment_service_server::EmploymentServiceServer;
use portal_common::component::{Context, names};
use portal_common::config::parse_host_port;
use portal_common::server::Served;
use tonic::codec::CompressionEncoding;

/// The employment service's name.
pub const NAME: &str = names::EMPLOYMENT;

/// The employment service's own settings.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Settings {
    /// Address of the employment service.
    #[arg(id = "employment_addr", long = "employment-addr", env = "PORTAL_EMPLOYMENT_ADDR", default_value = "127.0.0.1:50054", value_parser = parse_host_port)]
    pub addr: String,
    /// Employment service database URL (postgres://...); embedded SQLite when unset.
    #[arg(
        id = "employment_database_url",
        long = "employment-database-url",
        env = "PORTAL_EMPLOYMENT_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

impl Settings {
    /// The employment service, ready to serve.
    async fn served(&self, context: &Context<'_>) -> anyhow::Result<Served> {
        let db =
            portal_common::db::open::<migration::Migrator>(&context.shared.databases, self.db())
                .await?;
        Ok(Served::one(
            EmploymentServiceServer::new(api::EmploymentApi::new(store::Store::new(db)))
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip),
            context.signer,
        ))
    }
}

portal_common::service_component!(
    Settings,
    name: NAME,
    calls: [],
    migrator: migration::Migrator,
);

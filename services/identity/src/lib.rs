//! The identity service: sign-in of teachers (matched by the record service) and clients,
//! sessions written to the session store, and client accounts.

pub mod api;
pub mod captcha;
pub mod domain;
pub mod error;
pub mod migration;
pub mod one_login;
pub mod searches;
pub mod secrets;
pub mod store;
pub mod throttle;
pub mod verification;

use dqt_proto::dqt::identity::v1::identity_service_server::IdentityServiceServer;
use portal_common::component::{Context, names};
use portal_common::config::parse_host_port;
use portal_common::server::Served;
use tonic::codec::CompressionEncoding;

pub use api::Upstreams;
pub use error::Error;

/// The identity service's name.
pub const NAME: &str = names::IDENTITY;

/// The identity service's own settings.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Settings {
    /// Address of the identity service.
    #[arg(id = "identity_addr", long = "identity-addr", env = "PORTAL_IDENTITY_ADDR", default_value = "127.0.0.1:50052", value_parser = parse_host_port)]
    pub addr: String,
    /// Identity service database URL (postgres://...); embedded SQLite when unset.
    #[arg(
        id = "identity_database_url",
        long = "identity-database-url",
        env = "PORTAL_IDENTITY_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// When set, start-up creates or updates the client `admin` with every internal role.
    #[arg(long, env = "PORTAL_ADMIN_CLIENT_SECRET", hide_env_values = true)]
    pub admin_client_secret: Option<String>,
    #[command(flatten)]
    pub sign_in: throttle::SignInLimits,
    #[command(flatten)]
    pub one_login: one_login::Settings,
}

impl Settings {
    /// The identity service, ready to serve. Bootstraps `admin` when a secret is configured.
    async fn served(&self, context: &Context<'_>) -> anyhow::Result<Served> {
        let db =
            portal_common::db::open::<migration::Migrator>(&context.shared.databases, self.db())
                .await?;
        let store = store::Store::new(db);
        if let Some(secret) = &self.admin_client_secret {
            api::bootstrap_admin(&store, secret).await?;
        }
        let signer = context.signer;
        let one_login =
            one_login::OneLogin::new(&self.one_login, context.sessions.store().clone())?;
        let api = api::IdentityApi::new(
            store,
            context.sessions.clone(),
            self.sign_in.clone(),
            Upstreams {
                record: context.upstream(names::RECORD)?,
                notification: context.upstream(names::NOTIFICATION)?,
            },
            signer.clone(),
            one_login,
        )
        .await?;
        Ok(Served::one(
            IdentityServiceServer::new(api)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip),
            signer,
        ))
    }
}

portal_common::service_component!(
    Settings,
    name: NAME,
    calls: [names::RECORD, names::NOTIFICATION],
    migrator: migration::Migrator,
);

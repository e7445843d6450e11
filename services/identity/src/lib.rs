//! The identity service: sign-in of teachers (matched by the record service) and clients,
//! sessions written to the session store, and client accounts.

pub mod api;
pub mod captcha;
pub mod error;
pub mod migration;
pub mod secrets;
pub mod store;
pub mod throttle;
pub mod verification;

use dqt_proto::dqt::identity::v1::identity_service_server::{IdentityServiceServer, SERVICE_NAME};
use portal_common::server::Served;
use portal_common::sessions::Sessions;
use portal_common::{Component, Config, Signer};
use sea_orm::DbErr;

pub use api::Upstreams;
pub use error::Error;

/// Connects to the identity database and applies its migrations (`portal migrate`).
pub async fn migrate(config: &Config) -> Result<sea_orm::DatabaseConnection, DbErr> {
    portal_common::db::open::<migration::Migrator>(&config.databases, Component::Identity, true)
        .await
}

/// Connects to the identity database, migrating it first when start-up migrations are on.
async fn open(config: &Config) -> Result<sea_orm::DatabaseConnection, DbErr> {
    let migrate = config.databases.migrate_on_start;
    portal_common::db::open::<migration::Migrator>(&config.databases, Component::Identity, migrate)
        .await
}

/// The identity service, ready to serve. Bootstraps `admin` when a secret is configured.
pub async fn served(
    config: &Config,
    signer: &Signer,
    sessions: Sessions,
    upstreams: Upstreams,
) -> Result<Served, Error> {
    let store = store::Store::new(open(config).await?);
    if let Some(secret) = &config.admin_client_secret {
        api::bootstrap_admin(&store, secret).await?;
    }
    let api = api::IdentityApi::new(
        store,
        sessions,
        config.sign_in.clone(),
        upstreams,
        signer.clone(),
    )
    .await?;
    Ok(Served {
        routes: tonic::service::Routes::new(IdentityServiceServer::with_interceptor(
            api,
            signer.interceptor(),
        )),
        services: vec![SERVICE_NAME],
    })
}

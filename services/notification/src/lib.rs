//! The notification service: every email the portal sends. A caller hands it a message; it
//! stores the message in its own database before answering, then delivers it over SMTP (or,
//! with no mail server configured, as `.eml` files under `$PORTAL_DATA_DIR/outbox/`) with
//! retries and backoff. A message it has acknowledged is never lost.

pub mod api;
pub mod delivery;
pub mod error;
pub mod migration;
pub mod store;
pub mod templates;

use std::sync::Arc;
use std::time::Duration;

use dqt_proto::dqt::notification::v1::notification_service_server::{
    NotificationServiceServer, SERVICE_NAME,
};
use portal_common::server::Served;
use portal_common::{Component, Config, Signer};
use sea_orm::DbErr;

pub use error::Error;

/// Connects to the notification database and applies its migrations (`portal migrate`).
pub async fn migrate(config: &Config) -> Result<sea_orm::DatabaseConnection, DbErr> {
    portal_common::db::open::<migration::Migrator>(&config.databases, Component::Notification, true)
        .await
}

/// The notification service, ready to serve, with its delivery running.
pub async fn served(config: &Config, signer: &Signer) -> Result<Served, Error> {
    let from: lettre::message::Mailbox = config.email.email_from.parse().map_err(|_| {
        Error::Configuration("PORTAL_EMAIL_FROM: expected Name <address@example.org>".into())
    })?;
    let transport =
        delivery::Transport::new(config.email.smtp_url.as_deref(), &config.databases.data_dir)
            .map_err(Error::Configuration)?;
    let db = portal_common::db::open::<migration::Migrator>(
        &config.databases,
        Component::Notification,
        config.databases.migrate_on_start,
    )
    .await?;
    let store = store::Store::new(db);
    let wake = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(
        delivery::Delivery {
            store: store.clone(),
            transport,
            from,
            retry_max: Duration::from_secs(config.email.email_retry_max_seconds),
            wake: wake.clone(),
        }
        .run(),
    );
    Ok(Served {
        routes: tonic::service::Routes::new(NotificationServiceServer::with_interceptor(
            api::NotificationApi::new(store, wake),
            signer.interceptor(),
        )),
        services: vec![SERVICE_NAME],
    })
}

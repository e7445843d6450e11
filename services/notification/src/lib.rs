//! The notification service: every email the portal sends. A caller hands it a message; it
//! stores the message in its own database before answering, then delivers it over SMTP (or,
//! with no mail server configured, as `.eml` files under `$PORTAL_DATA_DIR/outbox/`) with
//! retries and backoff. A message it has acknowledged is never lost.

pub mod api;
pub mod delivery;
pub mod error;
pub mod migration;
pub mod news;
pub mod store;
pub mod templates;

use std::sync::Arc;
use std::time::Duration;

use dqt_proto::dqt::notification::v1::notification_service_server::NotificationServiceServer;
use portal_common::component::{Context, names};
use portal_common::config::parse_host_port;
use portal_common::server::Served;
use tonic::codec::CompressionEncoding;

pub use error::Error;

/// The notification service's name.
pub const NAME: &str = names::NOTIFICATION;

/// The notification service's own settings: where it is, and how it delivers email.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Settings {
    /// Address of the notification service.
    #[arg(id = "notification_addr", long = "notification-addr", env = "PORTAL_NOTIFICATION_ADDR", default_value = "127.0.0.1:50056", value_parser = parse_host_port)]
    pub addr: String,
    /// Notification service database URL (postgres://...); embedded SQLite when unset.
    #[arg(
        id = "notification_database_url",
        long = "notification-database-url",
        env = "PORTAL_NOTIFICATION_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// The mail server, e.g. `smtp://127.0.0.1:2525` (no TLS), `smtp://host:587?tls=required`
    /// (STARTTLS) or `smtps://user:password@host:465`. When unset, each email is written as an
    /// `.eml` file under `$PORTAL_DATA_DIR/outbox/`.
    #[arg(long, env = "PORTAL_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of every email, e.g. `Teaching record <no-reply@example.gov.uk>`.
    #[arg(
        long,
        env = "PORTAL_EMAIL_FROM",
        default_value = "Teacher Self-Service Portal <no-reply@localhost>"
    )]
    pub email_from: String,
    /// The longest wait between two tries of an email the mail server did not take, in
    /// seconds (the wait doubles from 1 s up to this).
    #[arg(long, env = "PORTAL_EMAIL_RETRY_MAX_SECONDS", default_value_t = 300)]
    pub email_retry_max_seconds: u64,
}

impl Settings {
    /// The notification service, ready to serve, with its delivery running.
    async fn served(&self, context: &Context<'_>) -> anyhow::Result<Served> {
        let shared = context.shared;
        let from: lettre::message::Mailbox = self.email_from.parse().map_err(|_| {
            anyhow::anyhow!("PORTAL_EMAIL_FROM: expected Name <address@example.org>")
        })?;
        let transport =
            delivery::Transport::new(self.smtp_url.as_deref(), &shared.databases.data_dir)
                .map_err(anyhow::Error::msg)?;
        let db =
            portal_common::db::open::<migration::Migrator>(&shared.databases, self.db()).await?;
        let store = store::Store::new(db);
        let wake = Arc::new(tokio::sync::Notify::new());
        tokio::spawn(
            delivery::Delivery {
                store: store.clone(),
                transport,
                from,
                retry_max: Duration::from_secs(self.email_retry_max_seconds),
                wake: wake.clone(),
            }
            .run(),
        );
        let follower = news::Follower {
            store: store.clone(),
            record: context.upstream(names::RECORD)?,
            signer: context.signer.clone(),
            wake: wake.clone(),
        };
        let stopping = context.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = follower.run() => {}
                () = stopping.wait() => {}
            }
        });
        Ok(Served::one(
            NotificationServiceServer::new(api::NotificationApi::new(store, wake))
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip),
            context.signer,
        ))
    }
}

portal_common::service_component!(
    Settings,
    name: NAME,
    calls: [names::RECORD],
    migrator: migration::Migrator,
);

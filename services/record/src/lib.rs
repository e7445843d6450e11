//! The record service: owner of teacher records, their history and the audit of who read or
//! changed them.

pub mod api;
pub mod domain;
pub mod error;
pub mod feed;
pub mod migration;
pub mod paging;
pub mod seed;
pub mod store;
pub mod trn_searches;
pub mod views;

use dqt_proto::dqt::record::v1::record_service_server::RecordServiceServer;
use portal_common::Config;
use portal_common::component::{Context, names};
use portal_common::config::parse_host_port;
use portal_common::notification::Notifier;
use portal_common::server::Served;
use sea_orm::DbErr;
use tonic::codec::CompressionEncoding;

/// The record service's name.
pub const NAME: &str = names::RECORD;

/// The record service's own settings.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Settings {
    /// Address of the record service.
    #[arg(id = "record_addr", long = "record-addr", env = "PORTAL_RECORD_ADDR", default_value = "127.0.0.1:50053", value_parser = parse_host_port)]
    pub addr: String,
    /// Record service database URL (postgres://...); embedded SQLite when unset.
    #[arg(
        id = "record_database_url",
        long = "record-database-url",
        env = "PORTAL_RECORD_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// First TRN the record service allocates.
    #[arg(long, env = "PORTAL_TRN_RANGE_START", default_value_t = 1_000_000)]
    pub trn_range_start: u32,
    /// Last TRN the record service allocates.
    #[arg(long, env = "PORTAL_TRN_RANGE_END", default_value_t = 9_999_999)]
    pub trn_range_end: u32,
    /// How long the record service keeps a teacher's own read of their record, in
    /// milliseconds (0: not at all). Changes through the same instance are seen at once,
    /// through another within this time.
    #[arg(long, env = "PORTAL_RECORD_CACHE_MS", default_value_t = 2000)]
    pub record_cache_ms: u64,
    /// Evidence sent with a name or date-of-birth change is deleted this many seconds after
    /// the request is decided; so are the details of a resolved lost-TRN case, with the case.
    #[arg(long, env = "PORTAL_EVIDENCE_RETENTION_SECONDS", default_value_t = 30 * 24 * 60 * 60)]
    pub evidence_retention_seconds: u64,
    /// The change feed keeps its events this many days (fractions allowed); a consumer further
    /// behind is told its cursor is too old.
    #[arg(long, env = "PORTAL_CHANGE_RETENTION_DAYS", default_value_t = 90.0, value_parser = parse_days)]
    pub change_retention_days: f64,
}

/// A positive number of days, at most a hundred years.
fn parse_days(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|days| days.is_finite() && *days > 0.0 && *days <= 36_500.0)
        .ok_or_else(|| "must be a positive number of days".to_owned())
}

impl Settings {
    /// The record store over the migrated database, allocating TRNs from the configured range.
    pub async fn open_store(&self, shared: &Config) -> Result<store::Store, error::Error> {
        if self.trn_range_start == 0
            || self.trn_range_start > self.trn_range_end
            || self.trn_range_end > 9_999_999
        {
            return Err(
                DbErr::Custom("the TRN range must lie within 0000001..=9999999".into()).into(),
            );
        }
        let db =
            portal_common::db::open::<migration::Migrator>(&shared.databases, self.db()).await?;
        store::Store::new(
            db,
            self.trn_range_start..=self.trn_range_end,
            std::time::Duration::from_millis(self.record_cache_ms),
        )
        .await
    }

    /// The record service, ready to serve: database migrated, API behind the principal
    /// check. It sends the codes and notices of email changes through the notification
    /// service.
    async fn served(&self, context: &Context<'_>) -> anyhow::Result<Served> {
        let store = self.open_store(context.shared).await?;
        let retention = chrono::Duration::seconds(
            i64::try_from(self.evidence_retention_seconds).unwrap_or(i64::MAX / 1000),
        );
        tokio::spawn(delete_expired_evidence(store.clone(), retention));
        tokio::spawn(prune_feed(
            store.clone(),
            std::time::Duration::from_secs_f64(self.change_retention_days * 86_400.0),
        ));
        let signer = context.signer;
        let notifier = Notifier::new(context.upstream(names::NOTIFICATION)?, signer.clone(), NAME);
        let searches = std::sync::Arc::new(tokio::sync::Notify::new());
        tokio::spawn(trn_searches::run(
            store.clone(),
            notifier.clone(),
            searches.clone(),
            context.shutdown.clone(),
        ));
        let api = api::RecordApi::new(
            store,
            signer.clone(),
            retention,
            context.shared.verification,
            notifier,
            context.shutdown.clone(),
            searches,
        );
        Ok(Served::one(
            RecordServiceServer::new(api)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip),
            signer,
        ))
    }
}

portal_common::service_component!(
    Settings,
    name: NAME,
    calls: [names::NOTIFICATION],
    migrator: migration::Migrator,
);

/// Deletes evidence whose retention has ended, and resolved lost-TRN cases with theirs, now
/// and then, for as long as the process runs. (Reads already refuse expired evidence; this
/// removes the bytes.)
async fn delete_expired_evidence(store: store::Store, retention: chrono::Duration) {
    let every = retention.to_std().unwrap_or_default().clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(3600),
    );
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        match store
            .delete_expired_evidence(chrono::Utc::now() - retention)
            .await
        {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "expired change-request evidence deleted"),
            Err(error) => tracing::warn!(%error, "expired evidence could not be deleted"),
        }
        match store
            .delete_expired_trn_cases(chrono::Utc::now() - retention)
            .await
        {
            Ok(0) => {}
            Ok(deleted) => {
                tracing::info!(deleted, "resolved lost-TRN cases past retention deleted")
            }
            Err(error) => tracing::warn!(%error, "expired lost-TRN cases could not be deleted"),
        }
    }
}

/// Deletes the change feed's events older than `retention`, now and then, for as long as the
/// process runs.
async fn prune_feed(store: store::Store, retention: std::time::Duration) {
    let every = (retention / 10).clamp(
        std::time::Duration::from_millis(200),
        std::time::Duration::from_secs(3600),
    );
    let keep = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(36_500));
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        match store.prune_feed(chrono::Utc::now() - keep).await {
            Ok(0) => {}
            Ok(deleted) => {
                tracing::info!(deleted, "change feed events past their retention deleted")
            }
            Err(error) => tracing::warn!(%error, "change feed events could not be pruned"),
        }
    }
}

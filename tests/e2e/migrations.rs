//! Migrations as a separate step: with start-up migrations off (several replicas and a
//! migration job, as on Kubernetes), a component refuses to start on a schema that is behind,
//! naming the fix; after `portal migrate` it starts.

use crate::support;
use portal::Stack;
use portal_common::component::names;
use portal_common::{Component as _, Signer};

#[tokio::test]
async fn a_schema_behind_is_refused_until_portal_migrate_runs() {
    let dir = std::env::temp_dir().join(format!("portal-migrate-{:016x}", rand::random::<u64>()));
    let mut config = support::default_config();
    config.shared.databases.migrate_on_start = false;
    config.shared.databases.data_dir = dir.clone();
    config.record.addr = "127.0.0.1:0".to_owned();

    let refused = Stack::start(&config, &[names::RECORD], Signer::random())
        .await
        .err()
        .expect("a fresh database is behind");
    let message = format!("{refused:#}");
    assert!(message.contains("pending migrations"), "{message}");
    assert!(message.contains("portal migrate"), "{message}");

    config
        .record
        .migrate(&config.shared)
        .await
        .expect("migrated");
    let stack = Stack::start(&config, &[names::RECORD], Signer::random())
        .await
        .expect("starts on a current schema");
    stack.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

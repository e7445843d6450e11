//! The session store's contract, checked against both implementations: what the memory store
//! does, Redis must do too (and the other way round).

use crate::support;
use std::sync::Arc;
use std::time::Duration;

use portal_common::kv::{MemoryStore, RedisStore, SessionStore};

async fn contract(store: Arc<dyn SessionStore>) {
    let window = Duration::from_millis(800);
    let keys = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();

    // Counters start at zero, keep the expiry of their first count, and vanish after it.
    assert_eq!(
        store.add(&keys(&["a", "b"]), 1, window).await.unwrap(),
        [1, 1]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.add(&keys(&["a"]), 2, window).await.unwrap(), [3]);
    let read = store.counters(&keys(&["a", "missing"])).await.unwrap();
    assert_eq!((read[0].0, read[1]), (3, (0, Duration::ZERO)));
    assert!(
        read[0].1 <= Duration::from_millis(500),
        "the window did not restart"
    );
    assert_eq!(store.add(&keys(&["a"]), -1, window).await.unwrap(), [2]);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        store.counters(&keys(&["a", "b"])).await.unwrap(),
        [(0, Duration::ZERO); 2]
    );

    // A lock is set once and not extended.
    store
        .set_if_absent("lock", 1, Duration::from_millis(400))
        .await
        .unwrap();
    store
        .set_if_absent("lock", 1, Duration::from_secs(60))
        .await
        .unwrap();
    let (count, left) = store.counters(&keys(&["lock"])).await.unwrap()[0];
    assert_eq!(count, 1);
    assert!(left <= Duration::from_millis(400));

    // Values: read-and-extend, take once, delete counts what existed.
    store
        .put("v", b"one".to_vec(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_and_extend("v", Duration::from_secs(5))
            .await
            .unwrap()
            .as_deref(),
        Some(&b"one"[..])
    );
    assert_eq!(store.take("v").await.unwrap().as_deref(), Some(&b"one"[..]));
    assert_eq!(store.take("v").await.unwrap(), None);
    store
        .put("w", b"two".to_vec(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(store.delete(&keys(&["w", "never"])).await.unwrap(), 1);
    assert_eq!(store.delete(&[]).await.unwrap(), 0);

    // Sets: members gathered, then taken in one step.
    for member in ["s1", "s2", "s1"] {
        store
            .add_to_set("set", member, Duration::from_secs(5))
            .await
            .unwrap();
    }
    let mut members = store.take_set("set").await.unwrap();
    members.sort();
    assert_eq!(members, ["s1", "s2"]);
    assert!(store.take_set("set").await.unwrap().is_empty());
}

#[tokio::test]
async fn the_memory_store_keeps_the_contract() {
    contract(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn the_redis_store_keeps_the_contract() {
    let Some(url) = support::reachable_redis().await else {
        return;
    };
    let prefix = format!("portal_t_{:016x}:", rand::random::<u64>());
    let store = RedisStore::new(&url, Duration::from_millis(500), &prefix).unwrap();
    contract(Arc::new(store)).await;
}

//! Limits on employer checks per client, so that no client can extract the register in bulk.
//! Counts live in the session store (Redis in deployment), shared by every gateway.

use std::sync::Arc;
use std::time::Duration;

use portal_common::kv::{Limit, SessionStore};

use crate::error::Error;

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Clone)]
pub struct CheckLimits {
    store: Arc<dyn SessionStore>,
    per_minute: u32,
    per_day: u32,
}

impl CheckLimits {
    pub fn new(store: Arc<dyn SessionStore>, per_minute: u32, per_day: u32) -> Self {
        Self {
            store,
            per_minute,
            per_day,
        }
    }

    fn limits(&self, client_id: &str) -> [Limit; 2] {
        [
            Limit {
                key: format!("dqt:employer-checks:{client_id}:minute"),
                limit: i64::from(self.per_minute),
                window: MINUTE,
            },
            Limit {
                key: format!("dqt:employer-checks:{client_id}:day"),
                limit: i64::from(self.per_day),
                window: DAY,
            },
        ]
    }

    /// Counts `checks` against the client's minute and day, in one round trip; past either
    /// limit the call is refused with RESOURCE_EXHAUSTED and how long until the count starts
    /// again, and counts nothing.
    pub async fn take(&self, client_id: &str, checks: u32) -> Result<(), Error> {
        let counted = self
            .store
            .count_within(&self.limits(client_id), i64::from(checks))
            .await?;
        counted.map_err(|retry_after| {
            tracing::warn!(%client_id, "employer check limit reached");
            Error::CheckLimit(retry_after)
        })
    }

    /// Gives back checks counted for a call the service refused as bad input.
    pub async fn give_back(&self, client_id: &str, checks: u32) -> Result<(), Error> {
        // Giving back lowers the counts: it never passes a limit.
        let _ = self
            .store
            .count_within(&self.limits(client_id), -i64::from(checks))
            .await?;
        Ok(())
    }
}

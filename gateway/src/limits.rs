//! Limits on employer checks per client, so that no client can extract the register in bulk.
//! Counts live in the session store (Redis in deployment), shared by every gateway.

use std::sync::Arc;
use std::time::Duration;

use portal_common::sessions::{Limit, SessionStore};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

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
    pub async fn take(&self, client_id: &str, checks: u32) -> Result<(), Status> {
        let counted = self
            .store
            .count_within(&self.limits(client_id), i64::from(checks))
            .await?;
        counted.map_err(|retry_after| {
            tracing::warn!(%client_id, "employer check limit reached");
            Status::with_error_details(
                Code::ResourceExhausted,
                "too many checks for this client: try again later",
                ErrorDetails::with_retry_info(Some(retry_after)),
            )
        })
    }

    /// Gives back checks counted for a call the service refused as bad input.
    pub async fn give_back(&self, client_id: &str, checks: u32) -> Result<(), Status> {
        self.store
            .count_within(&self.limits(client_id), -i64::from(checks))
            .await?
            .map_err(|_| Status::internal("giving back never passes a limit"))
    }
}

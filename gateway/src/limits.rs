//! Limits on employer checks per client, so that no client can extract the register in bulk.
//! Counts live in the session store (Redis in deployment), shared by every gateway.

use std::sync::Arc;
use std::time::Duration;

use portal_common::sessions::SessionStore;
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

    /// Counts `checks` against the client's minute and day; past either limit the call is
    /// refused with RESOURCE_EXHAUSTED and how long until the count starts again.
    pub async fn take(&self, client_id: &str, checks: u32) -> Result<(), Status> {
        let keys = [
            format!("dqt:employer-checks:{client_id}:minute"),
            format!("dqt:employer-checks:{client_id}:day"),
        ];
        // Two windows, two counters: sent together, one round trip's wait.
        let (minute, day) = tokio::try_join!(
            self.store.add(&keys[..1], i64::from(checks), MINUTE),
            self.store.add(&keys[1..], i64::from(checks), DAY),
        )?;
        let over = [
            (minute.first().copied().unwrap_or(0), self.per_minute),
            (day.first().copied().unwrap_or(0), self.per_day),
        ];
        let exceeded: Vec<usize> = (0..2)
            .filter(|&i| over[i].0 > i64::from(over[i].1))
            .collect();
        if exceeded.is_empty() {
            return Ok(());
        }
        let waiting: Vec<String> = exceeded.iter().map(|&i| keys[i].clone()).collect();
        let retry_after = self
            .store
            .counters(&waiting)
            .await?
            .into_iter()
            .map(|(_, left)| left)
            .max()
            .unwrap_or(MINUTE);
        tracing::warn!(%client_id, "employer check limit reached");
        Err(Status::with_error_details(
            Code::ResourceExhausted,
            "too many checks for this client: try again later",
            ErrorDetails::with_retry_info(Some(retry_after)),
        ))
    }
}

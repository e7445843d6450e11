//! The feed scenario's consumer: one WatchChanges stream through the gateway, as an internal
//! system keeping a copy would hold it.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::administration_client::AdministrationClient;

use super::fixture::{Fixture, authed};
use super::{Outcome, new_histogram};

/// How long the consumer waits after the last write for what is still on its way.
const DRAIN: Duration = Duration::from_secs(2);

fn watch(fixture: &Fixture) -> tonic::Request<pb::WatchChangesRequest> {
    authed(pb::WatchChangesRequest::default(), &fixture.admin)
}

/// Follows the feed from the oldest event kept until [`DRAIN`] after `end`: the events made
/// from `measured_from` on, and the lag of each from its commit to its delivery here.
pub async fn follow(
    fixture: Arc<Fixture>,
    measured_from: SystemTime,
    end: Instant,
) -> anyhow::Result<Outcome> {
    let mut admin = AdministrationClient::new(fixture.gateway.clone());
    let mut stream = admin.watch_changes(watch(&fixture)).await?.into_inner();
    let mut histogram = new_histogram()?;
    let (mut delivered, mut first, mut last) = (0u64, None, None);
    let stop = tokio::time::Instant::from_std(end + DRAIN);
    while let Ok(next) = tokio::time::timeout_at(stop, stream.message()).await {
        let Some(event) = next? else {
            break;
        };
        let arrived = SystemTime::now();
        let Some(made) = event.time.and_then(|t| SystemTime::try_from(t).ok()) else {
            continue;
        };
        if made < measured_from {
            continue;
        }
        let lag = arrived.duration_since(made).unwrap_or_default();
        histogram.saturating_record(u64::try_from(lag.as_micros()).unwrap_or(u64::MAX).max(1));
        delivered += 1;
        first.get_or_insert(made);
        last = Some(arrived);
    }
    let seconds = match (first, last) {
        (Some(first), Some(last)) => last.duration_since(first).unwrap_or_default(),
        _ => Duration::ZERO,
    };
    Ok(Outcome {
        scenario: "feed-lag",
        requests: delivered,
        errors: Default::default(),
        seconds: seconds.as_secs_f64(),
        histogram,
    })
}

/// Reads the whole feed kept again from the start, as a new consumer catching up would: how
/// many events a second, and the gaps between them.
pub async fn replay(fixture: &Fixture) -> anyhow::Result<Outcome> {
    let mut admin = AdministrationClient::new(fixture.gateway.clone());
    let started = Instant::now();
    let mut stream = admin.watch_changes(watch(fixture)).await?.into_inner();
    let mut histogram = new_histogram()?;
    let (mut delivered, mut previous, mut last) = (0u64, started, started);
    // Caught up once nothing more comes for a moment.
    while let Ok(next) = tokio::time::timeout(Duration::from_millis(500), stream.message()).await {
        if next?.is_none() {
            break;
        }
        let now = Instant::now();
        let gap = u64::try_from(now.duration_since(previous).as_micros()).unwrap_or(u64::MAX);
        histogram.saturating_record(gap.max(1));
        delivered += 1;
        previous = now;
        last = now;
    }
    Ok(Outcome {
        scenario: "feed-replay",
        requests: delivered,
        errors: Default::default(),
        seconds: last.duration_since(started).as_secs_f64(),
        histogram,
    })
}

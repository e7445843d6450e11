//! Following the change feed for a caller: what is kept after its cursor, then each event as it
//! is committed. One task per stream reads a page at a time and hands events to a channel of a
//! few places: it reads again only as the caller takes them, so a slow caller costs a page of
//! memory and no more.

use dqt_proto::dqt::portal::v1 as pb;
use portal_common::Violations;
use portal_common::server::ShutdownSignal;
use portal_common::values::Trn;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::domain::ChangeEventType;
use crate::error::Error;
use crate::store::{FeedEvent, FeedFilter, Store, parse_cursor};

/// The most TRNs one stream may follow by name.
pub const MAX_TRNS: usize = 500;
/// Events waiting for a caller to take them.
const WAITING: usize = 16;
/// How long a stream's caller is given to take the news that the service is stopping.
const STOPPING: std::time::Duration = std::time::Duration::from_secs(1);

/// A stream of the feed, as tonic sends it.
pub type FeedStream<T> = ReceiverStream<Result<T, Status>>;

/// A WatchChanges request, checked: where to start, and which events.
pub fn parse(request: &pb::WatchChangesRequest) -> Result<(Option<i64>, FeedFilter), Error> {
    let mut violations = Violations::new();
    let after = if request.after_cursor.trim().is_empty() {
        Some(None)
    } else {
        violations
            .check(parse_cursor("after_cursor", &request.after_cursor))
            .map(Some)
    };
    let mut kinds = Vec::new();
    for value in &request.event_types {
        match ChangeEventType::from_proto(*value) {
            Some(kind) => kinds.push(kind),
            None => violations.add(portal_common::FieldViolation::new(
                "event_types",
                "must each be one of the defined values",
            )),
        }
    }
    if request.trns.len() > MAX_TRNS {
        violations.add(portal_common::FieldViolation::new(
            "trns",
            format!("must hold at most {MAX_TRNS} TRNs"),
        ));
    }
    let trns: Vec<Option<Trn>> = request
        .trns
        .iter()
        .take(MAX_TRNS)
        .map(|trn| violations.check(Trn::parse("trns", trn)))
        .collect();
    match (after, trns.into_iter().collect::<Option<Vec<Trn>>>()) {
        (Some(after), Some(trns)) if violations.is_empty() => Ok((
            after,
            FeedFilter {
                kinds,
                trns,
                watched_by: None,
            },
        )),
        _ => Err(Error::InvalidArgument(violations.into_inner())),
    }
}

/// Follows the feed after position `start`, sending each wanted event as `deliver` makes it
/// (`None` skips it), until the caller goes or the service stops. A failure ends the stream
/// with its status, and so does the service stopping (UNAVAILABLE); the caller resumes from
/// the last cursor it received.
pub fn follow<T, F, Fut>(
    store: Store,
    start: i64,
    filter: FeedFilter,
    shutdown: ShutdownSignal,
    deliver: F,
) -> FeedStream<T>
where
    T: Send + 'static,
    F: FnMut(FeedEvent) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Option<T>, Error>> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(WAITING);
    let stopping = sender.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = run(store, start, filter, deliver, sender) => {}
            () = shutdown.wait() => {
                let status = Status::unavailable("the service is stopping: resume from the last cursor");
                let _ = tokio::time::timeout(STOPPING, stopping.send(Err(status))).await;
            }
        }
    });
    ReceiverStream::new(receiver)
}

async fn run<T, F, Fut>(
    store: Store,
    mut scanned: i64,
    filter: FeedFilter,
    mut deliver: F,
    sender: mpsc::Sender<Result<T, Status>>,
) where
    F: FnMut(FeedEvent) -> Fut,
    Fut: Future<Output = Result<Option<T>, Error>>,
{
    let mut changes = store.feed_changes();
    loop {
        // Seen before reading: a commit after the read below wakes the wait that follows it.
        changes.borrow_and_update();
        let page = match store.feed_page(scanned, &filter).await {
            Ok(page) => page,
            Err(error) => {
                let _ = sender.send(Err(error.into())).await;
                return;
            }
        };
        for event in page.events {
            let item = match deliver(event).await {
                Ok(Some(item)) => Ok(item),
                Ok(None) => continue,
                Err(error) => Err(Status::from(error)),
            };
            let failed = item.is_err();
            if sender.send(item).await.is_err() || failed {
                return;
            }
        }
        scanned = page.scanned;
        if page.more {
            continue;
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            () = sender.closed() => return,
        }
    }
}

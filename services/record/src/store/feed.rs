//! The change feed: a transactional outbox. Every change to a record writes its events in the
//! change's own transaction, so an event exists exactly when its change does.
//!
//! Events take their positions from the one row of `change_feed`, as the transaction's last
//! write: the row's lock is then held until the transaction commits, so a second writer takes
//! its positions only once the first has committed. Positions therefore follow commit order and
//! leave no gaps (a rolled-back transaction gives its positions back), across every instance
//! writing to one database: a reader that has seen position `p` has seen every event up to
//! `p`, and nothing can appear below it later. (A sequence taken at insert time would not do: a
//! transaction that took 5 and commits after the one that took 6 would be missed by a reader
//! that had already moved past 6.) A reader reads only up to the head it read, and pages at its
//! own pace.
//!
//! Events are pruned by age, oldest positions first, so what is kept is always the positions
//! after some `oldest - 1`: a reader further behind than that is told so, never given a feed
//! with a hole in it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use dqt_proto::dqt::portal::v1 as pb;
use portal_common::FieldViolation;
use portal_common::db::Write;
use portal_common::values::Trn;
use prost::Message as _;
use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait, QueryFilter as _,
    QueryOrder as _, QuerySelect as _,
};
use tokio::sync::watch;

use super::checks::checkable;
use super::entities::{change_event, change_feed, watched_teacher};
use super::{Store, insert_all};
use crate::domain::{ChangeEventType, InductionStatus, ProfessionalStatus, Teacher};
use crate::error::Error;
use crate::views::{self, Audience};

/// Events one read of the feed takes at most.
const PAGE: u64 = 100;
/// How often an instance looks for events that other instances committed.
const POLL: Duration = Duration::from_millis(100);

/// An event to write: what changed, on which record, and the event as readers get it (its
/// cursor and time are added when it is read).
pub struct NewEvent {
    kind: ChangeEventType,
    trn: Trn,
    event: pb::ChangeEvent,
    /// The record as an employer's check shows it; `None` when no longer in use.
    employer_view: Option<pb::TeacherCheck>,
}

impl NewEvent {
    /// An event of `kind` on `teacher`'s record, carrying the record as it now stands.
    pub fn of(kind: ChangeEventType, teacher: &Teacher) -> Self {
        let trn = teacher.person.trn;
        Self {
            kind,
            trn,
            event: pb::ChangeEvent {
                r#type: kind.to_proto().into(),
                trn: trn.to_string(),
                record: Some(views::teacher_record(teacher, Audience::Internal)),
                ..Default::default()
            },
            employer_view: checkable(teacher).then(|| views::teacher_check(teacher)),
        }
    }

    /// The events of `kinds`, each carrying the record.
    pub fn all(kinds: &[ChangeEventType], teacher: &Teacher) -> Vec<Self> {
        kinds.iter().map(|kind| Self::of(*kind, teacher)).collect()
    }

    /// With the change request it is about.
    pub fn with_change_request(mut self, request: pb::ChangeRequest) -> Self {
        self.event.change_request = Some(request);
        self
    }

    /// With the professional status it added.
    pub fn with_status_added(mut self, status: &ProfessionalStatus) -> Self {
        self.event.professional_status = Some(views::professional_status(status));
        self
    }

    /// With the induction status it changed from.
    pub fn with_induction_before(mut self, before: InductionStatus) -> Self {
        self.event.previous_induction_status = before.to_proto().into();
        self
    }

    /// With the TRN request it is about.
    pub fn with_trn_request(mut self, request: pb::TrnRequest) -> Self {
        self.event.trn_request = Some(request);
        self
    }
}

/// The opaque cursor of the event at `position`.
pub fn cursor(position: i64) -> String {
    URL_SAFE_NO_PAD.encode(position.to_be_bytes())
}

/// The position a cursor names, or a violation of `field`.
pub fn parse_cursor(field: &str, text: &str) -> Result<i64, FieldViolation> {
    URL_SAFE_NO_PAD
        .decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map(i64::from_be_bytes)
        .filter(|position| *position > 0)
        .ok_or_else(|| FieldViolation::new(field, "must be a cursor this feed sent"))
}

/// Which events a reader wants: of these kinds and these records (empty: any); or, for an
/// employer client, the changes it may see to the teachers it watched before they were made.
#[derive(Debug, Clone, Default)]
pub struct FeedFilter {
    pub kinds: Vec<ChangeEventType>,
    pub trns: Vec<Trn>,
    pub watched_by: Option<String>,
}

/// One read of the feed.
pub struct FeedPage {
    /// The events wanted, in commit order.
    pub events: Vec<FeedEvent>,
    /// The position read up to: the next read starts after it.
    pub scanned: i64,
    /// Whether more was there to read (a whole page was taken).
    pub more: bool,
}

/// Tells the readers of one instance that the feed may have grown.
pub(super) struct FeedSignal {
    sender: watch::Sender<i64>,
    polling: std::sync::Once,
}

impl FeedSignal {
    pub(super) fn new() -> Self {
        Self {
            sender: watch::Sender::new(0),
            polling: std::sync::Once::new(),
        }
    }
}

/// What of a check an employer watches: restrictions, QTS, EYTS, QTLS and induction (names and
/// qualifications change too, but are not what a watch is for).
fn watched_part(view: Option<&pb::TeacherCheck>) -> Option<pb::TeacherCheck> {
    view.map(|check| pb::TeacherCheck {
        qts_date: check.qts_date.clone(),
        eyts_date: check.eyts_date.clone(),
        induction_status: check.induction_status,
        restricted: check.restricted,
        restrictions: check.restrictions.clone(),
        qtls_status: check.qtls_status,
        ..Default::default()
    })
}

/// The employer's view of `trn` as the last event kept left it: `None` when there is no such
/// event (a record created before the feed, or unchanged for longer than it keeps events).
async fn last_employer_view(
    txn: &impl ConnectionTrait,
    trn: Trn,
) -> Result<Option<Option<pb::TeacherCheck>>, Error> {
    let last = change_event::Entity::find()
        .filter(change_event::Column::Trn.eq(trn.to_string()))
        .order_by_desc(change_event::Column::Position)
        .one(txn)
        .await?;
    last.map(|row| {
        row.employer_view
            .map(|bytes| {
                pb::TeacherCheck::decode(bytes.as_slice()).map_err(|_| {
                    Error::Corrupt(format!("change event {} unreadable", row.position))
                })
            })
            .transpose()
    })
    .transpose()
}

/// Appends events at the next positions of the feed, inside the caller's transaction: its
/// last write, so that the feed's row stays locked only while the transaction commits. Each
/// notes whether it changed what an employer watches, against the record's event before it.
pub(super) async fn append(txn: &impl ConnectionTrait, events: Vec<NewEvent>) -> Result<(), Error> {
    if events.is_empty() {
        return Ok(());
    }
    // What employers saw before: a new record was on nobody's list.
    let mut before: HashMap<Trn, Option<Option<pb::TeacherCheck>>> = HashMap::new();
    for event in &events {
        if event.kind != ChangeEventType::TeacherCreated && !before.contains_key(&event.trn) {
            before.insert(event.trn, last_employer_view(txn, event.trn).await?);
        }
    }
    let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
    let head = change_feed::Entity::update_many()
        .col_expr(
            change_feed::Column::Head,
            Expr::col(change_feed::Column::Head).add(count),
        )
        .filter(change_feed::Column::Id.eq(1))
        .exec_with_returning(txn)
        .await?
        .first()
        .map(|row| row.head)
        .ok_or_else(|| Error::Corrupt("the change feed has no head".into()))?;
    let now = Utc::now();
    let mut rows = Vec::with_capacity(events.len());
    for (new, position) in events.into_iter().zip(head - count + 1..) {
        let watched = watched_part(new.employer_view.as_ref());
        let restriction_change = match before.get_mut(&new.trn) {
            None => false,
            Some(seen) => {
                let changed = seen
                    .as_ref()
                    .is_none_or(|old| watched_part(old.as_ref()) != watched);
                *seen = Some(new.employer_view.clone());
                changed
            }
        };
        rows.push(change_event::ActiveModel {
            position: Set(position),
            kind: Set(new.kind.as_str().to_owned()),
            trn: Set(new.trn.to_string()),
            time: Set(now),
            event: Set(new.event.encode_to_vec()),
            employer_view: Set(new.employer_view.map(|view| view.encode_to_vec())),
            restriction_change: Set(restriction_change),
        });
    }
    insert_all(txn, rows).await
}

/// One event as it is kept.
pub struct FeedEvent(change_event::Model);

impl FeedEvent {
    fn unreadable(&self) -> Error {
        Error::Corrupt(format!("change event {} unreadable", self.0.position))
    }

    fn time(&self) -> prost_types::Timestamp {
        std::time::SystemTime::from(self.0.time).into()
    }

    /// The event as WatchChanges sends it.
    pub fn change_event(&self) -> Result<pb::ChangeEvent, Error> {
        let mut event =
            pb::ChangeEvent::decode(self.0.event.as_slice()).map_err(|_| self.unreadable())?;
        event.cursor = cursor(self.0.position);
        event.time = Some(self.time());
        Ok(event)
    }

    /// The event as an employer watching the record is told it.
    pub fn restriction_change(&self) -> Result<pb::RestrictionChange, Error> {
        let teacher = self
            .0
            .employer_view
            .as_ref()
            .map(|bytes| pb::TeacherCheck::decode(bytes.as_slice()))
            .transpose()
            .map_err(|_| self.unreadable())?;
        Ok(pb::RestrictionChange {
            cursor: cursor(self.0.position),
            trn: self.0.trn.clone(),
            time: Some(self.time()),
            teacher,
        })
    }
}

impl Store {
    /// Commits a change that wrote events, and tells this instance's readers.
    pub(super) async fn commit(&self, txn: Write) -> Result<(), Error> {
        txn.commit().await?;
        self.feed.sender.send_modify(|seen| *seen += 1);
        Ok(())
    }

    /// The head: the last position written.
    async fn feed_head(&self) -> Result<i64, Error> {
        change_feed::Entity::find_by_id(1)
            .one(&self.db)
            .await?
            .map(|row| row.head)
            .ok_or_else(|| Error::Corrupt("the change feed has no head".into()))
    }

    /// The oldest position kept, if any.
    async fn oldest_kept(&self) -> Result<Option<i64>, Error> {
        Ok(change_event::Entity::find()
            .select_only()
            .column_as(change_event::Column::Position.min(), "oldest")
            .into_tuple::<Option<i64>>()
            .one(&self.db)
            .await?
            .flatten())
    }

    /// Where a reader starts: after `after` (a position this feed gave), else before the oldest
    /// event kept. A position of events no longer kept is [`Error::CursorExpired`].
    #[tracing::instrument(name = "store", skip_all, fields(op = "feed_start"))]
    pub async fn feed_start(&self, after: Option<i64>) -> Result<i64, Error> {
        let head = self.feed_head().await?;
        let oldest = self.oldest_kept().await?;
        let first_kept = oldest.unwrap_or(head + 1);
        match after {
            None => Ok(first_kept - 1),
            Some(after) if after > head => {
                Err(FieldViolation::new("after_cursor", "must be a cursor this feed sent").into())
            }
            Some(after) if after < first_kept - 1 => Err(Error::CursorExpired),
            Some(after) => Ok(after),
        }
    }

    /// The next events wanted after position `scanned`, at most a page of them, up to the head
    /// as it stands. [`Error::CursorExpired`] when events after `scanned` were pruned before
    /// they could be read.
    #[tracing::instrument(name = "store", skip_all, fields(op = "feed_page"))]
    pub async fn feed_page(&self, scanned: i64, filter: &FeedFilter) -> Result<FeedPage, Error> {
        let head = self.feed_head().await?;
        let mut query = change_event::Entity::find()
            .filter(change_event::Column::Position.gt(scanned))
            .filter(change_event::Column::Position.lte(head))
            .order_by_asc(change_event::Column::Position)
            .limit(PAGE);
        if !filter.kinds.is_empty() {
            query = query
                .filter(change_event::Column::Kind.is_in(filter.kinds.iter().map(|k| k.as_str())));
        }
        if !filter.trns.is_empty() {
            query = query
                .filter(change_event::Column::Trn.is_in(filter.trns.iter().map(Trn::to_string)));
        }
        if let Some(client_id) = &filter.watched_by {
            use watched_teacher::Column as W;
            let watch = Query::select()
                .expr(Expr::val(1))
                .from(watched_teacher::Entity)
                .and_where(Expr::col((watched_teacher::Entity, W::ClientId)).eq(client_id.as_str()))
                .and_where(
                    Expr::col((watched_teacher::Entity, W::Trn))
                        .equals((change_event::Entity, change_event::Column::Trn)),
                )
                .and_where(
                    Expr::col((watched_teacher::Entity, W::WatchTime)).lte(Expr::col((
                        change_event::Entity,
                        change_event::Column::Time,
                    ))),
                )
                .to_owned();
            query = query
                .filter(change_event::Column::RestrictionChange.eq(true))
                .filter(Expr::exists(watch));
        }
        let rows = query.all(&self.db).await?;
        // Read first, then check that nothing after `scanned` had gone: pruning takes the
        // oldest positions, so if the oldest kept is still at most `scanned + 1`, the read
        // above saw everything.
        let oldest = self.oldest_kept().await?;
        if oldest.is_some_and(|oldest| oldest > scanned + 1) || (oldest.is_none() && scanned < head)
        {
            return Err(Error::CursorExpired);
        }
        let full = rows.len() as u64 == PAGE;
        let scanned = match rows.last() {
            Some(last) if full => last.position,
            _ => head,
        };
        Ok(FeedPage {
            events: rows.into_iter().map(FeedEvent).collect(),
            scanned,
            more: full,
        })
    }

    /// Told whenever the feed may have grown: at once for this instance's commits, within
    /// [`POLL`] for other instances'.
    pub fn feed_changes(&self) -> watch::Receiver<i64> {
        self.feed.polling.call_once(|| {
            tokio::spawn(poll_head(self.db.clone(), Arc::downgrade(&self.feed)));
        });
        self.feed.sender.subscribe()
    }

    /// Deletes the events made before `cutoff`, oldest positions first; how many went.
    #[tracing::instrument(name = "store", skip_all, fields(op = "prune_feed"))]
    pub async fn prune_feed(&self, cutoff: DateTime<Utc>) -> Result<u64, Error> {
        let last: Option<i64> = change_event::Entity::find()
            .select_only()
            .column_as(change_event::Column::Position.max(), "last")
            .filter(change_event::Column::Time.lt(cutoff))
            .into_tuple::<Option<i64>>()
            .one(&self.db)
            .await?
            .flatten();
        let Some(last) = last else {
            return Ok(0);
        };
        let _turn = portal_common::db::write_turn(&self.writers).await?;
        Ok(change_event::Entity::delete_many()
            .filter(change_event::Column::Position.lte(last))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}

/// Reads the head every [`POLL`] and tells the readers when it moved, for as long as the store
/// is in use.
async fn poll_head(db: sea_orm::DatabaseConnection, signal: std::sync::Weak<FeedSignal>) {
    let mut ticks = tokio::time::interval(POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = None;
    loop {
        ticks.tick().await;
        let Some(signal) = signal.upgrade() else {
            return;
        };
        match change_feed::Entity::find_by_id(1).one(&db).await {
            Ok(Some(row)) if last != Some(row.head) => {
                last = Some(row.head);
                signal.sender.send_modify(|seen| *seen += 1);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "change feed head unreadable"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_and_nothing_else_is_one() {
        for position in [1, 2, 255, 1 << 40, i64::MAX] {
            assert_eq!(parse_cursor("c", &cursor(position)), Ok(position));
        }
        for bad in ["", "abc", "AAAAAAAAAAA", "not a cursor!", &cursor(-4)] {
            assert!(parse_cursor("c", bad).is_err(), "{bad}");
        }
    }
}

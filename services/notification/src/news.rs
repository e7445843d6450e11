//! Emails to teachers about their record, driven by the record service's change feed: a change
//! request approved or rejected (with the reason), QTS or EYTS awarded, induction passed or
//! failed. Each goes to the email address on the record as the change left it; a record with
//! none gets none.
//!
//! The service follows the feed as a component (it needs no client account), from the cursor
//! it saved. Each event's emails are stored together with the cursor past it, in one
//! transaction, and each under a key made from the event's cursor: a restart resumes after the
//! last event whose emails were stored, and an event read twice (by two instances, or after a
//! crash between the two) queues nothing twice. News older than [`NEWS_LIFETIME`] is not sent:
//! a service that starts with no cursor reads the whole feed kept, and three months of old news
//! helps no one.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use dqt_proto::dqt::notification::v1::EmailTemplate;
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::record::v1::record_service_client::RecordServiceClient;
use portal_common::upstream::Upstream;
use portal_common::values::long_date;
use portal_common::{Caller, Principal, Signer};
use std::sync::Arc;
use tokio::sync::Notify;

use crate::store::{NewMessage, Store};
use crate::templates::Template;

/// The feed's name in this service's cursors.
const FEED: &str = "record-changes";
/// How old a change may be and still be emailed about.
const NEWS_LIFETIME: chrono::Duration = chrono::Duration::hours(24);
/// How long an email about a change is tried.
const DELIVERY_LIFETIME: chrono::Duration = chrono::Duration::days(3);
/// Pause before following the feed again after it failed, doubling up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// The events that can make news.
const TOLD: [pb::ChangeEventType; 4] = [
    pb::ChangeEventType::ChangeRequestApproved,
    pb::ChangeEventType::ChangeRequestRejected,
    pb::ChangeEventType::ProfessionalStatusAdded,
    pb::ChangeEventType::InductionUpdated,
];

/// One email an event makes.
pub struct News {
    pub template: EmailTemplate,
    /// How it is written.
    written: &'static Template,
    pub parameters: BTreeMap<String, String>,
}

fn news(template: EmailTemplate, parameters: &[(&str, String)]) -> Option<News> {
    Some(News {
        template,
        written: Template::of(template)?,
        parameters: parameters
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
    })
}

/// What a change request changes, as an email says it.
fn change(request: &pb::ChangeRequest) -> String {
    match request.kind() {
        pb::ChangeRequestKind::DateOfBirth => "date of birth",
        _ => "name",
    }
    .to_owned()
}

/// The email an event makes for its teacher, if any.
pub fn news_of(event: &pb::ChangeEvent) -> Option<News> {
    let record = event.record.as_ref()?;
    match event.r#type() {
        pb::ChangeEventType::ChangeRequestApproved => news(
            EmailTemplate::ChangeRequestApproved,
            &[("change", change(event.change_request.as_ref()?))],
        ),
        pb::ChangeEventType::ChangeRequestRejected => {
            let request = event.change_request.as_ref()?;
            news(
                EmailTemplate::ChangeRequestRejected,
                &[
                    ("change", change(request)),
                    ("reason", request.reject_reason.clone()),
                ],
            )
        }
        pb::ChangeEventType::ProfessionalStatusAdded => {
            let status = event.professional_status.as_ref()?;
            let named = match status.r#type() {
                pb::ProfessionalStatusType::Qts => "qualified teacher status (QTS)",
                pb::ProfessionalStatusType::Eyts => "early years teacher status (EYTS)",
                _ => return None,
            };
            (status.status() == pb::RouteStatus::Holds).then_some(())?;
            news(
                EmailTemplate::StatusAwarded,
                &[
                    ("status", named.to_owned()),
                    ("awarded_date", long_date(&status.awarded_date)),
                ],
            )
        }
        pb::ChangeEventType::InductionUpdated => {
            let induction = record.induction.as_ref()?;
            if induction.status == event.previous_induction_status {
                return None;
            }
            let template = match induction.status() {
                pb::InductionStatus::Passed => EmailTemplate::InductionPassed,
                pb::InductionStatus::Failed => EmailTemplate::InductionFailed,
                _ => return None,
            };
            news(
                template,
                &[("completed_date", long_date(&induction.completed_date))],
            )
        }
        _ => None,
    }
}

/// Follows the record service's change feed for as long as the process runs.
pub struct Follower {
    pub store: Store,
    pub record: Upstream,
    pub signer: Signer,
    /// Woken when emails are queued, as the API does.
    pub wake: Arc<Notify>,
}

impl Follower {
    pub async fn run(self) {
        let caller = Caller {
            principal: Principal::Service(crate::NAME.to_owned()),
            request_id: "record-changes".to_owned(),
            on_behalf_of: None,
            session_id: None,
            source: None,
        };
        let mut pause = FIRST_PAUSE;
        loop {
            match self.follow(&caller).await {
                Ok(()) => pause = FIRST_PAUSE,
                Err(error) => {
                    tracing::warn!(%error, "following the record changes failed; again shortly");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
            }
        }
    }

    /// Follows the feed from the saved cursor until the stream ends or fails.
    async fn follow(&self, caller: &Caller) -> anyhow::Result<()> {
        let saved = self.store.feed_cursor(FEED).await?.unwrap_or_default();
        let request = pb::WatchChangesRequest {
            after_cursor: saved,
            event_types: TOLD.iter().map(|t| *t as i32).collect(),
            trns: Vec::new(),
        };
        let mut client = RecordServiceClient::new(self.record.clone());
        let answer = client
            .watch_changes(self.signer.asserted(request.clone(), caller))
            .await;
        let mut stream = match answer {
            Ok(stream) => stream.into_inner(),
            Err(status) if status.code() == tonic::Code::OutOfRange => {
                // Further behind than the feed keeps: what was missed is older than any news
                // worth sending. Start again from what is kept.
                tracing::warn!("the saved cursor is older than the feed keeps; starting again");
                let request = pb::WatchChangesRequest {
                    after_cursor: String::new(),
                    ..request
                };
                client
                    .watch_changes(self.signer.asserted(request, caller))
                    .await?
                    .into_inner()
            }
            Err(status) => return Err(status.into()),
        };
        while let Some(event) = stream.message().await? {
            self.take(&event).await?;
        }
        Ok(())
    }

    /// Stores the email an event makes, if any, with the cursor past it.
    async fn take(&self, event: &pb::ChangeEvent) -> Result<(), crate::Error> {
        let made = event
            .time
            .and_then(|t| SystemTime::try_from(t).ok())
            .map(DateTime::<Utc>::from);
        let fresh = made.is_some_and(|made| Utc::now() - made < NEWS_LIFETIME);
        let recipient = event
            .record
            .as_ref()
            .and_then(|r| r.contact_details.as_ref())
            .map(|c| c.email.trim())
            .filter(|email| email.parse::<lettre::Address>().is_ok());
        let news = fresh.then(|| news_of(event)).flatten();
        let mut messages = Vec::new();
        let key;
        if let (Some(news), Some(recipient)) = (&news, recipient) {
            key = format!("record-change:{}", event.cursor);
            messages.push(NewMessage {
                caller: crate::NAME,
                idempotency_key: &key,
                template: news.written.name,
                recipient,
                parameters: &news.parameters,
                expires_at: Utc::now() + DELIVERY_LIFETIME,
            });
        }
        let queued = self
            .store
            .queue_from_feed(FEED, &event.cursor, &messages)
            .await?;
        if !queued.is_empty() {
            for id in queued {
                portal_common::metrics::metrics().email_queued();
                tracing::info!(message_id = id, "email about a record change queued");
            }
            self.wake.notify_one();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: pb::ChangeEventType) -> pb::ChangeEvent {
        pb::ChangeEvent {
            r#type: kind.into(),
            record: Some(pb::TeacherRecord {
                induction: Some(pb::Induction {
                    status: pb::InductionStatus::Passed.into(),
                    completed_date: "2025-07-18".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn template(event: &pb::ChangeEvent) -> Option<EmailTemplate> {
        news_of(event).map(|n| n.template)
    }

    #[test]
    fn only_decisions_awards_and_induction_outcomes_make_news() {
        let mut rejected = event(pb::ChangeEventType::ChangeRequestRejected);
        rejected.change_request = Some(pb::ChangeRequest {
            kind: pb::ChangeRequestKind::DateOfBirth.into(),
            reject_reason: "The certificate sent does not show the date.".into(),
            ..Default::default()
        });
        let told = news_of(&rejected).unwrap();
        assert_eq!(told.template, EmailTemplate::ChangeRequestRejected);
        assert_eq!(told.parameters["change"], "date of birth");
        assert!(told.parameters["reason"].starts_with("The certificate"));

        let mut awarded = event(pb::ChangeEventType::ProfessionalStatusAdded);
        awarded.professional_status = Some(pb::ProfessionalStatus {
            r#type: pb::ProfessionalStatusType::Eyts.into(),
            status: pb::RouteStatus::Holds.into(),
            awarded_date: "2025-09-01".into(),
            ..Default::default()
        });
        let told = news_of(&awarded).unwrap();
        assert_eq!(told.parameters["awarded_date"], "1 September 2025");
        assert!(told.parameters["status"].contains("EYTS"));
        // Training is no award; EYPS is not told.
        let mut training = awarded.clone();
        training.professional_status.as_mut().unwrap().status = pb::RouteStatus::InTraining.into();
        let mut eyps = awarded.clone();
        eyps.professional_status.as_mut().unwrap().r#type = pb::ProfessionalStatusType::Eyps.into();
        assert_eq!((template(&training), template(&eyps)), (None, None));

        // Induction: told when it becomes passed or failed, not when it stays so.
        let mut passed = event(pb::ChangeEventType::InductionUpdated);
        passed.previous_induction_status = pb::InductionStatus::InProgress.into();
        assert_eq!(template(&passed), Some(EmailTemplate::InductionPassed));
        passed.previous_induction_status = pb::InductionStatus::Passed.into();
        assert_eq!(template(&passed), None);

        for quiet in [
            pb::ChangeEventType::TeacherUpdated,
            pb::ChangeEventType::AlertAdded,
            pb::ChangeEventType::QtlsUpdated,
        ] {
            assert_eq!(template(&event(quiet)), None, "{quiet:?}");
        }
    }
}

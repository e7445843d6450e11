//! The worker that answers lost-TRN searches: it takes up each search kept by `FindTrn` (woken
//! at once on this instance, within a second from another), matches it, and has the answer
//! emailed; it also sends the emails that cases call for (an acknowledgement when one opens,
//! the outcome when DfE staff resolve it). Every email is queued under a key of its case and
//! purpose, so a step repeated after a crash or by a second instance sends nothing twice; a
//! search whose step fails is tried again a few seconds later, and one taken up by an instance
//! that died is taken up by another once its lease runs out.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use dqt_proto::dqt::notification::v1::{EmailTemplate, SendEmailRequest};
use portal_common::component::names;
use portal_common::mask;
use portal_common::notification::Notifier;
use portal_common::server::ShutdownSignal;
use portal_common::values::Trn;
use tokio::sync::Notify;

use crate::domain::TrnCaseStatus;
use crate::error::Error;
use crate::store::{Claimed, Decided, Store, row_trn};

/// How long a search taken up is left to its worker before another may take it.
const LEASE: Duration = Duration::from_secs(30);
/// How soon a search whose step failed is tried again.
const RETRY: Duration = Duration::from_secs(5);
/// How often the worker looks for work nothing woke it for.
const POLL: Duration = Duration::from_secs(1);
/// Searches taken up at a time, and worked on at once: each step mostly waits on the
/// database and the notification service.
const BATCH: u64 = 32;
/// How long one email may take to be queued.
const SEND_DEADLINE: Duration = Duration::from_secs(10);

/// Answers lost-TRN searches until the service stops (a step under way is finished first;
/// one cut short by the process ending is taken up again once its lease runs out).
pub async fn run(store: Store, notifier: Notifier, wake: Arc<Notify>, shutdown: ShutdownSignal) {
    let lease = chrono::Duration::from_std(LEASE).unwrap_or_default();
    let retry = chrono::Duration::from_std(RETRY).unwrap_or_default();
    let stopped = shutdown.wait();
    tokio::pin!(stopped);
    loop {
        let claimed = match store.claim_trn_searches(Utc::now(), lease, BATCH).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "lost-TRN searches could not be taken up");
                Vec::new()
            }
        };
        let busy = claimed.len() as u64 == BATCH;
        let mut steps = tokio::task::JoinSet::new();
        for row in claimed {
            let (store, notifier) = (store.clone(), notifier.clone());
            steps.spawn(async move {
                if let Err(error) = step(&store, &notifier, &row).await {
                    tracing::warn!(%error, "a lost-TRN search will be tried again");
                    if let Err(error) = store.retry_trn_search(row.id, Utc::now() + retry).await {
                        tracing::warn!(%error, "a lost-TRN search's retry could not be set");
                    }
                }
            });
        }
        steps.join_all().await;
        let pause = if busy { Duration::ZERO } else { POLL };
        tokio::select! {
            biased;
            () = &mut stopped => return,
            () = wake.notified(), if !busy => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// The next step of one search.
async fn step(store: &Store, notifier: &Notifier, row: &Claimed) -> Result<(), Error> {
    let mail = Mail { notifier, row };
    match TrnCaseStatus::from_stored(&row.state) {
        None => match store.match_trn_search(row).await? {
            Decided::Found { trn, record_email } => {
                mail.trn(trn, &record_email, "search").await?;
                if store.trn_search_answered(row, trn).await? {
                    tracing::info!("lost-TRN search answered by email");
                }
            }
            Decided::Case(candidates) => {
                if store.open_trn_case(row, &candidates).await? {
                    tracing::info!(candidates = candidates.len(), "lost-TRN case opened");
                    mail.send(EmailTemplate::TrnCaseOpened, &row.email, "opened", [])
                        .await?;
                    store.trn_case_emailed(row.id, TrnCaseStatus::Open).await?;
                }
            }
        },
        Some(TrnCaseStatus::Open) => {
            mail.send(EmailTemplate::TrnCaseOpened, &row.email, "opened", [])
                .await?;
            store.trn_case_emailed(row.id, TrnCaseStatus::Open).await?;
        }
        Some(TrnCaseStatus::Resolved) => {
            match row_trn(row)? {
                Some(trn) => {
                    let record_email = store.email(trn).await?.unwrap_or_default();
                    mail.trn(trn, &record_email, "resolved").await?;
                }
                None => {
                    mail.send(EmailTemplate::TrnNotFound, &row.email, "no-match", [])
                        .await?;
                }
            }
            store
                .trn_case_emailed(row.id, TrnCaseStatus::Resolved)
                .await?;
        }
    }
    Ok(())
}

/// The emails of one search.
struct Mail<'a> {
    notifier: &'a Notifier,
    row: &'a Claimed,
}

impl Mail<'_> {
    /// Queues one email under a key of this case and `purpose`.
    async fn send<const N: usize>(
        &self,
        template: EmailTemplate,
        recipient: &str,
        purpose: &str,
        parameters: [(&str, String); N],
    ) -> Result<(), Error> {
        let email = SendEmailRequest {
            idempotency_key: format!("trn-case:{}:{purpose}", self.row.case_id),
            template: template.into(),
            recipient: recipient.to_owned(),
            parameters: parameters
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
            expire_time: None,
        };
        self.notifier
            .send(email, &self.row.request_id, SEND_DEADLINE)
            .await
            .map_err(|status| Error::Downstream(names::NOTIFICATION, status))
    }

    /// The TRN to the address the person gave, and, when the record holds another address,
    /// word to that one that the TRN went elsewhere.
    async fn trn(&self, trn: Trn, record_email: &str, purpose: &str) -> Result<(), Error> {
        let given = &self.row.email;
        self.send(
            EmailTemplate::TrnFound,
            given,
            &format!("{purpose}:trn"),
            [("trn", trn.to_string())],
        )
        .await?;
        if !record_email.is_empty() && record_email.to_lowercase() != given.to_lowercase() {
            self.send(
                EmailTemplate::TrnSentElsewhere,
                record_email,
                &format!("{purpose}:elsewhere"),
                [("email_hint", mask::email(given))],
            )
            .await?;
        }
        Ok(())
    }
}

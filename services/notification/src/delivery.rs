//! Delivery: a loop that claims the messages due, renders them and hands them to the mail
//! server (or writes them to the outbox folder), retrying with backoff until each is taken,
//! refused for good or no longer worth sending.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use portal_common::metrics::metrics;
use tokio::sync::Notify;

use crate::store::{Claimed, Status, Store};
use crate::templates::Template;

/// How long a claimed message is left to its delivery before another may take it: well over
/// the mail server's own timeout.
const LEASE: Duration = Duration::from_secs(30);
/// How long one conversation with the mail server may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages claimed at a time.
const BATCH: u64 = 16;
/// How often the queue is looked at when nothing wakes the loop: messages queued by another
/// instance, and retries falling due.
const POLL: Duration = Duration::from_secs(1);
/// How long a finished message's row (without its parameters) is kept for the logs' sake.
const KEEP_FINISHED: chrono::Duration = chrono::Duration::days(30);

/// Where messages go.
pub enum Transport {
    /// A mail server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a folder, one per message, for `portal up` without a mail server.
    Outbox(PathBuf),
}

/// Why a delivery did not happen, in words that hold no address or content.
enum Refusal {
    /// Worth trying again: the server was unreachable or answered 4xx.
    Transient(String),
    /// Refused for good (5xx), or a message that cannot be built.
    Permanent(String),
}

impl Transport {
    /// The mail server at `smtp_url`, or the outbox folder under `data_dir`.
    pub fn new(smtp_url: Option<&str>, data_dir: &std::path::Path) -> Result<Self, String> {
        match smtp_url {
            Some(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map(|builder| Self::Smtp(builder.timeout(Some(SMTP_TIMEOUT)).build()))
                .map_err(|_| {
                    "PORTAL_SMTP_URL: expected smtp://host:port or smtps://user:password@host:port"
                        .to_owned()
                }),
            None => {
                let outbox = data_dir.join("outbox");
                std::fs::create_dir_all(&outbox)
                    .map_err(|e| format!("cannot create {}: {e}", outbox.display()))?;
                Ok(Self::Outbox(outbox))
            }
        }
    }

    async fn send(&self, id: i64, message: Message) -> Result<(), Refusal> {
        match self {
            Self::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(|error| {
                let code = error.status().map(|code| code.to_string());
                match code {
                    Some(code) if error.is_permanent() => {
                        Refusal::Permanent(format!("smtp {code}"))
                    }
                    Some(code) => Refusal::Transient(format!("smtp {code}")),
                    None if error.is_timeout() => Refusal::Transient("smtp timeout".into()),
                    None => Refusal::Transient("smtp unreachable".into()),
                }
            }),
            Self::Outbox(folder) => {
                // Written whole, then renamed into place: a reader never sees half a file, and
                // a message delivered again after a crash replaces its own copy.
                let path = folder.join(format!("{id:012}.eml"));
                let partial = folder.join(format!(".{id:012}.eml.partial"));
                let bytes = message.formatted();
                tokio::task::spawn_blocking(move || {
                    use std::io::Write as _;
                    let mut file = std::fs::File::create(&partial)?;
                    file.write_all(&bytes)?;
                    file.sync_all()?;
                    std::fs::rename(&partial, &path)
                })
                .await
                .map_err(|_| Refusal::Transient("outbox write interrupted".into()))?
                .map_err(|e| Refusal::Transient(format!("outbox {}", e.kind())))
            }
        }
    }
}

/// The delivery loop of one process.
pub struct Delivery {
    pub store: Store,
    pub transport: Transport,
    pub from: Mailbox,
    /// The longest wait between two tries.
    pub retry_max: Duration,
    /// Woken when a message is queued here, so that it goes at once.
    pub wake: Arc<Notify>,
}

impl Delivery {
    /// Runs for as long as the process does.
    pub async fn run(self) {
        let mut purged = std::time::Instant::now() - Duration::from_secs(3600);
        loop {
            let claimed = match self.store.claim(Utc::now(), lease(), BATCH).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "email queue unavailable");
                    Vec::new()
                }
            };
            let busy = claimed.len() as u64 == BATCH;
            for message in claimed {
                self.deliver(message).await;
            }
            self.measure().await;
            if purged.elapsed() >= Duration::from_secs(3600) {
                purged = std::time::Instant::now();
                match self.store.purge(Utc::now() - KEEP_FINISHED).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "finished emails forgotten"),
                    Err(error) => tracing::warn!(%error, "finished emails could not be purged"),
                }
            }
            if !busy {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        }
    }

    async fn deliver(&self, message: Claimed) {
        let id = message.id;
        let attempts = message.attempts + 1;
        let Some(template) = Template::named(&message.template) else {
            self.finish(id, Status::Failed, attempts, Some("unknown template"), "?")
                .await;
            return;
        };
        if message.expires_at <= Utc::now() {
            self.finish(id, Status::Expired, message.attempts, None, template.name)
                .await;
            return;
        }
        let outcome = match self.build(&message, template) {
            Ok(email) => self.transport.send(id, email).await,
            Err(refusal) => Err(refusal),
        };
        match outcome {
            Ok(()) => {
                self.finish(id, Status::Sent, attempts, None, template.name)
                    .await
            }
            Err(Refusal::Permanent(why)) => {
                self.finish(id, Status::Failed, attempts, Some(&why), template.name)
                    .await;
            }
            Err(Refusal::Transient(why)) => {
                let wait = backoff(attempts, self.retry_max);
                let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                tracing::warn!(
                    message_id = id,
                    template = template.name,
                    attempts,
                    error = %why,
                    retry_in_ms = wait.as_millis() as u64,
                    "email not delivered; will retry"
                );
                if let Err(error) = self.store.retry(id, attempts, next, &why).await {
                    // The lease runs out by itself and the message is claimed again.
                    tracing::warn!(%error, message_id = id, "email retry not recorded");
                }
            }
        }
    }

    fn build(&self, message: &Claimed, template: &Template) -> Result<Message, Refusal> {
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|_| Refusal::Permanent("bad recipient".into()))?;
        let rendered = template.render(&message.parameters);
        let domain = self.from.email.domain().to_owned();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            // The same id on every try, so that a copy sent twice after a crash is one
            // message to mail systems that look.
            .message_id(Some(format!("<portal-{}@{domain}>", message.id)))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|_| Refusal::Permanent("message could not be built".into()))
    }

    async fn finish(
        &self,
        id: i64,
        status: Status,
        attempts: i32,
        error: Option<&str>,
        template: &str,
    ) {
        match self.store.finish(id, status, attempts, error).await {
            Ok(()) => {
                match status {
                    Status::Sent => metrics().email_sent(),
                    other => metrics().email_failed(other.as_str()),
                }
                tracing::info!(
                    message_id = id,
                    template,
                    attempts,
                    status = status.as_str(),
                    "email finished"
                );
            }
            // Left queued: the lease runs out and it is claimed again (a sent message may then
            // go twice, never not at all).
            Err(error) => tracing::warn!(%error, message_id = id, "email outcome not recorded"),
        }
    }

    async fn measure(&self) {
        if let Ok(oldest) = self.store.oldest_queued().await {
            let age = oldest.map_or(0.0, |queued| {
                (Utc::now() - queued).num_milliseconds().max(0) as f64 / 1000.0
            });
            metrics().email_oldest_undelivered(age);
        }
    }
}

fn lease() -> chrono::Duration {
    chrono::Duration::from_std(LEASE).unwrap_or_default()
}

/// The wait before try `attempts + 1`: doubling from one second up to `max`, give or take a
/// fifth so that many messages refused together do not come back together.
fn backoff(attempts: i32, max: Duration) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let wait = Duration::from_secs(1u64 << exponent).min(max.max(Duration::from_secs(1)));
    wait.mul_f64(rand::random_range(0.8..1.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        let max = Duration::from_secs(300);
        let within = |attempts: i32, secs: f64| {
            let wait = backoff(attempts, max).as_secs_f64();
            assert!(
                (secs * 0.8..=secs * 1.2).contains(&wait),
                "{attempts}: {wait}"
            );
        };
        within(1, 1.0);
        within(2, 2.0);
        within(5, 16.0);
        within(30, 300.0);
        assert!(backoff(3, Duration::from_millis(1)) <= Duration::from_millis(1200));
    }
}

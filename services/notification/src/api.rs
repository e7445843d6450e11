//! `dqt.notification.v1.NotificationService`: queue an email, durably, for the other
//! components.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use dqt_proto::dqt::notification::v1::notification_service_server::NotificationService;
use dqt_proto::dqt::notification::v1::{SendEmailRequest, SendEmailResponse};
use portal_common::metrics::metrics;
use portal_common::{Caller, FieldViolation, Principal, Violations};
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::store::{NewMessage, Store};
use crate::templates::Template;

/// How long a message is tried when its caller gave no expiry.
const DEFAULT_LIFETIME: chrono::Duration = chrono::Duration::days(3);
/// The longest a message may be tried.
const MAX_LIFETIME: chrono::Duration = chrono::Duration::days(7);
/// The longest parameter value a template takes.
const MAX_PARAMETER: usize = 500;

pub struct NotificationApi {
    store: Store,
    wake: Arc<Notify>,
}

impl NotificationApi {
    pub fn new(store: Store, wake: Arc<Notify>) -> Self {
        Self { store, wake }
    }
}

/// An email to queue, checked: every bad field named.
struct Checked {
    key: String,
    template: &'static Template,
    recipient: String,
    parameters: BTreeMap<String, String>,
    expires_at: DateTime<Utc>,
}

fn check(request: &SendEmailRequest, now: DateTime<Utc>) -> Result<Checked, Error> {
    let mut violations = Violations::new();
    let key = request.idempotency_key.trim();
    if key.is_empty() || key.len() > 200 || key.chars().any(char::is_control) {
        violations.add(FieldViolation::new(
            "idempotency_key",
            "is required, at most 200 characters",
        ));
    }
    let template = Template::of(request.template());
    if template.is_none() {
        violations.add(FieldViolation::new(
            "template",
            "is required and must be one of the defined values",
        ));
    }
    let recipient = request.recipient.trim();
    if recipient.len() > 254 || recipient.parse::<lettre::Address>().is_err() {
        violations.add(FieldViolation::new("recipient", "must be an email address"));
    }
    if let Some(template) = template {
        let wanted: Vec<&str> = template.parameters.to_vec();
        let mut given: Vec<&str> = request.parameters.keys().map(String::as_str).collect();
        given.sort_unstable();
        let mut sorted = wanted.clone();
        sorted.sort_unstable();
        if given != sorted {
            violations.add(FieldViolation::new(
                "parameters",
                format!("must be exactly: {}", wanted.join(", ")),
            ));
        }
        if request
            .parameters
            .values()
            .any(|v| v.len() > MAX_PARAMETER || v.chars().any(char::is_control))
        {
            violations.add(FieldViolation::new(
                "parameters",
                format!("each value at most {MAX_PARAMETER} bytes, without control characters"),
            ));
        }
    }
    let expires_at = match request.expire_time {
        None => Some(now + DEFAULT_LIFETIME),
        Some(time) => SystemTime::try_from(time)
            .ok()
            .map(DateTime::<Utc>::from)
            .filter(|at| *at > now && *at <= now + MAX_LIFETIME),
    };
    if expires_at.is_none() {
        violations.add(FieldViolation::new(
            "expire_time",
            "must be in the future, at most 7 days from now",
        ));
    }
    match (template, expires_at) {
        (Some(template), Some(expires_at)) if violations.is_empty() => Ok(Checked {
            key: key.to_owned(),
            template,
            recipient: recipient.to_owned(),
            parameters: request
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            expires_at,
        }),
        _ => Err(Error::InvalidArgument(violations.into_inner())),
    }
}

#[tonic::async_trait]
impl NotificationService for NotificationApi {
    async fn send_email(
        &self,
        request: Request<SendEmailRequest>,
    ) -> Result<Response<SendEmailResponse>, Status> {
        // Only the portal's own components send email.
        let Principal::Service(caller) = &Caller::of(&request)?.principal else {
            return Err(Error::PermissionDenied.into());
        };
        let checked = check(request.get_ref(), Utc::now())?;
        let (id, new) = self
            .store
            .queue(&NewMessage {
                caller,
                idempotency_key: &checked.key,
                template: checked.template.name,
                recipient: &checked.recipient,
                parameters: &checked.parameters,
                expires_at: checked.expires_at,
            })
            .await?;
        if new {
            metrics().email_queued();
            self.wake.notify_one();
            tracing::info!(
                message_id = id,
                template = checked.template.name,
                "email queued"
            );
        }
        Ok(Response::new(SendEmailResponse {
            message_id: id.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dqt_proto::dqt::notification::v1::EmailTemplate;

    fn request() -> SendEmailRequest {
        SendEmailRequest {
            idempotency_key: "verification:1".into(),
            template: EmailTemplate::VerificationCode.into(),
            recipient: "someone@example.org".into(),
            parameters: [("code".to_owned(), "123456".to_owned())].into(),
            expire_time: None,
        }
    }

    fn fields(request: &SendEmailRequest) -> Vec<String> {
        match check(request, Utc::now()) {
            Err(Error::InvalidArgument(v)) => v.into_iter().map(|v| v.field).collect(),
            other => panic!("expected violations, got {:?}", other.map(|c| c.key)),
        }
    }

    #[test]
    fn a_message_needs_a_key_a_template_an_address_and_exactly_its_parameters() {
        let checked = check(&request(), Utc::now()).unwrap();
        assert_eq!(checked.template.name, "verification_code");
        assert!(checked.expires_at > Utc::now() + chrono::Duration::days(2));
        let mut bad = request();
        bad.idempotency_key = String::new();
        bad.recipient = "not an address".into();
        bad.parameters.insert("extra".into(), "x".into());
        assert_eq!(fields(&bad), ["idempotency_key", "recipient", "parameters"]);
        let mut bad = request();
        bad.template = EmailTemplate::Unspecified.into();
        bad.expire_time = Some(SystemTime::UNIX_EPOCH.into());
        assert_eq!(fields(&bad), ["template", "expire_time"]);
        let mut bad = request();
        bad.parameters.insert("code".into(), "1\n2".into());
        assert_eq!(fields(&bad), ["parameters"]);
    }
}

//! Sending an email, as every component does it: a message handed to the notification service,
//! which stores it before answering and delivers it later.

use std::time::Duration;

use dqt_proto::dqt::notification::v1::SendEmailRequest;
use dqt_proto::dqt::notification::v1::notification_service_client::NotificationServiceClient;
use tonic::Status;

use crate::upstream::{self, Upstream};
use crate::{Caller, Principal, Signer};

/// The notification service, called by a component on its own behalf.
#[derive(Clone)]
pub struct Notifier {
    client: NotificationServiceClient<Upstream>,
    signer: Signer,
    /// The calling component's name: idempotency keys are kept per caller.
    service: &'static str,
}

impl Notifier {
    pub fn new(notification: Upstream, signer: Signer, service: &'static str) -> Self {
        Self {
            client: NotificationServiceClient::new(notification),
            signer,
            service,
        }
    }

    /// Queues `email`. Its idempotency key makes a repeat the same message, so the call is
    /// repeated after UNAVAILABLE within `deadline`. Once this returns Ok the email is stored
    /// and will be delivered.
    pub async fn send(
        &self,
        email: SendEmailRequest,
        request_id: &str,
        deadline: Duration,
    ) -> Result<(), Status> {
        let caller = Caller {
            principal: Principal::Service(self.service.to_owned()),
            request_id: request_id.to_owned(),
            on_behalf_of: None,
            session_id: None,
            source: None,
        };
        upstream::read(deadline, |left| {
            let mut client = self.client.clone();
            let request = self.signer.request(email.clone(), &caller, left);
            async move { client.send_email(request).await }
        })
        .await
        .map(drop)
    }
}

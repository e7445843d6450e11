//! The public RPCs the gateway answers itself, because they combine or reshape what the
//! services return; every other RPC is forwarded as frames (`forward`). The route table says
//! which is which.

use dqt_proto::dqt::identity::v1 as identity;
use dqt_proto::dqt::identity::v1::identity_service_client::IdentityServiceClient;
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::administration_server::Administration;
use dqt_proto::dqt::portal::v1::authentication_server::Authentication;
use dqt_proto::dqt::portal::v1::employer_access_server::EmployerAccess;
use dqt_proto::dqt::portal::v1::teacher_portal_server::TeacherPortal;
use dqt_proto::dqt::record::v1::record_service_client::RecordServiceClient;
use portal_common::deadline::remaining_deadline;
use portal_common::upstream::{self, Upstream};
use portal_common::{Caller, Principal, Signer};
use tonic::{Request, Response, Status};

use crate::Upstreams;
use crate::auth::Session;
use crate::error::Error;
use crate::forward;
use crate::routes::{Access, Found};

/// The typed handlers, with the connections they call.
#[derive(Clone)]
pub struct Gateway {
    signer: Signer,
    identity: IdentityServiceClient<Upstream>,
    record: RecordServiceClient<Upstream>,
}

impl Gateway {
    pub fn new(signer: Signer, upstreams: &Upstreams) -> Self {
        Self {
            signer,
            identity: IdentityServiceClient::new(upstreams.identity.clone()),
            record: RecordServiceClient::new(upstreams.record.clone()),
        }
    }

    /// The caller of a public request, as its route says.
    fn caller<T>(request: &Request<T>) -> Result<Caller, Error> {
        let access = request
            .extensions()
            .get::<&'static Found>()
            .map_or(Access::Session, |found| found.route.access);
        let session = request.extensions().get::<Session>();
        let metadata = request.metadata();
        forward::caller(access, session, None, |name| {
            metadata.get(name).map(|v| v.as_encoded_bytes())
        })
    }
}

type Reply<T> = Result<Response<T>, Status>;

/// A read of `$client.$method` for `$caller`, within the time left of the public call's
/// deadline, repeated after UNAVAILABLE; its answer without transport metadata.
macro_rules! read {
    ($self:ident, $request:ident, $caller:expr, $message:expr, $client:ident . $method:ident) => {{
        let (caller, message) = ($caller, $message);
        upstream::read(remaining_deadline($request.metadata()), |left| {
            let mut client = $self.$client.clone();
            let request = $self.signer.request(message.clone(), &caller, left);
            async move { client.$method(request).await }
        })
        .await
        .map(Response::into_inner)
    }};
}

impl Gateway {
    /// Identity ends every session of `trn`, asked by the gateway itself in the public call
    /// `request` that `caller` made; how many ended.
    async fn end_sessions<T>(
        &self,
        request: &Request<T>,
        caller: Caller,
        trn: &str,
    ) -> Result<i32, Status> {
        let gateway = Caller {
            principal: Principal::Service(crate::NAME.to_owned()),
            session_id: None,
            ..caller
        };
        let revoke = pb::RevokeTeacherSessionsRequest {
            trn: trn.to_owned(),
        };
        let revoked = read!(
            self,
            request,
            gateway,
            revoke,
            identity.revoke_teacher_sessions
        )?;
        Ok(revoked.revoked_count)
    }
}

// Every Authentication and Administration RPC is forwarded.
impl Authentication for Gateway {}
#[tonic::async_trait]
impl Administration for Gateway {
    /// The record service closes the record, then identity ends every session of the TRN:
    /// a session never outlives the record. The close is a write, made once; a caller that
    /// hears UNAVAILABLE repeats the call (closing a closed record again changes nothing) and
    /// so finishes what the failed one began.
    async fn set_deceased(
        &self,
        request: Request<pb::SetDeceasedRequest>,
    ) -> Reply<pb::TeacherRecord> {
        let caller = Self::caller(&request)?;
        let left = remaining_deadline(request.metadata());
        let message = request.get_ref().clone();
        let record = self
            .record
            .clone()
            .set_deceased(self.signer.request(message, &caller, left))
            .await?
            .into_inner();
        self.end_sessions(&request, caller, &record.trn).await?;
        Ok(Response::new(record))
    }

    /// The record service removes the link (audited, as the calling client), then identity
    /// ends every session of the TRN: a session opened through a link that was wrong ends
    /// with it. A caller that hears UNAVAILABLE after the link went repeats the call and hears
    /// NOT_FOUND; RevokeTeacherSessions ends what is left.
    async fn unlink_one_login(
        &self,
        request: Request<pb::UnlinkOneLoginRequest>,
    ) -> Reply<pb::UnlinkOneLoginResponse> {
        let caller = Self::caller(&request)?;
        let left = remaining_deadline(request.metadata());
        let message = request.get_ref().clone();
        self.record
            .clone()
            .unlink_one_login(self.signer.request(message.clone(), &caller, left))
            .await?;
        let revoked_count = self.end_sessions(&request, caller, &message.trn).await?;
        Ok(Response::new(pb::UnlinkOneLoginResponse { revoked_count }))
    }
}

#[tonic::async_trait]
impl TeacherPortal for Gateway {
    /// The record service knows the ids of the clients that checked the record; teachers are
    /// shown what those clients are called, which identity knows.
    async fn list_my_record_checks(
        &self,
        request: Request<pb::ListMyRecordChecksRequest>,
    ) -> Reply<pb::ListMyRecordChecksResponse> {
        let caller = Self::caller(&request)?;
        let mut checks = read!(
            self,
            request,
            caller.clone(),
            pb::ListMyRecordChecksRequest {},
            record.list_my_record_checks
        )?;
        let mut ids: Vec<String> = checks
            .checks
            .iter()
            .map(|c| c.organisation.clone())
            .collect();
        ids.sort();
        ids.dedup();
        if !ids.is_empty() {
            let gateway = Caller {
                principal: Principal::Service(crate::NAME.to_owned()),
                session_id: None,
                ..caller
            };
            let message = identity::DescribeClientsRequest { client_ids: ids };
            let names =
                read!(self, request, gateway, message, identity.describe_clients)?.display_names;
            for check in &mut checks.checks {
                if let Some(name) = names.get(&check.organisation) {
                    check.organisation = name.clone();
                }
            }
        }
        Ok(Response::new(checks))
    }
}

// Every EmployerAccess RPC is forwarded, its cost counted from its frame.
impl EmployerAccess for Gateway {}

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
use portal_common::principal::remaining_deadline;
use portal_common::upstream::{self, Upstream};
use portal_common::{Caller, FieldViolation, Principal, Signer};
use tonic::{Request, Response, Status};

use crate::Upstreams;
use crate::auth::Session;
use crate::forward::{self, GATEWAY};
use crate::limits::CheckLimits;
use crate::routes::{Access, Found};

/// The most queries one CheckTeachers call may hold.
const MAX_BULK: usize = 500;

/// The typed handlers, with the connections they call.
#[derive(Clone)]
pub struct Gateway {
    signer: Signer,
    check_limits: CheckLimits,
    identity: IdentityServiceClient<Upstream>,
    record: RecordServiceClient<Upstream>,
}

impl Gateway {
    pub fn new(signer: Signer, check_limits: CheckLimits, upstreams: &Upstreams) -> Self {
        Self {
            signer,
            check_limits,
            identity: IdentityServiceClient::new(upstreams.identity.clone()),
            record: RecordServiceClient::new(upstreams.record.clone()),
        }
    }

    /// The caller of a public request, as its route says.
    fn caller<T>(request: &Request<T>) -> Caller {
        let access = request
            .extensions()
            .get::<&'static Found>()
            .map_or(Access::Session, |found| found.route.access);
        let session = request.extensions().get::<Session>();
        let metadata = request.metadata();
        forward::caller(access, session, None, |name| {
            metadata.get(name).and_then(|v| v.to_str().ok())
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

// Every Authentication and Administration RPC is forwarded.
impl Authentication for Gateway {}
impl Administration for Gateway {}

#[tonic::async_trait]
impl TeacherPortal for Gateway {
    /// The record service knows the ids of the clients that checked the record; teachers are
    /// shown what those clients are called, which identity knows.
    async fn list_my_record_checks(
        &self,
        request: Request<pb::ListMyRecordChecksRequest>,
    ) -> Reply<pb::ListMyRecordChecksResponse> {
        let caller = Self::caller(&request);
        let mut checks = read!(
            self,
            request,
            caller,
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
                principal: Principal::Service(GATEWAY.to_owned()),
                session_id: None,
                ..Self::caller(&request)
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

#[tonic::async_trait]
impl EmployerAccess for Gateway {
    /// Counts one check per query against the client's limits: the count is known only once
    /// the message is read, and a call with too many queries is refused before it counts.
    async fn check_teachers(
        &self,
        request: Request<pb::CheckTeachersRequest>,
    ) -> Reply<pb::CheckTeachersResponse> {
        let caller = Self::caller(&request);
        let queries = request.get_ref().queries.len();
        if queries == 0 || queries > MAX_BULK {
            return Err(FieldViolation::new(
                "queries",
                format!("must hold 1 to {MAX_BULK} queries"),
            )
            .into());
        }
        let client = forward::client_id(&caller)?;
        let cost = u32::try_from(queries).unwrap_or(u32::MAX);
        self.check_limits.take(&client, cost).await?;
        let deadline = remaining_deadline(request.metadata());
        let forwarded = self.signer.request(request.into_inner(), &caller, deadline);
        let answer = self.record.clone().check_teachers(forwarded).await;
        if answer
            .as_ref()
            .is_err_and(|status| status.code() == tonic::Code::InvalidArgument)
        {
            self.check_limits.give_back(&client, cost).await?;
        }
        Ok(Response::new(answer?.into_inner()))
    }
}

//! The public `dqt.portal.v1` services. Each handler forwards to the service that owns the
//! data, on behalf of the verified caller and within what remains of the caller's deadline.

use std::time::Duration;

use dqt_proto::dqt::document::v1 as document;
use dqt_proto::dqt::document::v1::document_service_client::DocumentServiceClient;
use dqt_proto::dqt::employment::v1 as employment;
use dqt_proto::dqt::employment::v1::employment_service_client::EmploymentServiceClient;
use dqt_proto::dqt::identity::v1 as identity;
use dqt_proto::dqt::identity::v1::identity_service_client::IdentityServiceClient;
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::administration_server::Administration;
use dqt_proto::dqt::portal::v1::authentication_server::Authentication;
use dqt_proto::dqt::portal::v1::employer_access_server::EmployerAccess;
use dqt_proto::dqt::portal::v1::teacher_portal_server::TeacherPortal;
use dqt_proto::dqt::record::v1::record_service_client::RecordServiceClient;
use portal_common::principal::{ON_BEHALF_OF_HEADER, REQUEST_ID_HEADER, remaining_deadline};
use portal_common::upstream::{self, Upstream};
use portal_common::{Caller, Principal, Signer};
use tonic::{Request, Response, Status};

use crate::Upstreams;
use crate::auth::Session;
use crate::limits::CheckLimits;
use crate::source::TrustedProxies;

/// How the gateway names itself when it calls on behalf of someone not signed in.
const GATEWAY: &str = "gateway";

/// Connections to the services, shared by every public API.
#[derive(Clone)]
pub struct Gateway {
    signer: Signer,
    trusted_proxies: TrustedProxies,
    check_limits: CheckLimits,
    identity: IdentityServiceClient<Upstream>,
    record: RecordServiceClient<Upstream>,
    document: DocumentServiceClient<Upstream>,
    employment: EmploymentServiceClient<Upstream>,
}

impl Gateway {
    pub fn new(
        signer: Signer,
        trusted_proxies: TrustedProxies,
        check_limits: CheckLimits,
        upstreams: Upstreams,
    ) -> Self {
        Self {
            signer,
            trusted_proxies,
            check_limits,
            identity: IdentityServiceClient::new(upstreams.identity),
            record: RecordServiceClient::new(upstreams.record),
            document: DocumentServiceClient::new(upstreams.document),
            employment: EmploymentServiceClient::new(upstreams.employment),
        }
    }

    /// The caller of a public request and the time left for the calls it makes.
    fn caller<T>(request: &Request<T>) -> (Caller, Duration) {
        let metadata = request.metadata();
        let header = |name: &str| {
            metadata
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty() && v.len() <= 128)
                .map(str::to_owned)
        };
        let session = request.extensions().get::<Session>();
        let caller = Caller {
            principal: session.map_or_else(
                || Principal::Service(GATEWAY.to_owned()),
                |s| s.principal.clone(),
            ),
            request_id: header(REQUEST_ID_HEADER).unwrap_or_default(),
            on_behalf_of: header(ON_BEHALF_OF_HEADER),
            session_id: session.map(|s| s.id.clone()),
        };
        (caller, remaining_deadline(metadata))
    }

    /// The gateway itself as the caller, with the public caller's request id and deadline.
    fn gateway_caller<T>(request: &Request<T>) -> (Caller, Duration) {
        let (caller, deadline) = Self::caller(request);
        let caller = Caller {
            principal: Principal::Service(GATEWAY.to_owned()),
            session_id: None,
            ..caller
        };
        (caller, deadline)
    }

    fn forward<T, U>(&self, request: &Request<T>, message: U) -> Request<U> {
        let (caller, deadline) = Self::caller(request);
        self.signer.request(message, &caller, deadline)
    }

    /// A call the gateway makes as itself (to identity: sign-in, captchas, sign-out, client
    /// names), whoever is signed in, with the caller's request id and deadline.
    fn as_gateway<T, U>(&self, request: &Request<T>, message: U) -> Request<U> {
        let (caller, deadline) = Self::gateway_caller(request);
        self.signer.request(message, &caller, deadline)
    }

    /// The public request's message, passed on unchanged for the caller.
    fn pass_on<T: Clone>(&self, request: &Request<T>) -> Request<T> {
        self.forward(request, request.get_ref().clone())
    }
}

type Reply<T> = Result<Response<T>, Status>;

/// A read passed on to `$client.$method` for `$caller` (a caller and deadline), repeated after
/// UNAVAILABLE while the deadline allows; its answer without transport metadata. Writes are
/// never repeated: one might have been applied before its answer was lost.
macro_rules! read {
    // The public request's message, passed on unchanged for its caller.
    ($self:ident, $request:ident => $client:ident . $method:ident) => {{
        let message = $request.get_ref().clone();
        read!($self, Self::caller(&$request), message, $client.$method).map(Response::new)
    }};
    ($self:ident, $caller:expr, $message:expr, $client:ident . $method:ident) => {{
        let (caller, deadline) = $caller;
        let message = $message;
        upstream::read(deadline, |left| {
            let mut client = $self.$client.clone();
            let request = $self.signer.request(message.clone(), &caller, left);
            async move { client.$method(request).await }
        })
        .await
        .map(Response::into_inner)
    }};
}

/// The answer of a downstream call, without its transport metadata.
async fn relay<T>(call: impl Future<Output = Reply<T>>) -> Reply<T> {
    Ok(Response::new(call.await?.into_inner()))
}

/// The TRN of the signed-in teacher: teacher RPCs act on nothing else.
fn own_trn<T>(request: &Request<T>) -> Result<String, Status> {
    session(request)?
        .principal
        .teacher_trn()
        .map(|trn| trn.to_string())
        .ok_or_else(|| Status::permission_denied("teachers only"))
}

/// The session the auth layer verified; its absence is a wiring fault, so refuse the call.
fn session<T>(request: &Request<T>) -> Result<&Session, Status> {
    request
        .extensions()
        .get::<Session>()
        .ok_or_else(|| Status::unauthenticated("sign in first"))
}

#[tonic::async_trait]
impl Authentication for Gateway {
    async fn create_captcha(
        &self,
        request: Request<pb::CreateCaptchaRequest>,
    ) -> Reply<pb::Captcha> {
        let forwarded = self.as_gateway(&request, pb::CreateCaptchaRequest {});
        relay(self.identity.clone().create_captcha(forwarded)).await
    }

    async fn sign_in_teacher(
        &self,
        request: Request<pb::SignInTeacherRequest>,
    ) -> Result<Response<pb::SignInResponse>, Status> {
        let source = self
            .trusted_proxies
            .source(request.remote_addr(), request.metadata());
        let message = identity::SignInTeacherRequest {
            details: Some(request.get_ref().clone()),
            source,
        };
        let forwarded = self.as_gateway(&request, message);
        let response = self.identity.clone().sign_in_teacher(forwarded).await?;
        Ok(Response::new(response.into_inner()))
    }

    async fn sign_in_client(
        &self,
        request: Request<pb::SignInClientRequest>,
    ) -> Reply<pb::SignInResponse> {
        let forwarded = self.as_gateway(&request, request.get_ref().clone());
        relay(self.identity.clone().sign_in_client(forwarded)).await
    }

    async fn sign_out(&self, request: Request<pb::SignOutRequest>) -> Reply<pb::SignOutResponse> {
        // The principal assertion names the session just verified: identity ends that one.
        session(&request)?;
        relay(self.identity.clone().sign_out(self.pass_on(&request))).await
    }

    async fn start_verification(
        &self,
        request: Request<pb::StartVerificationRequest>,
    ) -> Reply<pb::Verification> {
        relay(
            self.identity
                .clone()
                .start_verification(self.pass_on(&request)),
        )
        .await
    }

    async fn complete_verification(
        &self,
        request: Request<pb::CompleteVerificationRequest>,
    ) -> Reply<pb::SignInResponse> {
        relay(
            self.identity
                .clone()
                .complete_verification(self.pass_on(&request)),
        )
        .await
    }
}

#[tonic::async_trait]
impl TeacherPortal for Gateway {
    async fn get_my_record(
        &self,
        request: Request<pb::GetMyRecordRequest>,
    ) -> Result<Response<pb::TeacherRecord>, Status> {
        let record = read!(
            self,
            Self::caller(&request),
            pb::GetMyRecordRequest {},
            record.get_my_record
        )?;
        Ok(Response::new(record))
    }

    async fn list_my_documents(
        &self,
        request: Request<pb::ListMyDocumentsRequest>,
    ) -> Reply<pb::ListMyDocumentsResponse> {
        let message = document::ListDocumentsRequest {
            trn: own_trn(&request)?,
        };
        let listed = read!(
            self,
            Self::caller(&request),
            message,
            document.list_documents
        )?;
        Ok(Response::new(pb::ListMyDocumentsResponse {
            documents: listed.documents,
        }))
    }

    async fn update_my_contact_details(
        &self,
        request: Request<pb::UpdateMyContactDetailsRequest>,
    ) -> Reply<pb::ContactDetails> {
        relay(
            self.record
                .clone()
                .update_my_contact_details(self.pass_on(&request)),
        )
        .await
    }

    async fn confirm_my_email(
        &self,
        request: Request<pb::ConfirmMyEmailRequest>,
    ) -> Reply<pb::ContactDetails> {
        relay(self.record.clone().confirm_my_email(self.pass_on(&request))).await
    }

    async fn request_name_change(
        &self,
        request: Request<pb::RequestNameChangeRequest>,
    ) -> Reply<pb::ChangeRequest> {
        relay(
            self.record
                .clone()
                .request_name_change(self.pass_on(&request)),
        )
        .await
    }

    async fn request_date_of_birth_change(
        &self,
        request: Request<pb::RequestDateOfBirthChangeRequest>,
    ) -> Reply<pb::ChangeRequest> {
        relay(
            self.record
                .clone()
                .request_date_of_birth_change(self.pass_on(&request)),
        )
        .await
    }

    async fn list_my_change_requests(
        &self,
        request: Request<pb::ListMyChangeRequestsRequest>,
    ) -> Reply<pb::ListMyChangeRequestsResponse> {
        read!(self, request => record.list_my_change_requests)
    }

    async fn list_my_employments(
        &self,
        request: Request<pb::ListMyEmploymentsRequest>,
    ) -> Reply<pb::ListMyEmploymentsResponse> {
        let message = employment::ListEmploymentsRequest {
            trn: own_trn(&request)?,
        };
        let listed = read!(
            self,
            Self::caller(&request),
            message,
            employment.list_employments
        )?;
        Ok(Response::new(pb::ListMyEmploymentsResponse {
            employments: listed.employments,
        }))
    }

    async fn create_my_employment(
        &self,
        request: Request<pb::CreateMyEmploymentRequest>,
    ) -> Reply<pb::Employment> {
        let message = employment::CreateEmploymentRequest {
            trn: own_trn(&request)?,
            employment: request.get_ref().employment.clone(),
        };
        relay(
            self.employment
                .clone()
                .create_employment(self.forward(&request, message)),
        )
        .await
    }

    async fn update_my_employment(
        &self,
        request: Request<pb::UpdateMyEmploymentRequest>,
    ) -> Reply<pb::Employment> {
        let message = employment::UpdateEmploymentRequest {
            trn: own_trn(&request)?,
            employment: request.get_ref().employment.clone(),
            update_mask: request.get_ref().update_mask.clone(),
        };
        relay(
            self.employment
                .clone()
                .update_employment(self.forward(&request, message)),
        )
        .await
    }

    async fn delete_my_employment(
        &self,
        request: Request<pb::DeleteMyEmploymentRequest>,
    ) -> Reply<pb::DeleteMyEmploymentResponse> {
        let message = employment::DeleteEmploymentRequest {
            trn: own_trn(&request)?,
            id: request.get_ref().id.clone(),
        };
        self.employment
            .clone()
            .delete_employment(self.forward(&request, message))
            .await?;
        Ok(Response::new(pb::DeleteMyEmploymentResponse {}))
    }

    async fn list_my_record_checks(
        &self,
        request: Request<pb::ListMyRecordChecksRequest>,
    ) -> Reply<pb::ListMyRecordChecksResponse> {
        let message = *request.get_ref();
        let mut checks = read!(
            self,
            Self::caller(&request),
            message,
            record.list_my_record_checks
        )?;
        // The record service knows client ids; teachers are shown who those clients are.
        let mut ids: Vec<String> = checks
            .checks
            .iter()
            .map(|c| c.organisation.clone())
            .collect();
        ids.sort();
        ids.dedup();
        if !ids.is_empty() {
            let message = identity::DescribeClientsRequest { client_ids: ids };
            let names = read!(
                self,
                Self::gateway_caller(&request),
                message,
                identity.describe_clients
            )?
            .display_names;
            for check in &mut checks.checks {
                if let Some(name) = names.get(&check.organisation) {
                    check.organisation = name.clone();
                }
            }
        }
        Ok(Response::new(checks))
    }

    async fn download_document(
        &self,
        request: Request<pb::DownloadDocumentRequest>,
    ) -> Reply<pb::Document> {
        let message = document::IssueDocumentRequest {
            trn: own_trn(&request)?,
            kind: request.get_ref().kind,
            qualification_id: request.get_ref().qualification_id.clone(),
        };
        relay(
            self.document
                .clone()
                .issue_document(self.forward(&request, message)),
        )
        .await
    }
}

/// The client id of an employer session (the policy table let only clients through).
fn client_id<T>(request: &Request<T>) -> Result<String, Status> {
    match &session(request)?.principal {
        Principal::Client { client_id, .. } => Ok(client_id.clone()),
        _ => Err(Status::permission_denied("clients only")),
    }
}

#[tonic::async_trait]
impl EmployerAccess for Gateway {
    async fn check_teacher(
        &self,
        request: Request<pb::CheckTeacherRequest>,
    ) -> Reply<pb::TeacherCheck> {
        self.check_limits.take(&client_id(&request)?, 1).await?;
        relay(self.record.clone().check_teacher(self.pass_on(&request))).await
    }

    async fn find_teachers(
        &self,
        request: Request<pb::FindTeachersRequest>,
    ) -> Reply<pb::FindTeachersResponse> {
        self.check_limits.take(&client_id(&request)?, 1).await?;
        relay(self.record.clone().find_teachers(self.pass_on(&request))).await
    }

    async fn check_teachers(
        &self,
        request: Request<pb::CheckTeachersRequest>,
    ) -> Reply<pb::CheckTeachersResponse> {
        let queries = u32::try_from(request.get_ref().queries.len()).unwrap_or(u32::MAX);
        self.check_limits
            .take(&client_id(&request)?, queries.max(1))
            .await?;
        relay(self.record.clone().check_teachers(self.pass_on(&request))).await
    }

    async fn verify_document(
        &self,
        request: Request<pb::VerifyDocumentRequest>,
    ) -> Reply<pb::DocumentVerification> {
        read!(self, request => document.verify_document)
    }
}

#[tonic::async_trait]
impl Administration for Gateway {
    async fn create_teacher(
        &self,
        request: Request<pb::CreateTeacherRequest>,
    ) -> Reply<pb::TeacherRecord> {
        relay(self.record.clone().create_teacher(self.pass_on(&request))).await
    }

    async fn get_teacher(
        &self,
        request: Request<pb::GetTeacherRequest>,
    ) -> Reply<pb::TeacherRecord> {
        read!(self, request => record.get_teacher)
    }

    async fn update_teacher(
        &self,
        request: Request<pb::UpdateTeacherRequest>,
    ) -> Reply<pb::TeacherRecord> {
        relay(self.record.clone().update_teacher(self.pass_on(&request))).await
    }

    async fn add_professional_status(
        &self,
        request: Request<pb::AddProfessionalStatusRequest>,
    ) -> Reply<pb::TeacherRecord> {
        relay(
            self.record
                .clone()
                .add_professional_status(self.pass_on(&request)),
        )
        .await
    }

    async fn set_induction(
        &self,
        request: Request<pb::SetInductionRequest>,
    ) -> Reply<pb::TeacherRecord> {
        relay(self.record.clone().set_induction(self.pass_on(&request))).await
    }

    async fn add_qualification(
        &self,
        request: Request<pb::AddQualificationRequest>,
    ) -> Reply<pb::TeacherRecord> {
        relay(
            self.record
                .clone()
                .add_qualification(self.pass_on(&request)),
        )
        .await
    }

    async fn add_alert(&self, request: Request<pb::AddAlertRequest>) -> Reply<pb::TeacherRecord> {
        relay(self.record.clone().add_alert(self.pass_on(&request))).await
    }

    async fn close_alert(
        &self,
        request: Request<pb::CloseAlertRequest>,
    ) -> Reply<pb::TeacherRecord> {
        relay(self.record.clone().close_alert(self.pass_on(&request))).await
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Reply<pb::ListAuditEventsResponse> {
        read!(self, request => record.list_audit_events)
    }

    async fn list_change_requests(
        &self,
        request: Request<pb::ListChangeRequestsRequest>,
    ) -> Reply<pb::ListChangeRequestsResponse> {
        read!(self, request => record.list_change_requests)
    }

    async fn review_change_request(
        &self,
        request: Request<pb::ReviewChangeRequestRequest>,
    ) -> Reply<pb::ChangeRequest> {
        relay(
            self.record
                .clone()
                .review_change_request(self.pass_on(&request)),
        )
        .await
    }

    async fn get_change_request_evidence(
        &self,
        request: Request<pb::GetChangeRequestEvidenceRequest>,
    ) -> Reply<pb::ChangeRequestEvidence> {
        relay(
            self.record
                .clone()
                .get_change_request_evidence(self.pass_on(&request)),
        )
        .await
    }

    async fn list_employments(
        &self,
        request: Request<pb::ListEmploymentsRequest>,
    ) -> Reply<pb::ListEmploymentsResponse> {
        let message = employment::ListEmploymentsRequest {
            trn: request.get_ref().trn.clone(),
        };
        let listed = read!(
            self,
            Self::caller(&request),
            message,
            employment.list_employments
        )?;
        Ok(Response::new(pb::ListEmploymentsResponse {
            employments: listed.employments,
        }))
    }

    async fn revoke_teacher_sessions(
        &self,
        request: Request<pb::RevokeTeacherSessionsRequest>,
    ) -> Reply<pb::RevokeTeacherSessionsResponse> {
        relay(
            self.identity
                .clone()
                .revoke_teacher_sessions(self.pass_on(&request)),
        )
        .await
    }

    async fn create_client(
        &self,
        request: Request<pb::CreateClientRequest>,
    ) -> Reply<pb::CreatedClient> {
        relay(self.identity.clone().create_client(self.pass_on(&request))).await
    }
}

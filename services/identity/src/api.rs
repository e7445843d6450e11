//! `dqt.identity.v1.IdentityService`: sign-in of teachers and clients, sign-out, client accounts.

use dqt_proto::dqt::identity::v1::identity_service_server::IdentityService;
use dqt_proto::dqt::identity::v1::{DescribeClientsRequest, DescribeClientsResponse};
use dqt_proto::dqt::notification::v1::{EmailTemplate, SendEmailRequest};
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::record::v1::record_service_client::RecordServiceClient;
use dqt_proto::dqt::record::v1::{
    FindTrnRequest, GetTeacherEmailRequest, KeepOneLoginLinkRequest, MatchTeacherRequest,
    ResolveOneLoginRequest,
};
use portal_common::component::names;
use portal_common::deadline::remaining_deadline;
use portal_common::notification::Notifier;
use portal_common::sessions::{NewSession, Sessions, session_id};
use portal_common::trn_search::TrnSearch;
use portal_common::upstream::{self, Upstream};
use portal_common::values::Trn;
use portal_common::{
    Assurance, Caller, FieldViolation, Principal, Role, Signer, Violations, codes, mask,
};
use tonic::{Request, Response, Status};

use crate::captcha::Captchas;
use crate::domain::{ClientUpdate, NewClientInput, SignInClientInput};
use crate::error::Error;
use crate::one_login::{OneLogin, parse_opaque};
use crate::searches::{Admission, Searches};
use crate::secrets;
use crate::store::{Client, ClientChange, NewClient, Store};
use crate::throttle::{Gate, HashingGate, SignInLimits, Subject, Throttle};
use crate::verification::{Checked, Verifications};

pub struct IdentityApi {
    store: Store,
    sessions: Sessions,
    throttle: Throttle,
    hashing: HashingGate,
    captchas: Captchas,
    searches: Searches,
    verifications: Verifications,
    record: RecordServiceClient<Upstream>,
    notifier: Notifier,
    signer: Signer,
    /// Sign-in through GOV.UK One Login, when configured.
    one_login: Option<OneLogin>,
    /// Verified against when a client id is unknown, so that the answer takes as long.
    decoy_hash: String,
}

/// What identity calls on the record and notification services.
pub struct Upstreams {
    pub record: Upstream,
    pub notification: Upstream,
}

impl IdentityApi {
    pub async fn new(
        store: Store,
        sessions: Sessions,
        limits: SignInLimits,
        upstreams: Upstreams,
        signer: Signer,
        one_login: Option<OneLogin>,
    ) -> Result<Self, Error> {
        let decoy_hash = secrets::hash(secrets::generate()).await?;
        // Half the cores for Argon2 at most: the rest keep serving every other call.
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Ok(Self {
            store,
            hashing: HashingGate::new(cores / 2, limits.client_sign_ins_per_source),
            searches: Searches::new(sessions.store().clone(), signer.clone(), &limits),
            throttle: Throttle::new(sessions.store().clone(), limits),
            captchas: Captchas::new(sessions.store().clone()),
            verifications: Verifications::new(sessions.store().clone(), signer.clone()),
            sessions,
            record: RecordServiceClient::new(upstreams.record),
            notifier: Notifier::new(upstreams.notification, signer.clone(), crate::NAME),
            signer,
            one_login,
            decoy_hash,
        })
    }

    /// Identity itself as the caller, serving the public request `caller` made.
    fn on_own_behalf(caller: &Caller) -> Caller {
        Caller {
            principal: Principal::Service(crate::NAME.to_owned()),
            request_id: caller.request_id.clone(),
            on_behalf_of: None,
            session_id: None,
            source: None,
        }
    }

    /// Proves a TRN with the details sign-in takes. Locks first (even correct details are
    /// refused while locked), then the captcha when the counts ask for one, then the match.
    /// Every mismatch gets one answer, and the same work is done whether or not the TRN
    /// exists.
    async fn prove(
        &self,
        caller: &Caller,
        details: pb::SignInTeacherRequest,
        deadline: std::time::Duration,
    ) -> Result<Trn, Error> {
        // The source the gateway saw, as its assertion names it; unknown counts per TRN only.
        let source = caller.source.clone().unwrap_or_default();
        let trn = Trn::parse("trn", &details.trn)?;
        let subject = Subject::Teacher(trn);
        let attempt = self.throttle.admit(subject, &source).await?;
        match attempt.gate {
            Gate::Locked(retry_after) => return Err(Error::Locked(retry_after)),
            Gate::Open { captcha: true } => {
                if !self
                    .captchas
                    .solve(&details.captcha_id, &details.captcha_answer)
                    .await?
                {
                    self.throttle.withdraw(&attempt).await?;
                    return Err(Error::CaptchaRequired);
                }
            }
            Gate::Open { captcha: false } => {}
        }
        let match_request = MatchTeacherRequest {
            trn: trn.to_string(),
            surname: details.surname,
            forename: details.forename,
            date_of_birth: details.date_of_birth,
            national_insurance_number: details.national_insurance_number,
        };
        let on_own_behalf = Self::on_own_behalf(caller);
        // A match is a read: safe to repeat while the record service restarts.
        let outcome = upstream::read(deadline, |left| {
            let mut record = self.record.clone();
            let request = self
                .signer
                .request(match_request.clone(), &on_own_behalf, left);
            async move { record.match_teacher(request).await }
        })
        .await;
        let outcome = match outcome {
            Ok(outcome) => outcome.into_inner(),
            Err(status) => {
                // Malformed details count as a failure: they cost a guess like any other.
                if status.code() == tonic::Code::InvalidArgument {
                    self.throttle.failed(&attempt, subject).await?;
                } else {
                    self.throttle.withdraw(&attempt).await?;
                }
                return Err(Error::Downstream(names::RECORD, status));
            }
        };
        let matched = outcome
            .matched
            .then(|| Trn::parse("trn", &outcome.trn).ok())
            .flatten();
        let Some(matched) = matched else {
            self.throttle.failed(&attempt, subject).await?;
            tracing::info!("teacher sign-in refused");
            return Err(Error::SignInFailed);
        };
        self.throttle.succeeded(&attempt).await?;
        Ok(matched)
    }

    /// One Login, or the answer that this deployment does not offer it.
    fn one_login(&self) -> Result<&OneLogin, Error> {
        self.one_login.as_ref().ok_or(Error::OneLoginNotConfigured)
    }

    /// A new session at the verified level for the teacher of `trn`.
    async fn verified_session(&self, trn: Trn) -> Result<Response<pb::SignInResponse>, Status> {
        let principal = Principal::Teacher {
            trn,
            assurance: Assurance::Verified,
        };
        let session = self.sessions.create(&principal).await?;
        tracing::info!("teacher signed in through One Login");
        Ok(Response::new(Self::response(session, &principal)))
    }

    fn response(session: NewSession, principal: &Principal) -> pb::SignInResponse {
        pb::SignInResponse {
            token: session.token,
            expire_time: Some(session.expire_time.into()),
            principal: principal.to_proto(),
        }
    }
}

fn require_role(caller: &Caller, role: Role) -> Result<(), Error> {
    if caller.principal.has_role(role) {
        Ok(())
    } else {
        Err(Error::PermissionDenied)
    }
}

/// A client as the API shows it (never its secret).
fn client_view(client: Client) -> pb::Client {
    pb::Client {
        client_id: client.client_id,
        display_name: client.display_name,
        roles: client.roles.iter().map(|r| r.as_str().to_owned()).collect(),
    }
}

fn require_gateway(caller: &Caller) -> Result<(), Error> {
    match &caller.principal {
        Principal::Service(name) if name == names::GATEWAY => Ok(()),
        _ => Err(Error::PermissionDenied),
    }
}

/// The calling teacher and the session the call was made in.
fn teacher_session(caller: &Caller) -> Result<(Trn, &str), Error> {
    match (caller.principal.teacher_trn(), caller.session_id.as_deref()) {
        (Some(trn), Some(session_id)) => Ok((trn, session_id)),
        _ => Err(Error::PermissionDenied),
    }
}

/// Creates or updates the client `admin` with every internal role (PORTAL_ADMIN_CLIENT_SECRET).
pub async fn bootstrap_admin(store: &Store, secret: &str) -> Result<(), Error> {
    if secret.len() < 16 {
        return Err(FieldViolation::new(
            "PORTAL_ADMIN_CLIENT_SECRET",
            "must be at least 16 characters",
        )
        .into());
    }
    let roles = Role::INTERNAL;
    store
        .upsert_client(&NewClient {
            client_id: "admin",
            display_name: "Administrator",
            secret_hash: secrets::hash(secret.to_owned()).await?,
            roles: &roles,
        })
        .await?;
    Ok(())
}

#[tonic::async_trait]
impl IdentityService for IdentityApi {
    async fn create_captcha(
        &self,
        request: Request<pb::CreateCaptchaRequest>,
    ) -> Result<Response<pb::Captcha>, Status> {
        require_gateway(Caller::of(&request)?)?;
        Ok(Response::new(self.captchas.create().await?))
    }

    async fn sign_in_teacher(
        &self,
        request: Request<pb::SignInTeacherRequest>,
    ) -> Result<Response<pb::SignInResponse>, Status> {
        let caller = Caller::of(&request)?;
        require_gateway(caller)?;
        let deadline = remaining_deadline(request.metadata());
        let matched = self
            .prove(caller, request.get_ref().clone(), deadline)
            .await?;
        let principal = Principal::Teacher {
            trn: matched,
            assurance: Assurance::Knowledge,
        };
        let session = self.sessions.create(&principal).await?;
        tracing::info!("teacher signed in");
        Ok(Response::new(Self::response(session, &principal)))
    }

    /// Locks first, then a place in the bounded Argon2 queue, then the secret; the same work
    /// whether or not the client exists. The session is listed under its client before the
    /// client is read again: a change made meanwhile either ended it or is seen here.
    async fn sign_in_client(
        &self,
        request: Request<pb::SignInClientRequest>,
    ) -> Result<Response<pb::SignInResponse>, Status> {
        let caller = Caller::of(&request)?;
        require_gateway(caller)?;
        let source = caller.source.clone().unwrap_or_default();
        let input = request.get_ref();
        let client_id = SignInClientInput::parse(input)?;
        let subject = Subject::Client(&client_id);
        let attempt = self.throttle.admit(subject, &source).await?;
        if let Gate::Locked(retry_after) = attempt.gate {
            return Err(Error::Locked(retry_after).into());
        }
        let Some(permit) = self.hashing.enter(&source).await else {
            self.throttle.withdraw(&attempt).await?;
            return Err(Error::SignInsBusy.into());
        };
        let client = self.store.client(&client_id).await?;
        let stored_hash = client
            .as_ref()
            .map_or_else(|| self.decoy_hash.clone(), |c| c.secret_hash.clone());
        let verified = secrets::verify(input.client_secret.clone(), stored_hash).await?;
        drop(permit);
        let Some(mut client) = client.filter(|_| verified) else {
            self.throttle.failed(&attempt, subject).await?;
            tracing::info!("client sign-in refused");
            return Err(Error::SignInFailed.into());
        };
        self.throttle.succeeded(&attempt).await?;
        // A client changed between its read and its session's listing is read until it holds
        // still (in practice once more); a new secret or a deletion refuses the sign-in.
        for _ in 0..3 {
            let principal = Principal::Client {
                client_id: client.client_id.clone(),
                roles: client.roles.clone(),
            };
            let session = self.sessions.create(&principal).await?;
            match self.store.client(&client_id).await? {
                Some(now) if now == client => {
                    tracing::info!(%client_id, "client signed in");
                    return Ok(Response::new(Self::response(session, &principal)));
                }
                now => {
                    self.sessions.end(&session_id(&session.token)).await?;
                    match now {
                        Some(now) if now.secret_hash == client.secret_hash => client = now,
                        _ => return Err(Error::SignInFailed.into()),
                    }
                }
            }
        }
        Err(Error::SignInFailed.into())
    }

    /// The limits first (nothing counted yet), then the captcha when one is needed, then the
    /// count, then the record service keeps the search. Nothing here depends on what the
    /// search will find: the record service matches it later, and the answer goes by email.
    async fn find_my_trn(
        &self,
        request: Request<pb::FindMyTrnRequest>,
    ) -> Result<Response<pb::FindMyTrnResponse>, Status> {
        let caller = Caller::of(&request)?;
        require_gateway(caller)?;
        let deadline = remaining_deadline(request.metadata());
        let source = caller.source.clone().unwrap_or_default();
        let input = request.get_ref();
        let search = TrnSearch::parse(input, chrono::Utc::now().date_naive())
            .map_err(Error::InvalidArgument)?;
        let email_key = search.email_key();
        match self.searches.admit(&source, &email_key).await? {
            Admission::Refused(retry_after) => {
                return Err(Error::TooManySearches(retry_after).into());
            }
            Admission::Open { captcha: true } => {
                if !self
                    .captchas
                    .solve(&input.captcha_id, &input.captcha_answer)
                    .await?
                {
                    return Err(Error::CaptchaRequired.into());
                }
            }
            Admission::Open { captcha: false } => {}
        }
        let counted = self
            .searches
            .count(&source, &email_key)
            .await?
            .map_err(Error::TooManySearches)?;
        let keep = FindTrnRequest {
            case_id: format!("{:032x}", rand::random::<u128>()),
            search: Some(pb::FindMyTrnRequest {
                captcha_id: String::new(),
                captcha_answer: String::new(),
                ..input.clone()
            }),
        };
        let on_own_behalf = Self::on_own_behalf(caller);
        // The case id makes a repeat keep nothing more: safe to repeat while the record
        // service restarts.
        let kept = upstream::read(deadline, |left| {
            let mut record = self.record.clone();
            let request = self.signer.request(keep.clone(), &on_own_behalf, left);
            async move { record.find_trn(request).await }
        })
        .await;
        if let Err(status) = kept {
            self.searches.give_back(counted).await?;
            return Err(Error::Downstream(names::RECORD, status).into());
        }
        tracing::info!("lost-TRN search received");
        Ok(Response::new(pb::FindMyTrnResponse {}))
    }

    async fn start_one_login_sign_in(
        &self,
        request: Request<pb::StartOneLoginSignInRequest>,
    ) -> Result<Response<pb::OneLoginAuthorization>, Status> {
        require_gateway(Caller::of(&request)?)?;
        let one_login = self.one_login()?;
        Ok(Response::new(
            one_login.start(&request.get_ref().redirect_uri).await?,
        ))
    }

    /// One Login signs the person in; the record service says which TRN the account stands
    /// for (linking it when its verified identity names one record). None: a link token.
    async fn complete_one_login_sign_in(
        &self,
        request: Request<pb::CompleteOneLoginSignInRequest>,
    ) -> Result<Response<pb::SignInResponse>, Status> {
        let caller = Caller::of(&request)?;
        require_gateway(caller)?;
        let deadline = remaining_deadline(request.metadata());
        let one_login = self.one_login()?;
        let input = request.get_ref();
        let mut violations = Violations::new();
        let code = violations.check(parse_opaque("code", &input.code));
        let state = violations.check(parse_opaque("state", &input.state));
        let (Some(code), Some(state)) = (code, state) else {
            return Err(Error::InvalidArgument(violations.into_inner()).into());
        };
        let signed_in = one_login.complete(&code, &state).await?;
        let resolve = ResolveOneLoginRequest {
            subject: signed_in.subject.clone(),
            identity: signed_in.identity,
        };
        let on_own_behalf = Self::on_own_behalf(caller);
        // A second call finds the link the first made: safe to repeat.
        let resolved = upstream::read(deadline, |left| {
            let mut record = self.record.clone();
            let request = self.signer.request(resolve.clone(), &on_own_behalf, left);
            async move { record.resolve_one_login(request).await }
        })
        .await
        .map_err(|status| match status.code() {
            // The linked record is no longer in use: it cannot be signed in to.
            tonic::Code::FailedPrecondition => Error::SignInFailed,
            _ => Error::Downstream(names::RECORD, status),
        })?
        .into_inner();
        let Ok(trn) = Trn::parse("trn", &resolved.trn) else {
            let link_token = one_login.link_token(&signed_in.subject).await?;
            tracing::info!("One Login account to be linked");
            return Err(Error::LinkRequired(link_token).into());
        };
        if resolved.linked {
            tracing::info!("One Login account linked by verified identity");
        }
        self.verified_session(trn).await
    }

    /// The link token first (nothing is counted without one), then the details as
    /// SignInTeacher proves them, then the link.
    async fn link_one_login(
        &self,
        request: Request<pb::LinkOneLoginRequest>,
    ) -> Result<Response<pb::SignInResponse>, Status> {
        let caller = Caller::of(&request)?;
        require_gateway(caller)?;
        let deadline = remaining_deadline(request.metadata());
        let one_login = self.one_login()?;
        let input = request.get_ref().clone();
        let link_token = parse_opaque("link_token", &input.link_token)?;
        let subject = one_login.linking(&link_token).await?;
        let details = pb::SignInTeacherRequest {
            trn: input.trn,
            surname: input.surname,
            forename: input.forename,
            date_of_birth: input.date_of_birth,
            national_insurance_number: input.national_insurance_number,
            captcha_id: input.captcha_id,
            captcha_answer: input.captcha_answer,
        };
        let trn = self.prove(caller, details, deadline).await?;
        let keep = KeepOneLoginLinkRequest {
            subject,
            trn: trn.to_string(),
        };
        let on_own_behalf = Self::on_own_behalf(caller);
        // Linking the same pair again changes nothing: safe to repeat.
        upstream::read(deadline, |left| {
            let mut record = self.record.clone();
            let request = self.signer.request(keep.clone(), &on_own_behalf, left);
            async move { record.keep_one_login_link(request).await }
        })
        .await
        .map_err(|status| match status.code() {
            tonic::Code::AlreadyExists => Error::AlreadyLinked,
            _ => Error::Downstream(names::RECORD, status),
        })?;
        one_login.linked(&link_token).await?;
        tracing::info!("One Login account linked by sign-in details");
        self.verified_session(trn).await
    }

    async fn sign_out(
        &self,
        request: Request<pb::SignOutRequest>,
    ) -> Result<Response<pb::SignOutResponse>, Status> {
        // The gateway names the session it has just verified.
        let session_id = Caller::of(&request)?
            .session_id
            .as_deref()
            .ok_or(Error::PermissionDenied)?;
        self.sessions.end(session_id).await?;
        Ok(Response::new(pb::SignOutResponse {}))
    }

    /// Reads the email on the record, counts the start against the hourly allowance, has the
    /// code sent, and only then keeps the verification: nothing is kept for a code that never
    /// left.
    async fn start_verification(
        &self,
        request: Request<pb::StartVerificationRequest>,
    ) -> Result<Response<pb::Verification>, Status> {
        let caller = Caller::of(&request)?;
        let (trn, session_id) = teacher_session(caller)?;
        let deadline = remaining_deadline(request.metadata());
        let on_own_behalf = Self::on_own_behalf(caller);
        let email = upstream::read(deadline, |left| {
            let mut record = self.record.clone();
            let request = self.signer.request(
                GetTeacherEmailRequest {
                    trn: trn.to_string(),
                },
                &on_own_behalf,
                left,
            );
            async move { record.get_teacher_email(request).await }
        })
        .await
        .map_err(|status| Error::Downstream(names::RECORD, status))?
        .into_inner()
        .email;
        if email.is_empty() {
            return Err(Error::NoEmailOnRecord.into());
        }
        if let Err(retry_after) = self.verifications.admit(trn).await? {
            return Err(Error::TooManyVerifications(retry_after).into());
        }
        let id = format!("{:032x}", rand::random::<u128>());
        let code = codes::generate();
        let email_request = SendEmailRequest {
            idempotency_key: format!("verification:{id}"),
            template: EmailTemplate::VerificationCode.into(),
            recipient: email.clone(),
            parameters: [("code".to_owned(), code.clone())].into(),
            expire_time: Some((std::time::SystemTime::now() + codes::LIFETIME).into()),
        };
        if let Err(status) = self
            .notifier
            .send(email_request, &caller.request_id, deadline)
            .await
        {
            self.verifications.withdraw(trn).await?;
            return Err(Error::Downstream(names::NOTIFICATION, status).into());
        }
        let started = self
            .verifications
            .create(&id, trn, session_id, &code)
            .await?;
        tracing::info!("verification code sent");
        Ok(Response::new(pb::Verification {
            verification_id: started.id,
            email_hint: mask::email(&email),
            expire_time: Some(started.expire_time.into()),
        }))
    }

    /// The right code ends the calling session and starts a verified one in its place.
    async fn complete_verification(
        &self,
        request: Request<pb::CompleteVerificationRequest>,
    ) -> Result<Response<pb::SignInResponse>, Status> {
        let caller = Caller::of(&request)?;
        let (trn, session_id) = teacher_session(caller)?;
        let input = request.get_ref();
        let id = crate::domain::parse_verification_id(&input.verification_id)?
            .ok_or(Error::VerificationExpired)?;
        let code = codes::parse("code", &input.code)?;
        match self.verifications.check(&id, session_id, &code).await? {
            Checked::Right(verified) if verified == trn => {}
            Checked::Right(_) | Checked::Expired => return Err(Error::VerificationExpired.into()),
            Checked::Wrong => {
                tracing::info!("verification code wrong");
                return Err(Error::WrongCode.into());
            }
        }
        let principal = Principal::Teacher {
            trn,
            assurance: Assurance::Verified,
        };
        let session = self
            .sessions
            .replace(session_id, &principal)
            .await?
            .ok_or(Error::SessionEnded)?;
        tracing::info!("teacher verified");
        Ok(Response::new(Self::response(session, &principal)))
    }

    async fn revoke_teacher_sessions(
        &self,
        request: Request<pb::RevokeTeacherSessionsRequest>,
    ) -> Result<Response<pb::RevokeTeacherSessionsResponse>, Status> {
        let caller = Caller::of(&request)?;
        // A client managing sessions, or the gateway closing the record of a teacher who died.
        if require_gateway(caller).is_err() {
            require_role(caller, Role::ClientsManage)?;
        }
        let trn = Trn::parse("trn", &request.get_ref().trn)?;
        let revoked = self.sessions.revoke_teacher(trn).await?;
        tracing::info!(%trn, revoked, actor = caller.actor(), "teacher sessions revoked");
        Ok(Response::new(pb::RevokeTeacherSessionsResponse {
            revoked_count: i32::try_from(revoked).unwrap_or(i32::MAX),
        }))
    }

    async fn describe_clients(
        &self,
        request: Request<DescribeClientsRequest>,
    ) -> Result<Response<DescribeClientsResponse>, Status> {
        require_gateway(Caller::of(&request)?)?;
        let ids = &request.get_ref().client_ids;
        if ids.len() > 1000 {
            return Err(Error::from(FieldViolation::new("client_ids", "at most 1000")).into());
        }
        let display_names = self.store.display_names(ids).await?;
        Ok(Response::new(DescribeClientsResponse { display_names }))
    }

    async fn create_client(
        &self,
        request: Request<pb::CreateClientRequest>,
    ) -> Result<Response<pb::CreatedClient>, Status> {
        let caller = Caller::of(&request)?;
        require_role(caller, Role::ClientsManage)?;
        let NewClientInput {
            client_id,
            display_name,
            roles,
        } = NewClientInput::parse(request.get_ref()).map_err(Error::InvalidArgument)?;
        let secret = secrets::generate();
        let inserted = self
            .store
            .insert_client(&NewClient {
                client_id: &client_id,
                display_name: &display_name,
                secret_hash: secrets::hash(secret.clone()).await?,
                roles: &roles,
            })
            .await?;
        if !inserted {
            return Err(Error::ClientExists.into());
        }
        tracing::info!(%client_id, actor = caller.actor(), "client created");
        Ok(Response::new(pb::CreatedClient {
            client_id,
            client_secret: secret,
        }))
    }

    async fn update_client(
        &self,
        request: Request<pb::UpdateClientRequest>,
    ) -> Result<Response<pb::Client>, Status> {
        let caller = Caller::of(&request)?;
        require_role(caller, Role::ClientsManage)?;
        let update = ClientUpdate::parse(request.get_ref()).map_err(Error::InvalidArgument)?;
        let client_id = update.client_id;
        let change = ClientChange {
            display_name: update.display_name.as_deref(),
            roles: update.roles.as_deref(),
            secret_hash: None,
        };
        let client = self.change_client(&client_id, change).await?;
        tracing::info!(%client_id, actor = caller.actor(), "client updated; its sessions ended");
        Ok(Response::new(client_view(client)))
    }

    async fn delete_client(
        &self,
        request: Request<pb::DeleteClientRequest>,
    ) -> Result<Response<pb::DeleteClientResponse>, Status> {
        let caller = Caller::of(&request)?;
        require_role(caller, Role::ClientsManage)?;
        let client_id = crate::domain::parse_client_id("client_id", &request.get_ref().client_id)?;
        // Sessions end before the row goes and again after it: one listed meanwhile by a
        // sign-in either ends here or sees the client gone.
        let mut revoked = self.sessions.revoke_client(&client_id).await?;
        if !self.store.delete_client(&client_id).await? {
            return Err(Error::ClientNotFound.into());
        }
        revoked += self.sessions.revoke_client(&client_id).await?;
        tracing::info!(%client_id, revoked, actor = caller.actor(), "client deleted");
        Ok(Response::new(pb::DeleteClientResponse {
            revoked_count: i32::try_from(revoked).unwrap_or(i32::MAX),
        }))
    }

    async fn rotate_client_secret(
        &self,
        request: Request<pb::RotateClientSecretRequest>,
    ) -> Result<Response<pb::CreatedClient>, Status> {
        let caller = Caller::of(&request)?;
        require_role(caller, Role::ClientsManage)?;
        let client_id = crate::domain::parse_client_id("client_id", &request.get_ref().client_id)?;
        let secret = secrets::generate();
        let change = ClientChange {
            secret_hash: Some(secrets::hash(secret.clone()).await?),
            ..ClientChange::default()
        };
        self.change_client(&client_id, change).await?;
        tracing::info!(%client_id, actor = caller.actor(), "client secret rotated; its sessions ended");
        Ok(Response::new(pb::CreatedClient {
            client_id,
            client_secret: secret,
        }))
    }
}

impl IdentityApi {
    /// Changes a client and ends every session it has. Sessions end before the change (so that
    /// a store that is down refuses the change whole) and again after it (one listed meanwhile
    /// by a sign-in that read the client before the change).
    async fn change_client(
        &self,
        client_id: &str,
        change: ClientChange<'_>,
    ) -> Result<Client, Error> {
        self.sessions.revoke_client(client_id).await?;
        let client = self
            .store
            .update_client(client_id, change)
            .await?
            .ok_or(Error::ClientNotFound)?;
        self.sessions.revoke_client(client_id).await?;
        Ok(client)
    }
}

//! `dqt.record.v1.RecordService`: each handler parses its input, checks the caller, calls the
//! store and maps the result.

use chrono::{NaiveDate, Utc};
use dqt_proto::dqt::notification::v1::{EmailTemplate, SendEmailRequest};
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::record::v1::record_service_server::RecordService;
use dqt_proto::dqt::record::v1::{
    FindTrnRequest, GetTeacherEmailRequest, GetTeacherEmailResponse, KeepOneLoginLinkRequest,
    KeepOneLoginLinkResponse, MatchTeacherRequest, MatchTeacherResponse, ResolveOneLoginRequest,
    ResolveOneLoginResponse,
};
use portal_common::component::names;
use portal_common::deadline::remaining_deadline;
use portal_common::notification::Notifier;
use portal_common::server::ShutdownSignal;
use portal_common::trn_search::TrnSearch;
use portal_common::values::{MAX_BULK_CHECKS, NamePart, Trn, parse_date};
use portal_common::{
    Assurance, Caller, FieldViolation, Principal, Role, Signer, VerificationMode, Violations,
    codes, update,
};
use tonic::{Request, Response, Status};

use crate::domain::{
    AlertCorrection, AlertRemoval, AuditAction, CONTACT_FIELDS, CaseResolution, ChangeStatus,
    ContactDetails, Decision, Induction, Mq, NewAlert, NewChangeRequest, NewRecord, Npq,
    ProfessionalStatus, Qtls, Resolution, SignInDetails, TeacherUpdate, TrnCaseStatus, TrnQuery,
    TrnRequestInput, TrnRequestStatus, VerifiedIdentity, parse_alert_id, parse_case_id,
    parse_close_date, parse_date_of_death, parse_request_id, parse_subject,
};
use crate::error::Error;
use crate::paging;
use crate::store::{AuditEntry, FeedFilter, LinkProof, NewEmail, Store, TEACHER, parse_cursor};
use crate::views::{self, Audience};

/// What the digest of an email change's code is for.
const EMAIL_CODE: &str = "email-change-code";
/// Email changes a teacher may ask for in an hour: each sends an email to an address of the
/// caller's choosing.
const EMAIL_CHANGES_PER_HOUR: usize = 3;

pub struct RecordApi {
    store: Store,
    /// Keys the fingerprints of checks that matched nobody, and the digests of codes.
    signer: Signer,
    /// How long evidence is kept after a decision.
    evidence_retention: chrono::Duration,
    /// Whether a teacher below the verified level sees a masked record.
    verification: VerificationMode,
    notifier: Notifier,
    /// Ends the change feed's streams when the service stops.
    shutdown: ShutdownSignal,
    /// Wakes the worker that answers lost-TRN searches.
    searches: std::sync::Arc<tokio::sync::Notify>,
}

impl RecordApi {
    pub fn new(
        store: Store,
        signer: Signer,
        evidence_retention: chrono::Duration,
        verification: VerificationMode,
        notifier: Notifier,
        shutdown: ShutdownSignal,
        searches: std::sync::Arc<tokio::sync::Notify>,
    ) -> Self {
        Self {
            store,
            signer,
            evidence_retention,
            verification,
            notifier,
            shutdown,
            searches,
        }
    }

    /// Whether the calling teacher sees their record whole: verified, or verification off.
    fn sees_everything(&self, caller: &Caller) -> bool {
        caller
            .principal
            .assurance()
            .is_some_and(|level| level.meets(Assurance::Verified, self.verification))
    }

    fn email_code_digest(&self, trn: Trn, email: &str, code: &str) -> String {
        self.signer
            .fingerprint(EMAIL_CODE, format!("{trn}:{email}:{code}").as_bytes())
    }

    /// Sends the code for a new email address, unless the teacher has asked for too many in
    /// the last hour; what to keep waiting for it.
    async fn send_email_change_code<'a>(
        &self,
        caller: &Caller,
        trn: Trn,
        email: &'a str,
        deadline: std::time::Duration,
    ) -> Result<NewEmail<'a>, Error> {
        let hour = chrono::Duration::hours(1);
        let now = Utc::now();
        let asked = self.store.email_changes_since(trn, now - hour).await?;
        if asked.len() >= EMAIL_CHANGES_PER_HOUR {
            let frees = asked[asked.len() - EMAIL_CHANGES_PER_HOUR] + hour;
            let retry_after = (frees - now).to_std().unwrap_or_default();
            return Err(Error::TooManyEmailChanges(
                retry_after.max(std::time::Duration::from_secs(1)),
            ));
        }
        let code = codes::generate();
        let expires_at = now + chrono::Duration::from_std(codes::LIFETIME).unwrap_or_default();
        let email_request = SendEmailRequest {
            idempotency_key: format!("email-change:{trn}:{:032x}", rand::random::<u128>()),
            template: EmailTemplate::EmailChangeCode.into(),
            recipient: email.to_owned(),
            parameters: [("code".to_owned(), code.clone())].into(),
            expire_time: Some(std::time::SystemTime::from(expires_at).into()),
        };
        self.notifier
            .send(email_request, &caller.request_id, deadline)
            .await
            .map_err(|status| Error::Downstream(names::NOTIFICATION, status))?;
        Ok(NewEmail {
            email,
            code_digest: self.email_code_digest(trn, email, &code),
            expires_at,
        })
    }

    /// One employer check by TRN and date of birth, audited as `action`: the record matched,
    /// or the one NOT_FOUND of every miss.
    async fn check_one(
        &self,
        caller: &Caller,
        trn: &str,
        date_of_birth: &str,
        action: AuditAction,
    ) -> Result<crate::domain::Teacher, Error> {
        let query = TrnQuery::parse(Trn::parse("trn", trn), "date_of_birth", date_of_birth)
            .map_err(Error::InvalidArgument)?;
        let audit = AuditEntry { caller, action };
        self.store
            .check_teachers(&[query], action, |q| self.fingerprint(q), audit)
            .await?
            .pop()
            .flatten()
            .ok_or(Error::NotFound(NO_MATCH))
    }

    /// The fingerprint of a check by TRN and date of birth, kept when it matched nobody.
    fn fingerprint(&self, query: &TrnQuery) -> String {
        self.signer.fingerprint(
            "check",
            format!("{}|{}", query.trn, query.date_of_birth).as_bytes(),
        )
    }
}

/// The one answer to a check that matches nobody, whatever did not match.
const NO_MATCH: &str = "teacher matching these details";

/// The calling teacher and their TRN.
fn teacher<T>(request: &Request<T>) -> Result<(&Caller, Trn), Status> {
    let caller = Caller::of(request)?;
    let trn = caller
        .principal
        .teacher_trn()
        .ok_or(Error::PermissionDenied)?;
    Ok((caller, trn))
}

/// A change request id: a positive number; anything else names no request.
fn change_request_id(input: &str) -> Result<i64, Error> {
    input
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(Error::NotFound("change request"))
}

type Reply<T> = Result<Response<T>, Status>;

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// The calling client, when it holds `role`.
fn client_with<T>(request: &Request<T>, role: Role) -> Result<&Caller, Status> {
    let caller = Caller::of(request)?;
    if caller.principal.has_role(role) {
        Ok(caller)
    } else {
        Err(Error::PermissionDenied.into())
    }
}

fn trn(input: &str) -> Result<Trn, Error> {
    Trn::parse("trn", input).map_err(Error::from)
}

/// A required sub-message, or a violation naming it.
fn part<'a, T>(field: &str, value: &'a Option<T>) -> Result<&'a T, Error> {
    value
        .as_ref()
        .ok_or_else(|| FieldViolation::new(field, "is required").into())
}

fn record(teacher: &crate::domain::Teacher) -> Response<pb::TeacherRecord> {
    Response::new(views::teacher_record(teacher, Audience::Internal))
}

#[tonic::async_trait]
impl RecordService for RecordApi {
    async fn create_teacher(
        &self,
        request: Request<pb::CreateTeacherRequest>,
    ) -> Reply<pb::TeacherRecord> {
        let caller = client_with(&request, Role::RecordsWrite)?;
        let new = NewRecord::parse(request.get_ref(), today()).map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::TeacherCreate,
        };
        let teacher = self.store.create_teacher(&new, audit).await?;
        tracing::info!(trn = %teacher.person.trn, "teacher record created");
        Ok(record(&teacher))
    }

    async fn get_teacher(
        &self,
        request: Request<pb::GetTeacherRequest>,
    ) -> Reply<pb::TeacherRecord> {
        let caller = client_with(&request, Role::RecordsRead)?;
        let trn = trn(&request.get_ref().trn)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::TeacherRead,
        };
        let teacher = self
            .store
            .teacher_audited(trn, audit)
            .await?
            .ok_or(Error::NotFound(TEACHER))?;
        Ok(record(&teacher))
    }

    async fn update_teacher(
        &self,
        request: Request<pb::UpdateTeacherRequest>,
    ) -> Reply<pb::TeacherRecord> {
        let caller = client_with(&request, Role::RecordsWrite)?;
        let input = request.get_ref();
        let trn = trn(&input.trn)?;
        let update = TeacherUpdate::parse(input, today()).map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::TeacherUpdate,
        };
        Ok(record(
            &self.store.update_teacher(trn, &update, audit).await?,
        ))
    }

    async fn add_professional_status(
        &self,
        request: Request<pb::AddProfessionalStatusRequest>,
    ) -> Reply<pb::TeacherRecord> {
        let caller = client_with(&request, Role::RecordsWrite)?;
        let input = request.get_ref();
        let trn = trn(&input.trn)?;
        let field = "professional_status";
        let status =
            ProfessionalStatus::parse(field, part(field, &input.professional_status)?, today())
                .map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::TeacherAddProfessionalStatus,
        };
        Ok(record(
            &self
                .store
                .add_professional_status(trn, &status, audit)
                .await?,
        ))
    }

    async fn set_induction(
        &self,
        request: Request<pb::SetInductionRequest>,
    ) -> Reply<pb::TeacherRecord> {
        let caller = client_with(&request, Role::RecordsWrite)?;
        let input = request.get_ref();
        let trn = trn(&input.trn)?;
        let induction =
            Induction::parse("induction", part("induction", &input.induction)?, today())
                .map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::TeacherSetInduction,
        };
        Ok(record(
            &self.store.set_induction(trn, &induction, audit).await?,
        ))
    }

    async fn add_qualification(
        &self,
        request: Request<pb::AddQualificationRequest>,
    ) -> Reply<pb::TeacherRecord> {
        use pb::add_qualification_request::Qualification;
        let caller = client_with(&request, Role::RecordsWrite)?;
        let input = request.get_ref();
        let trn = trn(&input.trn)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::TeacherAddQualification,
        };
        let teacher = match part("qualification", &input.qualification)? {
            Qualification::Npq(npq) => {
                let npq = Npq::parse("npq", npq, today()).map_err(Error::InvalidArgument)?;
                self.store.add_npq(trn, &npq, audit).await?
            }
            Qualification::Mandatory(mq) => {
                let mq = Mq::parse("mandatory", mq, today()).map_err(Error::InvalidArgument)?;
                self.store.add_mq(trn, &mq, audit).await?
            }
        };
        Ok(record(&teacher))
    }

    async fn add_alert(&self, request: Request<pb::AddAlertRequest>) -> Reply<pb::TeacherRecord> {
        let caller = client_with(&request, Role::AlertsWrite)?;
        let input = request.get_ref();
        let trn = trn(&input.trn)?;
        let alert = NewAlert::parse(
            "alert",
            part("alert", &input.alert)?,
            self.store.catalogue(),
            today(),
        )
        .map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::TeacherAddAlert,
        };
        Ok(record(&self.store.add_alert(trn, &alert, audit).await?))
    }

    async fn close_alert(
        &self,
        request: Request<pb::CloseAlertRequest>,
    ) -> Reply<pb::TeacherRecord> {
        let caller = client_with(&request, Role::AlertsWrite)?;
        let input = request.get_ref();
        let mut violations = Violations::new();
        let trn = violations.check(Trn::parse("trn", &input.trn));
        let alert_id = violations.check(parse_alert_id("alert_id", &input.alert_id));
        let end = violations.check(parse_close_date("end_date", &input.end_date, today()));
        let (Some(trn), Some(alert_id), Some(end)) = (trn, alert_id, end) else {
            return Err(Error::InvalidArgument(violations.into_inner()).into());
        };
        let audit = AuditEntry {
            caller,
            action: AuditAction::TeacherCloseAlert,
        };
        Ok(record(
            &self.store.close_alert(trn, alert_id, end, audit).await?,
        ))
    }

    async fn set_qtls_status(
        &self,
        request: Request<pb::SetQtlsStatusRequest>,
    ) -> Reply<pb::TeacherRecord> {
        let caller = client_with(&request, Role::RecordsWrite)?;
        let input = request.get_ref();
        let trn = trn(&input.trn)?;
        let qtls = Qtls::parse(input, today()).map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::TeacherSetQtls,
        };
        Ok(record(&self.store.set_qtls(trn, qtls, audit).await?))
    }

    async fn update_alert(
        &self,
        request: Request<pb::UpdateAlertRequest>,
    ) -> Reply<pb::TeacherRecord> {
        let caller = client_with(&request, Role::AlertsWrite)?;
        let input = request.get_ref();
        let trn = trn(&input.trn)?;
        let correction = AlertCorrection::parse(input, today()).map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::TeacherUpdateAlert,
        };
        Ok(record(
            &self.store.update_alert(trn, &correction, audit).await?,
        ))
    }

    async fn delete_alert(
        &self,
        request: Request<pb::DeleteAlertRequest>,
    ) -> Reply<pb::TeacherRecord> {
        let caller = client_with(&request, Role::AlertsWrite)?;
        let input = request.get_ref();
        let trn = trn(&input.trn)?;
        let removal = AlertRemoval::parse(input).map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::TeacherDeleteAlert,
        };
        Ok(record(
            &self.store.delete_alert(trn, &removal, audit).await?,
        ))
    }

    async fn set_deceased(
        &self,
        request: Request<pb::SetDeceasedRequest>,
    ) -> Reply<pb::TeacherRecord> {
        let caller = client_with(&request, Role::RecordsWrite)?;
        let input = request.get_ref();
        let mut violations = Violations::new();
        let trn = violations.check(Trn::parse("trn", &input.trn));
        let died = violations.check(parse_date_of_death(
            "date_of_death",
            &input.date_of_death,
            today(),
        ));
        let (Some(trn), Some(died)) = (trn, died) else {
            return Err(Error::InvalidArgument(violations.into_inner()).into());
        };
        let audit = AuditEntry {
            caller,
            action: AuditAction::TeacherSetDeceased,
        };
        Ok(record(&self.store.set_deceased(trn, died, audit).await?))
    }

    /// The feed for an internal client with `changes:read`, or for the notification service
    /// (its emails to teachers follow it); no other component reads it.
    async fn watch_changes(
        &self,
        request: Request<pb::WatchChangesRequest>,
    ) -> Reply<tonic::codegen::BoxStream<pb::ChangeEvent>> {
        let caller = Caller::of(&request)?;
        let notification =
            matches!(&caller.principal, Principal::Service(name) if name == names::NOTIFICATION);
        if !(caller.principal.has_role(Role::ChangesRead) || notification) {
            return Err(Error::PermissionDenied.into());
        }
        let (after, filter) = crate::feed::parse(request.get_ref())?;
        let start = self.store.feed_start(after).await?;
        Ok(Response::new(Box::pin(crate::feed::follow(
            self.store.clone(),
            start,
            filter,
            self.shutdown.clone(),
            |event| std::future::ready(event.change_event().map(Some)),
        ))))
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Reply<pb::ListAuditEventsResponse> {
        let caller = client_with(&request, Role::AuditRead)?;
        let input = request.get_ref();
        let mut violations = Violations::new();
        let trn = if input.trn.trim().is_empty() {
            Some(None)
        } else {
            violations.check(Trn::parse("trn", &input.trn)).map(Some)
        };
        let filter = trn.flatten().map(|t| t.to_string()).unwrap_or_default();
        let size = violations.check(paging::page_size("page_size", input.page_size));
        let before = violations.check(paging::decode("page_token", &input.page_token, &filter));
        let (Some(trn), Some(size), Some(before)) = (trn, size, before) else {
            return Err(Error::InvalidArgument(violations.into_inner()).into());
        };
        let audit = AuditEntry {
            caller,
            action: AuditAction::AuditList,
        };
        let page = self.store.audit_events(trn, before, size, audit).await?;
        Ok(Response::new(pb::ListAuditEventsResponse {
            events: page.events.into_iter().map(views::audit_event).collect(),
            next_page_token: page
                .next_before
                .map(|id| paging::encode(id, &filter))
                .unwrap_or_default(),
        }))
    }

    /// Every named field but the email changes at once; a new email waits for the code sent
    /// to it (ConfirmMyEmail). The code goes out before anything is written: a failure leaves
    /// the record as it was.
    async fn update_my_contact_details(
        &self,
        request: Request<pb::UpdateMyContactDetailsRequest>,
    ) -> Reply<pb::ContactDetails> {
        let (caller, trn) = teacher(&request)?;
        let input = request.get_ref();
        let change = input.contact_details.clone().unwrap_or_default();
        let paths = update::paths(
            input.update_mask.as_ref(),
            || ContactDetails::given(&change),
            &CONTACT_FIELDS,
        )
        .map_err(Error::from)?;
        let fields = ContactDetails::masked(&paths).map_err(Error::InvalidArgument)?;
        let details = ContactDetails::default()
            .updated("contact_details", &change, &paths)
            .map_err(Error::InvalidArgument)?;
        let new_email = if fields.contains(&"email") {
            if details.email.is_empty() {
                return Err(Error::from(FieldViolation::new(
                    "contact_details.email",
                    "cannot be removed: give the new address to change it",
                ))
                .into());
            }
            let current = self
                .store
                .email(trn)
                .await?
                .ok_or(Error::NotFound(TEACHER))?;
            (details.email != current).then_some(details.email.as_str())
        } else {
            None
        };
        let waiting = match new_email {
            Some(email) => {
                let deadline = remaining_deadline(request.metadata());
                Some(
                    self.send_email_change_code(caller, trn, email, deadline)
                        .await?,
                )
            }
            None => None,
        };
        let audit = AuditEntry {
            caller,
            action: AuditAction::TeacherUpdateContactDetails,
        };
        let (contact, waiting) = self
            .store
            .update_contact(trn, &fields, &details, waiting, audit)
            .await?;
        Ok(Response::new(pb::ContactDetails {
            pending_email: waiting.unwrap_or_default(),
            ..contact.to_proto()
        }))
    }

    /// Every try counts before the code is compared; the right code has the old address told
    /// (queued before the change is written, under a key that makes a repeat the same email)
    /// and then applies the new one.
    async fn confirm_my_email(
        &self,
        request: Request<pb::ConfirmMyEmailRequest>,
    ) -> Reply<pb::ContactDetails> {
        let (caller, trn) = teacher(&request)?;
        let code = codes::parse("code", &request.get_ref().code).map_err(Error::from)?;
        let change = self
            .store
            .pending_email_change(trn)
            .await?
            .filter(|change| change.expires_at > Utc::now())
            .ok_or(Error::CodeExpired)?;
        let tries = self
            .store
            .try_email_change(change.id)
            .await?
            .ok_or(Error::CodeExpired)?;
        let tries = i64::from(tries);
        if tries > codes::MAX_WRONG {
            self.store.void_email_change(change.id).await?;
            return Err(Error::CodeExpired.into());
        }
        let digest = format!("{trn}:{}:{code}", change.new_email);
        if !self
            .signer
            .fingerprint_matches(EMAIL_CODE, digest.as_bytes(), &change.code_digest)
        {
            if tries >= codes::MAX_WRONG {
                self.store.void_email_change(change.id).await?;
            }
            return Err(Error::WrongCode.into());
        }
        if !change.old_email.is_empty() {
            let notice = SendEmailRequest {
                idempotency_key: format!("email-changed:{}", change.id),
                template: EmailTemplate::EmailChanged.into(),
                recipient: change.old_email.clone(),
                parameters: Default::default(),
                expire_time: None,
            };
            let deadline = remaining_deadline(request.metadata());
            self.notifier
                .send(notice, &caller.request_id, deadline)
                .await
                .map_err(|status| Error::Downstream(names::NOTIFICATION, status))?;
        }
        let audit = AuditEntry {
            caller,
            action: AuditAction::TeacherConfirmEmail,
        };
        let contact = self
            .store
            .confirm_email_change(trn, change.id, audit)
            .await?
            .ok_or(Error::CodeExpired)?;
        Ok(Response::new(contact.to_proto()))
    }

    async fn request_name_change(
        &self,
        request: Request<pb::RequestNameChangeRequest>,
    ) -> Reply<pb::ChangeRequest> {
        let (caller, trn) = teacher(&request)?;
        let new = NewChangeRequest::name(request.get_ref()).map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::ChangeRequestCreate,
        };
        let request = self.store.create_change_request(trn, &new, audit).await?;
        Ok(Response::new(views::change_request(&request)))
    }

    async fn request_date_of_birth_change(
        &self,
        request: Request<pb::RequestDateOfBirthChangeRequest>,
    ) -> Reply<pb::ChangeRequest> {
        let (caller, trn) = teacher(&request)?;
        let new = NewChangeRequest::date_of_birth(request.get_ref(), today())
            .map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::ChangeRequestCreate,
        };
        let request = self.store.create_change_request(trn, &new, audit).await?;
        Ok(Response::new(views::change_request(&request)))
    }

    async fn list_my_change_requests(
        &self,
        request: Request<pb::ListMyChangeRequestsRequest>,
    ) -> Reply<pb::ListMyChangeRequestsResponse> {
        let (_, trn) = teacher(&request)?;
        let requests = self.store.teacher_change_requests(trn).await?;
        Ok(Response::new(pb::ListMyChangeRequestsResponse {
            change_requests: requests.iter().map(views::change_request).collect(),
        }))
    }

    async fn create_trn_request(
        &self,
        request: Request<pb::CreateTrnRequestRequest>,
    ) -> Reply<pb::TrnRequest> {
        let caller = client_with(&request, Role::RecordsWrite)?;
        let input =
            TrnRequestInput::parse(request.get_ref(), today()).map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::TrnRequestCreate,
        };
        let answered = self
            .store
            .create_trn_request(caller.actor(), &input, audit)
            .await?;
        Ok(Response::new(views::trn_request(&answered)))
    }

    async fn get_trn_request(
        &self,
        request: Request<pb::GetTrnRequestRequest>,
    ) -> Reply<pb::TrnRequest> {
        let caller = client_with(&request, Role::RecordsWrite)?;
        let id = parse_request_id("request_id", &request.get_ref().request_id)?;
        let found = self.store.trn_request(caller.actor(), &id).await?;
        Ok(Response::new(views::trn_request(&found)))
    }

    async fn list_trn_requests(
        &self,
        request: Request<pb::ListTrnRequestsRequest>,
    ) -> Reply<pb::ListTrnRequestsResponse> {
        client_with(&request, Role::RecordsWrite)?;
        let input = request.get_ref();
        let status = TrnRequestStatus::from_proto(input.status);
        let filter = status.map(TrnRequestStatus::as_str).unwrap_or_default();
        let (size, after) = paging::page(input.page_size, &input.page_token, filter)
            .map_err(Error::InvalidArgument)?;
        let page = self.store.trn_requests(status, after, size).await?;
        Ok(Response::new(pb::ListTrnRequestsResponse {
            trn_requests: page.requests.iter().map(views::trn_request).collect(),
            next_page_token: page
                .next_after
                .map(|id| paging::encode(id, filter))
                .unwrap_or_default(),
        }))
    }

    async fn resolve_trn_request(
        &self,
        request: Request<pb::ResolveTrnRequestRequest>,
    ) -> Reply<pb::TrnRequest> {
        let caller = client_with(&request, Role::RecordsWrite)?;
        let (id, resolution) =
            Resolution::parse(request.get_ref()).map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::TrnRequestResolve,
        };
        let resolved = self
            .store
            .resolve_trn_request(caller.actor(), &id, resolution, audit)
            .await?;
        Ok(Response::new(views::trn_request(&resolved)))
    }

    async fn list_change_requests(
        &self,
        request: Request<pb::ListChangeRequestsRequest>,
    ) -> Reply<pb::ListChangeRequestsResponse> {
        let caller = client_with(&request, Role::ChangeRequestsReview)?;
        let input = request.get_ref();
        let status = ChangeStatus::from_proto(input.status);
        let filter = status.map(ChangeStatus::as_str).unwrap_or_default();
        let (size, after) = paging::page(input.page_size, &input.page_token, filter)
            .map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::ChangeRequestList,
        };
        let (requests, next) = self
            .store
            .change_requests(status, after, size, audit)
            .await?;
        Ok(Response::new(pb::ListChangeRequestsResponse {
            change_requests: requests.iter().map(views::change_request).collect(),
            next_page_token: next
                .map(|id| paging::encode(id, filter))
                .unwrap_or_default(),
        }))
    }

    async fn review_change_request(
        &self,
        request: Request<pb::ReviewChangeRequestRequest>,
    ) -> Reply<pb::ChangeRequest> {
        let caller = client_with(&request, Role::ChangeRequestsReview)?;
        let decision = Decision::parse(request.get_ref()).map_err(Error::from)?;
        let id = change_request_id(&request.get_ref().id)?;
        let action = match decision {
            Decision::Approve => AuditAction::ChangeRequestApprove,
            Decision::Reject { .. } => AuditAction::ChangeRequestReject,
        };
        let audit = AuditEntry { caller, action };
        let decided = self
            .store
            .review_change_request(id, &decision, audit)
            .await?;
        tracing::info!(trn = %decided.trn, action = action.as_str(), "change request decided");
        Ok(Response::new(views::change_request(&decided)))
    }

    async fn get_change_request_evidence(
        &self,
        request: Request<pb::GetChangeRequestEvidenceRequest>,
    ) -> Reply<pb::ChangeRequestEvidence> {
        let caller = client_with(&request, Role::ChangeRequestsReview)?;
        let id = change_request_id(&request.get_ref().id)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::ChangeRequestReadEvidence,
        };
        let evidence = self
            .store
            .change_request_evidence(id, self.evidence_retention, audit)
            .await?;
        Ok(Response::new(pb::ChangeRequestEvidence {
            id: evidence.id.to_string(),
            file_name: evidence.file_name,
            content_type: evidence.content_type,
            content: evidence.content,
        }))
    }

    async fn check_teacher(
        &self,
        request: Request<pb::CheckTeacherRequest>,
    ) -> Reply<pb::TeacherCheck> {
        let caller = client_with(&request, Role::EmployerCheck)?;
        let input = request.get_ref();
        let answer = self
            .check_one(
                caller,
                &input.trn,
                &input.date_of_birth,
                AuditAction::EmployerCheck,
            )
            .await?;
        Ok(Response::new(views::teacher_check(&answer)))
    }

    /// A watch starts with a check: the same match, the same NOT_FOUND, audited as a watch.
    async fn watch_teacher(
        &self,
        request: Request<pb::WatchTeacherRequest>,
    ) -> Reply<pb::WatchedTeacher> {
        let caller = client_with(&request, Role::EmployerCheck)?;
        let input = request.get_ref();
        let matched = self
            .check_one(
                caller,
                &input.trn,
                &input.date_of_birth,
                AuditAction::EmployerWatch,
            )
            .await?;
        let trn = matched.person.trn;
        let since = self.store.watch_teacher(caller.actor(), trn).await?;
        Ok(Response::new(pb::WatchedTeacher {
            trn: trn.to_string(),
            watch_time: Some(std::time::SystemTime::from(since).into()),
        }))
    }

    async fn unwatch_teacher(
        &self,
        request: Request<pb::UnwatchTeacherRequest>,
    ) -> Reply<pb::UnwatchTeacherResponse> {
        let caller = client_with(&request, Role::EmployerCheck)?;
        let trn = trn(&request.get_ref().trn)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::EmployerUnwatch,
        };
        self.store
            .unwatch_teacher(caller.actor(), trn, audit)
            .await?;
        Ok(Response::new(pb::UnwatchTeacherResponse {}))
    }

    async fn list_watched_teachers(
        &self,
        request: Request<pb::ListWatchedTeachersRequest>,
    ) -> Reply<pb::ListWatchedTeachersResponse> {
        let caller = client_with(&request, Role::EmployerCheck)?;
        let input = request.get_ref();
        let (size, after) = paging::page(input.page_size, &input.page_token, "watched")
            .map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::EmployerWatchList,
        };
        let page = self
            .store
            .watched_teachers(caller.actor(), after, size, audit)
            .await?;
        Ok(Response::new(pb::ListWatchedTeachersResponse {
            teachers: page.teachers.iter().map(views::teacher_check).collect(),
            next_page_token: page
                .next_after
                .map(|id| paging::encode(id, "watched"))
                .unwrap_or_default(),
        }))
    }

    /// The feed's changes an employer may see to the client's watched teachers, each delivery
    /// audited before it is sent.
    async fn watch_restriction_changes(
        &self,
        request: Request<pb::WatchRestrictionChangesRequest>,
    ) -> Reply<tonic::codegen::BoxStream<pb::RestrictionChange>> {
        let caller = client_with(&request, Role::EmployerCheck)?.clone();
        let input = request.get_ref();
        let after = if input.after_cursor.trim().is_empty() {
            None
        } else {
            Some(parse_cursor("after_cursor", &input.after_cursor).map_err(Error::from)?)
        };
        let start = self.store.feed_start(after).await?;
        let filter = FeedFilter {
            watched_by: Some(caller.actor().to_owned()),
            ..FeedFilter::default()
        };
        let store = self.store.clone();
        Ok(Response::new(Box::pin(crate::feed::follow(
            self.store.clone(),
            start,
            filter,
            self.shutdown.clone(),
            move |event| {
                let (store, caller) = (store.clone(), caller.clone());
                async move {
                    let change = event.restriction_change()?;
                    store.audit_delivery(&caller, trn(&change.trn)?).await?;
                    Ok(Some(change))
                }
            },
        ))))
    }

    async fn find_teachers(
        &self,
        request: Request<pb::FindTeachersRequest>,
    ) -> Reply<pb::FindTeachersResponse> {
        let caller = client_with(&request, Role::EmployerCheck)?;
        let input = request.get_ref();
        let mut violations = Violations::new();
        let surname = violations.check(NamePart::parse("surname", &input.surname));
        let date_of_birth = violations.check(parse_date("date_of_birth", &input.date_of_birth));
        let (Some(surname), Some(date_of_birth)) = (surname, date_of_birth) else {
            return Err(Error::InvalidArgument(violations.into_inner()).into());
        };
        let key = surname.normalised();
        let fingerprint = self
            .signer
            .fingerprint("find", format!("{key}|{date_of_birth}").as_bytes());
        let audit = AuditEntry {
            caller,
            action: AuditAction::EmployerFind,
        };
        let teachers = self
            .store
            .find_teachers(&key, date_of_birth, fingerprint, audit)
            .await?;
        Ok(Response::new(pb::FindTeachersResponse {
            teachers: teachers.iter().map(views::teacher_check).collect(),
        }))
    }

    async fn check_teachers(
        &self,
        request: Request<pb::CheckTeachersRequest>,
    ) -> Reply<pb::CheckTeachersResponse> {
        let caller = client_with(&request, Role::EmployerCheck)?;
        let input = &request.get_ref().queries;
        if input.is_empty() || input.len() > MAX_BULK_CHECKS {
            return Err(Error::from(FieldViolation::new(
                "queries",
                format!("must hold 1 to {MAX_BULK_CHECKS} queries"),
            ))
            .into());
        }
        let mut violations = Violations::new();
        let mut queries = Vec::with_capacity(input.len());
        for (i, q) in input.iter().enumerate() {
            let field = |name: &str| format!("queries[{i}].{name}");
            match TrnQuery::parse(
                Trn::parse_lenient(&field("trn"), &q.trn),
                &field("date_of_birth"),
                &q.date_of_birth,
            ) {
                Ok(query) => queries.push(query),
                Err(errors) => violations.extend(errors),
            }
        }
        violations.into_result()?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::EmployerBulkCheck,
        };
        let answers = self
            .store
            .check_teachers(
                &queries,
                AuditAction::EmployerBulkCheck,
                |q| self.fingerprint(q),
                audit,
            )
            .await?;
        let mut response = pb::CheckTeachersResponse::default();
        for (query, answer) in input.iter().zip(answers) {
            match answer {
                Some(teacher) => response.teachers.push(views::teacher_check(&teacher)),
                None => response.not_found.push(query.clone()),
            }
        }
        Ok(Response::new(response))
    }

    async fn list_my_record_checks(
        &self,
        request: Request<pb::ListMyRecordChecksRequest>,
    ) -> Reply<pb::ListMyRecordChecksResponse> {
        let (_, trn) = teacher(&request)?;
        let checks = self.store.record_checks(trn).await?;
        Ok(Response::new(pb::ListMyRecordChecksResponse {
            checks: checks.into_iter().filter_map(views::record_check).collect(),
        }))
    }

    async fn get_my_record(
        &self,
        request: Request<pb::GetMyRecordRequest>,
    ) -> Reply<pb::TeacherRecord> {
        let (caller, trn) = teacher(&request)?;
        let teacher = self
            .store
            .teacher(trn)
            .await?
            .ok_or(Error::NotFound(TEACHER))?;
        let record = views::teacher_record(&teacher, Audience::Teacher);
        Ok(Response::new(if self.sees_everything(caller) {
            record
        } else {
            views::masked(record)
        }))
    }

    /// Keeps the search and wakes the worker: the same work whatever it will find.
    async fn find_trn(&self, request: Request<FindTrnRequest>) -> Reply<pb::FindMyTrnResponse> {
        only_identity(&request)?;
        let caller = Caller::of(&request)?;
        let input = request.get_ref();
        let mut violations = Violations::new();
        let case_id = violations.check(parse_case_id("case_id", &input.case_id));
        let search = violations.check_all(TrnSearch::parse(
            &input.search.clone().unwrap_or_default(),
            today(),
        ));
        let (Some(case_id), Some(search)) = (case_id, search) else {
            return Err(Error::InvalidArgument(violations.into_inner()).into());
        };
        self.store
            .keep_trn_search(&case_id, &search, &caller.request_id)
            .await?;
        self.searches.notify_one();
        Ok(Response::new(pb::FindMyTrnResponse {}))
    }

    async fn list_trn_cases(
        &self,
        request: Request<pb::ListTrnCasesRequest>,
    ) -> Reply<pb::ListTrnCasesResponse> {
        let caller = client_with(&request, Role::ChangeRequestsReview)?;
        let input = request.get_ref();
        let status = TrnCaseStatus::from_proto(input.status);
        let filter = status.map(TrnCaseStatus::as_str).unwrap_or_default();
        let (size, after) = paging::page(input.page_size, &input.page_token, filter)
            .map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::TrnCaseList,
        };
        let (cases, next) = self.store.trn_cases(status, after, size, audit).await?;
        Ok(Response::new(pb::ListTrnCasesResponse {
            cases: cases.iter().map(views::trn_case).collect(),
            next_page_token: next
                .map(|id| paging::encode(id, filter))
                .unwrap_or_default(),
        }))
    }

    /// Resolves the case and wakes the worker, which emails the person.
    async fn resolve_trn_case(
        &self,
        request: Request<pb::ResolveTrnCaseRequest>,
    ) -> Reply<pb::TrnCase> {
        let caller = client_with(&request, Role::ChangeRequestsReview)?;
        let (id, resolution) =
            CaseResolution::parse(request.get_ref()).map_err(Error::InvalidArgument)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::TrnCaseResolve,
        };
        let resolved = self.store.resolve_trn_case(&id, resolution, audit).await?;
        self.searches.notify_one();
        tracing::info!(no_match = resolved.trn.is_none(), "lost-TRN case resolved");
        Ok(Response::new(views::trn_case(&resolved)))
    }

    async fn match_teacher(
        &self,
        request: Request<MatchTeacherRequest>,
    ) -> Reply<MatchTeacherResponse> {
        only_identity(&request)?;
        let request = request.get_ref();
        let trn = trn(&request.trn)?;
        let details = SignInDetails::parse(request).map_err(Error::InvalidArgument)?;
        let candidate = self.store.sign_in_candidate(trn).await?;
        let matched = candidate.filter(|person| person.matches(&details));
        Ok(Response::new(MatchTeacherResponse {
            matched: matched.is_some(),
            trn: matched.map(|p| p.trn.to_string()).unwrap_or_default(),
        }))
    }

    async fn get_teacher_email(
        &self,
        request: Request<GetTeacherEmailRequest>,
    ) -> Reply<GetTeacherEmailResponse> {
        only_identity(&request)?;
        let trn = trn(&request.get_ref().trn)?;
        Ok(Response::new(GetTeacherEmailResponse {
            email: self.store.email(trn).await?.unwrap_or_default(),
        }))
    }

    async fn resolve_one_login(
        &self,
        request: Request<ResolveOneLoginRequest>,
    ) -> Reply<ResolveOneLoginResponse> {
        only_identity(&request)?;
        let caller = Caller::of(&request)?;
        let input = request.get_ref();
        let mut violations = Violations::new();
        let subject = violations.check(parse_subject("subject", &input.subject));
        let identity = input
            .identity
            .as_ref()
            .and_then(|identity| violations.check_all(VerifiedIdentity::parse(identity)))
            .flatten();
        let violations = violations.into_inner();
        let Some(subject) = subject.filter(|_| violations.is_empty()) else {
            return Err(Error::InvalidArgument(violations).into());
        };
        let resolved = self
            .store
            .resolve_one_login(&subject, identity.as_ref(), &caller.request_id)
            .await?;
        Ok(Response::new(ResolveOneLoginResponse {
            trn: resolved.map(|(t, _)| t.to_string()).unwrap_or_default(),
            linked: resolved.is_some_and(|(_, linked)| linked),
        }))
    }

    async fn keep_one_login_link(
        &self,
        request: Request<KeepOneLoginLinkRequest>,
    ) -> Reply<KeepOneLoginLinkResponse> {
        only_identity(&request)?;
        let caller = Caller::of(&request)?;
        let input = request.get_ref();
        let mut violations = Violations::new();
        let subject = violations.check(parse_subject("subject", &input.subject));
        let trn = violations.check(Trn::parse("trn", &input.trn));
        let (Some(subject), Some(trn)) = (subject, trn) else {
            return Err(Error::InvalidArgument(violations.into_inner()).into());
        };
        self.store
            .link(&subject, trn, LinkProof::SignInDetails, &caller.request_id)
            .await?;
        Ok(Response::new(KeepOneLoginLinkResponse {}))
    }

    async fn unlink_one_login(
        &self,
        request: Request<pb::UnlinkOneLoginRequest>,
    ) -> Reply<pb::UnlinkOneLoginResponse> {
        let caller = client_with(&request, Role::ClientsManage)?;
        let trn = trn(&request.get_ref().trn)?;
        let audit = AuditEntry {
            caller,
            action: AuditAction::OneLoginUnlink,
        };
        self.store.unlink_one_login(trn, audit).await?;
        tracing::info!(%trn, actor = caller.actor(), "One Login link removed");
        Ok(Response::new(pb::UnlinkOneLoginResponse {
            revoked_count: 0,
        }))
    }
}

/// Only identity may match sign-in details and read the email for a step-up code.
fn only_identity<T>(request: &Request<T>) -> Result<(), Status> {
    if Caller::of(request)?.principal == Principal::Service(names::IDENTITY.to_owned()) {
        Ok(())
    } else {
        Err(Error::PermissionDenied.into())
    }
}

//! `dqt.record.v1.RecordService`: each handler parses its input, checks the caller, calls the
//! store and maps the result.

use chrono::Utc;
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::record::v1::record_service_server::RecordService;
use dqt_proto::dqt::record::v1::{MatchTeacherRequest, MatchTeacherResponse};
use portal_common::principal::Principal;
use portal_common::values::{DateOfBirth, Nino, PersonName, Trn};
use portal_common::{Caller, Violations};
use tonic::{Request, Response, Status};

use crate::domain::{ContactDetails, NewTeacher, SignInDetails};
use crate::error::Error;
use crate::store::{AuditEntry, Store};
use crate::views;

/// The only service allowed to match sign-in details.
const IDENTITY_SERVICE: &str = "identity";

pub struct RecordApi {
    store: Store,
}

impl RecordApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn require_role(caller: &Caller, role: &str) -> Result<(), Error> {
    if caller.principal.has_role(role) {
        Ok(())
    } else {
        Err(Error::PermissionDenied)
    }
}

fn parse_new_teacher(request: &pb::CreateTeacherRequest) -> Result<NewTeacher, Error> {
    let mut violations = Violations::new();
    let name = match PersonName::parse(
        ["first_name", "middle_name", "last_name"],
        &request.first_name,
        &request.middle_name,
        &request.last_name,
    ) {
        Ok(name) => Some(name),
        Err(errors) => {
            errors.into_iter().for_each(|e| violations.add(e));
            None
        }
    };
    let date_of_birth = violations.check(DateOfBirth::parse(
        "date_of_birth",
        &request.date_of_birth,
        Utc::now().date_naive(),
    ));
    let nino = violations.check(Nino::parse_optional(
        "national_insurance_number",
        &request.national_insurance_number,
    ));
    let contact = match ContactDetails::parse(
        "contact_details",
        &request.contact_details.clone().unwrap_or_default(),
    ) {
        Ok(contact) => Some(contact),
        Err(errors) => {
            errors.into_iter().for_each(|e| violations.add(e));
            None
        }
    };
    match (name, date_of_birth, nino, contact) {
        (Some(name), Some(date_of_birth), Some(nino), Some(contact)) if violations.is_empty() => {
            Ok(NewTeacher {
                name,
                date_of_birth,
                nino,
                contact,
            })
        }
        _ => Err(Error::InvalidArgument(violations.into_inner())),
    }
}

#[tonic::async_trait]
impl RecordService for RecordApi {
    async fn create_teacher(
        &self,
        request: Request<pb::CreateTeacherRequest>,
    ) -> Result<Response<pb::TeacherRecord>, Status> {
        let caller = Caller::of(&request)?;
        require_role(caller, "records:write")?;
        let new = parse_new_teacher(request.get_ref())?;
        let teacher = self
            .store
            .create_teacher(
                &new,
                AuditEntry {
                    caller,
                    action: "teacher.create",
                },
            )
            .await?;
        tracing::info!(trn = %teacher.trn, "teacher record created");
        Ok(Response::new(views::teacher_record(&teacher)))
    }

    async fn get_teacher(
        &self,
        request: Request<pb::GetTeacherRequest>,
    ) -> Result<Response<pb::TeacherRecord>, Status> {
        let caller = Caller::of(&request)?;
        require_role(caller, "records:read")?;
        let trn = Trn::parse("trn", &request.get_ref().trn).map_err(Error::from)?;
        let teacher = self
            .store
            .teacher_audited(
                trn,
                AuditEntry {
                    caller,
                    action: "teacher.read",
                },
            )
            .await?
            .ok_or(Error::NotFound)?;
        Ok(Response::new(views::teacher_record(&teacher)))
    }

    async fn get_my_record(
        &self,
        request: Request<pb::GetMyRecordRequest>,
    ) -> Result<Response<pb::TeacherRecord>, Status> {
        let caller = Caller::of(&request)?;
        let trn = caller
            .principal
            .teacher_trn()
            .ok_or(Error::PermissionDenied)?;
        let teacher = self.store.teacher(trn).await?.ok_or(Error::NotFound)?;
        Ok(Response::new(views::teacher_record(&teacher)))
    }

    async fn match_teacher(
        &self,
        request: Request<MatchTeacherRequest>,
    ) -> Result<Response<MatchTeacherResponse>, Status> {
        let caller = Caller::of(&request)?;
        if caller.principal != Principal::Service(IDENTITY_SERVICE.to_owned()) {
            return Err(Error::PermissionDenied.into());
        }
        let request = request.get_ref();
        let trn = Trn::parse("trn", &request.trn).map_err(Error::from)?;
        let details = SignInDetails::parse(request).map_err(Error::InvalidArgument)?;
        let candidate = self.store.sign_in_candidate(trn).await?;
        let matched = candidate.filter(|teacher| teacher.matches(&details));
        Ok(Response::new(MatchTeacherResponse {
            matched: matched.is_some(),
            trn: matched.map(|t| t.trn.to_string()).unwrap_or_default(),
        }))
    }
}

//! Every public request message: arbitrary bytes are decoded as the message (as the gateway
//! does before anything else), then put through the validation its handler runs. Nothing may
//! panic, and a refusal always names a field. The first byte picks the message from `CHECKS`,
//! which names every request of the public API (a test in the main suite holds it to that).
#![no_main]

use chrono::NaiveDate;
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::record::v1::MatchTeacherRequest;
use libfuzzer_sys::fuzz_target;
use portal_common::FieldViolation;
use portal_common::trn_search::TrnSearch;
use portal_common::values::{Trn, parse_date};
use portal_identity::one_login::parse_opaque;
use portal_record::domain::{
    AlertCatalogue, AlertCorrection, AlertRemoval, CaseResolution, ChangeStatus, ContactDetails,
    Decision, Induction, Mq, NewAlert, NewChangeRequest, NewRecord, Npq, ProfessionalStatus, Qtls,
    Resolution, SignInDetails, TeacherUpdate, TrnCaseStatus, TrnQuery, TrnRequestInput,
    TrnRequestStatus, parse_close_date, parse_date_of_death, parse_request_id,
};
use prost::Message;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
}

fn named(violations: &[FieldViolation]) {
    assert!(!violations.is_empty());
    assert!(violations.iter().all(|v| !v.field.is_empty()));
}

fn check<T>(result: Result<T, Vec<FieldViolation>>) {
    if let Err(violations) = result {
        named(&violations);
    }
}

fn check_one<T>(result: Result<T, FieldViolation>) {
    if let Err(violation) = result {
        named(&[violation]);
    }
}

/// The check identity has the record service make of sign-in details.
fn sign_in_details(m: pb::SignInTeacherRequest) {
    check(SignInDetails::parse(&MatchTeacherRequest {
        trn: m.trn,
        surname: m.surname,
        forename: m.forename,
        date_of_birth: m.date_of_birth,
        national_insurance_number: m.national_insurance_number,
    }));
}

/// Decodes `bytes` as `T`, or ends the run: the gateway refuses what does not decode.
macro_rules! decode {
    ($t:ty, $bytes:expr) => {
        match <$t>::decode($bytes) {
            Ok(message) => message,
            Err(_) => return,
        }
    };
}

/// A message whose handler reads nothing of it (or only ids looked up as they are): decoding
/// it must not panic.
macro_rules! decodes {
    ($t:ty) => {
        |bytes: &[u8]| {
            let _ = <$t>::decode(bytes);
        }
    };
}

/// Pages of a list: its size and the token for its filter.
fn paging(page_size: i32, page_token: &str, filter: &str) {
    check(portal_record::paging::page(page_size, page_token, filter));
}

type Check = fn(&[u8]);

/// Every public request message, each with the validation its handler runs.
const CHECKS: &[Check] = &[
    |bytes| {
        check(NewRecord::parse(
            &decode!(pb::CreateTeacherRequest, bytes),
            today(),
        ))
    },
    |bytes| {
        check(TeacherUpdate::parse(
            &decode!(pb::UpdateTeacherRequest, bytes),
            today(),
        ))
    },
    |bytes| {
        let m = decode!(pb::AddProfessionalStatusRequest, bytes);
        check_one(Trn::parse("trn", &m.trn));
        let status = m.professional_status.unwrap_or_default();
        check(ProfessionalStatus::parse(
            "professional_status",
            &status,
            today(),
        ));
    },
    |bytes| {
        let m = decode!(pb::SetInductionRequest, bytes);
        check(Induction::parse(
            "induction",
            &m.induction.unwrap_or_default(),
            today(),
        ));
    },
    |bytes| {
        use pb::add_qualification_request::Qualification;
        match decode!(pb::AddQualificationRequest, bytes).qualification {
            Some(Qualification::Npq(npq)) => check(Npq::parse("npq", &npq, today())),
            Some(Qualification::Mandatory(mq)) => check(Mq::parse("mandatory", &mq, today())),
            None => {}
        }
    },
    |bytes| {
        let m = decode!(pb::AddAlertRequest, bytes);
        let alert = m.alert.unwrap_or_default();
        check(NewAlert::parse(
            "alert",
            &alert,
            &AlertCatalogue::default(),
            today(),
        ));
    },
    |bytes| {
        let m = decode!(pb::CloseAlertRequest, bytes);
        check_one(parse_close_date("end_date", &m.end_date, today()));
    },
    |bytes| {
        let m = decode!(pb::UpdateMyContactDetailsRequest, bytes);
        let change = m.contact_details.unwrap_or_default();
        let paths = portal_common::update::paths(
            m.update_mask.as_ref(),
            || ContactDetails::given(&change),
            &portal_record::domain::CONTACT_FIELDS,
        );
        check_one(paths.clone());
        if let Ok(paths) = paths {
            check(ContactDetails::masked(&paths));
            check(ContactDetails::default().updated("contact_details", &change, &paths));
        }
    },
    |bytes| {
        check(NewChangeRequest::name(&decode!(
            pb::RequestNameChangeRequest,
            bytes
        )))
    },
    |bytes| {
        check(NewChangeRequest::date_of_birth(
            &decode!(pb::RequestDateOfBirthChangeRequest, bytes),
            today(),
        ))
    },
    |bytes| {
        check_one(Decision::parse(&decode!(
            pb::ReviewChangeRequestRequest,
            bytes
        )))
    },
    |bytes| {
        sign_in_details(decode!(pb::SignInTeacherRequest, bytes));
    },
    |bytes| {
        let m = decode!(pb::CheckTeacherRequest, bytes);
        check(TrnQuery::parse(
            Trn::parse("trn", &m.trn),
            "date_of_birth",
            &m.date_of_birth,
        ));
    },
    |bytes| {
        let m = decode!(pb::CheckTeachersRequest, bytes);
        for query in &m.queries {
            let trn = Trn::parse_lenient("trn", &query.trn);
            check(TrnQuery::parse(trn, "date_of_birth", &query.date_of_birth));
        }
    },
    |bytes| {
        let m = decode!(pb::FindTeachersRequest, bytes);
        check_one(portal_common::values::NamePart::parse(
            "surname", &m.surname,
        ));
        check_one(parse_date("date_of_birth", &m.date_of_birth));
    },
    |bytes| {
        let m = decode!(pb::CreateMyEmploymentRequest, bytes);
        let employment = m.employment.unwrap_or_default();
        check(portal_employment::domain::Employment::parse(
            &employment,
            today(),
        ));
    },
    |bytes| {
        let m = decode!(pb::UpdateMyEmploymentRequest, bytes);
        let change = m.employment.unwrap_or_default();
        let paths = portal_common::update::paths(
            m.update_mask.as_ref(),
            || portal_employment::domain::given(&change),
            &portal_employment::domain::FIELDS,
        );
        check_one(paths.clone());
        if let Ok(paths) = paths {
            check(portal_employment::domain::merge(
                &pb::Employment::default(),
                &change,
                &paths,
            ));
        }
    },
    |bytes| {
        let m = decode!(pb::VerifyDocumentRequest, bytes);
        check_one(portal_document::code::parse(
            "verification_code",
            &m.verification_code,
        ));
    },
    |bytes| {
        let m = decode!(pb::ListAuditEventsRequest, bytes);
        paging(m.page_size, &m.page_token, &m.trn);
    },
    |bytes| {
        let m = decode!(pb::CompleteVerificationRequest, bytes);
        check_one(portal_identity::domain::parse_verification_id(
            &m.verification_id,
        ));
        check_one(portal_common::codes::parse("code", &m.code));
    },
    |bytes| {
        let m = decode!(pb::ConfirmMyEmailRequest, bytes);
        check_one(portal_common::codes::parse("code", &m.code));
    },
    |bytes| {
        let m = decode!(pb::GetTeacherRequest, bytes);
        check_one(Trn::parse("trn", &m.trn));
    },
    |bytes| {
        let m = decode!(pb::ListEmploymentsRequest, bytes);
        check_one(Trn::parse("trn", &m.trn));
    },
    |bytes| {
        let m = decode!(pb::RevokeTeacherSessionsRequest, bytes);
        check_one(Trn::parse("trn", &m.trn));
    },
    |bytes| {
        let m = decode!(pb::ListChangeRequestsRequest, bytes);
        let filter = ChangeStatus::from_proto(m.status)
            .map(ChangeStatus::as_str)
            .unwrap_or_default();
        paging(m.page_size, &m.page_token, filter);
    },
    |bytes| {
        let m = decode!(pb::DownloadDocumentRequest, bytes);
        if let Ok(kind) = pb::DocumentKind::try_from(m.kind) {
            let record = portal_document::documents::sample_record();
            let _ = portal_document::entitlement::find(&record, kind, &m.qualification_id);
        }
    },
    |bytes| {
        check(portal_identity::domain::NewClientInput::parse(&decode!(
            pb::CreateClientRequest,
            bytes
        )))
    },
    |bytes| {
        check(portal_identity::domain::ClientUpdate::parse(&decode!(
            pb::UpdateClientRequest,
            bytes
        )))
    },
    |bytes| {
        let m = decode!(pb::DeleteClientRequest, bytes);
        check_one(portal_identity::domain::parse_client_id(
            "client_id",
            &m.client_id,
        ));
    },
    |bytes| {
        let m = decode!(pb::RotateClientSecretRequest, bytes);
        check_one(portal_identity::domain::parse_client_id(
            "client_id",
            &m.client_id,
        ));
    },
    |bytes| {
        check_one(portal_identity::domain::SignInClientInput::parse(&decode!(
            pb::SignInClientRequest,
            bytes
        )))
    },
    |bytes| {
        check(AlertCorrection::parse(
            &decode!(pb::UpdateAlertRequest, bytes),
            today(),
        ))
    },
    |bytes| check(AlertRemoval::parse(&decode!(pb::DeleteAlertRequest, bytes))),
    |bytes| {
        check(Qtls::parse(
            &decode!(pb::SetQtlsStatusRequest, bytes),
            today(),
        ))
    },
    |bytes| {
        check(TrnRequestInput::parse(
            &decode!(pb::CreateTrnRequestRequest, bytes),
            today(),
        ))
    },
    |bytes| {
        let m = decode!(pb::GetTrnRequestRequest, bytes);
        check_one(parse_request_id("request_id", &m.request_id));
    },
    |bytes| {
        let m = decode!(pb::ListTrnRequestsRequest, bytes);
        let filter = TrnRequestStatus::from_proto(m.status)
            .map(TrnRequestStatus::as_str)
            .unwrap_or_default();
        paging(m.page_size, &m.page_token, filter);
    },
    |bytes| check(Resolution::parse(&decode!(pb::ResolveTrnRequestRequest, bytes)).map(drop)),
    |bytes| check(TrnSearch::parse(&decode!(pb::FindMyTrnRequest, bytes), today()).map(drop)),
    |bytes| {
        let m = decode!(pb::ListTrnCasesRequest, bytes);
        let filter = TrnCaseStatus::from_proto(m.status)
            .map(TrnCaseStatus::as_str)
            .unwrap_or_default();
        paging(m.page_size, &m.page_token, filter);
    },
    |bytes| check(CaseResolution::parse(&decode!(pb::ResolveTrnCaseRequest, bytes)).map(drop)),
    decodes!(pb::StartOneLoginSignInRequest),
    |bytes| {
        let m = decode!(pb::CompleteOneLoginSignInRequest, bytes);
        check_one(parse_opaque("code", &m.code));
        check_one(parse_opaque("state", &m.state));
    },
    |bytes| {
        let m = decode!(pb::LinkOneLoginRequest, bytes);
        check_one(parse_opaque("link_token", &m.link_token));
        check_one(Trn::parse("trn", &m.trn));
        sign_in_details(pb::SignInTeacherRequest {
            trn: m.trn,
            surname: m.surname,
            forename: m.forename,
            date_of_birth: m.date_of_birth,
            national_insurance_number: m.national_insurance_number,
            ..Default::default()
        });
    },
    |bytes| {
        let m = decode!(pb::UnlinkOneLoginRequest, bytes);
        check_one(Trn::parse("trn", &m.trn));
    },
    |bytes| {
        let m = decode!(pb::SetDeceasedRequest, bytes);
        check_one(Trn::parse("trn", &m.trn));
        check_one(parse_date_of_death(
            "date_of_death",
            &m.date_of_death,
            today(),
        ));
    },
    |bytes| match portal_record::feed::parse(&decode!(pb::WatchChangesRequest, bytes)) {
        Ok(_) => {}
        Err(portal_record::error::Error::InvalidArgument(violations)) => named(&violations),
        Err(other) => panic!("a refusal that names no field: {other}"),
    },
    |bytes| {
        let m = decode!(pb::WatchTeacherRequest, bytes);
        check(TrnQuery::parse(
            Trn::parse("trn", &m.trn),
            "date_of_birth",
            &m.date_of_birth,
        ));
    },
    |bytes| {
        check_one(Trn::parse(
            "trn",
            &decode!(pb::UnwatchTeacherRequest, bytes).trn,
        ))
    },
    |bytes| {
        let m = decode!(pb::ListWatchedTeachersRequest, bytes);
        paging(m.page_size, &m.page_token, "watched");
    },
    |bytes| {
        let m = decode!(pb::WatchRestrictionChangesRequest, bytes);
        if !m.after_cursor.trim().is_empty() {
            check_one(portal_record::store::parse_cursor(
                "after_cursor",
                &m.after_cursor,
            ));
        }
    },
    decodes!(pb::DeleteMyEmploymentRequest),
    decodes!(pb::GetChangeRequestEvidenceRequest),
    decodes!(pb::CreateCaptchaRequest),
    decodes!(pb::SignOutRequest),
    decodes!(pb::StartVerificationRequest),
    decodes!(pb::GetMyRecordRequest),
    decodes!(pb::ListMyDocumentsRequest),
    decodes!(pb::ListMyChangeRequestsRequest),
    decodes!(pb::ListMyEmploymentsRequest),
    decodes!(pb::ListMyRecordChecksRequest),
];

fuzz_target!(|data: &[u8]| {
    if let Some((&which, bytes)) = data.split_first() {
        CHECKS[usize::from(which) % CHECKS.len()](bytes);
    }
});

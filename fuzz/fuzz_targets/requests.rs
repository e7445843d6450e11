//! Every public request message: arbitrary bytes are decoded as the message (as the gateway
//! does before anything else), then put through the validation its handler runs. Nothing may
//! panic, and a refusal always names a field.
#![no_main]

use chrono::NaiveDate;
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::record::v1::MatchTeacherRequest;
use libfuzzer_sys::fuzz_target;
use portal_common::FieldViolation;
use portal_common::values::{Trn, parse_date};
use portal_record::domain::{
    AlertCatalogue, ContactDetails, Decision, Induction, Mq, NewAlert, NewChangeRequest, NewRecord,
    Npq, ProfessionalStatus, SignInDetails, TeacherUpdate, TrnQuery, parse_close_date,
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

/// Decodes `bytes` as `T`, or ends the run: the gateway refuses what does not decode.
macro_rules! decode {
    ($t:ty, $bytes:expr) => {
        match <$t>::decode($bytes) {
            Ok(message) => message,
            Err(_) => return,
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let today = today();
    match which % 20 {
        0 => check(NewRecord::parse(
            &decode!(pb::CreateTeacherRequest, bytes),
            today,
        )),
        1 => check(TeacherUpdate::parse(
            &decode!(pb::UpdateTeacherRequest, bytes),
            today,
        )),
        2 => {
            let m = decode!(pb::AddProfessionalStatusRequest, bytes);
            check_one(Trn::parse("trn", &m.trn));
            let status = m.professional_status.unwrap_or_default();
            check(ProfessionalStatus::parse(
                "professional_status",
                &status,
                today,
            ));
        }
        3 => {
            let m = decode!(pb::SetInductionRequest, bytes);
            check(Induction::parse(
                "induction",
                &m.induction.unwrap_or_default(),
                today,
            ));
        }
        4 => {
            use pb::add_qualification_request::Qualification;
            match decode!(pb::AddQualificationRequest, bytes).qualification {
                Some(Qualification::Npq(npq)) => check(Npq::parse("npq", &npq, today)),
                Some(Qualification::Mandatory(mq)) => check(Mq::parse("mandatory", &mq, today)),
                None => {}
            }
        }
        5 => {
            let m = decode!(pb::AddAlertRequest, bytes);
            let alert = m.alert.unwrap_or_default();
            check(NewAlert::parse(
                "alert",
                &alert,
                &AlertCatalogue::default(),
                today,
            ));
        }
        6 => {
            let m = decode!(pb::CloseAlertRequest, bytes);
            check_one(parse_close_date("end_date", &m.end_date, today));
        }
        7 => {
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
        }
        8 => check(NewChangeRequest::name(&decode!(
            pb::RequestNameChangeRequest,
            bytes
        ))),
        9 => check(NewChangeRequest::date_of_birth(
            &decode!(pb::RequestDateOfBirthChangeRequest, bytes),
            today,
        )),
        10 => check_one(Decision::parse(&decode!(
            pb::ReviewChangeRequestRequest,
            bytes
        ))),
        11 => {
            let m = decode!(pb::SignInTeacherRequest, bytes);
            check(SignInDetails::parse(&MatchTeacherRequest {
                trn: m.trn,
                surname: m.surname,
                forename: m.forename,
                date_of_birth: m.date_of_birth,
                national_insurance_number: m.national_insurance_number,
            }));
        }
        12 => {
            let m = decode!(pb::CheckTeacherRequest, bytes);
            check(TrnQuery::parse(
                Trn::parse("trn", &m.trn),
                "date_of_birth",
                &m.date_of_birth,
            ));
        }
        13 => {
            let m = decode!(pb::CheckTeachersRequest, bytes);
            for query in &m.queries {
                let trn = Trn::parse_lenient("trn", &query.trn);
                check(TrnQuery::parse(trn, "date_of_birth", &query.date_of_birth));
            }
        }
        14 => {
            let m = decode!(pb::FindTeachersRequest, bytes);
            check_one(portal_common::values::NamePart::parse(
                "surname", &m.surname,
            ));
            check_one(parse_date("date_of_birth", &m.date_of_birth));
        }
        15 => {
            let m = decode!(pb::CreateMyEmploymentRequest, bytes);
            let employment = m.employment.unwrap_or_default();
            check(portal_employment::domain::Employment::parse(
                &employment,
                today,
            ));
        }
        16 => {
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
        }
        17 => {
            let m = decode!(pb::VerifyDocumentRequest, bytes);
            check_one(portal_document::code::parse(
                "verification_code",
                &m.verification_code,
            ));
        }
        18 => {
            let m = decode!(pb::ListAuditEventsRequest, bytes);
            check_one(portal_record::paging::page_size("page_size", m.page_size));
            check_one(portal_record::paging::decode(
                "page_token",
                &m.page_token,
                &m.trn,
            ));
        }
        19 => {
            let m = decode!(pb::CompleteVerificationRequest, bytes);
            check_one(portal_common::codes::parse("code", &m.code));
        }
        20 => {
            let m = decode!(pb::ConfirmMyEmailRequest, bytes);
            check_one(portal_common::codes::parse("code", &m.code));
        }
        _ => {
            let m = decode!(pb::GetTeacherRequest, bytes);
            check_one(Trn::parse("trn", &m.trn));
        }
    }
});

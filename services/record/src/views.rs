//! What each audience sees of a record: the one place that turns a [`Teacher`] into API
//! messages, decides which alerts and details each audience may see, and derives `restricted`.

use dqt_proto::dqt::portal::v1 as pb;
use portal_common::mask;
use portal_common::values::format_date;

use crate::domain::{
    Alert, AuditEvent, ChangeKind, ChangeRequest, ChangeStatus, Held, Induction, InductionPeriod,
    Mq, Npq, ProfessionalStatus, RecordCheckKind, Teacher, Training,
};

/// Who is looking at a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The teacher the record is about.
    Teacher,
    /// DfE staff and systems: everything, internal alerts and case details included.
    Internal,
    /// An employer checking the teacher: the minimum that answers "qualified, unrestricted?".
    Employer,
}

impl Audience {
    /// Whether this audience sees an alert at all.
    fn sees(self, alert: &Alert) -> bool {
        match self {
            Self::Internal => true,
            Self::Teacher => !alert.kind.internal,
            Self::Employer => !alert.kind.internal && alert.is_open(),
        }
    }
}

/// Whether the teacher is restricted: any open, non-internal alert other than T6.
pub fn restricted(teacher: &Teacher) -> bool {
    teacher.alerts.iter().any(Alert::restricts)
}

fn date(value: Option<chrono::NaiveDate>) -> String {
    value.map(format_date).unwrap_or_default()
}

/// The record as the teacher (GetMyRecord) or an internal reader (GetTeacher) sees it.
pub fn teacher_record(teacher: &Teacher, audience: Audience) -> pb::TeacherRecord {
    let person = &teacher.person;
    let internal = audience == Audience::Internal;
    pb::TeacherRecord {
        trn: person.trn.to_string(),
        first_name: person.first_name.clone(),
        middle_name: person.middle_name.clone(),
        last_name: person.last_name.clone(),
        previous_names: person
            .previous_names
            .iter()
            .map(|p| pb::PersonName {
                first_name: p.first.clone(),
                middle_name: p.middle.clone(),
                last_name: p.last.clone(),
            })
            .collect(),
        date_of_birth: person
            .date_of_birth
            .map(|d| d.to_string())
            .unwrap_or_default(),
        national_insurance_number: person.nino.clone().unwrap_or_default(),
        contact_details: Some(person.contact.to_proto()),
        professional_statuses: teacher.statuses.iter().map(professional_status).collect(),
        qts_date: date(teacher.qts_date()),
        eyts_date: date(teacher.eyts_date()),
        induction: Some(induction(&teacher.induction_in_effect())),
        npq_qualifications: teacher.npqs.iter().map(npq).collect(),
        mandatory_qualifications: teacher.mqs.iter().map(mq).collect(),
        alerts: teacher
            .alerts
            .iter()
            .filter(|a| audience.sees(a))
            .map(|a| pb::Alert {
                id: a.id.to_string(),
                code: a.kind.code.clone(),
                title: a.kind.title.clone(),
                description: a.kind.description.clone(),
                details: if internal {
                    a.details.clone()
                } else {
                    String::new()
                },
                start_date: format_date(a.start),
                end_date: date(a.end),
            })
            .collect(),
        restricted: restricted(teacher),
        status: if internal {
            person.status.to_proto().into()
        } else {
            pb::PersonStatus::Unspecified.into()
        },
        merged_into_trn: match person.merged_into {
            Some(trn) if internal => trn.to_string(),
            _ => String::new(),
        },
        masked: false,
        qtls_status: teacher.qtls.status.to_proto().into(),
        date_of_death: match person.date_of_death {
            Some(died) if internal => format_date(died),
            _ => String::new(),
        },
    }
}

/// The teacher's own record for a session at the knowledge level: what someone who merely
/// knows the teacher's sign-in details could learn from it is masked (NINO, email, phone,
/// address), leaving enough for the teacher to recognise their own.
pub fn masked(mut record: pb::TeacherRecord) -> pb::TeacherRecord {
    record.national_insurance_number = mask::nino(&record.national_insurance_number);
    if let Some(contact) = record.contact_details.as_mut() {
        *contact = pb::ContactDetails {
            email: mask::email(&contact.email),
            phone: mask::phone(&contact.phone),
            address_line1: String::new(),
            address_line2: String::new(),
            town: String::new(),
            postcode: mask::postcode(&contact.postcode),
            pending_email: String::new(),
        };
    }
    record.masked = true;
    record
}

/// An audit event as internal readers see it.
pub fn audit_event(event: AuditEvent) -> pb::AuditEvent {
    pb::AuditEvent {
        time: Some(std::time::SystemTime::from(event.time).into()),
        actor: event.actor,
        action: event.action,
        trn: event.trn.unwrap_or_default(),
        request_id: event.request_id,
        on_behalf_of: event.on_behalf_of.unwrap_or_default(),
        details: event.details.unwrap_or_default(),
    }
}

/// A check of the teacher's record as the teacher sees it: who (the client's id, which the
/// gateway turns into its name), when and how; `None` for an event that is no check.
pub fn record_check(event: AuditEvent) -> Option<pb::RecordCheck> {
    let kind = match event.record_check()? {
        RecordCheckKind::Check => pb::RecordCheckKind::Check,
        RecordCheckKind::Find => pb::RecordCheckKind::Find,
        RecordCheckKind::BulkCheck => pb::RecordCheckKind::BulkCheck,
        RecordCheckKind::Watch => pb::RecordCheckKind::Watch,
    };
    Some(pb::RecordCheck {
        organisation: event.actor,
        check_time: Some(std::time::SystemTime::from(event.time).into()),
        kind: kind.into(),
    })
}

/// A TRN request as its client and reviewers see it.
pub fn trn_request(request: &crate::store::TrnRequestView) -> pb::TrnRequest {
    pb::TrnRequest {
        request_id: request.request_id.clone(),
        status: request.status.to_proto().into(),
        trn: request.trn.map(|t| t.to_string()).unwrap_or_default(),
        potential_duplicates: request.candidates.iter().map(|t| t.to_string()).collect(),
        create_time: Some(std::time::SystemTime::from(request.created_at).into()),
    }
}

/// A lost-TRN case as DfE staff see it.
pub fn trn_case(case: &crate::store::TrnCaseView) -> pb::TrnCase {
    let details = &case.details;
    pb::TrnCase {
        id: case.id.clone(),
        status: case.status.to_proto().into(),
        create_time: Some(std::time::SystemTime::from(case.created_at).into()),
        details: Some(pb::TrnCaseDetails {
            first_name: details.first_name.clone(),
            last_name: details.last_name.clone(),
            previous_last_name: details.previous_last_name.clone(),
            date_of_birth: details.date_of_birth.to_string(),
            national_insurance_number: details.nino.clone().unwrap_or_default(),
            email: details.email.clone(),
        }),
        candidate_trns: case.candidates.iter().map(|t| t.to_string()).collect(),
        resolve_time: case
            .resolved_at
            .map(|at| std::time::SystemTime::from(at).into()),
        trn: case.trn.map(|t| t.to_string()).unwrap_or_default(),
        no_match: case.status == crate::domain::TrnCaseStatus::Resolved && case.trn.is_none(),
    }
}

/// A change request as its teacher and reviewers see it (never its evidence).
pub fn change_request(request: &ChangeRequest) -> pb::ChangeRequest {
    pb::ChangeRequest {
        id: request.id.to_string(),
        trn: request.trn.to_string(),
        kind: request
            .kind
            .map_or(pb::ChangeRequestKind::Unspecified, ChangeKind::to_proto)
            .into(),
        status: request
            .status
            .map_or(pb::ChangeRequestStatus::Unspecified, ChangeStatus::to_proto)
            .into(),
        create_time: Some(std::time::SystemTime::from(request.created_at).into()),
        requested_first_name: request.requested_first_name.clone().unwrap_or_default(),
        requested_middle_name: request.requested_middle_name.clone().unwrap_or_default(),
        requested_last_name: request.requested_last_name.clone().unwrap_or_default(),
        requested_date_of_birth: date(request.requested_date_of_birth),
        reject_reason: request.reject_reason.clone().unwrap_or_default(),
    }
}

/// What an employer may know about a teacher, and nothing more: no NINO, contact details,
/// internal or closed alerts, or alert details.
pub fn teacher_check(teacher: &Teacher) -> pb::TeacherCheck {
    let person = &teacher.person;
    pb::TeacherCheck {
        trn: person.trn.to_string(),
        first_name: person.first_name.clone(),
        middle_name: person.middle_name.clone(),
        last_name: person.last_name.clone(),
        previous_last_names: person
            .previous_names
            .iter()
            .map(|p| p.last.clone())
            .collect(),
        date_of_birth: person
            .date_of_birth
            .map(|d| d.to_string())
            .unwrap_or_default(),
        qts_date: date(teacher.qts_date()),
        eyts_date: date(teacher.eyts_date()),
        induction_status: teacher.induction_in_effect().status.to_proto().into(),
        restricted: restricted(teacher),
        restrictions: teacher
            .alerts
            .iter()
            .filter(|a| Audience::Employer.sees(a))
            .map(|a| pb::Restriction {
                code: a.kind.code.clone(),
                title: a.kind.title.clone(),
                description: a.kind.description.clone(),
                start_date: format_date(a.start),
            })
            .collect(),
        npq_qualifications: teacher.npqs.iter().map(npq).collect(),
        mandatory_qualifications: teacher.mqs.iter().map(mq).collect(),
        professional_statuses: teacher
            .statuses
            .iter()
            .map(|status| pb::ProfessionalStatus {
                exempt_from_induction: None,
                ..professional_status(status)
            })
            .collect(),
        qtls_status: teacher.qtls.status.to_proto().into(),
    }
}

pub fn professional_status(status: &ProfessionalStatus) -> pb::ProfessionalStatus {
    pb::ProfessionalStatus {
        r#type: status.kind.to_proto().into(),
        route: status.route.to_proto().into(),
        status: status.status.to_proto().into(),
        awarded_date: date(status.awarded),
        exempt_from_induction: status.exempt_from_induction,
        training: status.training.as_ref().map(Training::to_proto),
    }
}

fn induction(induction: &Induction) -> pb::Induction {
    pb::Induction {
        status: induction.status.to_proto().into(),
        start_date: date(induction.start),
        completed_date: date(induction.completed),
        exemption_reasons: induction
            .exemption_reasons
            .iter()
            .map(|r| r.to_proto().into())
            .collect(),
        periods: induction.periods.iter().map(induction_period).collect(),
    }
}

fn induction_period(period: &InductionPeriod) -> pb::InductionPeriod {
    pb::InductionPeriod {
        appropriate_body: period.appropriate_body.clone(),
        start_date: format_date(period.start),
        end_date: date(period.end),
        terms: i32::from(period.terms),
    }
}

fn npq(held: &Held<Npq>) -> pb::NpqQualification {
    pb::NpqQualification {
        id: held.id.to_string(),
        r#type: held.value.kind.to_proto().into(),
        awarded_date: format_date(held.value.awarded),
    }
}

fn mq(held: &Held<Mq>) -> pb::MandatoryQualification {
    pb::MandatoryQualification {
        id: held.id.to_string(),
        specialism: held.value.specialism.to_proto().into(),
        status: held.value.status.to_proto().into(),
        provider: held.value.provider.clone(),
        start_date: format_date(held.value.start),
        end_date: date(held.value.end),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use portal_common::values::{DateOfBirth, Trn};

    use super::*;
    use crate::domain::{
        AlertCatalogue, AlertType, ContactDetails, Induction, Person, PersonStatus, PreviousName,
    };

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn catalogue() -> AlertCatalogue {
        AlertCatalogue::new(["T1", "T6", "C2", "G1", "F1"].map(|code| AlertType {
            code: code.into(),
            title: format!("{code} title"),
            description: format!("{code} description"),
            internal: matches!(code, "G1" | "F1"),
            restricts: matches!(code, "T1" | "C2"),
        }))
    }

    fn teacher(alerts: &[(&str, bool)]) -> Teacher {
        let c = catalogue();
        Teacher {
            person: Person {
                trn: Trn::from_number(1_000_000).unwrap(),
                first_name: "Zoë".into(),
                middle_name: String::new(),
                last_name: "O'Súilleabháin".into(),
                first_name_key: String::new(),
                last_name_key: String::new(),
                previous_names: vec![PreviousName {
                    first: "Zoë".into(),
                    middle: String::new(),
                    last: "Murphy".into(),
                    first_key: String::new(),
                    last_key: "murphy".into(),
                    ended_on: date(2014, 8, 1),
                }],
                date_of_birth: Some(DateOfBirth::from_stored(date(1985, 3, 14))),
                nino: Some("AB123456C".into()),
                date_of_death: None,
                contact: ContactDetails {
                    email: "zoe@example.org".into(),
                    ..Default::default()
                },
                status: PersonStatus::Active,
                merged_into: None,
            },
            statuses: Vec::new(),
            induction: Induction::default(),
            npqs: Vec::new(),
            mqs: Vec::new(),
            alerts: alerts
                .iter()
                .enumerate()
                .map(|(i, (code, open))| Alert {
                    id: i as i64 + 1,
                    kind: c.get(code).unwrap(),
                    details: "Case notes".into(),
                    start: date(2020, 1, 1),
                    end: (!open).then(|| date(2021, 1, 1)),
                })
                .collect(),
            qtls: crate::domain::Qtls::default(),
        }
    }

    fn codes(alerts: &[pb::Alert]) -> Vec<&str> {
        alerts.iter().map(|a| a.code.as_str()).collect()
    }

    #[test]
    fn the_teacher_sees_no_internal_alerts_and_no_details() {
        let t = teacher(&[("T1", false), ("G1", true), ("F1", true), ("T6", true)]);
        let view = teacher_record(&t, Audience::Teacher);
        assert_eq!(codes(&view.alerts), ["T1", "T6"]);
        assert!(view.alerts.iter().all(|a| a.details.is_empty()));
        assert_eq!(view.status, pb::PersonStatus::Unspecified as i32);
        assert_eq!(view.alerts[0].title, "T1 title");
        assert_eq!(view.alerts[0].end_date, "2021-01-01");
    }

    #[test]
    fn internal_readers_see_everything() {
        let t = teacher(&[("T1", false), ("G1", true)]);
        let view = teacher_record(&t, Audience::Internal);
        assert_eq!(codes(&view.alerts), ["T1", "G1"]);
        assert!(view.alerts.iter().all(|a| a.details == "Case notes"));
        assert_eq!(view.status, pb::PersonStatus::Active as i32);
        assert_eq!(view.national_insurance_number, "AB123456C");
    }

    #[test]
    fn restricted_means_an_open_public_alert_other_than_t6() {
        let restricted_of = |alerts: &[(&str, bool)]| restricted(&teacher(alerts));
        assert!(!restricted_of(&[]));
        assert!(!restricted_of(&[("T6", true)]));
        assert!(!restricted_of(&[("G1", true), ("F1", true)]));
        assert!(!restricted_of(&[("T1", false)]));
        assert!(restricted_of(&[("T1", true)]));
        assert!(restricted_of(&[("C2", true), ("T6", true)]));
        // Every audience is told the same.
        let t = teacher(&[("T1", true)]);
        assert!(teacher_record(&t, Audience::Teacher).restricted);
        assert!(teacher_record(&t, Audience::Internal).restricted);
        assert!(teacher_check(&t).restricted);
    }

    #[test]
    fn employers_see_open_public_alerts_only_and_no_personal_extras() {
        let t = teacher(&[("T1", false), ("T6", true), ("G1", true), ("C2", true)]);
        let check = teacher_check(&t);
        let restrictions: Vec<_> = check.restrictions.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(restrictions, ["T6", "C2"]);
        assert!(check.restricted);
        assert_eq!(check.restrictions[1].description, "C2 description");
        assert_eq!(check.previous_last_names, ["Murphy"]);
        // TeacherCheck has no field for NINO, contact details or alert details: the encoding
        // holds none of them.
        let bytes = prost::Message::encode_to_vec(&check);
        let text = String::from_utf8_lossy(&bytes);
        for secret in ["AB123456C", "zoe@example.org", "Case notes"] {
            assert!(!text.contains(secret), "employer view leaks {secret}");
        }
    }
}

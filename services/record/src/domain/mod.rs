//! Rules of the teacher record that need no I/O.

mod alerts;
mod audit;
mod change;
mod contact;
mod enums;
mod one_login;
mod qualifications;
mod trn_request;
mod trn_search;
mod update;

use chrono::NaiveDate;
use dqt_proto::dqt::portal::v1 as pb;
use portal_common::values::{DateOfBirth, NamePart, Nino, PersonName, Trn, parse_date};
use portal_common::{FieldViolation, Violations};

pub use alerts::{
    Alert, AlertCatalogue, AlertCloseError, AlertCorrection, AlertRemoval, AlertType, NewAlert,
    parse_alert_id, parse_close_date,
};
pub use audit::{AuditAction, AuditEvent, RecordCheckKind};
pub use change::{
    ChangeKind, ChangeRequest, ChangeStatus, Decision, Evidence, KeptEvidence, NewChangeRequest,
    RequestedChange,
};
pub use contact::{ContactDetails, FIELDS as CONTACT_FIELDS};
pub use enums::{
    ChangeEventType, DegreeType, ExemptionReason, InductionStatus, MqSpecialism, MqStatus, NpqType,
    PersonStatus, QtlsStatus, Route, RouteStatus, StatusType, TrnCaseStatus, TrnRequestStatus,
};
pub use one_login::{VerifiedIdentity, parse_subject};
pub use qualifications::{
    Induction, InductionPeriod, Mq, Npq, ProfessionalStatus, Qtls, Training, TrainingSubject,
};
pub use trn_request::{Resolution, TrnMatch, TrnRequestInput, parse_request_id};
pub use trn_search::{CaseResolution, Ranked, parse_case_id, rank};
pub use update::TeacherUpdate;

/// A record to create: the person and whatever is already known of their qualifications.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub name: PersonName,
    /// Newest first.
    pub previous_names: Vec<PreviousName>,
    /// Absent only on legacy records.
    pub date_of_birth: Option<DateOfBirth>,
    pub nino: Option<Nino>,
    pub contact: ContactDetails,
    pub status: PersonStatus,
    pub statuses: Vec<ProfessionalStatus>,
    pub induction: Induction,
    pub npqs: Vec<Npq>,
    pub mqs: Vec<Mq>,
    pub alerts: Vec<NewAlert>,
    pub qtls: Qtls,
    /// Set on a record closed on the teacher's death (then deactivated).
    pub date_of_death: Option<NaiveDate>,
}

impl NewRecord {
    /// A CreateTeacher request, checked: every bad field named.
    pub fn parse(
        request: &pb::CreateTeacherRequest,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut violations = Violations::new();
        let name = violations.check_all(PersonName::parse(
            ["first_name", "middle_name", "last_name"],
            &request.first_name,
            &request.middle_name,
            &request.last_name,
        ));
        let date_of_birth = violations.check(DateOfBirth::parse(
            "date_of_birth",
            &request.date_of_birth,
            today,
        ));
        let nino = violations.check(Nino::parse_optional(
            "national_insurance_number",
            &request.national_insurance_number,
        ));
        let contact = violations.check_all(ContactDetails::parse(
            "contact_details",
            &request.contact_details.clone().unwrap_or_default(),
        ));
        match (name, date_of_birth, nino, contact) {
            (Some(name), Some(date_of_birth), Some(nino), Some(contact))
                if violations.is_empty() =>
            {
                Ok(Self::person(name, date_of_birth, nino, contact))
            }
            _ => Err(violations.into_inner()),
        }
    }

    /// A new, active record of a person with nothing on it yet.
    pub fn person(
        name: PersonName,
        date_of_birth: DateOfBirth,
        nino: Option<Nino>,
        contact: ContactDetails,
    ) -> Self {
        Self {
            name,
            previous_names: Vec::new(),
            date_of_birth: Some(date_of_birth),
            nino,
            contact,
            status: PersonStatus::Active,
            statuses: Vec::new(),
            induction: Induction::default(),
            npqs: Vec::new(),
            mqs: Vec::new(),
            alerts: Vec::new(),
            qtls: Qtls::default(),
            date_of_death: None,
        }
    }
}

/// One employer check by TRN and date of birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrnQuery {
    pub trn: Trn,
    pub date_of_birth: NaiveDate,
}

impl TrnQuery {
    /// A check, parsed (the TRN as the caller's form of it reads it); every bad field named.
    pub fn parse(
        trn: Result<Trn, FieldViolation>,
        date_field: &str,
        date: &str,
    ) -> Result<Self, Vec<FieldViolation>> {
        let date_of_birth = parse_date(date_field, date);
        match (trn, date_of_birth) {
            (Ok(trn), Ok(date_of_birth)) => Ok(Self { trn, date_of_birth }),
            (trn, date) => Err(trn.err().into_iter().chain(date.err()).collect()),
        }
    }
}

/// A name the teacher used before, and when it stopped being used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousName {
    pub first: String,
    pub middle: String,
    pub last: String,
    pub first_key: String,
    pub last_key: String,
    pub ended_on: NaiveDate,
}

/// Who a record is about: names, date of birth, identifiers, contact details and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub trn: Trn,
    pub first_name: String,
    pub middle_name: String,
    pub last_name: String,
    pub first_name_key: String,
    pub last_name_key: String,
    /// Newest first.
    pub previous_names: Vec<PreviousName>,
    pub date_of_birth: Option<DateOfBirth>,
    /// Set when the record was closed on the teacher's death.
    pub date_of_death: Option<NaiveDate>,
    pub nino: Option<String>,
    pub contact: ContactDetails,
    pub status: PersonStatus,
    pub merged_into: Option<Trn>,
}

/// Something held on a record under its own identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held<T> {
    pub id: i64,
    pub value: T,
}

/// A teacher's whole record as held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Teacher {
    pub person: Person,
    pub statuses: Vec<ProfessionalStatus>,
    pub induction: Induction,
    pub npqs: Vec<Held<Npq>>,
    pub mqs: Vec<Held<Mq>>,
    pub alerts: Vec<Alert>,
    pub qtls: Qtls,
}

impl Teacher {
    /// The date QTS was first held: QTS itself, or through QTLS while SET membership is
    /// active (a lapsed QTLS confers nothing).
    pub fn qts_date(&self) -> Option<NaiveDate> {
        self.statuses
            .iter()
            .filter(|s| s.confers_qts(self.qtls))
            .filter_map(|s| s.awarded)
            .chain(self.qtls.awarded.filter(|_| self.qtls.is_active()))
            .min()
    }

    /// Whether QTS is held only through QTLS: what the QTS certificate then says.
    pub fn qts_only_through_qtls(&self) -> bool {
        self.qts_date().is_some()
            && !self
                .statuses
                .iter()
                .any(|s| s.is_held() && s.kind == StatusType::Qts)
    }

    /// Induction as it stands in effect: an exemption through QTLS holds only while QTLS is
    /// active (lapsed, induction is required again if QTS is held by another route), active
    /// QTLS exempts a teacher with no induction or one still required, and a failed induction
    /// is never overridden.
    pub fn induction_in_effect(&self) -> Induction {
        let stored = &self.induction;
        let only_qtls = !stored.exemption_reasons.is_empty()
            && stored
                .exemption_reasons
                .iter()
                .all(|r| *r == ExemptionReason::Qtls);
        match stored.status {
            InductionStatus::Exempt if only_qtls && !self.qtls.is_active() => Induction {
                status: if self.qts_date().is_some() {
                    InductionStatus::RequiredToComplete
                } else {
                    InductionStatus::None
                },
                exemption_reasons: Vec::new(),
                ..stored.clone()
            },
            InductionStatus::None | InductionStatus::RequiredToComplete
                if self.qtls.is_active() =>
            {
                Induction {
                    status: InductionStatus::Exempt,
                    exemption_reasons: vec![ExemptionReason::Qtls],
                    ..stored.clone()
                }
            }
            _ => stored.clone(),
        }
    }

    /// The date EYTS was first held.
    pub fn eyts_date(&self) -> Option<NaiveDate> {
        self.statuses
            .iter()
            .filter(|s| s.is_held() && s.kind == StatusType::Eyts)
            .filter_map(|s| s.awarded)
            .min()
    }

    /// Checks a status about to be added: a status is held at most once. `Err` is the reason
    /// the record's state refuses it.
    pub fn check_new_status(&self, status: &ProfessionalStatus) -> Result<(), &'static str> {
        let held_already = status.is_held()
            && self
                .statuses
                .iter()
                .any(|s| s.is_held() && s.kind == status.kind);
        if held_already {
            return Err("this professional status is already held");
        }
        Ok(())
    }

    /// Checks an NPQ about to be added: each NPQ is awarded at most once.
    pub fn check_new_npq(&self, npq: &Npq) -> Result<(), &'static str> {
        if self.npqs.iter().any(|held| held.value.kind == npq.kind) {
            return Err("this NPQ is already on the record");
        }
        Ok(())
    }
}

/// The date a teacher died: required, a calendar date from 1900, not in the future.
pub fn parse_date_of_death(
    field: &str,
    input: &str,
    today: NaiveDate,
) -> Result<NaiveDate, FieldViolation> {
    let mut c = portal_common::checks::Checker::new("", today);
    let date = c.date(field, input);
    c.presence(
        field,
        !input.trim().is_empty(),
        portal_common::checks::Use::Required,
        "to close a record on a death",
    );
    match date {
        Some(date) if c.is_ok() => Ok(date),
        _ => Err(c
            .violations()
            .into_iter()
            .next()
            .unwrap_or_else(|| FieldViolation::new(field, "is required"))),
    }
}

impl Person {
    /// Closes the record on the teacher's death: deactivated, with the date. A date before
    /// the date of birth is refused, naming `field`.
    pub fn deceased(&mut self, field: &str, died: NaiveDate) -> Result<(), FieldViolation> {
        if self.date_of_birth.is_some_and(|born| died < born.date()) {
            return Err(FieldViolation::new(
                field,
                "must not be before the date of birth",
            ));
        }
        self.status = PersonStatus::Deactivated;
        self.date_of_death = Some(died);
        Ok(())
    }
}

/// Sign-in details, parsed and normalised.
#[derive(Debug, Clone)]
pub struct SignInDetails {
    pub surname_key: String,
    pub forename_key: String,
    pub date_of_birth: NaiveDate,
    pub nino: Option<Nino>,
}

impl SignInDetails {
    pub fn parse(
        request: &dqt_proto::dqt::record::v1::MatchTeacherRequest,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut violations = Violations::new();
        let surname = NamePart::parse("surname", &request.surname);
        let forename = NamePart::parse("forename", &request.forename);
        let date_of_birth =
            portal_common::values::parse_date("date_of_birth", &request.date_of_birth);
        let nino = Nino::parse_optional(
            "national_insurance_number",
            &request.national_insurance_number,
        );
        match (surname, forename, date_of_birth, nino) {
            (Ok(surname), Ok(forename), Ok(date_of_birth), Ok(nino)) => Ok(Self {
                surname_key: surname.normalised(),
                forename_key: forename.normalised(),
                date_of_birth,
                nino,
            }),
            (surname, forename, date_of_birth, nino) => {
                violations.extend(surname.err());
                violations.extend(forename.err());
                violations.extend(date_of_birth.err());
                violations.extend(nino.err());
                Err(violations.into_inner())
            }
        }
    }
}

impl Person {
    /// Whether sign-in details identify this record, and the record may sign in: active, with
    /// a date of birth, forename and surname each current or previous, NINO matching when
    /// given. Every check runs whatever the outcome of the others.
    pub fn matches(&self, details: &SignInDetails) -> bool {
        let active = self.status == PersonStatus::Active && self.merged_into.is_none();
        let date_of_birth = self
            .date_of_birth
            .is_some_and(|dob| dob.date() == details.date_of_birth);
        let forename = std::iter::once(self.first_name_key.as_str())
            .chain(self.previous_names.iter().map(|p| p.first_key.as_str()))
            .fold(false, |found, key| found | (key == details.forename_key));
        let surname = std::iter::once(self.last_name_key.as_str())
            .chain(self.previous_names.iter().map(|p| p.last_key.as_str()))
            .fold(false, |found, key| found | (key == details.surname_key));
        let nino = match (&details.nino, &self.nino) {
            (None, _) => true,
            (Some(given), Some(held)) => given.as_str() == held,
            (Some(_), None) => false,
        };
        active & date_of_birth & forename & surname & nino
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_common::values::normalise_name;

    fn whole(statuses: Vec<ProfessionalStatus>, induction: Induction, qtls: Qtls) -> Teacher {
        Teacher {
            person: teacher(),
            statuses,
            induction,
            npqs: Vec::new(),
            mqs: Vec::new(),
            alerts: Vec::new(),
            qtls,
        }
    }

    fn held(kind: StatusType, route: Route, year: i32) -> ProfessionalStatus {
        ProfessionalStatus {
            kind,
            route,
            status: RouteStatus::Holds,
            awarded: NaiveDate::from_ymd_opt(year, 7, 1),
            exempt_from_induction: Some(false),
            training: None,
        }
    }

    fn qtls(status: QtlsStatus) -> Qtls {
        Qtls {
            status,
            awarded: NaiveDate::from_ymd_opt(2015, 1, 1),
        }
    }

    #[test]
    fn qtls_confers_qts_and_exempts_only_while_active() {
        let through_qtls = vec![held(StatusType::Qtls, Route::QtlsSetMembership, 2015)];
        let active = whole(
            through_qtls.clone(),
            Induction::default(),
            qtls(QtlsStatus::Active),
        );
        assert_eq!(active.qts_date(), NaiveDate::from_ymd_opt(2015, 1, 1));
        assert!(active.qts_only_through_qtls());
        let effect = active.induction_in_effect();
        assert_eq!(
            (effect.status, effect.exemption_reasons),
            (InductionStatus::Exempt, vec![ExemptionReason::Qtls])
        );
        let expired = whole(
            through_qtls,
            Induction {
                status: InductionStatus::Exempt,
                exemption_reasons: vec![ExemptionReason::Qtls],
                ..Induction::default()
            },
            qtls(QtlsStatus::Expired),
        );
        assert_eq!(expired.qts_date(), None);
        assert_eq!(expired.induction_in_effect().status, InductionStatus::None);
        // QTS by its own route too: the lapsed QTLS exemption leaves induction required.
        let mut both = expired.clone();
        both.statuses
            .push(held(StatusType::Qts, Route::HigherEducation, 2010));
        assert_eq!(
            both.induction_in_effect().status,
            InductionStatus::RequiredToComplete
        );
        assert!(!both.qts_only_through_qtls());
    }

    #[test]
    fn a_failed_induction_is_never_overridden_by_qtls() {
        let failed = Induction {
            status: InductionStatus::Failed,
            start: NaiveDate::from_ymd_opt(2010, 9, 1),
            completed: NaiveDate::from_ymd_opt(2011, 7, 1),
            ..Induction::default()
        };
        let t = whole(
            vec![held(StatusType::Qts, Route::HigherEducation, 2010)],
            failed,
            qtls(QtlsStatus::Active),
        );
        assert_eq!(t.induction_in_effect().status, InductionStatus::Failed);
        assert_eq!(t.qts_date(), NaiveDate::from_ymd_opt(2010, 7, 1));
    }

    #[test]
    fn a_death_closes_the_record_but_never_before_the_birth() {
        let mut person = teacher();
        let error = person
            .deceased(
                "date_of_death",
                NaiveDate::from_ymd_opt(1980, 1, 1).unwrap(),
            )
            .unwrap_err();
        assert_eq!(error.field, "date_of_death");
        assert_eq!(person.status, PersonStatus::Active);
        let died = NaiveDate::from_ymd_opt(2026, 2, 3).unwrap();
        person.deceased("date_of_death", died).unwrap();
        assert_eq!(
            (person.status, person.date_of_death),
            (PersonStatus::Deactivated, Some(died))
        );
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        assert!(parse_date_of_death("d", "2026-11-30", today).is_err());
        assert!(parse_date_of_death("d", "", today).is_err());
    }

    fn teacher() -> Person {
        Person {
            trn: Trn::from_number(1_000_001).unwrap(),
            first_name: "Siobhán".into(),
            middle_name: String::new(),
            last_name: "O'Súilleabháin".into(),
            first_name_key: normalise_name("Siobhán"),
            last_name_key: normalise_name("O'Súilleabháin"),
            previous_names: vec![PreviousName {
                first: "Siobhán".into(),
                middle: String::new(),
                last: "Murphy".into(),
                first_key: normalise_name("Siobhan"),
                last_key: normalise_name("Murphy"),
                ended_on: NaiveDate::from_ymd_opt(2015, 6, 1).unwrap(),
            }],
            date_of_birth: Some(DateOfBirth::from_stored(
                NaiveDate::from_ymd_opt(1985, 3, 14).unwrap(),
            )),
            nino: Some("AB123456C".into()),
            date_of_death: None,
            contact: ContactDetails::default(),
            status: PersonStatus::Active,
            merged_into: None,
        }
    }

    fn details(surname: &str, forename: &str, dob: &str, nino: &str) -> SignInDetails {
        SignInDetails::parse(&dqt_proto::dqt::record::v1::MatchTeacherRequest {
            trn: "1000001".into(),
            surname: surname.into(),
            forename: forename.into(),
            date_of_birth: dob.into(),
            national_insurance_number: nino.into(),
        })
        .unwrap()
    }

    #[test]
    fn names_match_ignoring_case_apostrophe_style_and_outer_spaces() {
        let t = teacher();
        assert!(t.matches(&details("o’súilleabháin", " SIOBHÁN ", "1985-03-14", "")));
        assert!(t.matches(&details("O`Súilleabháin", "siobhán", "1985-03-14", "")));
        assert!(!t.matches(&details("OSuilleabhain", "siobhán", "1985-03-14", "")));
    }

    #[test]
    fn a_previous_surname_matches() {
        assert!(teacher().matches(&details("murphy", "Siobhán", "1985-03-14", "")));
    }

    #[test]
    fn a_previous_first_name_matches_and_hyphens_are_spaces() {
        let mut t = teacher();
        t.last_name = "Murphy-Jones".into();
        t.last_name_key = normalise_name("Murphy-Jones");
        // The first name the teacher used before (without its accent, as it was recorded).
        assert!(t.matches(&details("Murphy Jones", "Siobhan", "1985-03-14", "")));
        assert!(t.matches(&details("murphy - jones", "Siobhán", "1985-03-14", "")));
        assert!(!t.matches(&details("MurphyJones", "Siobhán", "1985-03-14", "")));
        assert!(!t.matches(&details("Murphy", "Sinead", "1985-03-14", "")));
    }

    #[test]
    fn date_of_birth_and_nino_must_match() {
        let t = teacher();
        assert!(!t.matches(&details("Murphy", "Siobhán", "1985-03-15", "")));
        assert!(t.matches(&details("Murphy", "Siobhán", "1985-03-14", "ab 12 34 56 c")));
        assert!(!t.matches(&details("Murphy", "Siobhán", "1985-03-14", "AB123457C")));
    }

    #[test]
    fn deactivated_merged_and_undated_records_never_match() {
        let d = details("Murphy", "Siobhán", "1985-03-14", "");
        let mut t = teacher();
        t.status = PersonStatus::Deactivated;
        assert!(!t.matches(&d));
        let mut t = teacher();
        t.merged_into = Trn::from_number(1_000_002);
        assert!(!t.matches(&d));
        let mut t = teacher();
        t.date_of_birth = None;
        assert!(!t.matches(&d));
    }

    #[test]
    fn a_nino_given_against_a_record_without_one_does_not_match() {
        let mut t = teacher();
        t.nino = None;
        assert!(!t.matches(&details("Murphy", "Siobhán", "1985-03-14", "AB123456C")));
    }
}

//! Requests for a TRN, and the rule that finds an existing record before a new one is made.
//!
//! # Matching
//!
//! A request names a person: first, middle and last name, optionally a previous last name, a
//! date of birth, optionally a NINO and an email. Names compare by their keys (case, accents as
//! written, apostrophes, hyphens and spaces as in sign-in); a record's first name may be its
//! current or a previous one, its last name current or previous, and the request's last name may
//! be its current or previous one. Only active records that were not merged are considered.
//!
//! - **Definite**: exactly one record with the same date of birth and NINO, or with the same
//!   date of birth, first name, last name and email. The request completes with that record's
//!   TRN and nothing is created.
//! - **Possible**: otherwise, any record with the same date of birth and one of last name, first
//!   name or email; or with the same NINO. The request waits for review with those records'
//!   TRNs, and a reviewer resolves it with one of them or by creating a new record.
//! - **None**: the request completes with a new record and a new TRN.

use chrono::NaiveDate;
use dqt_proto::dqt::portal::v1 as pb;
use portal_common::values::{DateOfBirth, NamePart, Nino, PersonName, Trn, parse_email};
use portal_common::{FieldViolation, Violations};
use sha2::{Digest as _, Sha256};

use super::{ContactDetails, NewRecord, Person, PersonStatus, PreviousName};

/// A request for a TRN, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrnRequestInput {
    pub request_id: String,
    pub name: PersonName,
    pub previous_last_name: Option<NamePart>,
    pub date_of_birth: DateOfBirth,
    pub nino: Option<Nino>,
    pub email: Option<String>,
}

/// What the matching rule decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrnMatch {
    Definite(Trn),
    /// The TRNs a reviewer should look at, in order.
    Possible(Vec<Trn>),
    None,
}

/// A request id: 1 to 100 letters, digits, '-', '_' or '.'.
pub fn parse_request_id(field: &str, input: &str) -> Result<String, FieldViolation> {
    let id = input.trim();
    let valid = (1..=100).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(id.to_owned())
    } else {
        Err(FieldViolation::new(
            field,
            "must be 1 to 100 letters, digits, '-', '_' or '.'",
        ))
    }
}

impl TrnRequestInput {
    pub fn parse(
        input: &pb::CreateTrnRequestRequest,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut violations = Violations::new();
        let request_id = violations.check(parse_request_id("request_id", &input.request_id));
        let name = violations.check_all(PersonName::parse(
            ["first_name", "middle_name", "last_name"],
            &input.first_name,
            &input.middle_name,
            &input.last_name,
        ));
        let previous = violations.check(NamePart::parse_optional(
            "previous_last_name",
            &input.previous_last_name,
        ));
        let date_of_birth = violations.check(DateOfBirth::parse(
            "date_of_birth",
            &input.date_of_birth,
            today,
        ));
        let nino = violations.check(Nino::parse_optional(
            "national_insurance_number",
            &input.national_insurance_number,
        ));
        let email = violations.check(parse_email("email", &input.email));
        match (request_id, name, previous, date_of_birth, nino, email) {
            (
                Some(request_id),
                Some(name),
                Some(previous),
                Some(date_of_birth),
                Some(nino),
                Some(email),
            ) if violations.is_empty() => Ok(Self {
                request_id,
                name,
                previous_last_name: (!previous.as_str().is_empty()).then_some(previous),
                date_of_birth,
                nino,
                email,
            }),
            _ => Err(violations.into_inner()),
        }
    }

    /// A digest of what the request asks, in its normalised form: the same request sent again
    /// has the same one, whatever its spacing or case.
    pub fn fingerprint(&self) -> String {
        let fields = [
            self.name.first.normalised(),
            self.name.middle.normalised(),
            self.name.last.normalised(),
            self.previous_last_name
                .as_ref()
                .map(NamePart::normalised)
                .unwrap_or_default(),
            self.date_of_birth.to_string(),
            self.nino
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
            self.email.as_deref().unwrap_or_default().to_lowercase(),
        ];
        Sha256::digest(fields.join("\u{1f}").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The record to create when no existing one is the person's.
    pub fn new_record(&self) -> NewRecord {
        let mut record = NewRecord::person(
            self.name.clone(),
            self.date_of_birth,
            self.nino.clone(),
            ContactDetails {
                email: self.email.clone().unwrap_or_default(),
                ..ContactDetails::default()
            },
        );
        if let Some(previous) = &self.previous_last_name {
            record.previous_names.push(PreviousName {
                first: self.name.first.as_str().to_owned(),
                middle: self.name.middle.as_str().to_owned(),
                last: previous.as_str().to_owned(),
                first_key: self.name.first.normalised(),
                last_key: previous.normalised(),
                // When the previous name stopped being used is not known: the record's start.
                ended_on: self.date_of_birth.date(),
            });
        }
        record
    }

    /// Applies the matching rule (module docs) to the records that share the request's date
    /// of birth or NINO.
    pub fn decide(&self, candidates: &[Person]) -> TrnMatch {
        let facts = Facts::new(
            &self.name.first,
            std::iter::once(&self.name.last).chain(&self.previous_last_name),
            self.date_of_birth,
            self.nino.as_ref(),
            self.email.as_deref(),
        );
        let mut definite = Vec::new();
        let mut possible = Vec::new();
        for person in candidates.iter().filter(|p| considered(p)) {
            let a = facts.agreement(person);
            if a.date_of_birth && (a.nino || (a.first_name && a.last_name && a.email)) {
                definite.push(person.trn);
            } else if (a.date_of_birth && (a.first_name || a.last_name || a.email)) || a.nino {
                possible.push(person.trn);
            }
        }
        match definite.as_slice() {
            [one] if possible.is_empty() => TrnMatch::Definite(*one),
            [] if possible.is_empty() => TrnMatch::None,
            _ => {
                let mut all: Vec<Trn> = definite.into_iter().chain(possible).collect();
                all.sort();
                all.dedup();
                TrnMatch::Possible(all)
            }
        }
    }
}

/// Whether a record may be matched at all: in use, and not merged into another.
pub(super) fn considered(person: &Person) -> bool {
    person.status == PersonStatus::Active && person.merged_into.is_none()
}

/// What a person says of themselves, in the form records are compared in.
pub(super) struct Facts {
    first_name: String,
    /// The current last name, then any previous one given.
    last_names: Vec<String>,
    date_of_birth: NaiveDate,
    nino: Option<String>,
    /// Case folded.
    email: Option<String>,
}

/// Which of those facts a record agrees on. A record's first and last names may be current
/// or previous ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Agreement {
    pub first_name: bool,
    pub last_name: bool,
    pub date_of_birth: bool,
    pub nino: bool,
    pub email: bool,
}

impl Facts {
    pub(super) fn new<'a>(
        first_name: &NamePart,
        last_names: impl IntoIterator<Item = &'a NamePart>,
        date_of_birth: DateOfBirth,
        nino: Option<&Nino>,
        email: Option<&str>,
    ) -> Self {
        Self {
            first_name: first_name.normalised(),
            last_names: last_names.into_iter().map(NamePart::normalised).collect(),
            date_of_birth: date_of_birth.date(),
            nino: nino.map(|n| n.as_str().to_owned()),
            email: email.map(str::to_lowercase),
        }
    }

    pub(super) fn agreement(&self, person: &Person) -> Agreement {
        Agreement {
            first_name: std::iter::once(&person.first_name_key)
                .chain(person.previous_names.iter().map(|p| &p.first_key))
                .any(|key| *key == self.first_name),
            last_name: std::iter::once(&person.last_name_key)
                .chain(person.previous_names.iter().map(|p| &p.last_key))
                .any(|key| self.last_names.contains(key)),
            date_of_birth: person
                .date_of_birth
                .is_some_and(|d| d.date() == self.date_of_birth),
            nino: self
                .nino
                .as_deref()
                .is_some_and(|given| person.nino.as_deref() == Some(given)),
            email: self.email.as_ref().is_some_and(|email| {
                !person.contact.email.is_empty() && person.contact.email.to_lowercase() == *email
            }),
        }
    }
}

/// How a reviewer resolves a request waiting for review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Existing(Trn),
    CreateNew,
}

impl Resolution {
    pub fn parse(
        input: &pb::ResolveTrnRequestRequest,
    ) -> Result<(String, Self), Vec<FieldViolation>> {
        use pb::resolve_trn_request_request::Resolution as R;
        let mut violations = Violations::new();
        let request_id = violations.check(parse_request_id("request_id", &input.request_id));
        let resolution = match &input.resolution {
            Some(R::Trn(trn)) => violations.check(Trn::parse("trn", trn)).map(Self::Existing),
            Some(R::CreateNew(true)) => Some(Self::CreateNew),
            Some(R::CreateNew(false)) | None => {
                violations.add(FieldViolation::new(
                    "resolution",
                    "is required: the TRN of an existing record, or create_new",
                ));
                None
            }
        };
        match (request_id, resolution) {
            (Some(id), Some(resolution)) if violations.is_empty() => Ok((id, resolution)),
            _ => Err(violations.into_inner()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_common::values::normalise_name as name_key;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    fn request(nino: &str, email: &str) -> TrnRequestInput {
        TrnRequestInput::parse(
            &pb::CreateTrnRequestRequest {
                request_id: "req-1".into(),
                first_name: "Mary-Jane".into(),
                last_name: "Owusu".into(),
                previous_last_name: "Smith".into(),
                date_of_birth: "1990-02-03".into(),
                national_insurance_number: nino.into(),
                email: email.into(),
                ..Default::default()
            },
            today(),
        )
        .unwrap()
    }

    fn person(
        n: u32,
        first: &str,
        last: &str,
        dob: &str,
        nino: Option<&str>,
        email: &str,
    ) -> Person {
        Person {
            trn: Trn::from_number(1_000_000 + n).unwrap(),
            first_name: first.into(),
            middle_name: String::new(),
            last_name: last.into(),
            first_name_key: name_key(first),
            last_name_key: name_key(last),
            previous_names: Vec::new(),
            date_of_birth: Some(DateOfBirth::from_stored(
                NaiveDate::parse_from_str(dob, "%Y-%m-%d").unwrap(),
            )),
            date_of_death: None,
            nino: nino.map(str::to_owned),
            contact: ContactDetails {
                email: email.into(),
                ..ContactDetails::default()
            },
            status: PersonStatus::Active,
            merged_into: None,
        }
    }

    fn trn(n: u32) -> Trn {
        Trn::from_number(1_000_000 + n).unwrap()
    }

    #[test]
    fn the_same_date_of_birth_and_nino_is_a_definite_match() {
        let r = request("AB123456C", "");
        let found = [person(
            1,
            "Maria",
            "Jones",
            "1990-02-03",
            Some("AB123456C"),
            "",
        )];
        assert_eq!(r.decide(&found), TrnMatch::Definite(trn(1)));
    }

    #[test]
    fn names_and_email_with_the_date_of_birth_are_a_definite_match() {
        let r = request("", "MJ@example.org");
        // The request's previous surname is the record's current one; hyphen or space alike.
        let found = [person(
            2,
            "Mary Jane",
            "Smith",
            "1990-02-03",
            None,
            "mj@example.org",
        )];
        assert_eq!(r.decide(&found), TrnMatch::Definite(trn(2)));
    }

    #[test]
    fn one_fact_with_the_date_of_birth_or_the_nino_alone_is_possible() {
        let r = request("AB123456C", "");
        let found = [
            person(3, "Mary-Jane", "Other", "1990-02-03", None, ""),
            person(4, "Zed", "Nobody", "1971-01-01", Some("AB123456C"), ""),
            person(5, "Zed", "Nobody", "1990-02-03", None, ""),
        ];
        assert_eq!(r.decide(&found), TrnMatch::Possible(vec![trn(3), trn(4)]));
    }

    #[test]
    fn two_definite_matches_wait_for_review_and_none_make_a_record() {
        let r = request("AB123456C", "");
        let twins = [
            person(6, "A", "B", "1990-02-03", Some("AB123456C"), ""),
            person(7, "C", "D", "1990-02-03", Some("AB123456C"), ""),
        ];
        assert_eq!(r.decide(&twins), TrnMatch::Possible(vec![trn(6), trn(7)]));
        let mut closed = twins[0].clone();
        closed.status = PersonStatus::Deactivated;
        assert_eq!(r.decide(&[closed]), TrnMatch::None);
        assert_eq!(r.decide(&[]), TrnMatch::None);
    }

    #[test]
    fn the_same_request_has_the_same_fingerprint_whatever_its_spacing_or_case() {
        let a = request("AB123456C", "mj@example.org");
        let b = TrnRequestInput::parse(
            &pb::CreateTrnRequestRequest {
                request_id: "req-1".into(),
                first_name: " mary jane ".into(),
                last_name: "OWUSU".into(),
                previous_last_name: "smith".into(),
                date_of_birth: "1990-02-03".into(),
                national_insurance_number: "ab 12 34 56 c".into(),
                email: "MJ@example.org".into(),
                ..Default::default()
            },
            today(),
        )
        .unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), request("", "mj@example.org").fingerprint());
    }
}

//! Finding a lost TRN from what a person remembers (`FindMyTrn`), as DfE's find-a-lost-TRN
//! service does it.
//!
//! # Matching
//!
//! Four facts are compared with each record in use (not merged) that shares the search's date
//! of birth or NINO (every rule of three facts holds one of them): the full name (the first
//! name, current or previous, and the last name, the record's current or a previous one
//! against the search's last or previous last name: the name counts once), the date of birth,
//! the NINO, and the email on the record. Names compare as at sign-in.
//!
//! - A record **matches** when at least three facts agree. Exactly one match with no open
//!   alert: its TRN is emailed to the address given.
//! - Anything else (several matches, one with an open alert, none) is a **case** for DfE
//!   staff, who are shown the records that agree on at least two facts, most first.

use dqt_proto::dqt::portal::v1 as pb;
use portal_common::trn_search::TrnSearch;
use portal_common::values::Trn;
use portal_common::{FieldViolation, Violations};

use super::Person;
use super::trn_request::{Facts, considered};

/// Facts that must agree for a record to match.
pub const MATCHING_FACTS: usize = 3;
/// Facts that must agree for a record to be shown to the staff who look into a case.
pub const CANDIDATE_FACTS: usize = 2;

/// What the facts alone decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    /// The records that match (three facts or more), in TRN order.
    pub matches: Vec<Trn>,
    /// The records that agree on two facts or more, those that agree on most first.
    pub candidates: Vec<Trn>,
}

impl Ranked {
    /// The one record that matches, if exactly one does.
    pub fn only_match(&self) -> Option<Trn> {
        match self.matches.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }
}

/// Ranks the records that share the search's date of birth or NINO.
pub fn rank(search: &TrnSearch, records: &[Person]) -> Ranked {
    let facts = Facts::new(
        &search.first_name,
        std::iter::once(&search.last_name).chain(&search.previous_last_name),
        search.date_of_birth,
        search.nino.as_ref(),
        Some(&search.email),
    );
    let mut agreeing: Vec<(usize, Trn)> = records
        .iter()
        .filter(|p| considered(p))
        .map(|person| {
            let a = facts.agreement(person);
            let agreed = [
                a.first_name && a.last_name,
                a.date_of_birth,
                a.nino,
                a.email,
            ]
            .into_iter()
            .filter(|agreed| *agreed)
            .count();
            (agreed, person.trn)
        })
        .filter(|(agreed, _)| *agreed >= CANDIDATE_FACTS)
        .collect();
    agreeing.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut matches: Vec<Trn> = agreeing
        .iter()
        .filter(|(agreed, _)| *agreed >= MATCHING_FACTS)
        .map(|(_, trn)| *trn)
        .collect();
    matches.sort();
    Ranked {
        matches,
        candidates: agreeing.into_iter().map(|(_, trn)| trn).collect(),
    }
}

/// A case's identifier: 32 lower-case hexadecimal digits.
pub fn parse_case_id(field: &str, input: &str) -> Result<String, FieldViolation> {
    let id = input.trim();
    if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(id.to_owned())
    } else {
        Err(FieldViolation::new(
            field,
            "must be a case id: 32 hexadecimal digits",
        ))
    }
}

/// How DfE staff resolve a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseResolution {
    /// The person's record: its TRN is emailed to them.
    Found(Trn),
    /// No record is the person's.
    NoMatch,
}

impl CaseResolution {
    pub fn parse(input: &pb::ResolveTrnCaseRequest) -> Result<(String, Self), Vec<FieldViolation>> {
        use pb::resolve_trn_case_request::Resolution as R;
        let mut violations = Violations::new();
        let id = violations.check(parse_case_id("id", &input.id));
        let resolution = match &input.resolution {
            Some(R::Trn(trn)) => violations.check(Trn::parse("trn", trn)).map(Self::Found),
            Some(R::NoMatch(true)) => Some(Self::NoMatch),
            Some(R::NoMatch(false)) | None => {
                violations.add(FieldViolation::new(
                    "resolution",
                    "is required: the TRN of the person's record, or no_match",
                ));
                None
            }
        };
        match (id, resolution) {
            (Some(id), Some(resolution)) if violations.is_empty() => Ok((id, resolution)),
            _ => Err(violations.into_inner()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ContactDetails, PersonStatus, PreviousName};
    use chrono::NaiveDate;
    use portal_common::values::{DateOfBirth, normalise_name};

    fn search(nino: &str, previous: &str) -> TrnSearch {
        TrnSearch::parse(
            &pb::FindMyTrnRequest {
                first_name: "Anna".into(),
                last_name: "Jones".into(),
                previous_last_name: previous.into(),
                date_of_birth: "1985-04-01".into(),
                national_insurance_number: nino.into(),
                email: "anna@example.org".into(),
                ..Default::default()
            },
            NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        )
        .unwrap()
    }

    fn person(n: u32, last: &str, dob: &str, nino: Option<&str>, email: &str) -> Person {
        Person {
            trn: trn(n),
            first_name: "Anna".into(),
            middle_name: String::new(),
            last_name: last.into(),
            first_name_key: normalise_name("Anna"),
            last_name_key: normalise_name(last),
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
        Trn::from_number(2_000_000 + n).unwrap()
    }

    #[test]
    fn name_date_of_birth_and_email_are_three_facts() {
        let found = [person(1, "Jones", "1985-04-01", None, "ANNA@example.org")];
        let ranked = rank(&search("", ""), &found);
        assert_eq!(ranked.only_match(), Some(trn(1)));
    }

    #[test]
    fn the_name_counts_once_so_name_and_date_of_birth_are_two() {
        let found = [person(1, "Jones", "1985-04-01", None, "other@example.org")];
        let ranked = rank(&search("", ""), &found);
        assert_eq!(ranked.only_match(), None);
        assert_eq!(ranked.candidates, [trn(1)]);
    }

    #[test]
    fn a_previous_surname_on_either_side_makes_the_name_agree() {
        // The search gives the record's current surname as its previous one.
        let found = [person(1, "Smith", "1985-04-01", Some("AB123456C"), "")];
        assert_eq!(
            rank(&search("AB123456C", "Smith"), &found).only_match(),
            Some(trn(1))
        );
        // The record keeps the search's surname as a previous one.
        let mut married = person(2, "Brown", "1985-04-01", Some("AB123456C"), "");
        married.previous_names.push(PreviousName {
            first: "Anna".into(),
            middle: String::new(),
            last: "Jones".into(),
            first_key: normalise_name("Anna"),
            last_key: normalise_name("Jones"),
            ended_on: NaiveDate::from_ymd_opt(2015, 1, 1).unwrap(),
        });
        assert_eq!(
            rank(&search("AB123456C", ""), &[married]).only_match(),
            Some(trn(2))
        );
    }

    #[test]
    fn date_of_birth_nino_and_email_match_without_the_name() {
        let found = [person(
            1,
            "Unrelated",
            "1985-04-01",
            Some("AB123456C"),
            "anna@example.org",
        )];
        assert_eq!(
            rank(&search("AB123456C", ""), &found).only_match(),
            Some(trn(1))
        );
    }

    #[test]
    fn two_matches_are_no_single_match_and_both_are_candidates_most_first() {
        let found = [
            person(3, "Jones", "1985-04-01", None, ""),
            person(2, "Jones", "1985-04-01", Some("AB123456C"), ""),
            person(
                1,
                "Jones",
                "1985-04-01",
                Some("AB123456C"),
                "anna@example.org",
            ),
        ];
        let ranked = rank(&search("AB123456C", ""), &found);
        assert_eq!(ranked.matches, [trn(1), trn(2)]);
        assert_eq!(ranked.only_match(), None);
        assert_eq!(ranked.candidates, [trn(1), trn(2), trn(3)]);
    }

    #[test]
    fn a_resolution_needs_a_case_id_and_a_trn_or_no_match() {
        let id = "0123456789abcdef0123456789abcdef".to_owned();
        let with = |resolution| pb::ResolveTrnCaseRequest {
            id: id.clone(),
            resolution,
        };
        use pb::resolve_trn_case_request::Resolution as R;
        assert_eq!(
            CaseResolution::parse(&with(Some(R::Trn("2000001".into())))),
            Ok((id.clone(), CaseResolution::Found(trn(1))))
        );
        assert_eq!(
            CaseResolution::parse(&with(Some(R::NoMatch(true)))),
            Ok((id.clone(), CaseResolution::NoMatch))
        );
        for bad in [None, Some(R::NoMatch(false))] {
            let fields: Vec<String> = CaseResolution::parse(&with(bad))
                .unwrap_err()
                .into_iter()
                .map(|v| v.field)
                .collect();
            assert_eq!(fields, ["resolution"]);
        }
        let bad_id = pb::ResolveTrnCaseRequest {
            id: "ABC".into(),
            resolution: Some(R::Trn("12".into())),
        };
        let fields: Vec<String> = CaseResolution::parse(&bad_id)
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["id", "trn"]);
    }

    #[test]
    fn records_not_in_use_are_never_matched() {
        let mut closed = person(1, "Jones", "1985-04-01", None, "anna@example.org");
        closed.status = PersonStatus::Deactivated;
        let mut merged = person(2, "Jones", "1985-04-01", None, "anna@example.org");
        merged.merged_into = Some(trn(9));
        let ranked = rank(&search("", ""), &[closed, merged]);
        assert!(ranked.matches.is_empty() && ranked.candidates.is_empty());
    }
}

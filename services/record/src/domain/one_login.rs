//! Signing in through GOV.UK One Login: which record a One Login account stands for.
//!
//! An account is linked to at most one TRN, and a TRN to at most one account. An account not
//! yet linked whose identity One Login verified is linked when that identity names exactly one
//! record in use: a record with one of the person's dates of birth and one of their names,
//! compared as at sign-in (case, apostrophes, hyphens and spaces alike). A name agrees when its
//! first given name, or all its given names together, is the record's first name, current or
//! previous; and its family name, whole or any one part of it, is the record's last name,
//! current or previous. Otherwise the holder proves the TRN once with the details sign-in
//! takes.

use chrono::NaiveDate;
use dqt_proto::dqt::record::v1 as rpb;
use portal_common::values::{Trn, normalise_name, parse_date};
use portal_common::{FieldViolation, Violations};

use super::Person;
use super::trn_request::considered;

/// The longest subject identifier kept (One Login's are about 60 characters).
const SUBJECT_MAX: usize = 255;
/// The most names and dates of birth read from one identity.
const MAX_ENTRIES: usize = 20;
/// The longest name part compared.
const MAX_PART: usize = 200;

/// A One Login subject identifier: printable ASCII, without spaces.
pub fn parse_subject(field: &str, input: &str) -> Result<String, FieldViolation> {
    if input.is_empty() || input.len() > SUBJECT_MAX || !input.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(FieldViolation::new(
            field,
            "must be a One Login subject identifier: 1 to 255 printable characters",
        ));
    }
    Ok(input.to_owned())
}

/// One name of a verified identity, as keys.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Name {
    /// The first given name, then all the given names together.
    first: Vec<String>,
    /// The whole family name, then each of its parts.
    last: Vec<String>,
}

/// What One Login verified of a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    names: Vec<Name>,
    birth_dates: Vec<NaiveDate>,
}

impl VerifiedIdentity {
    /// `None` when One Login verified nothing usable (no name or no date of birth).
    pub fn parse(input: &rpb::VerifiedIdentity) -> Result<Option<Self>, Vec<FieldViolation>> {
        let mut violations = Violations::new();
        if input.names.len() > MAX_ENTRIES {
            violations.add(FieldViolation::new("identity.names", "at most 20"));
        }
        if input.birth_dates.len() > MAX_ENTRIES {
            violations.add(FieldViolation::new("identity.birth_dates", "at most 20"));
        }
        let too_long = input
            .names
            .iter()
            .flat_map(|n| n.given_names.iter().chain(&n.family_names))
            .any(|part| part.len() > MAX_PART);
        if too_long {
            violations.add(FieldViolation::new(
                "identity.names",
                "a name part may be at most 200 bytes",
            ));
        }
        let birth_dates: Vec<NaiveDate> = input
            .birth_dates
            .iter()
            .filter_map(|date| violations.check(parse_date("identity.birth_dates", date)))
            .collect();
        let violations = violations.into_inner();
        if !violations.is_empty() {
            return Err(violations);
        }
        let names: Vec<Name> = input.names.iter().filter_map(name_keys).collect();
        Ok((!names.is_empty() && !birth_dates.is_empty()).then_some(Self { names, birth_dates }))
    }

    pub fn birth_dates(&self) -> &[NaiveDate] {
        &self.birth_dates
    }

    /// Whether this identity names `person` (its date of birth and one of its names).
    fn names(&self, person: &Person) -> bool {
        let born = person
            .date_of_birth
            .is_some_and(|d| self.birth_dates.contains(&d.date()));
        let firsts: Vec<&String> = std::iter::once(&person.first_name_key)
            .chain(person.previous_names.iter().map(|p| &p.first_key))
            .collect();
        let lasts: Vec<&String> = std::iter::once(&person.last_name_key)
            .chain(person.previous_names.iter().map(|p| &p.last_key))
            .collect();
        born && self.names.iter().any(|name| {
            name.first.iter().any(|key| firsts.contains(&key))
                && name.last.iter().any(|key| lasts.contains(&key))
        })
    }

    /// The one record in use this identity names, if exactly one.
    pub fn only_match(&self, records: &[Person]) -> Option<Trn> {
        let mut named = records
            .iter()
            .filter(|p| considered(p) && self.names(p))
            .map(|p| p.trn);
        let first = named.next()?;
        named.all(|other| other == first).then_some(first)
    }
}

/// A name's keys; `None` without a given or a family name.
fn name_keys(name: &rpb::VerifiedName) -> Option<Name> {
    let keys = |parts: &[String]| -> Vec<String> {
        parts
            .iter()
            .map(|p| normalise_name(p))
            .filter(|k| !k.is_empty())
            .collect()
    };
    let given = keys(&name.given_names);
    let family = keys(&name.family_names);
    let first = vec![given.first()?.clone(), given.join(" ")];
    let mut last = vec![family.join(" ")];
    last.extend(family.iter().cloned());
    (!family.is_empty()).then_some(Name { first, last })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ContactDetails, PersonStatus, PreviousName};
    use portal_common::values::DateOfBirth;

    fn person(number: u32, first: &str, last: &str, previous_last: Option<&str>) -> Person {
        Person {
            trn: Trn::from_number(number).unwrap(),
            first_name: first.into(),
            middle_name: String::new(),
            last_name: last.into(),
            first_name_key: normalise_name(first),
            last_name_key: normalise_name(last),
            previous_names: previous_last
                .map(|l| PreviousName {
                    first: first.into(),
                    middle: String::new(),
                    last: l.into(),
                    first_key: normalise_name(first),
                    last_key: normalise_name(l),
                    ended_on: NaiveDate::from_ymd_opt(2015, 6, 1).unwrap(),
                })
                .into_iter()
                .collect(),
            date_of_birth: Some(DateOfBirth::from_stored(
                NaiveDate::from_ymd_opt(1985, 3, 14).unwrap(),
            )),
            date_of_death: None,
            nino: None,
            contact: ContactDetails::default(),
            status: PersonStatus::Active,
            merged_into: None,
        }
    }

    fn identity(names: &[(&[&str], &[&str])], dates: &[&str]) -> rpb::VerifiedIdentity {
        rpb::VerifiedIdentity {
            names: names
                .iter()
                .map(|(given, family)| rpb::VerifiedName {
                    given_names: given.iter().map(|s| (*s).to_owned()).collect(),
                    family_names: family.iter().map(|s| (*s).to_owned()).collect(),
                })
                .collect(),
            birth_dates: dates.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn parsed(input: &rpb::VerifiedIdentity) -> VerifiedIdentity {
        VerifiedIdentity::parse(input).unwrap().unwrap()
    }

    #[test]
    fn one_record_with_the_date_of_birth_and_a_name_is_the_match() {
        let records = [
            person(1_000_001, "Mary Ann", "Lee-Smith", None),
            person(1_000_002, "John", "Lee", None),
        ];
        let by_first_given = parsed(&identity(
            &[(&["MARY", "Ann"], &["Lee Smith"])],
            &["1985-03-14"],
        ));
        assert_eq!(by_first_given.only_match(&records), records[0].trn.into());
        let by_family_part = parsed(&identity(&[(&["John", "Paul"], &["lee"])], &["1985-03-14"]));
        assert_eq!(by_family_part.only_match(&records), records[1].trn.into());
        let other_date = parsed(&identity(&[(&["John"], &["Lee"])], &["1985-03-15"]));
        assert_eq!(other_date.only_match(&records), None);
    }

    #[test]
    fn a_previous_surname_or_any_name_known_by_matches_and_two_records_match_none() {
        let records = [person(1_000_001, "Ann", "Jones", Some("Smith"))];
        let earlier = parsed(&identity(
            &[(&["Ann"], &["Brown"]), (&["Ann"], &["Smith"])],
            &["1970-01-01", "1985-03-14"],
        ));
        assert_eq!(earlier.only_match(&records), Some(records[0].trn));
        let twins = [
            person(1_000_001, "Ann", "Jones", None),
            person(1_000_002, "Ann", "Jones", None),
        ];
        let both = parsed(&identity(&[(&["Ann"], &["Jones"])], &["1985-03-14"]));
        assert_eq!(both.only_match(&twins), None);
        let mut closed = person(1_000_003, "Ann", "Jones", None);
        closed.status = PersonStatus::Deactivated;
        assert_eq!(both.only_match(&[closed]), None, "a record not in use");
    }

    #[test]
    fn an_identity_without_a_name_or_date_is_none_and_bad_dates_name_the_field() {
        assert_eq!(
            VerifiedIdentity::parse(&identity(&[(&["Ann"], &[])], &["1985-03-14"])).unwrap(),
            None
        );
        assert_eq!(
            VerifiedIdentity::parse(&identity(&[(&["Ann"], &["Jones"])], &[])).unwrap(),
            None
        );
        let bad = VerifiedIdentity::parse(&identity(&[(&["Ann"], &["Jones"])], &["14/03/1985"]))
            .unwrap_err();
        assert_eq!(bad[0].field, "identity.birth_dates");
        assert!(parse_subject("subject", "urn:fdc:gov.uk:2022:abc").is_ok());
        assert!(parse_subject("subject", "has space").is_err());
        assert!(parse_subject("subject", "").is_err());
    }
}

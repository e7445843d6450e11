//! Changes to the person on a record, by field mask.

use chrono::NaiveDate;
use dqt_proto::dqt::portal::v1 as pb;
use portal_common::values::{DateOfBirth, NamePart, Nino, Trn};
use portal_common::{FieldViolation, Violations};

use super::{ContactDetails, Person, PersonStatus, PreviousName};

const PARENT: &str = "teacher";
const MASK: &str = portal_common::update::MASK;

/// The fields of a record an update may change: what `*` names.
pub const CHANGEABLE: [&str; 8] = [
    "first_name",
    "middle_name",
    "last_name",
    "date_of_birth",
    "national_insurance_number",
    "contact_details",
    "status",
    "merged_into_trn",
];

/// The changeable fields `input` sets (not empty): what an update without a mask changes.
fn given(input: &pb::TeacherRecord) -> Vec<String> {
    use portal_common::update::given;
    let contact = input
        .contact_details
        .as_ref()
        .map(ContactDetails::given)
        .unwrap_or_default()
        .into_iter()
        .map(|field| format!("contact_details.{field}"));
    [
        given("first_name", &input.first_name),
        given("middle_name", &input.middle_name),
        given("last_name", &input.last_name),
        given("date_of_birth", &input.date_of_birth),
        given(
            "national_insurance_number",
            &input.national_insurance_number,
        ),
        (input.status() != pb::PersonStatus::Unspecified).then(|| "status".to_owned()),
        given("merged_into_trn", &input.merged_into_trn),
    ]
    .into_iter()
    .flatten()
    .chain(contact)
    .collect()
}

/// The masked fields of an UpdateTeacher request, parsed. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeacherUpdate {
    pub first_name: Option<NamePart>,
    pub middle_name: Option<NamePart>,
    pub last_name: Option<NamePart>,
    pub date_of_birth: Option<DateOfBirth>,
    pub nino: Option<Option<Nino>>,
    /// Contact fields to change, and the checked details holding their new values.
    pub contact: Option<(Vec<&'static str>, ContactDetails)>,
    pub status: Option<PersonStatus>,
    pub merged_into: Option<Option<Trn>>,
}

impl TeacherUpdate {
    /// Reads the masked fields; violations name `teacher.<field>` or `update_mask`.
    pub fn parse(
        request: &pb::UpdateTeacherRequest,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldViolation>> {
        let input = request.teacher.clone().unwrap_or_default();
        let paths = portal_common::update::paths(
            request.update_mask.as_ref(),
            || given(&input),
            &CHANGEABLE,
        )
        .map_err(|violation| vec![violation])?;
        let field = |name: &str| format!("{PARENT}.{name}");
        let mut violations = Violations::new();
        let mut update = Self::default();
        let mut contact_paths = Vec::new();
        for path in &paths {
            match path.as_str() {
                "first_name" => {
                    update.first_name =
                        violations.check(NamePart::parse(&field(path), &input.first_name));
                }
                "middle_name" => {
                    update.middle_name = violations
                        .check(NamePart::parse_optional(&field(path), &input.middle_name));
                }
                "last_name" => {
                    update.last_name =
                        violations.check(NamePart::parse(&field(path), &input.last_name));
                }
                "date_of_birth" => {
                    update.date_of_birth = violations.check(DateOfBirth::parse(
                        &field(path),
                        &input.date_of_birth,
                        today,
                    ));
                }
                "national_insurance_number" => {
                    update.nino = violations.check(Nino::parse_optional(
                        &field(path),
                        &input.national_insurance_number,
                    ));
                }
                "status" => {
                    update.status = PersonStatus::from_proto(input.status);
                    if update.status.is_none() {
                        violations.add(FieldViolation::new(
                            field(path),
                            "must be active or deactivated",
                        ));
                    }
                }
                "merged_into_trn" => {
                    update.merged_into = if input.merged_into_trn.trim().is_empty() {
                        Some(None)
                    } else {
                        violations.check(Trn::parse(&field(path), &input.merged_into_trn).map(Some))
                    };
                }
                contact_path if contact_path.starts_with("contact_details") => {
                    contact_paths.push(contact_path.to_owned());
                }
                other => violations.add(FieldViolation::new(
                    MASK,
                    format!("`{other}` is not a field that can be changed"),
                )),
            }
        }
        if !contact_paths.is_empty() {
            let parent = field("contact_details");
            let change = input.contact_details.clone().unwrap_or_default();
            let checked = ContactDetails::masked(&contact_paths).and_then(|fields| {
                ContactDetails::default()
                    .updated(&parent, &change, &contact_paths)
                    .map(|details| (fields, details))
            });
            match checked {
                Ok(contact) => update.contact = Some(contact),
                Err(errors) => violations.extend(errors),
            }
        }
        if violations.is_empty() {
            Ok(update)
        } else {
            Err(violations.into_inner())
        }
    }
}

impl Person {
    /// What the change feed calls the change from `before` to this: a merge, a deactivation,
    /// or any other update; nothing when nothing changed.
    pub fn change_from(&self, before: &Person) -> Option<super::ChangeEventType> {
        use super::{ChangeEventType, PersonStatus};
        if self.merged_into.is_some() && before.merged_into.is_none() {
            Some(ChangeEventType::TeacherMerged)
        } else if self.status != PersonStatus::Active && before.status == PersonStatus::Active {
            Some(ChangeEventType::TeacherDeactivated)
        } else {
            (self != before).then_some(ChangeEventType::TeacherUpdated)
        }
    }

    /// Applies an update. When the name changes, the name it replaces is returned, to be kept
    /// as a previous name that stopped being used `today`.
    pub fn apply(&mut self, update: &TeacherUpdate, today: NaiveDate) -> Option<PreviousName> {
        let old = PreviousName {
            first: self.first_name.clone(),
            middle: self.middle_name.clone(),
            last: self.last_name.clone(),
            first_key: self.first_name_key.clone(),
            last_key: self.last_name_key.clone(),
            ended_on: today,
        };
        if let Some(first) = &update.first_name {
            self.first_name = first.as_str().to_owned();
            self.first_name_key = first.normalised();
        }
        if let Some(middle) = &update.middle_name {
            self.middle_name = middle.as_str().to_owned();
        }
        if let Some(last) = &update.last_name {
            self.last_name = last.as_str().to_owned();
            self.last_name_key = last.normalised();
        }
        if let Some(date_of_birth) = update.date_of_birth {
            self.date_of_birth = Some(date_of_birth);
        }
        if let Some(nino) = &update.nino {
            self.nino = nino.as_ref().map(|n| n.as_str().to_owned());
        }
        if let Some((fields, details)) = &update.contact {
            for field in fields {
                self.contact.set(field, details.get(field));
            }
        }
        if let Some(status) = update.status {
            self.status = status;
        }
        if let Some(merged_into) = update.merged_into {
            self.merged_into = merged_into;
        }
        let renamed = (old.first.as_str(), old.middle.as_str(), old.last.as_str())
            != (
                self.first_name.as_str(),
                self.middle_name.as_str(),
                self.last_name.as_str(),
            );
        renamed.then_some(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::FieldMask;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    fn request(paths: &[&str], teacher: pb::TeacherRecord) -> pb::UpdateTeacherRequest {
        pb::UpdateTeacherRequest {
            trn: "1000000".into(),
            teacher: Some(teacher),
            update_mask: Some(FieldMask {
                paths: paths.iter().map(|p| p.to_string()).collect(),
            }),
        }
    }

    fn fields(r: pb::UpdateTeacherRequest) -> Vec<String> {
        TeacherUpdate::parse(&r, today())
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    fn person() -> Person {
        Person {
            trn: Trn::from_number(1_000_000).unwrap(),
            first_name: "Zoë".into(),
            middle_name: String::new(),
            last_name: "Murphy".into(),
            first_name_key: "zoë".into(),
            last_name_key: "murphy".into(),
            previous_names: Vec::new(),
            date_of_birth: None,
            nino: None,
            date_of_death: None,
            contact: ContactDetails::default(),
            status: PersonStatus::Active,
            merged_into: None,
        }
    }

    #[test]
    fn only_masked_fields_change_and_a_rename_keeps_the_old_name() {
        let input = pb::TeacherRecord {
            first_name: "Ignored".into(),
            last_name: "O’Súilleabháin".into(),
            contact_details: Some(pb::ContactDetails {
                town: "Leeds".into(),
                email: "ignored@example.org".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let update = TeacherUpdate::parse(
            &request(&["last_name", "contact_details.town"], input),
            today(),
        )
        .unwrap();
        let mut p = person();
        let previous = p.apply(&update, today()).unwrap();
        assert_eq!(
            (p.first_name.as_str(), p.last_name.as_str()),
            ("Zoë", "O’Súilleabháin")
        );
        assert_eq!(p.last_name_key, "o'súilleabháin");
        assert_eq!(
            (p.contact.town.as_str(), p.contact.email.as_str()),
            ("Leeds", "")
        );
        assert_eq!(
            (previous.last.as_str(), previous.ended_on),
            ("Murphy", today())
        );
    }

    #[test]
    fn an_unchanged_name_keeps_no_previous_name() {
        let input = pb::TeacherRecord {
            last_name: "Murphy".into(),
            ..Default::default()
        };
        let update = TeacherUpdate::parse(&request(&["last_name"], input), today()).unwrap();
        assert_eq!(person().apply(&update, today()), None);
    }

    #[test]
    fn masks_and_values_are_checked() {
        assert_eq!(
            fields(request(&[], pb::TeacherRecord::default())),
            ["update_mask"]
        );
        assert_eq!(
            fields(request(&["trn"], pb::TeacherRecord::default())),
            ["update_mask"]
        );
        assert_eq!(
            fields(request(
                &["contact_details.fax"],
                pb::TeacherRecord::default()
            )),
            ["update_mask"]
        );
        let bad = pb::TeacherRecord {
            date_of_birth: "2020-01-01".into(),
            national_insurance_number: "GB123456A".into(),
            merged_into_trn: "123".into(),
            contact_details: Some(pb::ContactDetails {
                email: "e".repeat(300),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            fields(request(
                &[
                    "first_name",
                    "date_of_birth",
                    "national_insurance_number",
                    "status",
                    "merged_into_trn",
                    "contact_details"
                ],
                bad
            )),
            [
                "teacher.first_name",
                "teacher.date_of_birth",
                "teacher.national_insurance_number",
                "teacher.status",
                "teacher.merged_into_trn",
                "teacher.contact_details.email",
            ]
        );
    }

    #[test]
    fn without_a_mask_the_fields_given_change_and_star_changes_all() {
        let input = pb::TeacherRecord {
            last_name: "Kelly".into(),
            contact_details: Some(pb::ContactDetails {
                postcode: "ls1 4ap".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let unmasked = pb::UpdateTeacherRequest {
            trn: "1000000".into(),
            teacher: Some(input.clone()),
            update_mask: None,
        };
        let update = TeacherUpdate::parse(&unmasked, today()).unwrap();
        let mut changed = person();
        changed.contact.email = "kept@example.org".into();
        changed.apply(&update, today());
        assert_eq!(changed.last_name, "Kelly");
        assert_eq!(changed.first_name, person().first_name, "not given, kept");
        assert_eq!(changed.contact.postcode, "LS1 4AP");
        assert_eq!(changed.contact.email, "kept@example.org", "not given, kept");
        assert_eq!(
            fields(pb::UpdateTeacherRequest {
                update_mask: None,
                ..request(&[], pb::TeacherRecord::default())
            }),
            ["update_mask"],
            "nothing given, nothing named"
        );
        // "*" replaces every changeable field, so what is missing is judged as given.
        assert_eq!(
            fields(request(&["*"], input)),
            [
                "teacher.first_name",
                "teacher.date_of_birth",
                "teacher.status"
            ]
        );
    }

    #[test]
    fn status_nino_and_merge_can_be_set_and_cleared() {
        let input = pb::TeacherRecord {
            status: pb::PersonStatus::Deactivated.into(),
            national_insurance_number: "ab 12 34 56 c".into(),
            merged_into_trn: "1000001".into(),
            ..Default::default()
        };
        let update = TeacherUpdate::parse(
            &request(
                &["status", "national_insurance_number", "merged_into_trn"],
                input,
            ),
            today(),
        )
        .unwrap();
        let mut p = person();
        p.apply(&update, today());
        assert_eq!(p.status, PersonStatus::Deactivated);
        assert_eq!(p.nino.as_deref(), Some("AB123456C"));
        assert_eq!(p.merged_into, Trn::from_number(1_000_001));
        let clear = TeacherUpdate::parse(
            &request(
                &["national_insurance_number", "merged_into_trn"],
                pb::TeacherRecord::default(),
            ),
            today(),
        )
        .unwrap();
        p.apply(&clear, today());
        assert_eq!((p.nino, p.merged_into), (None, None));
    }
}

//! Rules of employment details, with no I/O (domain.md, Employment).

use chrono::NaiveDate;
use dqt_proto::dqt::portal::v1 as pb;
use portal_common::checks::{Checker, Use};
use portal_common::{FieldViolation, Violations};

const PARENT: &str = "employment";
const MAX_TEXT: usize = 200;

/// How the teacher is employed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmploymentType {
    FullTime,
    PartTimeRegular,
    PartTimeIrregular,
    Supply,
}

impl EmploymentType {
    const ALL: [(Self, pb::EmploymentType, &'static str); 4] = [
        (Self::FullTime, pb::EmploymentType::FullTime, "full_time"),
        (
            Self::PartTimeRegular,
            pb::EmploymentType::PartTimeRegular,
            "part_time_regular",
        ),
        (
            Self::PartTimeIrregular,
            pb::EmploymentType::PartTimeIrregular,
            "part_time_irregular",
        ),
        (Self::Supply, pb::EmploymentType::Supply, "supply"),
    ];

    pub fn from_proto(value: i32) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, p, _)| *p as i32 == value)
            .map(|(t, _, _)| *t)
    }

    pub fn to_proto(self) -> pb::EmploymentType {
        Self::ALL
            .iter()
            .find(|(t, _, _)| *t == self)
            .map_or(pb::EmploymentType::Unspecified, |(_, p, _)| *p)
    }

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(t, _, _)| *t == self)
            .map_or("", |(_, _, s)| s)
    }

    pub fn from_stored(text: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, _, s)| *s == text)
            .map(|(t, _, _)| *t)
    }
}

/// One employment as the teacher entered it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Employment {
    pub establishment_name: String,
    pub urn: Option<String>,
    pub local_authority_code: Option<String>,
    pub establishment_number: Option<String>,
    pub role: String,
    pub employment_type: EmploymentType,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

/// Exactly `n` ASCII digits, or empty for none.
fn digits(c: &mut Checker<'_>, field: &str, input: &str, n: usize) -> Option<String> {
    let value = input.trim();
    if value.is_empty() {
        return None;
    }
    if value.len() != n || !value.bytes().all(|b| b.is_ascii_digit()) {
        c.fail(field, format!("must be exactly {n} digits"));
        return None;
    }
    Some(value.to_owned())
}

impl Employment {
    /// Checks a whole employment; violations are named `employment.<field>`.
    pub fn parse(input: &pb::Employment, today: NaiveDate) -> Result<Self, Vec<FieldViolation>> {
        let mut c = Checker::new(PARENT, today);
        let establishment_name = c.text(
            "establishment_name",
            &input.establishment_name,
            MAX_TEXT,
            false,
        );
        if establishment_name.is_empty() {
            c.fail("establishment_name", "is required");
        }
        let urn = digits(&mut c, "urn", &input.urn, 6);
        let local_authority_code = digits(
            &mut c,
            "local_authority_code",
            &input.local_authority_code,
            3,
        );
        let establishment_number = digits(
            &mut c,
            "establishment_number",
            &input.establishment_number,
            4,
        );
        let la_given = !input.local_authority_code.trim().is_empty();
        let number_given = !input.establishment_number.trim().is_empty();
        if la_given != number_given {
            let missing = if la_given {
                "establishment_number"
            } else {
                "local_authority_code"
            };
            c.fail(
                missing,
                "is required with a local authority code and establishment number pair",
            );
        }
        let role = c.text("role", &input.role, MAX_TEXT, false);
        let employment_type = c.choice(
            "employment_type",
            EmploymentType::from_proto(input.employment_type),
        );
        // The start may not be in the future; `date` refuses future dates for both, so an end
        // date still to come is read separately.
        let start = c.date("start_date", &input.start_date);
        c.presence(
            "start_date",
            !input.start_date.trim().is_empty(),
            Use::Required,
            "for an employment",
        );
        let end = future_allowed(&mut c, "end_date", &input.end_date);
        c.ordered("end_date", start, end);
        match (employment_type, start) {
            (Some(employment_type), Some(start)) if c.is_ok() => Ok(Self {
                establishment_name,
                urn,
                local_authority_code,
                establishment_number,
                role,
                employment_type,
                start,
                end,
            }),
            _ => Err(c.violations()),
        }
    }

    pub fn to_proto(&self, id: i64) -> pb::Employment {
        let date = |d: NaiveDate| portal_common::values::format_date(d);
        pb::Employment {
            id: id.to_string(),
            establishment_name: self.establishment_name.clone(),
            urn: self.urn.clone().unwrap_or_default(),
            local_authority_code: self.local_authority_code.clone().unwrap_or_default(),
            establishment_number: self.establishment_number.clone().unwrap_or_default(),
            role: self.role.clone(),
            employment_type: self.employment_type.to_proto().into(),
            start_date: date(self.start),
            end_date: self.end.map(date).unwrap_or_default(),
        }
    }
}

/// An end date may lie ahead (a fixed-term contract); it must still be a real date.
fn future_allowed(c: &mut Checker<'_>, field: &str, input: &str) -> Option<NaiveDate> {
    if input.trim().is_empty() {
        return None;
    }
    match portal_common::values::parse_date(&c.path(field), input) {
        Ok(date) => Some(date),
        Err(_) => {
            c.fail(field, "must be a real date as YYYY-MM-DD");
            None
        }
    }
}

/// The fields an update may change: what `*` names.
pub const FIELDS: [&str; 8] = [
    "establishment_name",
    "urn",
    "local_authority_code",
    "establishment_number",
    "role",
    "employment_type",
    "start_date",
    "end_date",
];

/// The fields `change` sets (not empty): what an update without a mask changes (AIP-134).
pub fn given(change: &pb::Employment) -> Vec<String> {
    use portal_common::update::given;
    [
        given("establishment_name", &change.establishment_name),
        given("urn", &change.urn),
        given("local_authority_code", &change.local_authority_code),
        given("establishment_number", &change.establishment_number),
        given("role", &change.role),
        (change.employment_type() != pb::EmploymentType::Unspecified)
            .then(|| "employment_type".to_owned()),
        given("start_date", &change.start_date),
        given("end_date", &change.end_date),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// `current` with the named fields of `change` in place: the result is checked whole by
/// [`Employment::parse`], so that a change cannot break a rule across fields.
pub fn merge(
    current: &pb::Employment,
    change: &pb::Employment,
    paths: &[String],
) -> Result<pb::Employment, Vec<FieldViolation>> {
    let mut merged = current.clone();
    let mut violations = Violations::new();
    for path in paths {
        let field = path.strip_prefix("employment.").unwrap_or(path);
        match field {
            "establishment_name" => merged.establishment_name = change.establishment_name.clone(),
            "urn" => merged.urn = change.urn.clone(),
            "local_authority_code" => {
                merged.local_authority_code = change.local_authority_code.clone()
            }
            "establishment_number" => {
                merged.establishment_number = change.establishment_number.clone()
            }
            "role" => merged.role = change.role.clone(),
            "employment_type" => merged.employment_type = change.employment_type,
            "start_date" => merged.start_date = change.start_date.clone(),
            "end_date" => merged.end_date = change.end_date.clone(),
            other => violations.add(FieldViolation::new(
                "update_mask",
                format!("`{other}` is not a field that can be changed"),
            )),
        }
    }
    if violations.is_empty() {
        Ok(merged)
    } else {
        Err(violations.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    fn valid() -> pb::Employment {
        pb::Employment {
            establishment_name: "Leeds Grammar Academy".into(),
            urn: "123456".into(),
            local_authority_code: "383".into(),
            establishment_number: "4001".into(),
            role: "Teacher of mathematics".into(),
            employment_type: pb::EmploymentType::FullTime.into(),
            start_date: "2019-09-01".into(),
            end_date: String::new(),
            ..Default::default()
        }
    }

    fn fields(input: pb::Employment) -> Vec<String> {
        Employment::parse(&input, today())
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn a_complete_employment_is_accepted() {
        let parsed = Employment::parse(&valid(), today()).unwrap();
        assert_eq!(parsed.urn.as_deref(), Some("123456"));
        let minimal = pb::Employment {
            urn: String::new(),
            local_authority_code: String::new(),
            establishment_number: String::new(),
            role: String::new(),
            ..valid()
        };
        assert!(Employment::parse(&minimal, today()).is_ok());
        let ending_later = pb::Employment {
            end_date: "2027-08-31".into(),
            ..valid()
        };
        assert!(
            Employment::parse(&ending_later, today()).is_ok(),
            "an end date may lie ahead"
        );
    }

    #[test]
    fn each_rule_names_its_field() {
        assert_eq!(
            fields(pb::Employment {
                establishment_name: " ".into(),
                ..valid()
            }),
            ["employment.establishment_name"]
        );
        assert_eq!(
            fields(pb::Employment {
                urn: "12345".into(),
                ..valid()
            }),
            ["employment.urn"]
        );
        assert_eq!(
            fields(pb::Employment {
                urn: "12345a".into(),
                ..valid()
            }),
            ["employment.urn"]
        );
        assert_eq!(
            fields(pb::Employment {
                local_authority_code: "38".into(),
                ..valid()
            }),
            ["employment.local_authority_code"]
        );
        assert_eq!(
            fields(pb::Employment {
                establishment_number: "40011".into(),
                ..valid()
            }),
            ["employment.establishment_number"]
        );
        assert_eq!(
            fields(pb::Employment {
                establishment_number: String::new(),
                ..valid()
            }),
            ["employment.establishment_number"]
        );
        assert_eq!(
            fields(pb::Employment {
                local_authority_code: String::new(),
                ..valid()
            }),
            ["employment.local_authority_code"]
        );
        assert_eq!(
            fields(pb::Employment {
                employment_type: 0,
                ..valid()
            }),
            ["employment.employment_type"]
        );
        assert_eq!(
            fields(pb::Employment {
                start_date: "2027-01-01".into(),
                ..valid()
            }),
            ["employment.start_date"]
        );
        assert_eq!(
            fields(pb::Employment {
                start_date: String::new(),
                ..valid()
            }),
            ["employment.start_date"]
        );
        assert_eq!(
            fields(pb::Employment {
                end_date: "2019-08-31".into(),
                ..valid()
            }),
            ["employment.end_date"]
        );
        assert_eq!(
            fields(pb::Employment {
                end_date: "2019-02-30".into(),
                ..valid()
            }),
            ["employment.end_date"]
        );
    }

    #[test]
    fn a_merge_takes_only_masked_fields_and_refuses_unknown_ones() {
        let change = pb::Employment {
            role: "Head of department".into(),
            urn: "999999".into(),
            ..Default::default()
        };
        let merged = merge(&valid(), &change, &["role".into()]).unwrap();
        assert_eq!(
            (merged.role.as_str(), merged.urn.as_str()),
            ("Head of department", "123456")
        );
        let bad = merge(&valid(), &change, &["salary".into()]).unwrap_err();
        assert_eq!(bad[0].field, "update_mask");
    }

    #[test]
    fn the_fields_given_are_those_set() {
        let change = pb::Employment {
            id: "7".into(),
            role: "Head of department".into(),
            employment_type: pb::EmploymentType::Supply.into(),
            ..Default::default()
        };
        assert_eq!(given(&change), ["role", "employment_type"]);
        assert!(given(&pb::Employment::default()).is_empty());
    }

    #[test]
    fn employment_types_survive_storage_and_the_wire() {
        for (t, _, _) in EmploymentType::ALL {
            assert_eq!(EmploymentType::from_stored(t.as_str()), Some(t));
            assert_eq!(EmploymentType::from_proto(t.to_proto() as i32), Some(t));
        }
        assert_eq!(EmploymentType::from_proto(0), None);
    }
}

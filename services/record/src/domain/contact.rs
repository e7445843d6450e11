//! Contact details: email, UK telephone number and postal address. They change at once, by
//! field mask, unlike names and dates of birth.

use dqt_proto::dqt::portal::v1 as pb;
use portal_common::checks::Checker;
use portal_common::values::is_email;
use portal_common::{FieldViolation, Violations};

/// The fields by their names in the API.
pub const FIELDS: [&str; 6] = [
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "town",
    "postcode",
];

/// Contact details, checked; any field may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactDetails {
    pub email: String,
    pub phone: String,
    pub address_line1: String,
    pub address_line2: String,
    pub town: String,
    /// Upper case, one space between the outward and inward codes.
    pub postcode: String,
}

/// A UK telephone number: 10 or 11 digits starting 0, or the same after +44 / 0044; spaces,
/// dashes and brackets allowed.
fn phone_ok(phone: &str) -> bool {
    let compact: String = phone.chars().filter(|c| !c.is_whitespace()).collect();
    // "+44 (0)113 ..." writes the trunk zero that the international form drops.
    let compact = compact.replacen("+44(0)", "+44", 1);
    let digits: String = compact.chars().filter(|c| !"-()".contains(*c)).collect();
    let national = if let Some(rest) = digits.strip_prefix("+44") {
        format!("0{rest}")
    } else if let Some(rest) = digits.strip_prefix("0044") {
        format!("0{rest}")
    } else {
        digits
    };
    (10..=11).contains(&national.len())
        && national.starts_with('0')
        && !national.starts_with("00")
        && national.bytes().all(|b| b.is_ascii_digit())
}

/// A UK postcode in its written form (`SW1A 1AA`), or `None`.
fn postcode(input: &str) -> Option<String> {
    let compact: String = input
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect();
    if compact == "GIR0AA" {
        return Some("GIR 0AA".to_owned());
    }
    if !(5..=7).contains(&compact.len()) || !compact.is_ascii() {
        return None;
    }
    let (outward, inward) = compact.split_at(compact.len() - 3);
    let inward_ok = inward.as_bytes()[0].is_ascii_digit()
        && inward.as_bytes()[1..].iter().all(u8::is_ascii_uppercase);
    let o = outward.as_bytes();
    let letters = o.iter().take_while(|b| b.is_ascii_uppercase()).count();
    let outward_ok = (1..=2).contains(&letters)
        && o.len() > letters
        && o[letters].is_ascii_digit()
        && o.len() - letters <= 2
        && o[letters + 1..].iter().all(u8::is_ascii_alphanumeric);
    (inward_ok && outward_ok).then(|| format!("{outward} {inward}"))
}

impl ContactDetails {
    /// Checks contact details; violations are named under `parent` (e.g. `contact_details`).
    pub fn parse(parent: &str, input: &pb::ContactDetails) -> Result<Self, Vec<FieldViolation>> {
        // No field here holds a date: any day will do for the checker.
        let mut c = Checker::new(parent, chrono::NaiveDate::MIN);
        // Each format is checked only on a value short enough to be one.
        let email = c.text("email", &input.email, 254, false);
        if !email.is_empty() && email.chars().count() <= 254 && !is_email(&email) {
            c.fail("email", "must be an email address such as name@example.org");
        }
        let phone = c.text("phone", &input.phone, 32, false);
        if !phone.is_empty() && phone.chars().count() <= 32 && !phone_ok(&phone) {
            c.fail(
                "phone",
                "must be a UK telephone number such as 0113 496 0000",
            );
        }
        let mut postcode_text = c.text("postcode", &input.postcode, 16, false);
        if !postcode_text.is_empty() && postcode_text.chars().count() <= 16 {
            match postcode(&postcode_text) {
                Some(written) => postcode_text = written,
                None => c.fail("postcode", "must be a UK postcode such as LS1 4AP"),
            }
        }
        let details = Self {
            email,
            phone,
            address_line1: c.text("address_line1", &input.address_line1, 200, false),
            address_line2: c.text("address_line2", &input.address_line2, 200, false),
            town: c.text("town", &input.town, 100, false),
            postcode: postcode_text,
        };
        if c.is_ok() {
            Ok(details)
        } else {
            Err(c.violations())
        }
    }

    /// One field by its name in the API.
    pub fn get(&self, name: &str) -> String {
        match name {
            "email" => &self.email,
            "phone" => &self.phone,
            "address_line1" => &self.address_line1,
            "address_line2" => &self.address_line2,
            "town" => &self.town,
            _ => &self.postcode,
        }
        .clone()
    }

    pub fn set(&mut self, name: &str, value: String) {
        let field = match name {
            "email" => &mut self.email,
            "phone" => &mut self.phone,
            "address_line1" => &mut self.address_line1,
            "address_line2" => &mut self.address_line2,
            "town" => &mut self.town,
            _ => &mut self.postcode,
        };
        *field = value;
    }

    pub fn to_proto(&self) -> pb::ContactDetails {
        pb::ContactDetails {
            email: self.email.clone(),
            phone: self.phone.clone(),
            address_line1: self.address_line1.clone(),
            address_line2: self.address_line2.clone(),
            town: self.town.clone(),
            postcode: self.postcode.clone(),
            pending_email: String::new(),
        }
    }

    /// The fields `input` sets (not empty), by their API names: what an update without a
    /// mask changes (AIP-134).
    pub fn given(input: &pb::ContactDetails) -> Vec<String> {
        let given = Self::unchecked(input);
        FIELDS
            .iter()
            .filter_map(|field| portal_common::update::given(field, &given.get(field)))
            .collect()
    }

    /// The contact fields an update's paths name (`email` or `contact_details.email`, or the
    /// whole `contact_details`), or the violations of unknown paths.
    pub fn masked(paths: &[String]) -> Result<Vec<&'static str>, Vec<FieldViolation>> {
        let mut fields = Vec::new();
        let mut violations = Violations::new();
        for path in paths {
            let name = path.strip_prefix("contact_details.").unwrap_or(path);
            if name == "contact_details" {
                fields.extend(FIELDS);
            } else if let Some(field) = FIELDS.iter().find(|f| **f == name) {
                fields.push(field);
            } else {
                violations.add(FieldViolation::new(
                    portal_common::update::MASK,
                    format!("`{path}` is not a contact detail"),
                ));
            }
        }
        if violations.is_empty() {
            fields.sort_unstable();
            fields.dedup();
            Ok(fields)
        } else {
            Err(violations.into_inner())
        }
    }

    /// These details with the masked fields of `change`. Only masked fields are checked, so a
    /// stored value from before a rule existed never blocks changing another field.
    pub fn updated(
        &self,
        parent: &str,
        change: &pb::ContactDetails,
        paths: &[String],
    ) -> Result<Self, Vec<FieldViolation>> {
        let fields = Self::masked(paths)?;
        let given = Self::unchecked(change);
        let mut masked = Self::default();
        for field in &fields {
            masked.set(field, given.get(field));
        }
        let checked = Self::parse(parent, &masked.to_proto())?;
        let mut updated = self.clone();
        for field in fields {
            updated.set(field, checked.get(field));
        }
        Ok(updated)
    }

    /// The fields as sent, before any check.
    fn unchecked(input: &pb::ContactDetails) -> Self {
        Self {
            email: input.email.clone(),
            phone: input.phone.clone(),
            address_line1: input.address_line1.clone(),
            address_line2: input.address_line2.clone(),
            town: input.town.clone(),
            postcode: input.postcode.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_uk_numbers_written_any_common_way() {
        for ok in [
            "0113 496 0000",
            "07700 900461",
            "+44 7700 900461",
            "+44 (0)113 496 0000",
            "0044 20 7946 0000",
            "(020) 7946-0000",
        ] {
            assert!(phone_ok(ok), "{ok}");
        }
        for bad in [
            "12345",
            "+1 202 555 0100",
            "07700 90046a",
            "007700900461",
            "0770090046123",
        ] {
            assert!(!phone_ok(bad), "{bad}");
        }
    }

    #[test]
    fn postcodes_are_uk_postcodes_in_their_written_form() {
        assert_eq!(postcode("ls14ap").as_deref(), Some("LS1 4AP"));
        assert_eq!(postcode(" sw1a 1aa ").as_deref(), Some("SW1A 1AA"));
        assert_eq!(postcode("M1 1AE").as_deref(), Some("M1 1AE"));
        assert_eq!(postcode("gir 0aa").as_deref(), Some("GIR 0AA"));
        for bad in [
            "", "LS1", "1S1 4AP", "LS1 AAP", "LS1 4A1", "ABC1 4AP", "LŞ1 4AP",
        ] {
            assert_eq!(postcode(bad), None, "{bad}");
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let input = pb::ContactDetails {
            email: "nope".into(),
            phone: "123".into(),
            postcode: "XYZ".into(),
            town: "t".repeat(101),
            ..Default::default()
        };
        let fields: Vec<_> = ContactDetails::parse("contact_details", &input)
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            [
                "contact_details.email",
                "contact_details.phone",
                "contact_details.postcode",
                "contact_details.town"
            ]
        );
    }

    #[test]
    fn only_masked_fields_change_or_are_checked() {
        let current = ContactDetails {
            email: "old@example.org".into(),
            phone: "not a phone from long ago".into(),
            ..Default::default()
        };
        let change = pb::ContactDetails {
            email: "new@example.org".into(),
            phone: "also bad".into(),
            postcode: "ls1 4ap".into(),
            ..Default::default()
        };
        let paths = vec!["email".to_owned(), "contact_details.postcode".to_owned()];
        let updated = current.updated("contact_details", &change, &paths).unwrap();
        assert_eq!(updated.email, "new@example.org");
        assert_eq!(updated.postcode, "LS1 4AP");
        assert_eq!(
            updated.phone, "not a phone from long ago",
            "not masked, not checked"
        );
        let unknown = current
            .updated("contact_details", &change, &["fax".to_owned()])
            .unwrap_err();
        assert_eq!(unknown[0].field, "update_mask");
        let bad = current
            .updated("contact_details", &change, &["phone".to_owned()])
            .unwrap_err();
        assert_eq!(bad[0].field, "contact_details.phone");
        let everything = current
            .updated(
                "contact_details",
                &pb::ContactDetails::default(),
                &["contact_details".to_owned()],
            )
            .unwrap();
        assert_eq!(
            everything,
            ContactDetails::default(),
            "the whole of contact_details replaces every field"
        );
    }

    #[test]
    fn only_set_fields_are_given() {
        let input = pb::ContactDetails {
            email: "a@example.org".into(),
            postcode: "LS1 4AP".into(),
            pending_email: "ignored@example.org".into(),
            ..Default::default()
        };
        assert_eq!(ContactDetails::given(&input), ["email", "postcode"]);
        assert!(ContactDetails::given(&pb::ContactDetails::default()).is_empty());
    }
}

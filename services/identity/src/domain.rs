//! The identity service's rules with no I/O: what a client id, a display name, roles, a client
//! secret and a verification id may be, and what each client request asks for.

use dqt_proto::dqt::portal::v1 as pb;
use portal_common::update::{self, MASK};
use portal_common::{FieldViolation, Role, Violations};

/// The longest client secret looked at: ours are 43 characters.
pub const MAX_SECRET_LEN: usize = 256;

/// The fields of a client that UpdateClient may change.
pub const CLIENT_FIELDS: [&str; 2] = ["display_name", "roles"];

/// Lower case letters, digits and '-', 3 to 64 characters.
pub fn parse_client_id(field: &str, input: &str) -> Result<String, FieldViolation> {
    let valid = (3..=64).contains(&input.len())
        && input
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(input.to_owned())
    } else {
        Err(FieldViolation::new(
            field,
            "must be 3 to 64 lower case letters, digits or '-'",
        ))
    }
}

/// At least one role, each known; repeats count once.
pub fn parse_roles(field: &str, input: &[String]) -> Result<Vec<Role>, FieldViolation> {
    if input.is_empty() {
        return Err(FieldViolation::new(field, "at least one role is required"));
    }
    let mut roles = Vec::with_capacity(input.len());
    for name in input {
        let role = Role::parse(name)
            .ok_or_else(|| FieldViolation::new(field, "contains an unknown role"))?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(roles)
}

/// The organisation name teachers are shown: 1 to 200 characters, in NFC, nothing invisible.
pub fn parse_display_name(field: &str, input: &str) -> Result<String, FieldViolation> {
    let name = portal_common::printable::nfc(input.trim());
    if name.is_empty() || name.chars().count() > 200 {
        return Err(FieldViolation::new(
            field,
            "is required, at most 200 characters",
        ));
    }
    if portal_common::printable::has_invisible(&name) {
        return Err(FieldViolation::new(
            field,
            portal_common::printable::INVISIBLE,
        ));
    }
    Ok(name)
}

/// A verification id as StartVerification gives them, 32 lowercase hex digits; `None` for any
/// other id, which names no verification (the caller answers as for an expired one).
pub fn parse_verification_id(input: &str) -> Result<Option<String>, FieldViolation> {
    let id = input.trim();
    if id.is_empty() {
        return Err(FieldViolation::new("verification_id", "is required"));
    }
    let well_formed = id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    Ok(well_formed.then(|| id.to_owned()))
}

/// A client sign-in's client id, once the secret is known to be of a length worth checking.
pub struct SignInClientInput;

impl SignInClientInput {
    pub fn parse(input: &pb::SignInClientRequest) -> Result<String, FieldViolation> {
        let client_id = parse_client_id("client_id", &input.client_id)?;
        if input.client_secret.len() > MAX_SECRET_LEN {
            return Err(FieldViolation::new(
                "client_secret",
                "is longer than any client secret",
            ));
        }
        Ok(client_id)
    }
}

/// A client to create.
#[derive(Debug, PartialEq, Eq)]
pub struct NewClientInput {
    pub client_id: String,
    pub display_name: String,
    pub roles: Vec<Role>,
}

impl NewClientInput {
    pub fn parse(input: &pb::CreateClientRequest) -> Result<Self, Vec<FieldViolation>> {
        let mut violations = Violations::new();
        let client_id = violations.check(parse_client_id("client_id", &input.client_id));
        let display_name =
            violations.check(parse_display_name("display_name", &input.display_name));
        let roles = violations.check(parse_roles("roles", &input.roles));
        match (client_id, display_name, roles) {
            (Some(client_id), Some(display_name), Some(roles)) => Ok(Self {
                client_id,
                display_name,
                roles,
            }),
            _ => Err(violations.into_inner()),
        }
    }
}

/// What an UpdateClient asks to change (AIP-134): the fields named, each checked.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientUpdate {
    pub client_id: String,
    pub display_name: Option<String>,
    pub roles: Option<Vec<Role>>,
}

impl ClientUpdate {
    pub fn parse(input: &pb::UpdateClientRequest) -> Result<Self, Vec<FieldViolation>> {
        let given = input.client.clone().unwrap_or_default();
        let client_id =
            parse_client_id("client.client_id", &given.client_id).map_err(|v| vec![v])?;
        let paths = update::paths(
            input.update_mask.as_ref(),
            || {
                let mut set: Vec<String> = update::given("display_name", &given.display_name)
                    .into_iter()
                    .collect();
                if !given.roles.is_empty() {
                    set.push("roles".to_owned());
                }
                set
            },
            &CLIENT_FIELDS,
        )
        .map_err(|v| vec![v])?;
        let mut violations = Violations::new();
        let named = |field: &str| paths.iter().any(|p| p == field);
        let display_name = named("display_name")
            .then(|| {
                violations.check(parse_display_name(
                    "client.display_name",
                    &given.display_name,
                ))
            })
            .flatten();
        let roles = named("roles")
            .then(|| violations.check(parse_roles("client.roles", &given.roles)))
            .flatten();
        if paths.iter().any(|p| !CLIENT_FIELDS.contains(&p.as_str())) {
            violations.add(FieldViolation::new(
                MASK,
                "names a field that cannot change: display_name or roles",
            ));
        }
        let violations = violations.into_inner();
        if !violations.is_empty() {
            return Err(violations);
        }
        Ok(Self {
            client_id,
            display_name,
            roles,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_lower_case_slugs() {
        assert!(parse_client_id("c", "secure-access-1").is_ok());
        for bad in ["ab", "Admin", "a b", "a_b", &"a".repeat(65)] {
            assert!(parse_client_id("c", bad).is_err());
        }
    }

    #[test]
    fn roles_must_be_known() {
        assert_eq!(
            parse_roles("r", &["employer:check".into(), "employer:check".into()]).unwrap(),
            [Role::EmployerCheck]
        );
        assert!(parse_roles("r", &[]).is_err());
        assert!(parse_roles("r", &["root".into()]).is_err());
    }

    fn update(
        display_name: &str,
        roles: &[&str],
        mask: Option<&[&str]>,
    ) -> Result<ClientUpdate, Vec<String>> {
        ClientUpdate::parse(&pb::UpdateClientRequest {
            client: Some(pb::Client {
                client_id: "acme".into(),
                display_name: display_name.into(),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            }),
            update_mask: mask.map(|paths| prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
        })
        .map_err(|violations| violations.into_iter().map(|v| v.field).collect())
    }

    #[test]
    fn an_update_changes_only_what_it_names_and_checks_only_that() {
        let named = update("Acme", &["root"], Some(&["display_name"])).unwrap();
        assert_eq!(named.display_name.as_deref(), Some("Acme"));
        assert_eq!(named.roles, None, "not named, so not checked either");
        let given = update("", &["audit:read"], None).unwrap();
        assert_eq!(
            (given.display_name, given.roles),
            (None, Some(vec![Role::AuditRead]))
        );
        assert_eq!(
            update("", &[], Some(&["*"])).unwrap_err(),
            ["client.display_name", "client.roles"]
        );
        assert_eq!(
            update("A", &[], Some(&["secret"])).unwrap_err(),
            ["update_mask"]
        );
        assert_eq!(update("", &[], None).unwrap_err(), ["update_mask"]);
    }

    #[test]
    fn verification_ids_are_32_hex_digits_and_others_name_none() {
        assert_eq!(
            parse_verification_id("").unwrap_err().field,
            "verification_id"
        );
        assert_eq!(parse_verification_id("xyz").unwrap(), None);
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(parse_verification_id(id).unwrap().as_deref(), Some(id));
    }
}

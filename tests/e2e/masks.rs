//! A property over every Update RPC, through the gateway: whatever the fields named (by a mask,
//! by `*`, or by what the message sets when there is no mask) and whatever values they carry,
//! valid or not, no field outside those named ever changes, and a refused update changes
//! nothing at all.

use std::collections::BTreeMap;

use crate::support::{Harness, Stores, authed, start};
use dqt_proto::dqt::portal::v1 as pb;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use prost_types::FieldMask;

/// How the fields to change are named.
#[derive(Debug, Clone, Copy)]
enum Naming {
    /// No mask: the fields the message sets (not empty).
    Given,
    /// A mask listing the chosen fields.
    Listed,
    /// The mask `*`: every field.
    All,
}

/// One generated update: for each field, whether it is chosen and which value of its pool
/// it carries.
#[derive(Debug, Clone)]
struct Case {
    naming: Naming,
    chosen: Vec<bool>,
    values: Vec<usize>,
}

/// A field of an Update RPC: its mask path and the values tried (valid and not).
type Field = (&'static str, &'static [&'static str]);

const NAMES: &[&str] = &["Kelly", "Ó Briain", "", "  ", "Zo\u{202E}e", "Zoe\u{0308}"];

const EMAILS: &[&str] = &["new@example.org", "", "not-an-email"];
const PHONES: &[&str] = &["0113 496 0000", "", "12"];
const LINES: &[&str] = &["1 High Street", "", "Flat\u{200B}2"];
const TOWNS: &[&str] = &["Settle", "", "Leeds\u{00AD}"];
const POSTCODES: &[&str] = &["LS1 4AP", "", "ZZZ"];

const TEACHER: &[Field] = &[
    ("first_name", NAMES),
    ("middle_name", NAMES),
    ("last_name", NAMES),
    (
        "date_of_birth",
        &["1977-07-17", "", "2030-01-01", "1980-02-30"],
    ),
    (
        "national_insurance_number",
        &["JC741852D", "", "GB123456A", "AB 12 34 56 C"],
    ),
    ("contact_details.email", EMAILS),
    ("contact_details.phone", PHONES),
    ("contact_details.address_line1", LINES),
    ("contact_details.address_line2", LINES),
    ("contact_details.town", TOWNS),
    ("contact_details.postcode", POSTCODES),
];

/// The contact details as UpdateMyContactDetails names them.
const CONTACT: &[Field] = &[
    ("email", EMAILS),
    ("phone", PHONES),
    ("address_line1", LINES),
    ("address_line2", LINES),
    ("town", TOWNS),
    ("postcode", POSTCODES),
];

const EMPLOYMENT: &[Field] = &[
    (
        "establishment_name",
        &["Oakwood Academy", "", "Oak\u{202E}wood"],
    ),
    ("urn", &["123456", "", "12"]),
    ("local_authority_code", &["380", "", "38"]),
    ("establishment_number", &["4001", "", "40"]),
    ("role", &["Head of science", ""]),
    ("employment_type", &["1", "0", "3"]),
    ("start_date", &["2019-09-01", "", "2099-01-01"]),
    ("end_date", &["2020-07-31", "", "2010-01-01"]),
];

const CLIENT: &[Field] = &[
    ("display_name", &["Acme Trust", "", "Acme\u{202E}"]),
    (
        "roles",
        &["records:read", "", "root", "employer:check audit:read"],
    ),
];

fn cases(fields: &'static [Field]) -> impl Strategy<Value = Case> {
    let naming = prop_oneof![Just(Naming::Given), Just(Naming::Listed), Just(Naming::All)];
    let values: Vec<_> = fields.iter().map(|(_, pool)| 0..pool.len()).collect();
    (
        naming,
        proptest::collection::vec(any::<bool>(), fields.len()),
        values,
    )
        .prop_map(|(naming, chosen, values)| Case {
            naming,
            chosen,
            values,
        })
}

impl Case {
    /// The value each chosen field carries in the message; the others are left empty.
    fn message(&self, fields: &[Field]) -> BTreeMap<&'static str, &'static str> {
        fields
            .iter()
            .zip(&self.chosen)
            .zip(&self.values)
            .map(|(((path, pool), chosen), value)| (*path, if *chosen { pool[*value] } else { "" }))
            .collect()
    }

    fn mask(&self, fields: &[Field]) -> Option<FieldMask> {
        let paths = match self.naming {
            Naming::Given => return None,
            Naming::All => vec!["*".to_owned()],
            Naming::Listed => fields
                .iter()
                .zip(&self.chosen)
                .filter(|(_, chosen)| **chosen)
                .map(|((path, _), _)| (*path).to_owned())
                .collect(),
        };
        Some(FieldMask { paths })
    }

    /// The fields the update names: those it may change.
    fn named(&self, fields: &[Field]) -> Vec<&'static str> {
        let message = self.message(fields);
        fields
            .iter()
            .zip(&self.chosen)
            .filter(|((path, _), chosen)| match self.naming {
                Naming::All => true,
                Naming::Listed => **chosen,
                Naming::Given => !message[path].is_empty(),
            })
            .map(|((path, _), _)| *path)
            .collect()
    }
}

/// The property: the fields not named are as they were; when refused, every field is.
fn holds(
    fields: &[Field],
    case: &Case,
    before: &BTreeMap<&'static str, String>,
    after: &BTreeMap<&'static str, String>,
    refused: bool,
) -> Result<(), TestCaseError> {
    let named = case.named(fields);
    for (path, _) in fields {
        if refused || !named.contains(path) {
            prop_assert_eq!(
                &before[path],
                &after[path],
                "{} changed though {}",
                path,
                if refused {
                    "the update was refused"
                } else {
                    "it was not named"
                }
            );
        }
    }
    Ok(())
}

fn teacher_fields(record: &pb::TeacherRecord) -> BTreeMap<&'static str, String> {
    let contact = record.contact_details.clone().unwrap_or_default();
    BTreeMap::from([
        ("first_name", record.first_name.clone()),
        ("middle_name", record.middle_name.clone()),
        ("last_name", record.last_name.clone()),
        ("date_of_birth", record.date_of_birth.clone()),
        (
            "national_insurance_number",
            record.national_insurance_number.clone(),
        ),
        ("contact_details.email", contact.email),
        ("contact_details.phone", contact.phone),
        ("contact_details.address_line1", contact.address_line1),
        ("contact_details.address_line2", contact.address_line2),
        ("contact_details.town", contact.town),
        ("contact_details.postcode", contact.postcode),
    ])
}

async fn get_teacher(h: &Harness, admin: &str, trn: &str) -> pb::TeacherRecord {
    h.admin()
        .get_teacher(authed(pb::GetTeacherRequest { trn: trn.into() }, admin))
        .await
        .unwrap()
        .into_inner()
}

async fn update_teacher(
    h: &Harness,
    admin: &str,
    trn: &str,
    case: &Case,
) -> Result<(), TestCaseError> {
    let before = teacher_fields(&get_teacher(h, admin, trn).await);
    let m = case.message(TEACHER);
    let teacher = pb::TeacherRecord {
        first_name: m["first_name"].into(),
        middle_name: m["middle_name"].into(),
        last_name: m["last_name"].into(),
        date_of_birth: m["date_of_birth"].into(),
        national_insurance_number: m["national_insurance_number"].into(),
        contact_details: Some(pb::ContactDetails {
            email: m["contact_details.email"].into(),
            phone: m["contact_details.phone"].into(),
            address_line1: m["contact_details.address_line1"].into(),
            address_line2: m["contact_details.address_line2"].into(),
            town: m["contact_details.town"].into(),
            postcode: m["contact_details.postcode"].into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let answer = h
        .admin()
        .update_teacher(authed(
            pb::UpdateTeacherRequest {
                trn: trn.into(),
                teacher: Some(teacher),
                update_mask: case.mask(TEACHER),
            },
            admin,
        ))
        .await;
    let after = teacher_fields(&get_teacher(h, admin, trn).await);
    holds(TEACHER, case, &before, &after, answer.is_err())
}

async fn update_my_contact_details(
    h: &Harness,
    admin: &str,
    trn: &str,
    token: &str,
    case: &Case,
) -> Result<(), TestCaseError> {
    let fields = CONTACT;
    let read = |record: pb::TeacherRecord| {
        let all = teacher_fields(&record);
        fields
            .iter()
            .map(|(field, _)| {
                (
                    *field,
                    all[format!("contact_details.{field}").as_str()].clone(),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    let before = read(get_teacher(h, admin, trn).await);
    let m = case.message(fields);
    let answer = h
        .portal()
        .update_my_contact_details(authed(
            pb::UpdateMyContactDetailsRequest {
                contact_details: Some(pb::ContactDetails {
                    email: m["email"].into(),
                    phone: m["phone"].into(),
                    address_line1: m["address_line1"].into(),
                    address_line2: m["address_line2"].into(),
                    town: m["town"].into(),
                    postcode: m["postcode"].into(),
                    ..Default::default()
                }),
                update_mask: case.mask(fields),
            },
            token,
        ))
        .await;
    let after = read(get_teacher(h, admin, trn).await);
    holds(fields, case, &before, &after, answer.is_err())
}

fn employment_fields(e: &pb::Employment) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("establishment_name", e.establishment_name.clone()),
        ("urn", e.urn.clone()),
        ("local_authority_code", e.local_authority_code.clone()),
        ("establishment_number", e.establishment_number.clone()),
        ("role", e.role.clone()),
        ("employment_type", e.employment_type.to_string()),
        ("start_date", e.start_date.clone()),
        ("end_date", e.end_date.clone()),
    ])
}

async fn my_employment(h: &Harness, token: &str) -> pb::Employment {
    h.portal()
        .list_my_employments(authed(pb::ListMyEmploymentsRequest {}, token))
        .await
        .unwrap()
        .into_inner()
        .employments
        .remove(0)
}

async fn update_my_employment(h: &Harness, token: &str, case: &Case) -> Result<(), TestCaseError> {
    let current = my_employment(h, token).await;
    let before = employment_fields(&current);
    let m = case.message(EMPLOYMENT);
    let answer = h
        .portal()
        .update_my_employment(authed(
            pb::UpdateMyEmploymentRequest {
                employment: Some(pb::Employment {
                    id: current.id.clone(),
                    establishment_name: m["establishment_name"].into(),
                    urn: m["urn"].into(),
                    local_authority_code: m["local_authority_code"].into(),
                    establishment_number: m["establishment_number"].into(),
                    role: m["role"].into(),
                    employment_type: m["employment_type"].parse().unwrap_or(0),
                    start_date: m["start_date"].into(),
                    end_date: m["end_date"].into(),
                }),
                update_mask: case.mask(EMPLOYMENT),
            },
            token,
        ))
        .await;
    let after = employment_fields(&my_employment(h, token).await);
    // An employment type of 0 is the message's "not set": no mask does not name it.
    let case = Case {
        chosen: case
            .chosen
            .iter()
            .zip(EMPLOYMENT)
            .map(|(chosen, (path, _))| *chosen && !(*path == "employment_type" && m[path] == "0"))
            .collect(),
        ..case.clone()
    };
    holds(EMPLOYMENT, &case, &before, &after, answer.is_err())
}

async fn update_client(h: &Harness, admin: &str, case: &Case) -> Result<(), TestCaseError> {
    // The client is made for the case (an update ends its sessions, not the admin's).
    let client_id = format!("masked-{:x}", rand::random::<u32>());
    let created = h
        .admin()
        .create_client(authed(
            pb::CreateClientRequest {
                client_id: client_id.clone(),
                display_name: "Before Trust".into(),
                roles: vec!["audit:read".into()],
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let before = BTreeMap::from([
        ("display_name", "Before Trust".to_owned()),
        ("roles", "audit:read".to_owned()),
    ]);
    let m = case.message(CLIENT);
    let answer = h
        .admin()
        .update_client(authed(
            pb::UpdateClientRequest {
                client: Some(pb::Client {
                    client_id: client_id.clone(),
                    display_name: m["display_name"].into(),
                    roles: m["roles"].split_whitespace().map(str::to_owned).collect(),
                }),
                update_mask: case.mask(CLIENT),
            },
            admin,
        ))
        .await;
    // What the client now holds: its roles as a sign-in shows them, its name as a record
    // check would; the rotation answers with neither, so read them through a sign-in.
    let principal = h
        .auth()
        .sign_in_client(pb::SignInClientRequest {
            client_id: client_id.clone(),
            client_secret: created.client_secret,
        })
        .await
        .unwrap()
        .into_inner()
        .principal
        .unwrap();
    let display_name = match &answer {
        Ok(updated) => updated.get_ref().display_name.clone(),
        Err(_) => before["display_name"].clone(),
    };
    let after = BTreeMap::from([
        ("display_name", display_name),
        ("roles", principal.roles.join(" ")),
    ]);
    holds(CLIENT, case, &before, &after, answer.is_err())
}

#[test]
fn no_update_rpc_ever_changes_a_field_outside_its_mask() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let h = runtime
        .block_on(start(Stores::Embedded, |config| {
            // Knowledge sessions may change contact details and employment: the property is
            // about masks, not assurance levels.
            config.shared.verification = portal_common::VerificationMode::Off;
        }))
        .unwrap();
    let (admin, trn, token) = runtime.block_on(async {
        let admin = h.sign_in_admin().await;
        let record = h
            .create_teacher(
                &admin,
                pb::CreateTeacherRequest {
                    first_name: "Quillonia".into(),
                    middle_name: "Maud".into(),
                    last_name: "Featherstonehaugh".into(),
                    date_of_birth: "1979-03-02".into(),
                    national_insurance_number: "JC741852D".into(),
                    contact_details: Some(pb::ContactDetails {
                        email: "quill@example.org".into(),
                        phone: "07700 900461".into(),
                        address_line1: "2 Mill Row".into(),
                        address_line2: "Giggleswick".into(),
                        town: "Settle".into(),
                        postcode: "BD24 0AA".into(),
                        ..Default::default()
                    }),
                },
            )
            .await;
        let token = h.sign_in_teacher(&record).await.token;
        h.portal()
            .create_my_employment(authed(
                pb::CreateMyEmploymentRequest {
                    employment: Some(pb::Employment {
                        establishment_name: "Settle College".into(),
                        urn: "121673".into(),
                        role: "Teacher".into(),
                        employment_type: pb::EmploymentType::FullTime.into(),
                        start_date: "2015-09-01".into(),
                        ..Default::default()
                    }),
                },
                &token,
            ))
            .await
            .unwrap();
        (admin, record.trn, token)
    });
    let config = |cases| Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new(config(40))
        .run(&cases(TEACHER), |case| {
            runtime.block_on(update_teacher(&h, &admin, &trn, &case))
        })
        .unwrap();
    TestRunner::new(config(40))
        .run(&cases(CONTACT), |case| {
            runtime.block_on(update_my_contact_details(&h, &admin, &trn, &token, &case))
        })
        .unwrap();
    TestRunner::new(config(40))
        .run(&cases(EMPLOYMENT), |case| {
            runtime.block_on(update_my_employment(&h, &token, &case))
        })
        .unwrap();
    TestRunner::new(config(12))
        .run(&cases(CLIENT), |case| {
            runtime.block_on(update_client(&h, &admin, &case))
        })
        .unwrap();
    runtime.block_on(h.shutdown());
}

//! The record service's schema. Migrations are frozen once released: change the schema by
//! adding one, never by editing one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(M0001Persons),
            Box::new(M0002Qualifications),
            Box::new(M0003ChangeRequests),
            Box::new(M0004EmployerChecks),
            Box::new(M0005TextTrns),
            Box::new(M0006EmailChanges),
            Box::new(M0007NamesInNfc),
            Box::new(M0008PreviousFirstNames),
            Box::new(M0009Corrections),
            Box::new(M0010TrainingAndQtls),
            Box::new(M0011TrnRequests),
            Box::new(M0012ChangeFeed),
            Box::new(M0013TrnSearches),
            Box::new(M0014OneLoginLinks),
        ]
    }
}

struct M0001Persons;

impl MigrationName for M0001Persons {
    fn name(&self) -> &str {
        "m0001_persons"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Persons {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("trn_allocation")
                    .col(integer("id").primary_key())
                    .col(big_integer("next_trn"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("persons")
                    .col(big_pk_auto("id"))
                    .col(char_len_uniq("trn", 7))
                    .col(string_len("first_name", 100))
                    .col(string_len("middle_name", 100))
                    .col(string_len("last_name", 100))
                    .col(string_len("first_name_key", 100))
                    .col(string_len("last_name_key", 100))
                    .col(date_null("date_of_birth"))
                    .col(string_len_null("national_insurance_number", 9))
                    .col(string_len("email", 254))
                    .col(string_len("phone", 32))
                    .col(string_len("address_line1", 200))
                    .col(string_len("address_line2", 200))
                    .col(string_len("town", 100))
                    .col(string_len("postcode", 16))
                    .col(string_len("status", 16))
                    .col(char_len_null("merged_into_trn", 7))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("persons_last_name_key_date_of_birth")
                    .table("persons")
                    .col("last_name_key")
                    .col("date_of_birth")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("previous_names")
                    .col(big_pk_auto("id"))
                    .col(big_integer("person_id"))
                    .col(string_len("first_name", 100))
                    .col(string_len("middle_name", 100))
                    .col(string_len("last_name", 100))
                    .col(string_len("last_name_key", 100))
                    .col(date("ended_on"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("previous_names_person")
                            .from("previous_names", "person_id")
                            .to("persons", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("previous_names_person_id")
                    .table("previous_names")
                    .col("person_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("previous_names_last_name_key")
                    .table("previous_names")
                    .col("last_name_key")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_events")
                    .col(big_pk_auto("id"))
                    .col(timestamp_with_time_zone("time"))
                    .col(string_len("actor", 100))
                    .col(string_len("action", 64))
                    .col(char_len_null("trn", 7))
                    .col(string_len("request_id", 128))
                    .col(string_len_null("on_behalf_of", 128))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_events_trn_id")
                    .table("audit_events")
                    .col("trn")
                    .col("id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "audit_events",
            "previous_names",
            "persons",
            "trn_allocation",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Professional statuses, induction, NPQs, mandatory qualifications, and alerts with their
/// catalogue of types.
struct M0002Qualifications;

impl MigrationName for M0002Qualifications {
    fn name(&self) -> &str {
        "m0002_qualifications"
    }
}

/// A table of rows that belong to one person, deleted with them.
fn person_child(table: &'static str) -> TableCreateStatement {
    Table::create()
        .table(table)
        .col(big_pk_auto("id"))
        .col(big_integer("person_id"))
        .foreign_key(
            ForeignKey::create()
                .name(format!("{table}_person"))
                .from(table, "person_id")
                .to("persons", "id")
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn person_index(table: &'static str) -> IndexCreateStatement {
    Index::create()
        .name(format!("{table}_person_id"))
        .table(table)
        .col("person_id")
        .to_owned()
}

/// The alert types of the register: code, title, what it means in plain English, whether only
/// DfE may see it, whether it restricts the person.
const ALERT_TYPES: [(&str, &str, &str, bool, bool); 10] = [
    (
        "T1",
        "Prohibition from teaching",
        "The Secretary of State has prohibited this person, for misconduct, from carrying out \
         teaching work in schools, sixth-form colleges, relevant youth accommodation and \
         children's homes in England.",
        false,
        true,
    ),
    (
        "T2",
        "Interim prohibition from teaching",
        "This person may not carry out teaching work in England while a misconduct case against \
         them is decided.",
        false,
        true,
    ),
    (
        "T3",
        "Removed from the register in Scotland",
        "The General Teaching Council for Scotland has removed this person from its register, so \
         they may not teach in Scottish schools.",
        false,
        true,
    ),
    (
        "T4",
        "Removed from the register in Wales",
        "The Education Workforce Council has removed this person from its register, so they may \
         not teach in Welsh schools.",
        false,
        true,
    ),
    (
        "T5",
        "Removed from the register in Northern Ireland",
        "The General Teaching Council for Northern Ireland has removed this person from its \
         register, so they may not teach in Northern Irish schools.",
        false,
        true,
    ),
    (
        "T6",
        "Misconduct considered: no prohibition",
        "The Secretary of State considered a misconduct case and decided not to prohibit this \
         person. It does not stop them teaching.",
        false,
        false,
    ),
    (
        "T7",
        "Barred from managing independent schools",
        "A section 128 direction bars this person from taking part in the management of an \
         independent school, academy or free school, for example as a governor or trustee.",
        false,
        true,
    ),
    (
        "C2",
        "Failed statutory induction",
        "This person failed statutory induction in England and may not be employed as a teacher \
         in a school where induction is required.",
        false,
        true,
    ),
    (
        "G1",
        "Possible barred-list match",
        "A possible match with the Disclosure and Barring Service's lists is being checked. \
         For DfE staff only.",
        true,
        false,
    ),
    (
        "F1",
        "Flagged for investigation",
        "The record is flagged for investigation. For DfE staff only.",
        true,
        false,
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for M0002Qualifications {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Induction is one per person: columns of the person rather than a table of its own.
        // SQLite adds one column per statement.
        for column in [
            string_len("induction_status", 24)
                .default("none")
                .to_owned(),
            date_null("induction_start_date"),
            date_null("induction_completed_date"),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("persons")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                person_child("professional_statuses")
                    .col(string_len("status_type", 16))
                    .col(string_len("route", 40))
                    .col(string_len("route_status", 24))
                    .col(date_null("awarded_date"))
                    .col(boolean_null("exempt_from_induction"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                person_child("induction_exemptions")
                    .col(string_len("reason", 40))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                person_child("induction_periods")
                    .col(string_len("appropriate_body", 200))
                    .col(date("start_date"))
                    .col(date_null("end_date"))
                    .col(integer("terms"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                person_child("npq_qualifications")
                    .col(string_len("npq_type", 16))
                    .col(date("awarded_date"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                person_child("mandatory_qualifications")
                    .col(string_len("specialism", 24))
                    .col(string_len("status", 24))
                    .col(string_len("provider", 200))
                    .col(date("start_date"))
                    .col(date_null("end_date"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("alert_types")
                    .col(string_len("code", 4).primary_key())
                    .col(string_len("title", 200))
                    .col(text("description"))
                    .col(boolean("internal"))
                    .col(boolean("restricts"))
                    .to_owned(),
            )
            .await?;
        let mut catalogue = Query::insert()
            .into_table("alert_types")
            .columns(["code", "title", "description", "internal", "restricts"])
            .to_owned();
        for (code, title, description, internal, restricts) in ALERT_TYPES {
            catalogue.values_panic([
                code.into(),
                title.into(),
                description.into(),
                internal.into(),
                restricts.into(),
            ]);
        }
        manager.exec_stmt(catalogue).await?;
        manager
            .create_table(
                person_child("alerts")
                    .col(string_len("code", 4))
                    .col(text("details"))
                    .col(date("start_date"))
                    .col(date_null("end_date"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("alerts_alert_type")
                            .from("alerts", "code")
                            .to("alert_types", "code"),
                    )
                    .to_owned(),
            )
            .await?;
        for table in CHILD_TABLES {
            manager.create_index(person_index(table)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in CHILD_TABLES.into_iter().chain(["alert_types"]) {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in [
            "induction_status",
            "induction_start_date",
            "induction_completed_date",
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("persons")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

const CHILD_TABLES: [&str; 6] = [
    "alerts",
    "professional_statuses",
    "induction_exemptions",
    "induction_periods",
    "npq_qualifications",
    "mandatory_qualifications",
];

/// Requests to change a name or date of birth, with their evidence, until reviewed.
struct M0003ChangeRequests;

impl MigrationName for M0003ChangeRequests {
    fn name(&self) -> &str {
        "m0003_change_requests"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0003ChangeRequests {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                person_child("change_requests")
                    .col(string_len("kind", 16))
                    .col(string_len("status", 16))
                    .col(string_len_null("requested_first_name", 100))
                    .col(string_len_null("requested_middle_name", 100))
                    .col(string_len_null("requested_last_name", 100))
                    .col(date_null("requested_date_of_birth"))
                    .col(string_len("evidence_file_name", 120))
                    .col(string_len("evidence_content_type", 32))
                    .col(blob_null("evidence"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("decided_at"))
                    .col(string_len_null("decided_by", 100))
                    .col(string_len_null("reject_reason", 500))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(person_index("change_requests"))
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("change_requests_status_id")
                    .table("change_requests")
                    .col("status")
                    .col("id")
                    .to_owned(),
            )
            .await?;
        // At most one open request of each kind per person, even under concurrent requests.
        // A partial index: the same statement on PostgreSQL and SQLite.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX change_requests_one_open ON change_requests \
                 (person_id, kind) WHERE status = 'open'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("change_requests").to_owned())
            .await
    }
}

/// Employer checks are audit events; one that matched nobody keeps only a keyed fingerprint
/// of what was asked.
struct M0004EmployerChecks;

impl MigrationName for M0004EmployerChecks {
    fn name(&self) -> &str {
        "m0004_employer_checks"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0004EmployerChecks {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("audit_events")
                    .add_column(string_len_null("query_fingerprint", 64))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("audit_events")
                    .drop_column("query_fingerprint")
                    .to_owned(),
            )
            .await
    }
}

/// TRN columns as `varchar(7)`, not `char(7)`: the driver sends text parameters, and
/// PostgreSQL compares a `char` column with text by casting the column, which no index serves
/// (found by `portal bench` at a million teachers). SQLite has no such types: nothing to do.
struct M0005TextTrns;

impl MigrationName for M0005TextTrns {
    fn name(&self) -> &str {
        "m0005_text_trns"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0005TextTrns {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        portal_common::db::on_postgres(
            manager,
            &[
                "ALTER TABLE persons ALTER COLUMN trn TYPE varchar(7), \
                 ALTER COLUMN merged_into_trn TYPE varchar(7)",
                "ALTER TABLE audit_events ALTER COLUMN trn TYPE varchar(7)",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        portal_common::db::on_postgres(
            manager,
            &[
                "ALTER TABLE persons ALTER COLUMN trn TYPE char(7), \
                 ALTER COLUMN merged_into_trn TYPE char(7)",
                "ALTER TABLE audit_events ALTER COLUMN trn TYPE char(7)",
            ],
        )
        .await
    }
}

/// New email addresses waiting for the code sent to them. The code is kept only as a keyed
/// digest; a row is kept (superseded, confirmed or void) to count the changes asked for in
/// an hour.
struct M0006EmailChanges;

impl MigrationName for M0006EmailChanges {
    fn name(&self) -> &str {
        "m0006_email_changes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0006EmailChanges {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("email_changes")
                    .col(big_pk_auto("id"))
                    .col(big_integer("person_id"))
                    .col(string_len("new_email", 254))
                    .col(string_len("code_digest", 64))
                    .col(integer("tries"))
                    .col(string_len("status", 16))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("email_changes", "person_id")
                            .to("persons", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("email_changes_person")
                    .table("email_changes")
                    .col("person_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("email_changes").to_owned())
            .await
    }
}

/// Names in Unicode NFC, and their match keys made again by today's rule: a name typed
/// decomposed ("Zoe" and U+0308) before names were composed on the way in is found like the
/// composed one. Rows already in that form are read and left alone.
struct M0007NamesInNfc;

impl MigrationName for M0007NamesInNfc {
    fn name(&self) -> &str {
        "m0007_names_in_nfc"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0007NamesInNfc {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rekey_names(
            manager.get_connection(),
            &[
                ("persons", &[("first_name_key", 0), ("last_name_key", 2)]),
                ("previous_names", &[("last_name_key", 2)]),
            ],
        )
        .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // Composed names and their keys are what every later version expects.
        Ok(())
    }
}

/// Previous first names are matched as previous surnames are (a teacher may sign in with the
/// first name they used before): each previous name gets its first name's key, and every key
/// is made again by today's rule, under which hyphens and runs of spaces are alike.
struct M0008PreviousFirstNames;

impl MigrationName for M0008PreviousFirstNames {
    fn name(&self) -> &str {
        "m0008_previous_first_names"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0008PreviousFirstNames {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("previous_names")
                    .add_column(string_len("first_name_key", 100).default(""))
                    .to_owned(),
            )
            .await?;
        rekey_names(
            manager.get_connection(),
            &[
                ("persons", &[("first_name_key", 0), ("last_name_key", 2)]),
                (
                    "previous_names",
                    &[("first_name_key", 0), ("last_name_key", 2)],
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("previous_names")
                    .drop_column("first_name_key")
                    .to_owned(),
            )
            .await
    }
}

/// A record closed on a death keeps the date; an alert removed as entered in error stays in
/// its table, out of every view, with when and why; an audit event can keep what more an
/// action needs (the removed alert and the reason given).
struct M0009Corrections;

impl MigrationName for M0009Corrections {
    fn name(&self) -> &str {
        "m0009_corrections"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0009Corrections {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            vec![
                ("persons", date_null("date_of_death")),
                ("alerts", timestamp_with_time_zone_null("deleted_at")),
                ("alerts", string_len_null("delete_reason", 500)),
                ("audit_events", string_len_null("details", 1000)),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(
            manager,
            &[
                ("persons", "date_of_death"),
                ("alerts", "deleted_at"),
                ("alerts", "delete_reason"),
                ("audit_events", "details"),
            ],
        )
        .await
    }
}

/// The initial teacher training behind each professional status, and the teacher's QTLS
/// status (SET membership active or lapsed) with its award date.
struct M0010TrainingAndQtls;

impl MigrationName for M0010TrainingAndQtls {
    fn name(&self) -> &str {
        "m0010_training_and_qtls"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0010TrainingAndQtls {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut columns = vec![
            (
                "persons",
                string_len("qtls_status", 16).default("none").to_owned(),
            ),
            ("persons", date_null("qtls_awarded_date")),
            (
                "professional_statuses",
                string_len_null("training_provider_name", 200),
            ),
            (
                "professional_statuses",
                string_len_null("training_provider_ukprn", 8),
            ),
        ];
        for n in 1..=3 {
            columns.push((
                "professional_statuses",
                string_len_null(format!("training_subject{n}_code"), 6),
            ));
            columns.push((
                "professional_statuses",
                string_len_null(format!("training_subject{n}_name"), 200),
            ));
        }
        columns.extend([
            (
                "professional_statuses",
                small_integer_null("training_age_from"),
            ),
            (
                "professional_statuses",
                small_integer_null("training_age_to"),
            ),
            ("professional_statuses", date_null("training_start_date")),
            ("professional_statuses", date_null("training_end_date")),
            (
                "professional_statuses",
                string_len_null("training_degree_type", 40),
            ),
            (
                "professional_statuses",
                string_len_null("training_country", 2),
            ),
        ]);
        add_columns(manager, columns).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut columns = vec![
            ("persons", "qtls_status".to_owned()),
            ("persons", "qtls_awarded_date".to_owned()),
        ];
        for column in [
            "provider_name",
            "provider_ukprn",
            "subject1_code",
            "subject1_name",
            "subject2_code",
            "subject2_name",
            "subject3_code",
            "subject3_name",
            "age_from",
            "age_to",
            "start_date",
            "end_date",
            "degree_type",
            "country",
        ] {
            columns.push(("professional_statuses", format!("training_{column}")));
        }
        let columns: Vec<(&str, &str)> = columns.iter().map(|(t, c)| (*t, c.as_str())).collect();
        drop_columns(manager, &columns).await
    }
}

/// Requests for a TRN, idempotent per client and request id, and the indexes the search for an
/// existing record before a new one is made needs (date of birth alone, NINO).
struct M0011TrnRequests;

impl MigrationName for M0011TrnRequests {
    fn name(&self) -> &str {
        "m0011_trn_requests"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0011TrnRequests {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("trn_requests")
                    .col(big_pk_auto("id"))
                    .col(string_len("client_id", 64))
                    .col(string_len("request_id", 100))
                    .col(string_len("fingerprint", 64))
                    .col(string_len("status", 16))
                    .col(string_len_null("trn", 7))
                    .col(text("candidates"))
                    .col(string_len("first_name", 100))
                    .col(string_len("middle_name", 100))
                    .col(string_len("last_name", 100))
                    .col(string_len("previous_last_name", 100))
                    .col(date("date_of_birth"))
                    .col(string_len_null("national_insurance_number", 9))
                    .col(string_len("email", 254))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("resolved_at"))
                    .to_owned(),
            )
            .await?;
        for (name, table, columns, unique) in [
            (
                "trn_requests_client_request",
                "trn_requests",
                &["client_id", "request_id"][..],
                true,
            ),
            (
                "trn_requests_status",
                "trn_requests",
                &["status", "id"][..],
                false,
            ),
            (
                "persons_date_of_birth",
                "persons",
                &["date_of_birth"][..],
                false,
            ),
            (
                "persons_nino",
                "persons",
                &["national_insurance_number"][..],
                false,
            ),
        ] {
            create_index(manager, name, table, columns, unique).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("persons_date_of_birth", "persons"),
            ("persons_nino", "persons"),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table("trn_requests").to_owned())
            .await
    }
}

struct M0012ChangeFeed;

impl MigrationName for M0012ChangeFeed {
    fn name(&self) -> &str {
        "m0012_change_feed"
    }
}

/// The change feed: each change to a record writes its events in the change's transaction, at
/// positions taken from the one row of `change_feed` (its lock held to commit, so positions
/// follow commit order without gaps), each with the record as an employer's check shows it
/// (none when no longer in use) and whether that changed what employers watch; and the
/// teachers each employer client watches.
#[async_trait::async_trait]
impl MigrationTrait for M0012ChangeFeed {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("change_feed")
                    .col(integer("id").primary_key())
                    .col(big_integer("head"))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table("change_feed")
                    .columns([Alias::new("id"), Alias::new("head")])
                    .values_panic([1.into(), 0i64.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("change_events")
                    .col(big_integer("position").primary_key())
                    .col(string_len("kind", 40))
                    .col(string_len("trn", 7))
                    .col(timestamp_with_time_zone("time"))
                    .col(blob("event"))
                    .col(blob_null("employer_view"))
                    .col(boolean("restriction_change"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("watched_teachers")
                    .col(big_pk_auto("id"))
                    .col(string_len("client_id", 64))
                    .col(string_len("trn", 7))
                    .col(timestamp_with_time_zone("watch_time"))
                    .to_owned(),
            )
            .await?;
        for (name, table, columns, unique) in [
            ("change_events_time", "change_events", &["time"][..], false),
            (
                "change_events_trn",
                "change_events",
                &["trn", "position"][..],
                false,
            ),
            (
                "watched_teachers_client_trn",
                "watched_teachers",
                &["client_id", "trn"][..],
                true,
            ),
            (
                "watched_teachers_trn",
                "watched_teachers",
                &["trn"][..],
                false,
            ),
        ] {
            create_index(manager, name, table, columns, unique).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["watched_teachers", "change_events", "change_feed"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

struct M0013TrnSearches;

impl MigrationName for M0013TrnSearches {
    fn name(&self) -> &str {
        "m0013_trn_searches"
    }
}

/// Lost-TRN searches (FindMyTrn): kept as received until matched, then either answered by
/// email and deleted, or kept as a case for DfE staff until its details' retention ends.
/// `email_due` marks a case whose email is still to be handed to the notification service;
/// `lease_until` keeps a row to the one instance working on it.
#[async_trait::async_trait]
impl MigrationTrait for M0013TrnSearches {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("trn_searches")
                    .col(big_pk_auto("id"))
                    .col(string_len("case_id", 32))
                    .col(string_len("state", 16))
                    .col(string_len("first_name", 100))
                    .col(string_len("last_name", 100))
                    .col(string_len("previous_last_name", 100))
                    .col(date("date_of_birth"))
                    .col(string_len_null("national_insurance_number", 9))
                    .col(string_len("email", 254))
                    .col(text("candidates"))
                    .col(string_len_null("trn", 7))
                    .col(string_len("request_id", 100))
                    .col(boolean("email_due"))
                    .col(timestamp_with_time_zone_null("lease_until"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("resolved_at"))
                    .to_owned(),
            )
            .await?;
        for (name, columns, unique) in [
            ("trn_searches_case_id", &["case_id"][..], true),
            ("trn_searches_state", &["state", "id"][..], false),
            ("trn_searches_email_due", &["email_due", "id"][..], false),
        ] {
            create_index(manager, name, "trn_searches", columns, unique).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("trn_searches").to_owned())
            .await
    }
}

struct M0014OneLoginLinks;

impl MigrationName for M0014OneLoginLinks {
    fn name(&self) -> &str {
        "m0014_one_login_links"
    }
}

/// Links between GOV.UK One Login accounts and TRNs: one account per TRN, one TRN per account.
#[async_trait::async_trait]
impl MigrationTrait for M0014OneLoginLinks {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("one_login_links")
                    .col(big_pk_auto("id"))
                    .col(string_len("subject", 255))
                    .col(string_len("trn", 7))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("one_login_links_subject", "subject"),
            ("one_login_links_trn", "trn"),
        ] {
            create_index(manager, name, "one_login_links", &[column], true).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("one_login_links").to_owned())
            .await
    }
}

/// Creates index `name` of `table` on `columns`, unique or not.
async fn create_index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: &str,
    columns: &[&str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(Alias::new(table));
    for column in columns {
        index.col(Alias::new(*column));
    }
    if unique {
        index.unique();
    }
    manager.create_index(index.to_owned()).await
}

/// Adds columns one at a time: SQLite alters a table one column per statement.
async fn add_columns(
    manager: &SchemaManager<'_>,
    columns: Vec<(&str, ColumnDef)>,
) -> Result<(), DbErr> {
    for (table, mut column) in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

async fn drop_columns(manager: &SchemaManager<'_>, columns: &[(&str, &str)]) -> Result<(), DbErr> {
    for (table, column) in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new(*table))
                    .drop_column(Alias::new(*column))
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

/// A table whose names are keyed: its key columns, each with the name (by its place among
/// first, middle and last) it is made from.
type KeyedTable<'a> = (&'a str, &'a [(&'a str, usize)]);

/// Puts every stored name of `tables` in NFC and makes its match keys again by
/// [`portal_common::values::normalise_name`], a page of rows at a time, writing only the rows
/// that change.
async fn rekey_names(
    db: &SchemaManagerConnection<'_>,
    tables: &[KeyedTable<'_>],
) -> Result<(), DbErr> {
    use portal_common::printable::nfc;
    use portal_common::values::normalise_name;
    use sea_orm::{ConnectionTrait as _, Statement, Value};
    const PAGE: usize = 5000;
    let backend = db.get_database_backend();
    let names = ["first_name", "middle_name", "last_name"];
    for &(table, keys) in tables {
        let key_columns: Vec<&str> = keys.iter().map(|(column, _)| *column).collect();
        let select = format!(
            "SELECT id, {}, {} FROM {table} WHERE id > $1 ORDER BY id LIMIT {PAGE}",
            names.join(", "),
            key_columns.join(", ")
        );
        let assignments: Vec<String> = names
            .iter()
            .chain(&key_columns)
            .enumerate()
            .map(|(i, column)| format!("{column} = ${}", i + 1))
            .collect();
        let update = format!(
            "UPDATE {table} SET {} WHERE id = ${}",
            assignments.join(", "),
            names.len() + key_columns.len() + 1
        );
        let mut after = 0_i64;
        loop {
            let rows = db
                .query_all_raw(Statement::from_sql_and_values(
                    backend,
                    &select,
                    [Value::from(after)],
                ))
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get_by_index(0)?;
            for row in &rows {
                let stored: Vec<String> = (1..=names.len() + keys.len())
                    .map(|i| row.try_get_by_index::<String>(i))
                    .collect::<Result<_, _>>()?;
                let composed: Vec<String> = stored[..names.len()].iter().map(|n| nfc(n)).collect();
                let rekeyed: Vec<String> = keys
                    .iter()
                    .map(|(_, from)| normalise_name(&composed[*from]))
                    .collect();
                let wanted: Vec<String> = composed.into_iter().chain(rekeyed).collect();
                if wanted == stored {
                    continue;
                }
                let id: i64 = row.try_get_by_index(0)?;
                let values = wanted.into_iter().map(Value::from).chain([Value::from(id)]);
                db.execute_raw(Statement::from_sql_and_values(backend, &update, values))
                    .await?;
            }
            if rows.len() < PAGE {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{Database, Statement};

    #[tokio::test]
    async fn stored_names_are_composed_and_keyed_by_todays_rule() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        Migrator::up(&db, Some(6)).await.unwrap();
        db.execute_unprepared(
            "INSERT INTO persons (trn, first_name, middle_name, last_name, first_name_key, \
             last_name_key, email, phone, address_line1, address_line2, town, postcode, status, \
             created_at, updated_at) VALUES \
             ('1000001', 'Zoe\u{0308}', '', 'Bro\u{0302}ne', 'zoe\u{0308}', 'bro\u{0302}ne', \
              '', '', '', '', '', '', 'active', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'), \
             ('1000002', 'Mary-Jane', '', 'Lee', 'mary-jane', 'lee', '', '', '', '', '', '', 'active', \
              '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        )
        .await
        .unwrap();
        db.execute_unprepared(
            "INSERT INTO previous_names (person_id, first_name, middle_name, last_name, \
             last_name_key, ended_on) VALUES (1, 'Zoe\u{0308}', '', 'Smi\u{0301}th', \
             'smi\u{0301}th', '2020-01-01')",
        )
        .await
        .unwrap();
        Migrator::up(&db, None).await.unwrap();
        let read = |sql: &'static str| {
            let db = &db;
            async move {
                db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
                    .await
                    .unwrap()
                    .iter()
                    .map(|row| {
                        (0..3)
                            .map(|i| row.try_get_by_index::<String>(i).unwrap())
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            read("SELECT first_name, first_name_key, last_name_key FROM persons ORDER BY id").await,
            [["Zoë", "zoë", "brône"], ["Mary-Jane", "mary jane", "lee"]]
        );
        assert_eq!(
            read("SELECT last_name, last_name_key, first_name_key FROM previous_names").await,
            [["Smíth", "smíth", "zoë"]]
        );
    }
}

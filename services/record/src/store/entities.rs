//! sea-orm entities of the record service's tables (see `migration`).

pub mod trn_allocation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "trn_allocation")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub next_trn: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod person {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "persons")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub trn: String,
        pub first_name: String,
        pub middle_name: String,
        pub last_name: String,
        pub first_name_key: String,
        pub last_name_key: String,
        pub date_of_birth: Option<Date>,
        pub national_insurance_number: Option<String>,
        pub email: String,
        pub phone: String,
        pub address_line1: String,
        pub address_line2: String,
        pub town: String,
        pub postcode: String,
        pub status: String,
        pub merged_into_trn: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub induction_status: String,
        pub induction_start_date: Option<Date>,
        pub induction_completed_date: Option<Date>,
        pub date_of_death: Option<Date>,
        pub qtls_status: String,
        pub qtls_awarded_date: Option<Date>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod trn_request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "trn_requests")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub client_id: String,
        pub request_id: String,
        /// Digest of what was asked: the same request again has the same one.
        pub fingerprint: String,
        pub status: String,
        pub trn: Option<String>,
        /// While waiting for review: the TRNs to look at, separated by commas.
        pub candidates: String,
        pub first_name: String,
        pub middle_name: String,
        pub last_name: String,
        pub previous_last_name: String,
        pub date_of_birth: Date,
        pub national_insurance_number: Option<String>,
        pub email: String,
        pub created_at: DateTimeUtc,
        pub resolved_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod trn_search {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "trn_searches")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The case's identifier in the API, random.
        pub case_id: String,
        /// `received`, `open` or `resolved`.
        pub state: String,
        pub first_name: String,
        pub last_name: String,
        pub previous_last_name: String,
        pub date_of_birth: Date,
        pub national_insurance_number: Option<String>,
        pub email: String,
        /// For a case: the TRNs to look at first, separated by commas.
        pub candidates: String,
        /// The TRN a case was resolved with.
        pub trn: Option<String>,
        /// The request that made the search, for the audit log.
        pub request_id: String,
        /// An email for the case's state is still to be queued.
        pub email_due: bool,
        pub lease_until: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub resolved_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod one_login_link {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "one_login_links")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The account's subject identifier at One Login (unique).
        pub subject: String,
        /// The TRN it signs in to (unique).
        pub trn: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod previous_name {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "previous_names")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub person_id: i64,
        pub first_name: String,
        pub middle_name: String,
        pub last_name: String,
        pub last_name_key: String,
        pub ended_on: Date,
        pub first_name_key: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub time: DateTimeUtc,
        pub actor: String,
        pub action: String,
        pub trn: Option<String>,
        pub request_id: String,
        pub on_behalf_of: Option<String>,
        pub query_fingerprint: Option<String>,
        pub details: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod professional_status {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "professional_statuses")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub person_id: i64,
        pub status_type: String,
        pub route: String,
        pub route_status: String,
        pub awarded_date: Option<Date>,
        pub exempt_from_induction: Option<bool>,
        /// Initial teacher training, when recorded (the provider's name is then set); up to
        /// three subjects in numbered columns, as HESA's ITT record has them.
        pub training_provider_name: Option<String>,
        pub training_provider_ukprn: Option<String>,
        pub training_subject1_code: Option<String>,
        pub training_subject1_name: Option<String>,
        pub training_subject2_code: Option<String>,
        pub training_subject2_name: Option<String>,
        pub training_subject3_code: Option<String>,
        pub training_subject3_name: Option<String>,
        pub training_age_from: Option<i16>,
        pub training_age_to: Option<i16>,
        pub training_start_date: Option<Date>,
        pub training_end_date: Option<Date>,
        pub training_degree_type: Option<String>,
        pub training_country: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod induction_exemption {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "induction_exemptions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub person_id: i64,
        pub reason: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod induction_period {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "induction_periods")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub person_id: i64,
        pub appropriate_body: String,
        pub start_date: Date,
        pub end_date: Option<Date>,
        pub terms: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod npq_qualification {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "npq_qualifications")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub person_id: i64,
        pub npq_type: String,
        pub awarded_date: Date,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod mandatory_qualification {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mandatory_qualifications")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub person_id: i64,
        pub specialism: String,
        pub status: String,
        pub provider: String,
        pub start_date: Date,
        pub end_date: Option<Date>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod alert {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "alerts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub person_id: i64,
        pub code: String,
        pub details: String,
        pub start_date: Date,
        pub end_date: Option<Date>,
        /// Set when the alert was removed as entered in error: it is then in no view.
        pub deleted_at: Option<DateTimeUtc>,
        pub delete_reason: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod alert_type {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "alert_types")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        pub title: String,
        pub description: String,
        pub internal: bool,
        pub restricts: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod change_request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "change_requests")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub person_id: i64,
        pub kind: String,
        pub status: String,
        pub requested_first_name: Option<String>,
        pub requested_middle_name: Option<String>,
        pub requested_last_name: Option<String>,
        pub requested_date_of_birth: Option<Date>,
        pub evidence_file_name: String,
        pub evidence_content_type: String,
        pub evidence: Option<Vec<u8>>,
        pub created_at: DateTimeUtc,
        pub decided_at: Option<DateTimeUtc>,
        pub decided_by: Option<String>,
        pub reject_reason: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod email_change {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "email_changes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub person_id: i64,
        pub new_email: String,
        pub code_digest: String,
        pub tries: i32,
        pub status: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod change_feed {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "change_feed")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub head: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod change_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "change_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub position: i64,
        pub kind: String,
        pub trn: String,
        pub time: DateTimeUtc,
        pub event: Vec<u8>,
        pub employer_view: Option<Vec<u8>>,
        pub restriction_change: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod watched_teacher {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "watched_teachers")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub client_id: String,
        pub trn: String,
        pub watch_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

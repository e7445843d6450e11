//! The register of issued documents: what was issued to whom, when, and the fingerprint of the
//! exact bytes.

use chrono::{DateTime, Utc};
use dqt_proto::dqt::portal::v1 as pb;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait as _, DatabaseConnection, EntityTrait as _};

use crate::error::Error;

pub mod issued_document {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "issued_documents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub verification_code: String,
        pub trn: String,
        pub kind: String,
        pub qualification_id: Option<String>,
        pub holder_name: String,
        pub sha256: String,
        pub issued_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use issued_document::Model as Issued;

#[derive(Clone)]
pub struct Register {
    db: DatabaseConnection,
}

impl Register {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    #[tracing::instrument(name = "store", skip_all, fields(op = "record"))]
    pub async fn record(&self, issued: Issued) -> Result<(), Error> {
        issued_document::ActiveModel {
            verification_code: Set(issued.verification_code),
            trn: Set(issued.trn),
            kind: Set(issued.kind),
            qualification_id: Set(issued.qualification_id),
            holder_name: Set(issued.holder_name),
            sha256: Set(issued.sha256),
            issued_at: Set(issued.issued_at),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    #[tracing::instrument(name = "store", skip_all, fields(op = "find"))]
    pub async fn find(&self, code: &str) -> Result<Option<Issued>, Error> {
        Ok(issued_document::Entity::find_by_id(code.to_owned())
            .one(&self.db)
            .await?)
    }
}

const KINDS: [(pb::DocumentKind, &str); 5] = [
    (pb::DocumentKind::QtsCertificate, "qts_certificate"),
    (
        pb::DocumentKind::InductionCertificate,
        "induction_certificate",
    ),
    (pb::DocumentKind::EytsCertificate, "eyts_certificate"),
    (pb::DocumentKind::NpqCertificate, "npq_certificate"),
    (
        pb::DocumentKind::QualificationsLetter,
        "qualifications_letter",
    ),
];

/// Every document kind as the register stores it (and the metrics count it).
pub fn kind_texts() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|(_, text)| *text)
}

/// A document kind as the register stores it.
pub fn kind_text(kind: pb::DocumentKind) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("unspecified", |(_, text)| text)
}

/// A stored document kind.
pub fn kind_from_text(text: &str) -> pb::DocumentKind {
    KINDS
        .iter()
        .find(|(_, t)| *t == text)
        .map_or(pb::DocumentKind::Unspecified, |(kind, _)| *kind)
}

/// The moment a document is issued, to the second (as the register and the PDF both show).
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_stored_within_its_column() {
        for (kind, _) in KINDS {
            let text = kind_text(kind);
            assert!(text.len() <= 32);
            assert_eq!(kind_from_text(text), kind);
        }
    }
}

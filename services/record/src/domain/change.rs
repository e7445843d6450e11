//! Requests to change a name or a date of birth: the evidence sent with them, judged by its
//! content, and what each request asks for.

use chrono::{DateTime, NaiveDate, Utc};
use dqt_proto::dqt::portal::v1 as pb;
use portal_common::FieldViolation;
use portal_common::values::{DateOfBirth, PersonName, Trn};

/// Largest evidence file accepted.
pub const MAX_EVIDENCE_BYTES: usize = 3 * 1024 * 1024;
const MAX_FILE_NAME: usize = 100;

/// A file sent as evidence: a PDF, JPEG or PNG by its leading bytes, whatever its name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub file_name: String,
    pub content_type: &'static str,
    pub content: Vec<u8>,
}

/// The type of a file from its leading bytes.
pub fn sniff(content: &[u8]) -> Option<&'static str> {
    if content.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if content.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if content.starts_with(&[0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n']) {
        Some("image/png")
    } else {
        None
    }
}

/// The extension a file of `content_type` (one [`sniff`] gives) is stored under.
fn extension(content_type: &str) -> &'static str {
    match content_type {
        "application/pdf" => "pdf",
        "image/jpeg" => "jpg",
        _ => "png",
    }
}

/// A file name safe to show and to offer for download: the last path part, letters, digits,
/// spaces and `._-()` only, no leading dots, at most 100 characters, ending in the extension of
/// the type its bytes show (a JPEG sent as `photo.pdf` is kept as `photo.jpg`); a name too
/// long is shortened before its extension, which it keeps; a plain name when nothing is left.
pub fn sanitise_file_name(input: &str, content_type: &str) -> String {
    let extension = extension(content_type);
    let base = input.rsplit(['/', '\\']).next().unwrap_or_default();
    // What the name's last dot says the file is, the bytes have said already.
    let stem = match base.rsplit_once('.') {
        Some((stem, said))
            if !stem.trim_start_matches('.').is_empty()
                && (1..=5).contains(&said.len())
                && said.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            stem
        }
        _ => base,
    };
    let kept: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || " ._-()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let collapsed = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    let shortened: String = collapsed
        .trim_start_matches(['.', ' ', '_'])
        .chars()
        .take(MAX_FILE_NAME - 1 - extension.len())
        .collect();
    // Trimmed after shortening, which can leave a space or a dot at the end.
    let stem = shortened.trim_end_matches([' ', '.']);
    let stem = if stem.is_empty() { "evidence" } else { stem };
    format!("{stem}.{extension}")
}

impl Evidence {
    pub fn parse(file_name: &str, content: &[u8]) -> Result<Self, Vec<FieldViolation>> {
        if content.is_empty() {
            return Err(vec![FieldViolation::new(
                "evidence",
                "is required: a PDF, JPEG or PNG file",
            )]);
        }
        if content.len() > MAX_EVIDENCE_BYTES {
            return Err(vec![FieldViolation::new(
                "evidence",
                "must be at most 3 MB",
            )]);
        }
        let content_type = sniff(content).ok_or_else(|| {
            vec![FieldViolation::new(
                "evidence",
                "must be a PDF, JPEG or PNG file",
            )]
        })?;
        Ok(Self {
            file_name: sanitise_file_name(file_name, content_type),
            content_type,
            content: content.to_vec(),
        })
    }
}

/// What a request asks to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestedChange {
    Name(PersonName),
    DateOfBirth(DateOfBirth),
}

impl RequestedChange {
    pub fn kind(&self) -> ChangeKind {
        match self {
            Self::Name(_) => ChangeKind::Name,
            Self::DateOfBirth(_) => ChangeKind::DateOfBirth,
        }
    }
}

/// A change request as the record holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRequest {
    pub id: i64,
    pub trn: Trn,
    /// `None` for a stored kind this version does not know.
    pub kind: Option<ChangeKind>,
    /// `None` for a stored status this version does not know.
    pub status: Option<ChangeStatus>,
    pub created_at: DateTime<Utc>,
    pub requested_first_name: Option<String>,
    pub requested_middle_name: Option<String>,
    pub requested_last_name: Option<String>,
    pub requested_date_of_birth: Option<NaiveDate>,
    pub reject_reason: Option<String>,
}

/// The evidence of a change request, as kept while its retention lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptEvidence {
    pub id: i64,
    pub file_name: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// A request as a teacher sends it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChangeRequest {
    pub change: RequestedChange,
    pub evidence: Evidence,
}

fn combine<A, B>(
    a: Result<A, Vec<FieldViolation>>,
    b: Result<B, Vec<FieldViolation>>,
) -> Result<(A, B), Vec<FieldViolation>> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (a, b) => Err(a.err().into_iter().chain(b.err()).flatten().collect()),
    }
}

impl NewChangeRequest {
    pub fn name(input: &pb::RequestNameChangeRequest) -> Result<Self, Vec<FieldViolation>> {
        let name = PersonName::parse(
            ["first_name", "middle_name", "last_name"],
            &input.first_name,
            &input.middle_name,
            &input.last_name,
        );
        let (name, evidence) = combine(
            name,
            Evidence::parse(&input.evidence_file_name, &input.evidence),
        )?;
        Ok(Self {
            change: RequestedChange::Name(name),
            evidence,
        })
    }

    pub fn date_of_birth(
        input: &pb::RequestDateOfBirthChangeRequest,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldViolation>> {
        let date =
            DateOfBirth::parse("date_of_birth", &input.date_of_birth, today).map_err(|v| vec![v]);
        let (date, evidence) = combine(
            date,
            Evidence::parse(&input.evidence_file_name, &input.evidence),
        )?;
        Ok(Self {
            change: RequestedChange::DateOfBirth(date),
            evidence,
        })
    }
}

/// The kinds of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Name,
    DateOfBirth,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::DateOfBirth => "date_of_birth",
        }
    }

    pub fn from_stored(text: &str) -> Option<Self> {
        match text {
            "name" => Some(Self::Name),
            "date_of_birth" => Some(Self::DateOfBirth),
            _ => None,
        }
    }

    pub fn to_proto(self) -> pb::ChangeRequestKind {
        match self {
            Self::Name => pb::ChangeRequestKind::Name,
            Self::DateOfBirth => pb::ChangeRequestKind::DateOfBirth,
        }
    }
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeStatus {
    Open,
    Approved,
    Rejected,
}

impl ChangeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    pub fn from_stored(text: &str) -> Option<Self> {
        match text {
            "open" => Some(Self::Open),
            "approved" => Some(Self::Approved),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
    }

    pub fn to_proto(self) -> pb::ChangeRequestStatus {
        match self {
            Self::Open => pb::ChangeRequestStatus::Open,
            Self::Approved => pb::ChangeRequestStatus::Approved,
            Self::Rejected => pb::ChangeRequestStatus::Rejected,
        }
    }

    pub fn from_proto(value: i32) -> Option<Self> {
        match pb::ChangeRequestStatus::try_from(value).ok()? {
            pb::ChangeRequestStatus::Open => Some(Self::Open),
            pb::ChangeRequestStatus::Approved => Some(Self::Approved),
            pb::ChangeRequestStatus::Rejected => Some(Self::Rejected),
            pb::ChangeRequestStatus::Unspecified => None,
        }
    }
}

/// A reviewer's decision, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject { reason: String },
}

impl Decision {
    pub fn parse(input: &pb::ReviewChangeRequestRequest) -> Result<Self, FieldViolation> {
        match pb::ReviewDecision::try_from(input.decision)
            .unwrap_or(pb::ReviewDecision::Unspecified)
        {
            pb::ReviewDecision::Approve => Ok(Self::Approve),
            pb::ReviewDecision::Reject => {
                let reason = input.reject_reason.trim();
                if reason.is_empty() {
                    Err(FieldViolation::new(
                        "reject_reason",
                        "is required to reject a request",
                    ))
                } else if reason.chars().count() > 500 {
                    Err(FieldViolation::new(
                        "reject_reason",
                        "must be at most 500 characters",
                    ))
                } else if reason.chars().any(|c| c.is_control() && c != '\n') {
                    Err(FieldViolation::new(
                        "reject_reason",
                        "must not contain control characters",
                    ))
                } else {
                    Ok(Self::Reject {
                        reason: reason.to_owned(),
                    })
                }
            }
            pb::ReviewDecision::Unspecified => {
                Err(FieldViolation::new("decision", "must be approve or reject"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = &[0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n', 0, 0];

    #[test]
    fn evidence_is_judged_by_its_leading_bytes_not_its_name() {
        assert_eq!(sniff(b"%PDF-1.7 ...").unwrap(), "application/pdf");
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(), "image/jpeg");
        assert_eq!(sniff(PNG).unwrap(), "image/png");
        assert_eq!(sniff(b"MZ\x90\x00 pretending.pdf"), None);
        assert_eq!(sniff(b"GIF89a"), None);
        let disguised = Evidence::parse("passport.pdf", b"<html>").unwrap_err();
        assert_eq!(disguised[0].field, "evidence");
        let png_named_pdf = Evidence::parse("scan.pdf", PNG).unwrap();
        assert_eq!(png_named_pdf.content_type, "image/png");
    }

    #[test]
    fn evidence_is_required_and_at_most_three_megabytes() {
        assert!(Evidence::parse("a.pdf", b"").is_err());
        let mut big = b"%PDF-".to_vec();
        big.resize(MAX_EVIDENCE_BYTES, b' ');
        assert!(Evidence::parse("a.pdf", &big).is_ok());
        big.push(b' ');
        assert_eq!(
            Evidence::parse("a.pdf", &big).unwrap_err()[0].description,
            "must be at most 3 MB"
        );
    }

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(
            sanitise_file_name("C:\\Users\\me\\deed poll.pdf", "application/pdf"),
            "deed poll.pdf"
        );
        assert_eq!(
            sanitise_file_name("../../etc/passwd", "application/pdf"),
            "passwd.pdf"
        );
        assert_eq!(sanitise_file_name("..hidden", "image/png"), "hidden.png");
        assert_eq!(
            sanitise_file_name("a<b>|c\u{0}.png", "image/png"),
            "a_b__c_.png"
        );
        assert_eq!(sanitise_file_name("", "image/jpeg"), "evidence.jpg");
        assert_eq!(sanitise_file_name("...", "image/png"), "evidence.png");
        assert_eq!(
            sanitise_file_name("Zoë’s certificate.pdf", "application/pdf"),
            "Zoë_s certificate.pdf"
        );
        assert_eq!(
            sanitise_file_name(&"x".repeat(300), "image/png")
                .chars()
                .count(),
            100
        );
    }

    #[test]
    fn the_stored_extension_is_the_one_the_bytes_show_and_survives_shortening() {
        assert_eq!(sanitise_file_name("photo.pdf", "image/jpeg"), "photo.jpg");
        assert_eq!(sanitise_file_name("scan.JPEG", "image/jpeg"), "scan.jpg");
        assert_eq!(
            sanitise_file_name("deed poll", "application/pdf"),
            "deed poll.pdf"
        );
        assert_eq!(
            sanitise_file_name("v1.2 deed.poll.pdf", "application/pdf"),
            "v1.2 deed.poll.pdf"
        );
        let long = format!("{}.png", "y".repeat(296));
        let kept = sanitise_file_name(&long, "image/png");
        assert_eq!(kept.chars().count(), 100);
        assert!(kept.ends_with("yyy.png"));
    }

    #[test]
    fn requests_name_every_bad_field() {
        let bad = pb::RequestNameChangeRequest {
            first_name: " ".into(),
            last_name: "Kelly".into(),
            evidence_file_name: "x.exe".into(),
            evidence: b"MZ".to_vec(),
            ..Default::default()
        };
        let fields: Vec<_> = NewChangeRequest::name(&bad)
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["first_name", "evidence"]);
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let dob = pb::RequestDateOfBirthChangeRequest {
            date_of_birth: "2020-01-01".into(),
            evidence_file_name: "b.png".into(),
            evidence: PNG.to_vec(),
        };
        let fields: Vec<_> = NewChangeRequest::date_of_birth(&dob, today)
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["date_of_birth"]);
    }

    #[test]
    fn a_rejection_needs_a_reason() {
        let review = |decision: pb::ReviewDecision, reason: &str| pb::ReviewChangeRequestRequest {
            id: "1".into(),
            decision: decision.into(),
            reject_reason: reason.into(),
        };
        assert_eq!(
            Decision::parse(&review(pb::ReviewDecision::Approve, "")),
            Ok(Decision::Approve)
        );
        assert_eq!(
            Decision::parse(&review(pb::ReviewDecision::Reject, " "))
                .unwrap_err()
                .field,
            "reject_reason"
        );
        assert_eq!(
            Decision::parse(&review(pb::ReviewDecision::Unspecified, ""))
                .unwrap_err()
                .field,
            "decision"
        );
        assert!(matches!(
            Decision::parse(&review(
                pb::ReviewDecision::Reject,
                "The evidence is unreadable."
            )),
            Ok(Decision::Reject { .. })
        ));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn evidence_file_names_are_always_safe(input in "\\PC{0,300}", kind in 0usize..3) {
            let content_type = ["application/pdf", "image/jpeg", "image/png"][kind];
            let name = sanitise_file_name(&input, content_type);
            prop_assert!(!name.is_empty());
            prop_assert!(name.chars().count() <= MAX_FILE_NAME);
            prop_assert!(name.chars().all(|c| c.is_alphanumeric() || " ._-()".contains(c)));
            prop_assert!(!name.starts_with(['.', ' ', '_']));
            prop_assert!(!name.ends_with([' ', '.']));
            let wanted = format!(".{}", extension(content_type));
            prop_assert!(name.ends_with(&wanted));
            prop_assert_eq!(sanitise_file_name(&name, content_type), name.clone());
        }

        #[test]
        fn evidence_is_judged_by_its_content(head in prop::collection::vec(any::<u8>(), 0..16), name in "\\PC{0,20}") {
            match Evidence::parse(&name, &head) {
                Ok(evidence) => prop_assert_eq!(Some(evidence.content_type), sniff(&head)),
                Err(violations) => {
                    prop_assert!(head.is_empty() || sniff(&head).is_none());
                    prop_assert!(violations.iter().all(|v| v.field == "evidence"));
                }
            }
        }
    }
}

//! What each document says, in our own words, and its PDF.

use chrono::{DateTime, NaiveDate, Utc};
use dqt_proto::dqt::portal::v1 as pb;

use crate::entitlement::{Entitlement, npq_name};
use crate::fonts::{Fonts, Weight};
use crate::layout::{ACCENT, Composer, INK, MUTED};
use crate::pdf::{self, Info, PdfError};

const ISSUER: &str = "Department for Education";

/// A document made for one teacher.
pub struct Made {
    pub file_name: String,
    pub pdf: Vec<u8>,
}

pub use portal_common::values::long_date;

/// The holder's full name: first, middle and last.
pub fn full_name(record: &pb::TeacherRecord) -> String {
    [&record.first_name, &record.middle_name, &record.last_name]
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .map(|part| part.trim())
        .collect::<Vec<_>>()
        .join(" ")
}

fn file_name(entitlement: &Entitlement, trn: &str) -> String {
    let stem = match entitlement {
        Entitlement::Qts { .. } => "qts-certificate".to_owned(),
        Entitlement::Induction { .. } => "induction-certificate".to_owned(),
        Entitlement::Eyts { .. } => "eyts-certificate".to_owned(),
        Entitlement::Npq { kind, .. } => {
            format!("{}-certificate", npq_name(*kind).0.to_lowercase())
        }
        Entitlement::QualificationsLetter => "qualifications-letter".to_owned(),
    };
    format!("{stem}-{trn}.pdf")
}

/// The sizes, in points, the holder's name is tried at, largest first: a document uses the
/// first at which it fits on one page (the longest name the record allows, 300 of the widest
/// letters the fonts have, fits at the last).
const NAME_SIZES: [f32; 8] = [22.0, 18.0, 15.0, 12.0, 10.0, 8.0, 7.0, 6.0];

/// How a document is set to fit one page: the holder's name's size, and the space between
/// blocks (halved, with the smallest names, for a letter that lists much).
#[derive(Debug, Clone, Copy)]
struct Fit {
    name_size: f32,
    spacing: f32,
}

/// Every way of setting a document, tried in turn until it fits one page.
fn fits() -> impl Iterator<Item = Fit> {
    let roomy = NAME_SIZES.into_iter().map(|name_size| Fit {
        name_size,
        spacing: 1.0,
    });
    let tight = [6.0, 5.0].into_iter().map(|name_size| Fit {
        name_size,
        spacing: 0.5,
    });
    roomy.chain(tight)
}

/// Makes the document `entitlement` describes for `record`, carrying `code`.
pub fn make(
    fonts: &Fonts,
    record: &pb::TeacherRecord,
    entitlement: &Entitlement,
    code: &str,
    issued: DateTime<Utc>,
) -> Result<Made, PdfError> {
    let name = full_name(record);
    let title = entitlement.title();
    let mut pages = Vec::new();
    for fit in fits() {
        pages = compose(fonts, record, entitlement, &name, code, issued, fit);
        if pages.len() == 1 {
            break;
        }
    }
    let pdf = pdf::render(
        fonts,
        &pages,
        &Info {
            title: &title,
            author: ISSUER,
            subject: &format!("{title} for teacher reference number {}", record.trn),
            created: issued,
        },
    )?;
    Ok(Made {
        file_name: file_name(entitlement, &record.trn),
        pdf,
    })
}

/// The pages of a document with the holder's name set at `name_size` points.
fn compose(
    fonts: &Fonts,
    record: &pb::TeacherRecord,
    entitlement: &Entitlement,
    name: &str,
    code: &str,
    issued: DateTime<Utc>,
    fit: Fit,
) -> Vec<Vec<pdf::Mark>> {
    let name_size = fit.name_size;
    let mut page = Composer::new(fonts).spaced(fit.spacing);
    match entitlement {
        Entitlement::QualificationsLetter => letter(&mut page, record, name, issued, name_size),
        certificate => certificate_body(&mut page, record, certificate, name, name_size),
    }
    let kind_words = match entitlement {
        Entitlement::QualificationsLetter => "letter",
        _ => "certificate",
    };
    page.footer(&[
        (
            Weight::Regular,
            10.0,
            MUTED,
            format!("Issued by the {ISSUER} on {}.", issued.format("%-d %B %Y")),
        ),
        (
            Weight::Bold,
            13.0,
            INK,
            format!("Verification code: {code}"),
        ),
        (
            Weight::Regular,
            9.0,
            MUTED,
            format!(
                "To check this {kind_words}, an employer enters the verification code in the \
                 Department for Education's Secure Access service. It shows who the {kind_words} \
                 was issued to and when, and its SHA-256 fingerprint, which changes if the file \
                 has been altered in any way."
            ),
        ),
    ]);
    page.finish()
}

fn heading(page: &mut Composer<'_>, title: &str, name: &str, name_size: f32, trn: &str) {
    page.paragraph(Weight::Bold, 26.0, ACCENT, title);
    page.space(18.0);
    page.paragraph(Weight::Regular, 12.0, MUTED, "This is to certify that");
    page.space(6.0);
    page.paragraph(Weight::Bold, name_size, INK, name);
    page.space(4.0);
    page.paragraph(
        Weight::Regular,
        11.0,
        MUTED,
        &format!("Teacher reference number (TRN) {trn}"),
    );
    page.space(14.0);
}

fn certificate_body(
    page: &mut Composer<'_>,
    record: &pb::TeacherRecord,
    entitlement: &Entitlement,
    name: &str,
    name_size: f32,
) {
    let say = |page: &mut Composer<'_>, text: &str| {
        page.paragraph(Weight::Regular, 12.0, INK, text);
        page.space(8.0);
    };
    match entitlement {
        Entitlement::Qts {
            awarded,
            exempt_from_induction,
            through_qtls,
        } => {
            heading(
                page,
                "Qualified Teacher Status",
                name,
                name_size,
                &record.trn,
            );
            if *through_qtls {
                say(
                    page,
                    &format!(
                        "holds qualified teacher status in England, reached through qualified \
                         teacher learning and skills (QTLS) awarded on {}.",
                        long_date(awarded)
                    ),
                );
                say(
                    page,
                    "Qualified teacher status through QTLS is held while the holder's membership \
                     of the Society for Education and Training remains active.",
                );
            } else {
                say(
                    page,
                    &format!(
                        "was awarded qualified teacher status in England on {}.",
                        long_date(awarded)
                    ),
                );
            }
            say(
                page,
                "Qualified teacher status recognises that the holder has shown they meet the \
                 Teachers' Standards, and allows them to be employed as a qualified teacher in \
                 maintained schools and non-maintained special schools in England.",
            );
            if *exempt_from_induction {
                say(
                    page,
                    "The holder is exempt from statutory induction: they may be employed as a \
                     qualified teacher without first serving an induction period.",
                );
            } else {
                say(
                    page,
                    "To go on teaching in a maintained school in England, the holder must also \
                     complete a period of statutory induction with an appropriate body.",
                );
            }
            page.field("QTS awarded", &long_date(awarded));
        }
        Entitlement::Induction { started, completed } => {
            heading(page, "Statutory Induction", name, name_size, &record.trn);
            say(
                page,
                &format!(
                    "has successfully completed statutory induction in England, having started on \
                     {} and completed it on {}.",
                    long_date(started),
                    long_date(completed)
                ),
            );
            say(
                page,
                "Completing induction shows that the holder met the Teachers' Standards throughout \
                 their induction period, assessed by their appropriate body.",
            );
            let body = record
                .induction
                .as_ref()
                .and_then(|i| i.periods.last())
                .map(|p| p.appropriate_body.clone())
                .filter(|b| !b.is_empty());
            page.field("Induction started", &long_date(started));
            page.field("Induction completed", &long_date(completed));
            if let Some(body) = body {
                page.field("Appropriate body", &body);
            }
        }
        Entitlement::Eyts { awarded } => {
            heading(
                page,
                "Early Years Teacher Status",
                name,
                name_size,
                &record.trn,
            );
            say(
                page,
                &format!(
                    "was awarded early years teacher status on {}.",
                    long_date(awarded)
                ),
            );
            say(
                page,
                "Early years teacher status recognises that the holder has shown they meet the \
                 Teachers' Standards (Early Years), and is qualified to lead education and care \
                 for children from birth to the age of five.",
            );
            page.field("EYTS awarded", &long_date(awarded));
        }
        Entitlement::Npq { kind, awarded, .. } => {
            let (short, full, area) = npq_name(*kind);
            heading(
                page,
                "National Professional Qualification",
                name,
                name_size,
                &record.trn,
            );
            say(
                page,
                &format!(
                    "was awarded the {full} ({short}) on {}.",
                    long_date(awarded)
                ),
            );
            say(
                page,
                &format!(
                    "National Professional Qualifications are the Department for Education's \
                     qualifications for teachers and leaders who want to deepen their expertise in \
                     {area}."
                ),
            );
            page.field("Qualification", short);
            page.field("Awarded", &long_date(awarded));
        }
        Entitlement::QualificationsLetter => {}
    }
}

/// A professional status's short name, as the letter labels its training.
fn status_label(kind: i32) -> &'static str {
    match pb::ProfessionalStatusType::try_from(kind) {
        Ok(pb::ProfessionalStatusType::Qts) => "QTS",
        Ok(pb::ProfessionalStatusType::Eyts) => "EYTS",
        Ok(pb::ProfessionalStatusType::Eyps) => "EYPS",
        Ok(pb::ProfessionalStatusType::Qtls) => "QTLS",
        Ok(pb::ProfessionalStatusType::Pqts) => "Partial QTS",
        _ => "Status",
    }
}

/// Initial teacher training in a line: provider, subjects, ages, dates, award and country.
fn training_words(training: &pb::InitialTeacherTraining) -> String {
    let mut words = vec![training.provider_name.clone()];
    if !training.subjects.is_empty() {
        let subjects: Vec<&str> = training.subjects.iter().map(|s| s.name.as_str()).collect();
        words.push(subjects.join(", "));
    }
    if let (Some(from), Some(to)) = (training.age_range_from, training.age_range_to) {
        words.push(format!("ages {from} to {to}"));
    }
    let month = |date: &str| {
        NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map(|d| d.format("%B %Y").to_string())
            .unwrap_or_else(|_| date.to_owned())
    };
    match (training.start_date.is_empty(), training.end_date.is_empty()) {
        (false, false) => words.push(format!(
            "{} to {}",
            month(&training.start_date),
            month(&training.end_date)
        )),
        (false, true) => words.push(format!("from {}", month(&training.start_date))),
        _ => {}
    }
    let degree = match pb::DegreeType::try_from(training.degree_type) {
        Ok(pb::DegreeType::BachelorsWithQts) => "degree with QTS",
        Ok(pb::DegreeType::PostgraduateCertificate) => "PGCE",
        Ok(pb::DegreeType::ProfessionalGraduateCertificate) => {
            "professional graduate certificate in education"
        }
        Ok(pb::DegreeType::PostgraduateDiploma) => "PGDE",
        Ok(pb::DegreeType::TeacherDegreeApprenticeship) => "teacher degree apprenticeship",
        Ok(pb::DegreeType::NoAcademicAward) => "no academic award",
        Ok(pb::DegreeType::Other) => "other qualification",
        _ => "",
    };
    if !degree.is_empty() {
        words.push(degree.to_owned());
    }
    // Training outside the UK names its country.
    if !training.country.is_empty() && training.country != "GB" {
        words.push(training.country.clone());
    }
    words.join("; ")
}

fn status_words(record: &pb::TeacherRecord, kind: pb::ProfessionalStatusType) -> String {
    record
        .professional_statuses
        .iter()
        .filter(|s| s.r#type == kind as i32 && s.status == pb::RouteStatus::Holds as i32)
        .map(|s| format!("held since {}", long_date(&s.awarded_date)))
        .next()
        .unwrap_or_else(|| "not held".to_owned())
}

fn induction_words(record: &pb::TeacherRecord) -> String {
    let induction = record.induction.clone().unwrap_or_default();
    use pb::InductionStatus as S;
    match S::try_from(induction.status).unwrap_or(S::Unspecified) {
        S::Passed => format!("passed on {}", long_date(&induction.completed_date)),
        S::Exempt => "exempt".to_owned(),
        S::InProgress => format!("in progress since {}", long_date(&induction.start_date)),
        S::RequiredToComplete => "to be completed".to_owned(),
        S::Failed => format!("not passed ({})", long_date(&induction.completed_date)),
        S::FailedInWales => format!(
            "not passed in Wales ({})",
            long_date(&induction.completed_date)
        ),
        S::None | S::Unspecified => "none recorded".to_owned(),
    }
}

fn mq_words(mq: &pb::MandatoryQualification) -> String {
    let specialism =
        match pb::MqSpecialism::try_from(mq.specialism).unwrap_or(pb::MqSpecialism::Unspecified) {
            pb::MqSpecialism::Hearing => "Hearing impairment",
            pb::MqSpecialism::Visual => "Visual impairment",
            pb::MqSpecialism::MultiSensory => "Multi-sensory impairment",
            pb::MqSpecialism::Unspecified => "Sensory impairment",
        };
    let status = match pb::MqStatus::try_from(mq.status).unwrap_or(pb::MqStatus::Unspecified) {
        pb::MqStatus::Passed => "passed",
        pb::MqStatus::InProgress => "in progress",
        pb::MqStatus::Deferred => "deferred",
        pb::MqStatus::Extended => "extended",
        pb::MqStatus::Failed => "not passed",
        pb::MqStatus::Withdrawn => "withdrawn",
        pb::MqStatus::Unspecified => "recorded",
    };
    let dates = if mq.end_date.is_empty() {
        format!("from {}", long_date(&mq.start_date))
    } else {
        format!(
            "{} to {}",
            long_date(&mq.start_date),
            long_date(&mq.end_date)
        )
    };
    format!("{specialism}: {status}, {}, {dates}", mq.provider)
}

fn letter(
    page: &mut Composer<'_>,
    record: &pb::TeacherRecord,
    name: &str,
    issued: DateTime<Utc>,
    name_size: f32,
) {
    page.paragraph(Weight::Bold, 24.0, ACCENT, "Confirmation of qualifications");
    page.space(12.0);
    page.paragraph(
        Weight::Regular,
        11.0,
        MUTED,
        &issued.format("%-d %B %Y").to_string(),
    );
    page.space(10.0);
    // Addressed by first and last name, as letters are; the full name is in the Name field.
    let addressed = [&record.first_name, &record.last_name]
        .into_iter()
        .map(|part| part.trim())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    page.paragraph(
        Weight::Regular,
        name_size.min(12.0),
        INK,
        &format!("Dear {addressed},"),
    );
    page.space(6.0);
    page.paragraph(
        Weight::Regular,
        12.0,
        INK,
        &format!(
            "This letter confirms the qualifications and statuses held on your record in the \
             Database of Qualified Teachers on {}, under teacher reference number {}.",
            issued.format("%-d %B %Y"),
            record.trn
        ),
    );
    page.space(8.0);
    page.field_sized("Name", name, name_size.min(11.0));
    page.field("TRN", &record.trn);
    if !record.date_of_birth.is_empty() {
        page.field("Date of birth", &long_date(&record.date_of_birth));
    }
    page.field(
        "Qualified teacher status",
        &status_words(record, pb::ProfessionalStatusType::Qts),
    );
    for (label, kind) in [
        ("QTLS", pb::ProfessionalStatusType::Qtls),
        (
            "Early years teacher status",
            pb::ProfessionalStatusType::Eyts,
        ),
        (
            "Early years professional status",
            pb::ProfessionalStatusType::Eyps,
        ),
        ("Partial QTS", pb::ProfessionalStatusType::Pqts),
    ] {
        let words = status_words(record, kind);
        if kind == pb::ProfessionalStatusType::Eyts || words != "not held" {
            page.field(label, &words);
        }
    }
    page.field("Statutory induction", &induction_words(record));
    for (label, training) in record
        .professional_statuses
        .iter()
        .filter_map(|s| Some((status_label(s.r#type), s.training.as_ref()?)))
    {
        page.field(&format!("{label} training"), &training_words(training));
    }
    page.space(10.0);
    page.paragraph(
        Weight::Bold,
        13.0,
        INK,
        "National Professional Qualifications",
    );
    if record.npq_qualifications.is_empty() {
        page.paragraph(Weight::Regular, 11.0, MUTED, "None recorded.");
    }
    for npq in &record.npq_qualifications {
        let kind = pb::NpqType::try_from(npq.r#type).unwrap_or(pb::NpqType::Unspecified);
        let (short, full, _) = npq_name(kind);
        page.field(
            short,
            &format!("{full}, awarded {}", long_date(&npq.awarded_date)),
        );
    }
    page.space(10.0);
    page.paragraph(Weight::Bold, 13.0, INK, "Mandatory qualifications");
    if record.mandatory_qualifications.is_empty() {
        page.paragraph(Weight::Regular, 11.0, MUTED, "None recorded.");
    }
    for mq in &record.mandatory_qualifications {
        page.paragraph_at(Weight::Regular, 11.0, INK, 0.0, &mq_words(mq));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_words() {
        assert_eq!(long_date("2012-06-30"), "30 June 2012");
        assert_eq!(long_date("2024-09-02"), "2 September 2024");
    }

    #[test]
    fn full_names_skip_empty_parts() {
        let record = pb::TeacherRecord {
            first_name: "Zoë".into(),
            last_name: "O'Súilleabháin".into(),
            ..Default::default()
        };
        assert_eq!(full_name(&record), "Zoë O'Súilleabháin");
    }
}

/// A record that entitles its teacher to every kind of document (tests and benchmarks).
#[doc(hidden)]
pub fn sample_record() -> pb::TeacherRecord {
    let held = |kind: pb::ProfessionalStatusType, awarded: &str| pb::ProfessionalStatus {
        r#type: kind.into(),
        route: pb::Route::HigherEducation.into(),
        status: pb::RouteStatus::Holds.into(),
        awarded_date: awarded.into(),
        exempt_from_induction: Some(false),
        training: Some(pb::InitialTeacherTraining {
            provider_name: "University of Leeds".into(),
            provider_ukprn: "10007795".into(),
            subjects: vec![pb::TrainingSubject {
                code: "100403".into(),
                name: "mathematics".into(),
            }],
            age_range_from: Some(11),
            age_range_to: Some(16),
            start_date: "2011-09-01".into(),
            end_date: "2012-06-30".into(),
            degree_type: pb::DegreeType::PostgraduateCertificate.into(),
            country: "GB".into(),
        }),
    };
    pb::TeacherRecord {
        trn: "1000042".into(),
        first_name: "Zoë".into(),
        middle_name: "Şahin".into(),
        last_name: "Nguyễn".into(),
        date_of_birth: "1985-03-14".into(),
        professional_statuses: vec![
            held(pb::ProfessionalStatusType::Qts, "2012-06-30"),
            held(pb::ProfessionalStatusType::Eyts, "2018-07-20"),
        ],
        qts_date: "2012-06-30".into(),
        eyts_date: "2018-07-20".into(),
        induction: Some(pb::Induction {
            status: pb::InductionStatus::Passed.into(),
            start_date: "2012-09-03".into(),
            completed_date: "2013-07-19".into(),
            periods: vec![pb::InductionPeriod {
                appropriate_body: "Leeds City Council".into(),
                start_date: "2012-09-03".into(),
                end_date: "2013-07-19".into(),
                terms: 3,
            }],
            ..Default::default()
        }),
        npq_qualifications: vec![pb::NpqQualification {
            id: "11".into(),
            r#type: pb::NpqType::Npqh.into(),
            awarded_date: "2023-02-10".into(),
        }],
        mandatory_qualifications: vec![pb::MandatoryQualification {
            id: "3".into(),
            specialism: pb::MqSpecialism::Visual.into(),
            status: pb::MqStatus::Passed.into(),
            provider: "University of Birmingham".into(),
            start_date: "2005-09-01".into(),
            end_date: "2007-07-01".into(),
        }],
        ..Default::default()
    }
}

#[cfg(test)]
mod pdf_tests {
    use super::*;
    use crate::entitlement::entitlements;

    #[test]
    fn every_document_is_a_pdf_with_its_info() {
        let fonts = Fonts::load().unwrap();
        let record = sample_record();
        let all = entitlements(&record);
        assert_eq!(all.len(), 5);
        for entitlement in &all {
            let made = make(
                &fonts,
                &record,
                entitlement,
                "7KQ2-M9XD-3HJP-W6RT",
                Utc::now(),
            )
            .unwrap();
            assert!(made.pdf.starts_with(b"%PDF-1.7"));
            assert!(made.file_name.ends_with("-1000042.pdf"));
            let doc = lopdf::Document::load_mem(&made.pdf).unwrap();
            assert_eq!(doc.get_pages().len(), 1);
            let info = doc
                .trailer
                .get(b"Info")
                .and_then(|i| doc.dereference(i))
                .unwrap()
                .1
                .as_dict()
                .unwrap()
                .clone();
            for key in ["Title", "Author", "Creator", "CreationDate"] {
                assert!(info.has(key.as_bytes()), "{key}");
            }
            // A subset, not the whole 700 kB font.
            assert!(made.pdf.len() < 60_000, "{} bytes", made.pdf.len());
        }
    }

    /// The widest letter a name may hold, in the bold face names are set in.
    fn widest_name_letter(fonts: &Fonts) -> char {
        let face = fonts.face(Weight::Bold);
        (0..0x3000_u32)
            .filter_map(char::from_u32)
            .filter(|c| {
                portal_common::printable::is_name_character(*c)
                    && portal_common::printable::is_printable(*c)
                    && !portal_common::printable::is_invisible(*c)
            })
            .max_by(|a, b| {
                face.width(&a.to_string(), 10.0)
                    .total_cmp(&face.width(&b.to_string(), 10.0))
            })
            .unwrap()
    }

    #[test]
    fn the_longest_name_of_the_widest_letters_keeps_every_document_on_one_page() {
        let fonts = Fonts::load().unwrap();
        let wide = widest_name_letter(&fonts);
        let part = wide.to_string().repeat(100);
        let record = pb::TeacherRecord {
            first_name: part.clone(),
            middle_name: part.clone(),
            last_name: part,
            ..sample_record()
        };
        for entitlement in &entitlements(&record) {
            let made = make(
                &fonts,
                &record,
                entitlement,
                "7KQ2-M9XD-3HJP-W6RT",
                Utc::now(),
            )
            .unwrap();
            let doc = lopdf::Document::load_mem(&made.pdf).unwrap();
            assert_eq!(
                doc.get_pages().len(),
                1,
                "{entitlement:?} with 300 of {wide:?}"
            );
        }
    }

    #[test]
    fn a_short_name_is_set_large_and_a_long_one_smaller() {
        let fonts = Fonts::load().unwrap();
        let record = sample_record();
        let qts = &entitlements(&record)[0];
        let name_size = |name: &str| {
            compose(
                &fonts,
                &record,
                qts,
                name,
                "CODE",
                Utc::now(),
                Fit {
                    name_size: 22.0,
                    spacing: 1.0,
                },
            )
            .concat()
            .iter()
            .find_map(|mark| match mark {
                pdf::Mark::Text { text, size, .. } if text.starts_with(name) => Some(*size),
                _ => None,
            })
        };
        assert_eq!(name_size("Zoë Şahin"), Some(22.0));
        let pages = |name: &str, size: f32| {
            let fit = Fit {
                name_size: size,
                spacing: 1.0,
            };
            compose(&fonts, &record, qts, name, "C", Utc::now(), fit)
        };
        let long = "Ш".repeat(300);
        assert!(pages(&long, 22.0).len() > 1, "too big at 22 points");
        let fitted = NAME_SIZES
            .iter()
            .find(|size| pages(&long, **size).len() == 1);
        assert!(fitted.is_some_and(|size| *size < 22.0));
    }
}

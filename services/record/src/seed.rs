//! Synthetic teacher records for demonstrations, tests and load: realistic names (diacritics,
//! apostrophes, hyphens, previous surnames), the whole spread of statuses, induction outcomes,
//! NPQs, mandatory qualifications and alerts. The same seed always gives the same records.
//!
//! Every record is generated in the API's form and then parsed by the same domain rules as
//! an Administration call, so a seeded record is one the API could have written.

use chrono::{Datelike as _, Days, NaiveDate};
use dqt_proto::dqt::portal::v1 as pb;
use portal_common::FieldViolation;
use portal_common::values::{DateOfBirth, Nino, PersonName};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use crate::domain::{
    AlertCatalogue, AuditAction, ContactDetails, Induction, Mq, NewAlert, NewRecord, Npq,
    PersonStatus, PreviousName, ProfessionalStatus, Qtls,
};
use crate::error::Error;
use crate::store::{AuditEntry, Store};

/// Generated dates lie on or before this day, so that output depends only on the seed.
pub const REFERENCE_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2026, 1, 1) {
    Some(date) => date,
    None => panic!("2026-01-01 is a date"),
};

const FIRST_NAMES: &[&str] = &[
    "Oliver",
    "Amelia",
    "Mohammed",
    "Isla",
    "George",
    "Ava",
    "Noah",
    "Olivia",
    "Harry",
    "Emily",
    "Jack",
    "Sophie",
    "Priya",
    "Arjun",
    "Fatima",
    "Yusuf",
    "Zoë",
    "Chloë",
    "Siobhán",
    "Seán",
    "Aoife",
    "Oisín",
    "Niamh",
    "Jan",
    "Łukasz",
    "Małgorzata",
    "Ayşe",
    "İbrahim",
    "Björn",
    "Søren",
    "Renée",
    "José",
    "François",
    "Zoltán",
    "Dóra",
    "Thanh",
    "Minh",
    "Ngozi",
    "Chidi",
    "Rhiannon",
    "Dafydd",
    "Eilidh",
    "Mairéad",
    "Anne-Marie",
    "Jean-Luc",
    "D'Andre",
    "Hannah",
];

const SURNAMES: &[&str] = &[
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Wilson",
    "Thomas",
    "Roberts",
    "Patel",
    "Khan",
    "Ahmed",
    "Begum",
    "Singh",
    "O'Brien",
    "O'Súilleabháin",
    "O'Neill",
    "D'Arcy",
    "McDonald",
    "MacLeod",
    "Nguyễn",
    "Trần",
    "Łukasiewicz",
    "Kowalski",
    "Wiśniewska",
    "Şahin",
    "Yılmaz",
    "Öztürk",
    "Müller",
    "García",
    "Martínez",
    "Dvořák",
    "Smith-Jones",
    "Hughes-Evans",
    "Ní Bhriain",
    "van der Berg",
    "de la Cruz",
    "Okonkwo",
    "Mensah",
    "Papadopoulos",
    "Ó Briain",
    "Clarke",
    "Walker",
    "Wright",
    "Hall",
    "Green",
];

const TOWNS: &[(&str, &str)] = &[
    ("Leeds", "LS1 4AP"),
    ("Manchester", "M1 1AE"),
    ("Birmingham", "B1 1BB"),
    ("Bristol", "BS1 5TR"),
    ("Sheffield", "S1 2HE"),
    ("Newcastle upon Tyne", "NE1 7RU"),
    ("Norwich", "NR2 1TF"),
    ("Plymouth", "PL1 2AA"),
    ("London", "SW1P 3BT"),
    ("York", "YO1 7HH"),
];

const STREETS: &[&str] = &[
    "High Street",
    "Church Lane",
    "Station Road",
    "Victoria Road",
    "Mill Lane",
    "St John's Close",
];

const APPROPRIATE_BODIES: &[&str] = &[
    "Leeds City Council",
    "Manchester Teaching School Hub",
    "Birmingham City Council",
    "Bristol Teaching School Hub",
    "Independent Schools Teacher Induction Panel",
    "North Yorkshire County Council",
];

const MQ_PROVIDERS: &[&str] = &[
    "University of Birmingham",
    "University of Edinburgh",
    "University of Leeds",
    "Mary Hare Training Services",
];

/// Training providers and their UKPRNs (illustrative).
const PROVIDERS: &[(&str, &str)] = &[
    ("University of Leeds", "10007795"),
    ("University of Manchester", "10007798"),
    ("UCL Institute of Education", "10007784"),
    ("Sheffield Hallam University", "10005790"),
    ("Teach First", "10006709"),
    ("Kent and Medway Training", "10043410"),
    ("Bath Spa University", "10000571"),
];

/// HECoS subjects of teacher training.
const SUBJECTS: &[(&str, &str)] = &[
    ("100403", "mathematics"),
    ("100425", "physics"),
    ("100417", "chemistry"),
    ("100346", "biology"),
    ("100320", "English studies"),
    ("100302", "history"),
    ("100409", "geography"),
    ("100511", "primary teaching"),
    ("101410", "music education and teaching"),
    ("100323", "French language"),
];

/// Age ranges teachers train for.
const AGE_RANGES: &[(i32, i32)] = &[(3, 7), (5, 11), (7, 14), (11, 16), (11, 18), (14, 19)];

const QTS_ROUTES: &[i32] = &[
    pb::Route::HigherEducation as i32,
    pb::Route::HigherEducation as i32,
    pb::Route::SchoolCentred as i32,
    pb::Route::AssessmentOnly as i32,
    pb::Route::TeacherDegreeApprenticeship as i32,
    pb::Route::OverseasTrained as i32,
    pb::Route::WelshRecognition as i32,
    pb::Route::Other as i32,
];

const NPQS: &[i32] = &[
    pb::NpqType::Npqh as i32,
    pb::NpqType::Npqsl as i32,
    pb::NpqType::Npqml as i32,
    pb::NpqType::Npqel as i32,
    pb::NpqType::Npqlt as i32,
    pb::NpqType::Npqltd as i32,
    pb::NpqType::Npqlbc as i32,
    pb::NpqType::Npqll as i32,
    pb::NpqType::Npqeyl as i32,
    pb::NpqType::Npqsenco as i32,
    pb::NpqType::Npqlpm as i32,
];

/// A generated record in the API's form, before the domain rules read it.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub first_name: String,
    pub middle_name: String,
    pub last_name: String,
    pub previous_names: Vec<(pb::PersonName, NaiveDate)>,
    pub date_of_birth: Option<String>,
    pub nino: String,
    pub contact: pb::ContactDetails,
    pub deactivated: bool,
    pub statuses: Vec<pb::ProfessionalStatus>,
    pub induction: pb::Induction,
    pub npqs: Vec<pb::NpqQualification>,
    pub mqs: Vec<pb::MandatoryQualification>,
    pub alerts: Vec<pb::Alert>,
    /// QTLS, with the date it was awarded.
    pub qtls: Option<(pb::QtlsStatus, NaiveDate)>,
    /// A record closed on the teacher's death.
    pub date_of_death: Option<NaiveDate>,
}

impl Draft {
    /// Reads the draft with the domain rules, as of `today`.
    pub fn parse(
        &self,
        catalogue: &AlertCatalogue,
        today: NaiveDate,
    ) -> Result<NewRecord, Vec<FieldViolation>> {
        let name = PersonName::parse(
            ["first_name", "middle_name", "last_name"],
            &self.first_name,
            &self.middle_name,
            &self.last_name,
        )?;
        let previous_names = self
            .previous_names
            .iter()
            .map(|(p, ended_on)| {
                let parsed = PersonName::parse(
                    [
                        "previous_names.first_name",
                        "previous_names.middle_name",
                        "previous_names.last_name",
                    ],
                    &p.first_name,
                    &p.middle_name,
                    &p.last_name,
                )?;
                Ok(PreviousName {
                    first: parsed.first.as_str().to_owned(),
                    middle: parsed.middle.as_str().to_owned(),
                    last: parsed.last.as_str().to_owned(),
                    first_key: parsed.first.normalised(),
                    last_key: parsed.last.normalised(),
                    ended_on: *ended_on,
                })
            })
            .collect::<Result<_, Vec<FieldViolation>>>()?;
        let date_of_birth = self
            .date_of_birth
            .as_deref()
            .map(|d| DateOfBirth::parse("date_of_birth", d, today))
            .transpose()
            .map_err(|v| vec![v])?;
        let nino =
            Nino::parse_optional("national_insurance_number", &self.nino).map_err(|v| vec![v])?;
        let contact = ContactDetails::parse("contact_details", &self.contact)?;
        let statuses: Vec<ProfessionalStatus> = self
            .statuses
            .iter()
            .map(|s| ProfessionalStatus::parse("professional_status", s, today))
            .collect::<Result<_, _>>()?;
        let induction = Induction::parse("induction", &self.induction, today)?;
        let qtls = match self.qtls {
            Some((status, awarded)) => Qtls::parse(
                &pb::SetQtlsStatusRequest {
                    trn: String::new(),
                    qtls_status: status.into(),
                    awarded_date: text(awarded),
                },
                today,
            )?,
            None => Qtls::default(),
        };
        induction
            .check_against("induction", &statuses, qtls)
            .map_err(|v| vec![v])?;
        Ok(NewRecord {
            name,
            previous_names,
            date_of_birth,
            nino,
            contact,
            status: if self.deactivated || self.date_of_death.is_some() {
                PersonStatus::Deactivated
            } else {
                PersonStatus::Active
            },
            statuses,
            induction,
            npqs: self
                .npqs
                .iter()
                .map(|n| Npq::parse("npq", n, today))
                .collect::<Result<_, _>>()?,
            mqs: self
                .mqs
                .iter()
                .map(|m| Mq::parse("mandatory", m, today))
                .collect::<Result<_, _>>()?,
            alerts: self
                .alerts
                .iter()
                .map(|a| NewAlert::parse("alert", a, catalogue, today))
                .collect::<Result<_, _>>()?,
            qtls,
            date_of_death: self.date_of_death,
        })
    }
}

fn text(date: NaiveDate) -> String {
    portal_common::values::format_date(date)
}

/// Synthetic records from a seed.
pub struct Generator {
    rng: StdRng,
    count: u64,
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            count: 0,
        }
    }

    fn date_between(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let span = (to - from).num_days().max(0);
        let offset = u64::try_from(self.rng.random_range(0..=span)).unwrap_or(0);
        from.checked_add_days(Days::new(offset)).unwrap_or(from)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        // Every list here is a non-empty constant.
        &items[self.rng.random_range(0..items.len())]
    }

    fn nino(&mut self) -> String {
        const FIRST: &[u8] = b"ABCEGHJKLMNOPRSTWXYZ";
        const SECOND: &[u8] = b"ABCEGHJKLMNPRSTWXYZ";
        const LAST: &[u8] = b"ABCD";
        loop {
            let prefix = [*self.pick(FIRST), *self.pick(SECOND)];
            let prefix = String::from_utf8_lossy(&prefix).into_owned();
            if ["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"].contains(&prefix.as_str()) {
                continue;
            }
            let digits: u32 = self.rng.random_range(0..1_000_000);
            return format!("{prefix}{digits:06}{}", char::from(*self.pick(LAST)));
        }
    }

    /// The next record.
    pub fn draft(&mut self) -> Draft {
        self.count += 1;
        let n = self.count;
        let first_name = self.pick(FIRST_NAMES).to_string();
        let last_name = self.pick(SURNAMES).to_string();
        let middle_name = if self.rng.random_bool(0.3) {
            self.pick(FIRST_NAMES).to_string()
        } else {
            String::new()
        };
        let born = self.date_between(
            NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or(REFERENCE_DATE),
            NaiveDate::from_ymd_opt(2003, 12, 31).unwrap_or(REFERENCE_DATE),
        );
        let adult = born.with_year(born.year() + 21).unwrap_or(born);
        let mut draft = Draft {
            first_name: first_name.clone(),
            middle_name: middle_name.clone(),
            last_name,
            // A few legacy records have no date of birth.
            date_of_birth: (!self.rng.random_bool(0.003)).then(|| text(born)),
            nino: if self.rng.random_bool(0.7) {
                self.nino()
            } else {
                String::new()
            },
            deactivated: self.rng.random_bool(0.01),
            induction: pb::Induction {
                status: pb::InductionStatus::None.into(),
                ..Default::default()
            },
            ..Draft::default()
        };
        if self.rng.random_bool(0.2) {
            let ended_on = self.date_between(adult, REFERENCE_DATE);
            draft.previous_names.push((
                pb::PersonName {
                    first_name,
                    middle_name,
                    last_name: self.pick(SURNAMES).to_string(),
                },
                ended_on,
            ));
        }
        if self.rng.random_bool(0.6) {
            let (town, postcode) = *self.pick(TOWNS);
            draft.contact = pb::ContactDetails {
                email: format!("teacher{n}@example.org"),
                phone: format!("07700 900{:03}", self.rng.random_range(0..1000)),
                address_line1: format!("{} {}", self.rng.random_range(1..200), self.pick(STREETS)),
                address_line2: String::new(),
                town: town.into(),
                postcode: postcode.into(),
                pending_email: String::new(),
            };
        }
        self.qualifications(&mut draft, adult);
        // A few records are closed on a death.
        if self.rng.random_bool(0.003) {
            draft.date_of_death = Some(self.date_between(adult, REFERENCE_DATE));
        }
        draft
    }

    /// The initial teacher training behind a status reached by `route`, ending on `ended`.
    fn training(&mut self, route: i32, ended: NaiveDate) -> pb::InitialTeacherTraining {
        let (provider_name, provider_ukprn) = *self.pick(PROVIDERS);
        let subjects = (0..self.rng.random_range(1..=3))
            .map(|_| {
                let (code, name) = *self.pick(SUBJECTS);
                pb::TrainingSubject {
                    code: code.into(),
                    name: name.into(),
                }
            })
            .collect::<Vec<_>>();
        let (from, to) = *self.pick(AGE_RANGES);
        let degree = match pb::Route::try_from(route) {
            Ok(pb::Route::TeacherDegreeApprenticeship) => {
                pb::DegreeType::TeacherDegreeApprenticeship
            }
            Ok(pb::Route::AssessmentOnly) => pb::DegreeType::NoAcademicAward,
            Ok(pb::Route::SchoolCentred) => pb::DegreeType::ProfessionalGraduateCertificate,
            _ if self.rng.random_bool(0.3) => pb::DegreeType::BachelorsWithQts,
            _ => pb::DegreeType::PostgraduateCertificate,
        };
        let country = if route == pb::Route::OverseasTrained as i32 {
            *self.pick(&["IE", "AU", "NZ", "ES", "ZA", "US", "CA", "PL"])
        } else {
            "GB"
        };
        let started = ended.with_year(ended.year() - 1).unwrap_or(ended);
        pb::InitialTeacherTraining {
            provider_name: provider_name.into(),
            provider_ukprn: provider_ukprn.into(),
            subjects,
            age_range_from: Some(from),
            age_range_to: Some(to),
            start_date: text(started),
            end_date: text(ended),
            degree_type: degree.into(),
            country: country.into(),
        }
    }

    fn qualifications(&mut self, draft: &mut Draft, adult: NaiveDate) {
        let roll = self.rng.random_range(0..100);
        let awarded = self.date_between(adult, REFERENCE_DATE);
        let status = |kind: pb::ProfessionalStatusType, route: i32, status: pb::RouteStatus| {
            pb::ProfessionalStatus {
                r#type: kind.into(),
                route,
                status: status.into(),
                ..Default::default()
            }
        };
        match roll {
            0..=77 => {
                let route = *self.pick(QTS_ROUTES);
                let exempt =
                    route == pb::Route::OverseasTrained as i32 && self.rng.random_bool(0.5);
                let training = (route != pb::Route::WelshRecognition as i32)
                    .then(|| self.training(route, awarded));
                draft.statuses.push(pb::ProfessionalStatus {
                    awarded_date: text(awarded),
                    exempt_from_induction: Some(exempt),
                    training,
                    ..status(
                        pb::ProfessionalStatusType::Qts,
                        route,
                        pb::RouteStatus::Holds,
                    )
                });
                draft.induction = self.induction(awarded, exempt);
                self.npqs(draft, awarded);
            }
            78..=83 => {
                draft.statuses.push(pb::ProfessionalStatus {
                    awarded_date: text(awarded),
                    exempt_from_induction: Some(true),
                    ..status(
                        pb::ProfessionalStatusType::Qtls,
                        pb::Route::QtlsSetMembership as i32,
                        pb::RouteStatus::Holds,
                    )
                });
                draft.induction = pb::Induction {
                    status: pb::InductionStatus::Exempt.into(),
                    exemption_reasons: vec![pb::InductionExemptionReason::Qtls.into()],
                    ..Default::default()
                };
                // Most keep their SET membership; some let it lapse.
                let qtls = if self.rng.random_bool(0.8) {
                    pb::QtlsStatus::Active
                } else {
                    pb::QtlsStatus::Expired
                };
                draft.qtls = Some((qtls, awarded));
            }
            84..=89 => {
                let kind = if self.rng.random_bool(0.8) {
                    pb::ProfessionalStatusType::Eyts
                } else {
                    pb::ProfessionalStatusType::Eyps
                };
                let training = self.training(pb::Route::HigherEducation as i32, awarded);
                draft.statuses.push(pb::ProfessionalStatus {
                    awarded_date: text(awarded),
                    exempt_from_induction: Some(false),
                    training: Some(training),
                    ..status(
                        kind,
                        pb::Route::HigherEducation as i32,
                        pb::RouteStatus::Holds,
                    )
                });
            }
            90..=95 => {
                let progress = *self.pick(&[
                    pb::RouteStatus::InTraining,
                    pb::RouteStatus::UnderAssessment,
                    pb::RouteStatus::Deferred,
                    pb::RouteStatus::Withdrawn,
                    pb::RouteStatus::Failed,
                ]);
                let route = *self.pick(&QTS_ROUTES[..5]);
                draft
                    .statuses
                    .push(status(pb::ProfessionalStatusType::Qts, route, progress));
            }
            96 => {
                draft.statuses.push(pb::ProfessionalStatus {
                    awarded_date: text(awarded),
                    exempt_from_induction: Some(false),
                    ..status(
                        pb::ProfessionalStatusType::Pqts,
                        pb::Route::Other as i32,
                        pb::RouteStatus::Holds,
                    )
                });
            }
            _ => {}
        }
        if self.rng.random_bool(0.02) {
            let start = self.date_between(adult, REFERENCE_DATE);
            let passed = self.rng.random_bool(0.7) && start < REFERENCE_DATE;
            draft.mqs.push(pb::MandatoryQualification {
                specialism: self.rng.random_range(1..=3),
                status: if passed {
                    pb::MqStatus::Passed.into()
                } else {
                    pb::MqStatus::InProgress.into()
                },
                provider: self.pick(MQ_PROVIDERS).to_string(),
                start_date: text(start),
                end_date: if passed {
                    text(self.date_between(start, REFERENCE_DATE))
                } else {
                    String::new()
                },
                ..Default::default()
            });
        }
        self.alerts(draft, adult);
    }

    fn induction(&mut self, qts: NaiveDate, exempt_overseas: bool) -> pb::Induction {
        let before_2000 = NaiveDate::from_ymd_opt(2000, 5, 7).unwrap_or(qts);
        if exempt_overseas {
            return pb::Induction {
                status: pb::InductionStatus::Exempt.into(),
                exemption_reasons: vec![
                    pb::InductionExemptionReason::OverseasTrainedTeacher.into(),
                ],
                ..Default::default()
            };
        }
        if qts < before_2000 {
            return pb::Induction {
                status: pb::InductionStatus::Exempt.into(),
                exemption_reasons: vec![pb::InductionExemptionReason::QualifiedBefore2000.into()],
                ..Default::default()
            };
        }
        let start = self
            .date_between(qts, qts + Days::new(120))
            .min(REFERENCE_DATE);
        let completed = start + Days::new(self.rng.random_range(300..800));
        let period = |body: &str, end: Option<NaiveDate>| pb::InductionPeriod {
            appropriate_body: body.to_owned(),
            start_date: text(start),
            end_date: end.map(text).unwrap_or_default(),
            terms: if end.is_some() { 3 } else { 1 },
        };
        let body = self.pick(APPROPRIATE_BODIES).to_string();
        if completed > REFERENCE_DATE {
            return pb::Induction {
                status: pb::InductionStatus::InProgress.into(),
                start_date: text(start),
                periods: vec![period(&body, None)],
                ..Default::default()
            };
        }
        let outcome = match self.rng.random_range(0..100) {
            0..=87 => pb::InductionStatus::Passed,
            88..=95 => {
                return pb::Induction {
                    status: pb::InductionStatus::RequiredToComplete.into(),
                    ..Default::default()
                };
            }
            96..=98 => pb::InductionStatus::Failed,
            _ => pb::InductionStatus::FailedInWales,
        };
        pb::Induction {
            status: outcome.into(),
            start_date: text(start),
            completed_date: text(completed),
            periods: vec![period(&body, Some(completed))],
            ..Default::default()
        }
    }

    fn npqs(&mut self, draft: &mut Draft, qts: NaiveDate) {
        if !self.rng.random_bool(0.12) {
            return;
        }
        let how_many = self.rng.random_range(1..=2);
        for _ in 0..how_many {
            let kind = *self.pick(NPQS);
            if draft.npqs.iter().any(|n| n.r#type == kind) {
                continue;
            }
            let earliest = crate::domain::NpqType::from_proto(kind)
                .map_or(REFERENCE_DATE, |k| k.earliest_award())
                .max(qts);
            if earliest >= REFERENCE_DATE {
                continue;
            }
            draft.npqs.push(pb::NpqQualification {
                r#type: kind,
                awarded_date: text(self.date_between(earliest, REFERENCE_DATE)),
                ..Default::default()
            });
        }
    }

    fn alerts(&mut self, draft: &mut Draft, adult: NaiveDate) {
        if !self.rng.random_bool(0.02) {
            return;
        }
        let failed_induction = draft.induction.status == pb::InductionStatus::Failed as i32;
        let code = if failed_induction {
            "C2"
        } else {
            *self.pick(&["T1", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "G1", "F1"])
        };
        let start = self.date_between(adult, REFERENCE_DATE);
        let closed = self.rng.random_bool(0.2) && start < REFERENCE_DATE;
        draft.alerts.push(pb::Alert {
            code: code.into(),
            details: "Synthetic case notes.".into(),
            start_date: text(start),
            end_date: if closed {
                text(self.date_between(start, REFERENCE_DATE))
            } else {
                String::new()
            },
            ..Default::default()
        });
    }
}

/// Records written per transaction.
const BATCH: u64 = 1000;

/// Adds `teachers` generated records from `seed` to the store, in batches of one transaction
/// each, calling `progress` with the number written after each batch. Generation runs on a
/// blocking thread, one batch ahead of the database.
pub async fn seed(
    store: &Store,
    seed: u64,
    teachers: u64,
    today: NaiveDate,
    progress: impl Fn(u64),
) -> Result<(), Error> {
    let (batches, mut ready) = tokio::sync::mpsc::channel::<Result<Vec<NewRecord>, Error>>(2);
    let catalogue = store.catalogue().clone();
    let producer = tokio::task::spawn_blocking(move || {
        let mut generator = Generator::new(seed);
        let mut left = teachers;
        while left > 0 {
            let size = left.min(BATCH);
            left -= size;
            let batch = (0..size)
                .map(|_| generator.draft().parse(&catalogue, today))
                .collect::<Result<Vec<_>, _>>()
                .map_err(broken_rule);
            if batches.blocking_send(batch).is_err() {
                return;
            }
        }
    });
    let caller = seed_caller();
    let mut written = 0;
    while let Some(batch) = ready.recv().await {
        let batch = batch?;
        let audit = AuditEntry {
            caller: &caller,
            action: AuditAction::TeacherSeed,
        };
        store.insert_records(&batch, audit).await?;
        written += batch.len() as u64;
        // Each batch reads its records back for the change feed: the planner must know the
        // tables are no longer empty, or it scans them whole for every batch.
        if written == BATCH || written % (100 * BATCH) == 0 {
            store.refresh_statistics().await?;
        }
        progress(written);
    }
    producer
        .await
        .map_err(|e| Error::Corrupt(format!("record generator stopped: {e}")))?;
    Ok(())
}

/// Adds the demo teachers unless the store already holds a record with `first_trn` (then they,
/// or other records, are there already). Returns the TRNs added.
pub async fn add_demo_teachers(
    store: &Store,
    first_trn: portal_common::values::Trn,
    today: NaiveDate,
) -> Result<Vec<portal_common::values::Trn>, Error> {
    if store.teacher(first_trn).await?.is_some() {
        return Ok(Vec::new());
    }
    let records = demo_drafts()
        .iter()
        .map(|d| d.parse(store.catalogue(), today))
        .collect::<Result<Vec<_>, _>>()
        .map_err(broken_rule)?;
    let caller = seed_caller();
    let audit = AuditEntry {
        caller: &caller,
        action: AuditAction::TeacherSeed,
    };
    store.insert_records(&records, audit).await
}

/// A generated record the rules refuse is a fault of the generator: name the fields.
fn broken_rule(violations: Vec<FieldViolation>) -> Error {
    let fields: Vec<String> = violations
        .into_iter()
        .map(|v| format!("{} {}", v.field, v.description))
        .collect();
    Error::Corrupt(format!(
        "a generated record breaks a rule: {}",
        fields.join("; ")
    ))
}

fn seed_caller() -> portal_common::Caller {
    portal_common::Caller {
        principal: portal_common::Principal::Service("seed".into()),
        request_id: portal_common::server::new_request_id(),
        on_behalf_of: None,
        session_id: None,
        source: None,
    }
}

/// The demo teachers that README documents, in TRN order: sign-in names and dates of birth
/// are fixed; each shows a different part of the record.
pub fn demo_drafts() -> Vec<Draft> {
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or(REFERENCE_DATE);
    let qts = |route: pb::Route, awarded: NaiveDate, exempt: bool| pb::ProfessionalStatus {
        r#type: pb::ProfessionalStatusType::Qts.into(),
        route: route.into(),
        status: pb::RouteStatus::Holds.into(),
        awarded_date: text(awarded),
        exempt_from_induction: Some(exempt),
        training: None,
    };
    vec![
        // Qualified, induction passed, an NPQ, a previous surname.
        Draft {
            first_name: "Zoë".into(),
            last_name: "O'Súilleabháin".into(),
            previous_names: vec![(
                pb::PersonName {
                    first_name: "Zoë".into(),
                    middle_name: String::new(),
                    last_name: "Murphy".into(),
                },
                date(2014, 8, 1),
            )],
            date_of_birth: Some("1985-03-14".into()),
            contact: pb::ContactDetails {
                email: "zoe.demo@example.org".into(),
                town: "Leeds".into(),
                postcode: "LS1 4AP".into(),
                ..Default::default()
            },
            statuses: vec![qts(pb::Route::HigherEducation, date(2012, 6, 30), false)],
            induction: pb::Induction {
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
            },
            npqs: vec![pb::NpqQualification {
                r#type: pb::NpqType::Npqh.into(),
                awarded_date: "2023-02-10".into(),
                ..Default::default()
            }],
            ..Draft::default()
        },
        // Qualified before May 2000, so exempt from induction; a mandatory qualification.
        Draft {
            first_name: "Jan".into(),
            last_name: "Łukasiewicz".into(),
            date_of_birth: Some("1979-11-02".into()),
            nino: "AB123456C".into(),
            statuses: vec![qts(pb::Route::OverseasTrained, date(2000, 1, 14), true)],
            induction: pb::Induction {
                status: pb::InductionStatus::Exempt.into(),
                exemption_reasons: vec![pb::InductionExemptionReason::QualifiedBefore2000.into()],
                ..Default::default()
            },
            mqs: vec![pb::MandatoryQualification {
                specialism: pb::MqSpecialism::Visual.into(),
                status: pb::MqStatus::Passed.into(),
                provider: "University of Birmingham".into(),
                start_date: "2005-09-01".into(),
                end_date: "2007-07-01".into(),
                ..Default::default()
            }],
            ..Draft::default()
        },
        // Qualified recently, induction under way, and early years teacher status.
        Draft {
            first_name: "Ayşe".into(),
            last_name: "Şahin".into(),
            date_of_birth: Some("1992-06-30".into()),
            statuses: vec![
                pb::ProfessionalStatus {
                    r#type: pb::ProfessionalStatusType::Eyts.into(),
                    route: pb::Route::HigherEducation.into(),
                    status: pb::RouteStatus::Holds.into(),
                    awarded_date: "2018-07-20".into(),
                    exempt_from_induction: Some(false),
                    training: None,
                },
                qts(pb::Route::AssessmentOnly, date(2024, 7, 12), false),
            ],
            induction: pb::Induction {
                status: pb::InductionStatus::InProgress.into(),
                start_date: "2024-09-02".into(),
                periods: vec![pb::InductionPeriod {
                    appropriate_body: "Bristol Teaching School Hub".into(),
                    start_date: "2024-09-02".into(),
                    terms: 4,
                    ..Default::default()
                }],
                ..Default::default()
            },
            ..Draft::default()
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AlertType, InductionStatus};

    fn catalogue() -> AlertCatalogue {
        AlertCatalogue::new(
            ["T1", "T2", "T3", "T4", "T5", "T6", "T7", "C2", "G1", "F1"].map(|code| AlertType {
                code: code.into(),
                title: String::new(),
                description: String::new(),
                internal: code.starts_with(['G', 'F']),
                restricts: code != "T6",
            }),
        )
    }

    #[test]
    fn every_generated_record_satisfies_the_domain_rules() {
        let catalogue = catalogue();
        let records: Vec<NewRecord> = (1..=5)
            .flat_map(|seed| {
                let mut generator = Generator::new(seed);
                (0..20_000).map(move |_| generator.draft())
            })
            .map(|draft| {
                draft
                    .parse(&catalogue, REFERENCE_DATE)
                    .unwrap_or_else(|v| panic!("a generated record breaks a rule: {v:?}"))
            })
            .collect();
        // The whole spread is there.
        let share = |f: &dyn Fn(&NewRecord) -> bool| records.iter().filter(|r| f(r)).count();
        assert!(share(&|r| !r.previous_names.is_empty()) > 1000);
        assert!(share(&|r| r.statuses.iter().any(|s| s.training.is_some())) > 50_000);
        assert!(share(&|r| r.qtls.status == crate::domain::QtlsStatus::Active) > 1000);
        assert!(share(&|r| r.qtls.status == crate::domain::QtlsStatus::Expired) > 100);
        assert!(share(&|r| r.date_of_death.is_some()) > 100);
        assert!(
            share(&|r| r.date_of_death.is_some() && r.status != PersonStatus::Deactivated) == 0
        );
        assert!(share(&|r| r.date_of_birth.is_none()) > 0);
        assert!(share(&|r| r.status == PersonStatus::Deactivated) > 0);
        assert!(share(&|r| !r.npqs.is_empty()) > 500);
        assert!(share(&|r| !r.mqs.is_empty()) > 100);
        assert!(share(&|r| !r.alerts.is_empty()) > 100);
        for status in crate::domain::InductionStatus::ALL {
            if *status != InductionStatus::None {
                assert!(share(&|r| r.induction.status == *status) > 0, "{status:?}");
            }
        }
        assert!(share(&|r| r.name.last.as_str().contains('\'')) > 0);
        assert!(share(&|r| r.name.last.as_str().contains('-')) > 0);
    }

    #[test]
    fn the_same_seed_gives_the_same_records() {
        let names = |seed| {
            let mut g = Generator::new(seed);
            (0..50).map(|_| g.draft().last_name).collect::<Vec<_>>()
        };
        assert_eq!(names(1), names(1));
        assert_ne!(names(1), names(2));
    }

    #[test]
    fn demo_teachers_satisfy_the_rules() {
        for draft in demo_drafts() {
            draft.parse(&catalogue(), REFERENCE_DATE).unwrap();
        }
    }
}

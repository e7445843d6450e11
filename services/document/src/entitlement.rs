//! Which documents a record entitles its teacher to: the one place that decides, so that the
//! list and the download always agree.

use dqt_proto::dqt::portal::v1 as pb;

/// One document a teacher may download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entitlement {
    /// QTS held (not by Welsh recognition), or through QTLS while SET membership is active;
    /// worded by whether induction is still to complete, and by the route when through QTLS.
    Qts {
        awarded: String,
        exempt_from_induction: bool,
        through_qtls: bool,
    },
    /// Induction passed, with its completion date.
    Induction { started: String, completed: String },
    /// EYTS held.
    Eyts { awarded: String },
    /// One per NPQ held.
    Npq {
        id: String,
        kind: pb::NpqType,
        awarded: String,
    },
    /// Always.
    QualificationsLetter,
}

impl Entitlement {
    pub fn kind(&self) -> pb::DocumentKind {
        match self {
            Self::Qts { .. } => pb::DocumentKind::QtsCertificate,
            Self::Induction { .. } => pb::DocumentKind::InductionCertificate,
            Self::Eyts { .. } => pb::DocumentKind::EytsCertificate,
            Self::Npq { .. } => pb::DocumentKind::NpqCertificate,
            Self::QualificationsLetter => pb::DocumentKind::QualificationsLetter,
        }
    }

    pub fn qualification_id(&self) -> &str {
        match self {
            Self::Npq { id, .. } => id,
            _ => "",
        }
    }

    pub fn title(&self) -> String {
        match self {
            Self::Qts { .. } => "Qualified teacher status certificate".into(),
            Self::Induction { .. } => "Induction certificate".into(),
            Self::Eyts { .. } => "Early years teacher status certificate".into(),
            Self::Npq { kind, .. } => format!("{} certificate", npq_name(*kind).0),
            Self::QualificationsLetter => "Letter confirming your qualifications".into(),
        }
    }

    pub fn available(&self) -> pb::AvailableDocument {
        pb::AvailableDocument {
            kind: self.kind().into(),
            qualification_id: self.qualification_id().to_owned(),
            title: self.title(),
        }
    }
}

/// The short and the full name of an NPQ, and what it develops.
pub fn npq_name(kind: pb::NpqType) -> (&'static str, &'static str, &'static str) {
    use pb::NpqType as N;
    match kind {
        N::Npqh => (
            "NPQH",
            "National Professional Qualification for Headship",
            "leading a school",
        ),
        N::Npqsl => (
            "NPQSL",
            "National Professional Qualification for Senior Leadership",
            "senior leadership",
        ),
        N::Npqml => (
            "NPQML",
            "National Professional Qualification in Middle Leadership",
            "middle leadership",
        ),
        N::Npqel => (
            "NPQEL",
            "National Professional Qualification for Executive Leadership",
            "leading several schools",
        ),
        N::Npqlt => (
            "NPQLT",
            "National Professional Qualification for Leading Teaching",
            "leading teaching in a subject, year group or phase",
        ),
        N::Npqltd => (
            "NPQLTD",
            "National Professional Qualification for Leading Teacher Development",
            "developing other teachers",
        ),
        N::Npqlbc => (
            "NPQLBC",
            "National Professional Qualification for Leading Behaviour and Culture",
            "leading behaviour and culture",
        ),
        N::Npqll => (
            "NPQLL",
            "National Professional Qualification for Leading Literacy",
            "leading literacy",
        ),
        N::Npqeyl => (
            "NPQEYL",
            "National Professional Qualification for Early Years Leadership",
            "leading early years settings",
        ),
        N::Npqsenco => (
            "NPQSENCO",
            "National Professional Qualification for Special Educational Needs Co-ordinators",
            "co-ordinating provision for special educational needs",
        ),
        N::Npqlpm => (
            "NPQLPM",
            "National Professional Qualification for Leading Primary Mathematics",
            "leading primary mathematics",
        ),
        N::Unspecified => (
            "NPQ",
            "National Professional Qualification",
            "school leadership",
        ),
    }
}

fn held(
    record: &pb::TeacherRecord,
    kind: pb::ProfessionalStatusType,
) -> impl Iterator<Item = &pb::ProfessionalStatus> {
    record.professional_statuses.iter().filter(move |s| {
        s.r#type == kind as i32
            && s.status == pb::RouteStatus::Holds as i32
            && !s.awarded_date.is_empty()
    })
}

/// Every document the record entitles its teacher to, in the order they are listed.
pub fn entitlements(record: &pb::TeacherRecord) -> Vec<Entitlement> {
    let mut documents = Vec::new();
    let induction = record.induction.clone().unwrap_or_default();
    // QTS recognised from Wales gets no England certificate.
    let qts = held(record, pb::ProfessionalStatusType::Qts)
        .filter(|s| s.route != pb::Route::WelshRecognition as i32)
        .min_by(|a, b| a.awarded_date.cmp(&b.awarded_date));
    let exempt = induction.status == pb::InductionStatus::Exempt as i32;
    if let Some(qts) = qts {
        documents.push(Entitlement::Qts {
            awarded: qts.awarded_date.clone(),
            exempt_from_induction: exempt || qts.exempt_from_induction == Some(true),
            through_qtls: false,
        });
    } else if record.qtls_status == pb::QtlsStatus::Active as i32 && !record.qts_date.is_empty() {
        // QTS through QTLS, which the record counts only while SET membership is active.
        documents.push(Entitlement::Qts {
            awarded: record.qts_date.clone(),
            exempt_from_induction: exempt,
            through_qtls: true,
        });
    }
    if induction.status == pb::InductionStatus::Passed as i32
        && !induction.completed_date.is_empty()
    {
        documents.push(Entitlement::Induction {
            started: induction.start_date.clone(),
            completed: induction.completed_date.clone(),
        });
    }
    if let Some(eyts) = held(record, pb::ProfessionalStatusType::Eyts)
        .min_by(|a, b| a.awarded_date.cmp(&b.awarded_date))
    {
        documents.push(Entitlement::Eyts {
            awarded: eyts.awarded_date.clone(),
        });
    }
    for npq in &record.npq_qualifications {
        if let Ok(kind) = pb::NpqType::try_from(npq.r#type)
            && kind != pb::NpqType::Unspecified
            && !npq.id.is_empty()
        {
            documents.push(Entitlement::Npq {
                id: npq.id.clone(),
                kind,
                awarded: npq.awarded_date.clone(),
            });
        }
    }
    documents.push(Entitlement::QualificationsLetter);
    documents
}

/// The entitlement a download asks for, if the record gives it.
pub fn find(
    record: &pb::TeacherRecord,
    kind: pb::DocumentKind,
    qualification_id: &str,
) -> Option<Entitlement> {
    entitlements(record).into_iter().find(|e| {
        e.kind() == kind
            && (kind != pb::DocumentKind::NpqCertificate
                || e.qualification_id() == qualification_id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(
        kind: pb::ProfessionalStatusType,
        route: pb::Route,
        progress: pb::RouteStatus,
        awarded: &str,
    ) -> pb::ProfessionalStatus {
        pb::ProfessionalStatus {
            r#type: kind.into(),
            route: route.into(),
            status: progress.into(),
            awarded_date: awarded.into(),
            exempt_from_induction: Some(false),
            training: None,
        }
    }

    fn record(
        statuses: Vec<pb::ProfessionalStatus>,
        induction: pb::InductionStatus,
    ) -> pb::TeacherRecord {
        pb::TeacherRecord {
            professional_statuses: statuses,
            induction: Some(pb::Induction {
                status: induction.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn kinds(record: &pb::TeacherRecord) -> Vec<pb::DocumentKind> {
        entitlements(record).iter().map(Entitlement::kind).collect()
    }

    use pb::DocumentKind as K;
    use pb::ProfessionalStatusType as T;

    #[test]
    fn everyone_gets_the_letter_and_nothing_else_without_qualifications() {
        assert_eq!(
            kinds(&record(vec![], pb::InductionStatus::None)),
            [K::QualificationsLetter]
        );
    }

    #[test]
    fn qts_held_gives_a_certificate_worded_by_induction() {
        let qts = status(
            T::Qts,
            pb::Route::HigherEducation,
            pb::RouteStatus::Holds,
            "2012-06-30",
        );
        let required = record(vec![qts.clone()], pb::InductionStatus::RequiredToComplete);
        assert_eq!(
            entitlements(&required)[0],
            Entitlement::Qts {
                awarded: "2012-06-30".into(),
                exempt_from_induction: false,
                through_qtls: false,
            }
        );
        let exempt = record(vec![qts], pb::InductionStatus::Exempt);
        assert_eq!(
            entitlements(&exempt)[0],
            Entitlement::Qts {
                awarded: "2012-06-30".into(),
                exempt_from_induction: true,
                through_qtls: false,
            }
        );
    }

    #[test]
    fn qts_through_qtls_gives_a_certificate_only_while_qtls_is_active() {
        let qtls = status(
            T::Qtls,
            pb::Route::QtlsSetMembership,
            pb::RouteStatus::Holds,
            "2015-01-01",
        );
        let mut active = record(vec![qtls], pb::InductionStatus::Exempt);
        active.qtls_status = pb::QtlsStatus::Active.into();
        active.qts_date = "2015-01-01".into();
        assert_eq!(
            entitlements(&active)[0],
            Entitlement::Qts {
                awarded: "2015-01-01".into(),
                exempt_from_induction: true,
                through_qtls: true,
            }
        );
        let expired = pb::TeacherRecord {
            qtls_status: pb::QtlsStatus::Expired.into(),
            qts_date: String::new(),
            ..active
        };
        assert_eq!(kinds(&expired), [K::QualificationsLetter]);
    }

    #[test]
    fn no_qts_certificate_for_welsh_recognition_training_or_qtls() {
        for s in [
            status(
                T::Qts,
                pb::Route::WelshRecognition,
                pb::RouteStatus::Holds,
                "2012-06-30",
            ),
            status(
                T::Qts,
                pb::Route::HigherEducation,
                pb::RouteStatus::InTraining,
                "",
            ),
            status(
                T::Qtls,
                pb::Route::QtlsSetMembership,
                pb::RouteStatus::Holds,
                "2015-01-01",
            ),
        ] {
            assert_eq!(
                kinds(&record(vec![s], pb::InductionStatus::None)),
                [K::QualificationsLetter]
            );
        }
    }

    #[test]
    fn induction_certificate_only_when_passed_with_a_completion_date() {
        let qts = status(
            T::Qts,
            pb::Route::HigherEducation,
            pb::RouteStatus::Holds,
            "2012-06-30",
        );
        let mut passed = record(vec![qts], pb::InductionStatus::Passed);
        assert!(
            !kinds(&passed).contains(&K::InductionCertificate),
            "no completion date"
        );
        passed.induction.as_mut().unwrap().completed_date = "2013-07-19".into();
        assert!(kinds(&passed).contains(&K::InductionCertificate));
        for other in [
            pb::InductionStatus::InProgress,
            pb::InductionStatus::Failed,
            pb::InductionStatus::FailedInWales,
        ] {
            let mut r = passed.clone();
            r.induction.as_mut().unwrap().status = other.into();
            assert!(!kinds(&r).contains(&K::InductionCertificate), "{other:?}");
        }
    }

    #[test]
    fn eyts_held_gives_its_certificate_eyps_does_not() {
        let eyts = status(
            T::Eyts,
            pb::Route::HigherEducation,
            pb::RouteStatus::Holds,
            "2018-07-20",
        );
        assert!(
            kinds(&record(vec![eyts], pb::InductionStatus::None)).contains(&K::EytsCertificate)
        );
        let eyps = status(
            T::Eyps,
            pb::Route::HigherEducation,
            pb::RouteStatus::Holds,
            "2018-07-20",
        );
        assert_eq!(
            kinds(&record(vec![eyps], pb::InductionStatus::None)),
            [K::QualificationsLetter]
        );
    }

    #[test]
    fn one_npq_certificate_per_npq_found_by_its_id() {
        let mut r = record(vec![], pb::InductionStatus::None);
        r.npq_qualifications = vec![
            pb::NpqQualification {
                id: "7".into(),
                r#type: pb::NpqType::Npqh.into(),
                awarded_date: "2023-02-10".into(),
            },
            pb::NpqQualification {
                id: "9".into(),
                r#type: pb::NpqType::Npqlbc.into(),
                awarded_date: "2024-02-10".into(),
            },
        ];
        assert_eq!(
            entitlements(&r)
                .iter()
                .filter(|e| e.kind() == K::NpqCertificate)
                .count(),
            2
        );
        assert!(matches!(
            find(&r, K::NpqCertificate, "9"),
            Some(Entitlement::Npq {
                kind: pb::NpqType::Npqlbc,
                ..
            })
        ));
        assert_eq!(find(&r, K::NpqCertificate, "8"), None, "not this teacher's");
        assert_eq!(find(&r, K::NpqCertificate, ""), None);
        assert_eq!(find(&r, K::QtsCertificate, ""), None);
        assert_eq!(
            find(&r, K::QualificationsLetter, ""),
            Some(Entitlement::QualificationsLetter)
        );
    }
}

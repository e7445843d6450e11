//! Conversions between table rows and the domain. A stored value that does not parse is
//! reported as corruption, never passed on.

use chrono::{DateTime, Utc};
use portal_common::values::{DateOfBirth, Trn};
use sea_orm::ActiveValue::{NotSet, Set};

use super::entities::{
    alert, alert_type, audit_event, change_request, induction_exemption, induction_period,
    mandatory_qualification, npq_qualification, person, previous_name, professional_status,
};
use crate::domain::{
    Alert, AlertCatalogue, AlertType, AuditEvent, ChangeKind, ChangeRequest, ChangeStatus,
    ContactDetails, DegreeType, ExemptionReason, Held, Induction, InductionPeriod, InductionStatus,
    Mq, MqSpecialism, MqStatus, NewAlert, NewRecord, Npq, NpqType, Person, PersonStatus,
    PreviousName, ProfessionalStatus, Qtls, QtlsStatus, Route, RouteStatus, StatusType, Teacher,
    Training, TrainingSubject,
};
use crate::error::Error;

fn corrupt(table: &str, id: i64, column: &str) -> Error {
    Error::Corrupt(format!("{table} {id}: {column}"))
}

/// Parses a stored vocabulary value.
fn stored<T>(
    parse: impl Fn(&str) -> Option<T>,
    text: &str,
    table: &str,
    id: i64,
    column: &str,
) -> Result<T, Error> {
    parse(text).ok_or_else(|| corrupt(table, id, column))
}

pub fn alert_type(row: alert_type::Model) -> AlertType {
    AlertType {
        code: row.code,
        title: row.title,
        description: row.description,
        internal: row.internal,
        restricts: row.restricts,
    }
}

pub fn person(row: &person::Model, previous: Vec<previous_name::Model>) -> Result<Person, Error> {
    let trn = |column: &str, text: &str| {
        Trn::parse(column, text).map_err(|_| corrupt("person", row.id, column))
    };
    Ok(Person {
        trn: trn("trn", &row.trn)?,
        first_name: row.first_name.clone(),
        middle_name: row.middle_name.clone(),
        last_name: row.last_name.clone(),
        first_name_key: row.first_name_key.clone(),
        last_name_key: row.last_name_key.clone(),
        previous_names: previous
            .into_iter()
            .map(|p| PreviousName {
                first: p.first_name,
                middle: p.middle_name,
                last: p.last_name,
                first_key: p.first_name_key,
                last_key: p.last_name_key,
                ended_on: p.ended_on,
            })
            .collect(),
        date_of_birth: row.date_of_birth.map(DateOfBirth::from_stored),
        date_of_death: row.date_of_death,
        nino: row.national_insurance_number.clone(),
        contact: ContactDetails {
            email: row.email.clone(),
            phone: row.phone.clone(),
            address_line1: row.address_line1.clone(),
            address_line2: row.address_line2.clone(),
            town: row.town.clone(),
            postcode: row.postcode.clone(),
        },
        status: stored(
            PersonStatus::from_stored,
            &row.status,
            "person",
            row.id,
            "status",
        )?,
        merged_into: row
            .merged_into_trn
            .as_deref()
            .map(|t| trn("merged_into_trn", t))
            .transpose()?,
    })
}

/// The rows that hang off one person.
pub struct Children {
    pub statuses: Vec<professional_status::Model>,
    pub exemptions: Vec<induction_exemption::Model>,
    pub periods: Vec<induction_period::Model>,
    pub npqs: Vec<npq_qualification::Model>,
    pub mqs: Vec<mandatory_qualification::Model>,
    pub alerts: Vec<alert::Model>,
}

pub fn teacher(
    person: Person,
    row: &person::Model,
    children: Children,
    catalogue: &AlertCatalogue,
) -> Result<Teacher, Error> {
    let statuses = children
        .statuses
        .into_iter()
        .map(|s| {
            let table = "professional_status";
            Ok(ProfessionalStatus {
                kind: stored(
                    StatusType::from_stored,
                    &s.status_type,
                    table,
                    s.id,
                    "status_type",
                )?,
                route: stored(Route::from_stored, &s.route, table, s.id, "route")?,
                status: stored(
                    RouteStatus::from_stored,
                    &s.route_status,
                    table,
                    s.id,
                    "route_status",
                )?,
                awarded: s.awarded_date,
                exempt_from_induction: s.exempt_from_induction,
                training: training(&s)?,
            })
        })
        .collect::<Result<_, Error>>()?;
    let induction = Induction {
        status: stored(
            InductionStatus::from_stored,
            &row.induction_status,
            "person",
            row.id,
            "induction_status",
        )?,
        start: row.induction_start_date,
        completed: row.induction_completed_date,
        exemption_reasons: children
            .exemptions
            .into_iter()
            .map(|e| {
                stored(
                    ExemptionReason::from_stored,
                    &e.reason,
                    "induction_exemption",
                    e.id,
                    "reason",
                )
            })
            .collect::<Result<_, Error>>()?,
        periods: children
            .periods
            .into_iter()
            .map(|p| {
                Ok(InductionPeriod {
                    terms: u8::try_from(p.terms)
                        .map_err(|_| corrupt("induction_period", p.id, "terms"))?,
                    appropriate_body: p.appropriate_body,
                    start: p.start_date,
                    end: p.end_date,
                })
            })
            .collect::<Result<_, Error>>()?,
    };
    let npqs = children
        .npqs
        .into_iter()
        .map(|n| {
            Ok(Held {
                id: n.id,
                value: Npq {
                    kind: stored(NpqType::from_stored, &n.npq_type, "npq", n.id, "npq_type")?,
                    awarded: n.awarded_date,
                },
            })
        })
        .collect::<Result<_, Error>>()?;
    let mqs = children
        .mqs
        .into_iter()
        .map(|m| {
            let table = "mandatory_qualification";
            Ok(Held {
                id: m.id,
                value: Mq {
                    specialism: stored(
                        MqSpecialism::from_stored,
                        &m.specialism,
                        table,
                        m.id,
                        "specialism",
                    )?,
                    status: stored(MqStatus::from_stored, &m.status, table, m.id, "status")?,
                    provider: m.provider,
                    start: m.start_date,
                    end: m.end_date,
                },
            })
        })
        .collect::<Result<_, Error>>()?;
    // An alert removed as entered in error is in no view.
    let alerts = children
        .alerts
        .into_iter()
        .filter(|a| a.deleted_at.is_none())
        .map(|a| {
            Ok(Alert {
                kind: catalogue
                    .get(&a.code)
                    .ok_or_else(|| corrupt("alert", a.id, "code"))?,
                id: a.id,
                details: a.details,
                start: a.start_date,
                end: a.end_date,
            })
        })
        .collect::<Result<_, Error>>()?;
    let qtls = Qtls {
        status: stored(
            QtlsStatus::from_stored,
            &row.qtls_status,
            "person",
            row.id,
            "qtls_status",
        )?,
        awarded: row.qtls_awarded_date,
    };
    Ok(Teacher {
        person,
        statuses,
        induction,
        npqs,
        mqs,
        alerts,
        qtls,
    })
}

pub fn new_person(record: &NewRecord, trn: Trn, now: DateTime<Utc>) -> person::ActiveModel {
    person::ActiveModel {
        id: NotSet,
        trn: Set(trn.to_string()),
        first_name: Set(record.name.first.as_str().to_owned()),
        middle_name: Set(record.name.middle.as_str().to_owned()),
        last_name: Set(record.name.last.as_str().to_owned()),
        first_name_key: Set(record.name.first.normalised()),
        last_name_key: Set(record.name.last.normalised()),
        date_of_birth: Set(record.date_of_birth.map(DateOfBirth::date)),
        national_insurance_number: Set(record.nino.as_ref().map(|n| n.as_str().to_owned())),
        email: Set(record.contact.email.clone()),
        phone: Set(record.contact.phone.clone()),
        address_line1: Set(record.contact.address_line1.clone()),
        address_line2: Set(record.contact.address_line2.clone()),
        town: Set(record.contact.town.clone()),
        postcode: Set(record.contact.postcode.clone()),
        status: Set(record.status.as_str().to_owned()),
        merged_into_trn: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        induction_status: Set(record.induction.status.as_str().to_owned()),
        induction_start_date: Set(record.induction.start),
        induction_completed_date: Set(record.induction.completed),
        date_of_death: Set(record.date_of_death),
        qtls_status: Set(record.qtls.status.as_str().to_owned()),
        qtls_awarded_date: Set(record.qtls.awarded),
    }
}

/// The person's own columns, to update the row `id` (induction columns untouched).
pub fn person_update(id: i64, person: &Person) -> person::ActiveModel {
    person::ActiveModel {
        id: Set(id),
        first_name: Set(person.first_name.clone()),
        middle_name: Set(person.middle_name.clone()),
        last_name: Set(person.last_name.clone()),
        first_name_key: Set(person.first_name_key.clone()),
        last_name_key: Set(person.last_name_key.clone()),
        date_of_birth: Set(person.date_of_birth.map(DateOfBirth::date)),
        national_insurance_number: Set(person.nino.clone()),
        email: Set(person.contact.email.clone()),
        phone: Set(person.contact.phone.clone()),
        address_line1: Set(person.contact.address_line1.clone()),
        address_line2: Set(person.contact.address_line2.clone()),
        town: Set(person.contact.town.clone()),
        postcode: Set(person.contact.postcode.clone()),
        status: Set(person.status.as_str().to_owned()),
        merged_into_trn: Set(person.merged_into.map(|t| t.to_string())),
        date_of_death: Set(person.date_of_death),
        ..Default::default()
    }
}

pub fn previous_name(person_id: i64, name: &PreviousName) -> previous_name::ActiveModel {
    previous_name::ActiveModel {
        id: NotSet,
        person_id: Set(person_id),
        first_name: Set(name.first.clone()),
        middle_name: Set(name.middle.clone()),
        last_name: Set(name.last.clone()),
        first_name_key: Set(name.first_key.clone()),
        last_name_key: Set(name.last_key.clone()),
        ended_on: Set(name.ended_on),
    }
}

pub fn professional_status(
    person_id: i64,
    status: &ProfessionalStatus,
) -> professional_status::ActiveModel {
    let training = status.training.as_ref();
    let subject = |n: usize| training.and_then(|t| t.subjects.get(n));
    professional_status::ActiveModel {
        id: NotSet,
        person_id: Set(person_id),
        status_type: Set(status.kind.as_str().to_owned()),
        route: Set(status.route.as_str().to_owned()),
        route_status: Set(status.status.as_str().to_owned()),
        awarded_date: Set(status.awarded),
        exempt_from_induction: Set(status.exempt_from_induction),
        training_provider_name: Set(training.map(|t| t.provider_name.clone())),
        training_provider_ukprn: Set(training.and_then(|t| t.provider_ukprn.clone())),
        training_subject1_code: Set(subject(0).map(|s| s.code.clone())),
        training_subject1_name: Set(subject(0).map(|s| s.name.clone())),
        training_subject2_code: Set(subject(1).map(|s| s.code.clone())),
        training_subject2_name: Set(subject(1).map(|s| s.name.clone())),
        training_subject3_code: Set(subject(2).map(|s| s.code.clone())),
        training_subject3_name: Set(subject(2).map(|s| s.name.clone())),
        training_age_from: Set(training
            .and_then(|t| t.age_range)
            .map(|(from, _)| i16::from(from))),
        training_age_to: Set(training
            .and_then(|t| t.age_range)
            .map(|(_, to)| i16::from(to))),
        training_start_date: Set(training.and_then(|t| t.start)),
        training_end_date: Set(training.and_then(|t| t.end)),
        training_degree_type: Set(training
            .and_then(|t| t.degree_type)
            .map(|d| d.as_str().to_owned())),
        training_country: Set(training.and_then(|t| t.country.clone())),
    }
}

/// The initial teacher training of a stored status: none when no provider is recorded.
fn training(row: &professional_status::Model) -> Result<Option<Training>, Error> {
    let Some(provider_name) = row.training_provider_name.clone() else {
        return Ok(None);
    };
    let table = "professional_status";
    let subjects = [
        (&row.training_subject1_code, &row.training_subject1_name),
        (&row.training_subject2_code, &row.training_subject2_name),
        (&row.training_subject3_code, &row.training_subject3_name),
    ]
    .into_iter()
    .filter_map(|(code, name)| Some((code.clone()?, name.clone().unwrap_or_default())))
    .map(|(code, name)| TrainingSubject { code, name })
    .collect();
    let age = |value: Option<i16>, column: &str| {
        value
            .map(|v| u8::try_from(v).map_err(|_| corrupt(table, row.id, column)))
            .transpose()
    };
    let age_range = match (
        age(row.training_age_from, "training_age_from")?,
        age(row.training_age_to, "training_age_to")?,
    ) {
        (Some(from), Some(to)) => Some((from, to)),
        _ => None,
    };
    let degree_type = row
        .training_degree_type
        .as_deref()
        .map(|text| {
            stored(
                DegreeType::from_stored,
                text,
                table,
                row.id,
                "training_degree_type",
            )
        })
        .transpose()?;
    Ok(Some(Training {
        provider_name,
        provider_ukprn: row.training_provider_ukprn.clone(),
        subjects,
        age_range,
        start: row.training_start_date,
        end: row.training_end_date,
        degree_type,
        country: row.training_country.clone(),
    }))
}

/// The QTLS columns of the row `id`.
pub fn qtls_update(id: i64, qtls: Qtls) -> person::ActiveModel {
    person::ActiveModel {
        id: Set(id),
        qtls_status: Set(qtls.status.as_str().to_owned()),
        qtls_awarded_date: Set(qtls.awarded),
        ..Default::default()
    }
}

pub fn exemptions(
    person_id: i64,
    induction: &Induction,
) -> impl Iterator<Item = induction_exemption::ActiveModel> + '_ {
    induction
        .exemption_reasons
        .iter()
        .map(move |reason| induction_exemption::ActiveModel {
            id: NotSet,
            person_id: Set(person_id),
            reason: Set(reason.as_str().to_owned()),
        })
}

pub fn periods(
    person_id: i64,
    induction: &Induction,
) -> impl Iterator<Item = induction_period::ActiveModel> + '_ {
    induction
        .periods
        .iter()
        .map(move |period| induction_period::ActiveModel {
            id: NotSet,
            person_id: Set(person_id),
            appropriate_body: Set(period.appropriate_body.clone()),
            start_date: Set(period.start),
            end_date: Set(period.end),
            terms: Set(i32::from(period.terms)),
        })
}

pub fn npq(person_id: i64, npq: &Npq) -> npq_qualification::ActiveModel {
    npq_qualification::ActiveModel {
        id: NotSet,
        person_id: Set(person_id),
        npq_type: Set(npq.kind.as_str().to_owned()),
        awarded_date: Set(npq.awarded),
    }
}

pub fn mq(person_id: i64, mq: &Mq) -> mandatory_qualification::ActiveModel {
    mandatory_qualification::ActiveModel {
        id: NotSet,
        person_id: Set(person_id),
        specialism: Set(mq.specialism.as_str().to_owned()),
        status: Set(mq.status.as_str().to_owned()),
        provider: Set(mq.provider.clone()),
        start_date: Set(mq.start),
        end_date: Set(mq.end),
    }
}

pub fn alert(person_id: i64, alert: &NewAlert) -> alert::ActiveModel {
    alert::ActiveModel {
        id: NotSet,
        person_id: Set(person_id),
        code: Set(alert.kind.code.clone()),
        details: Set(alert.details.clone()),
        start_date: Set(alert.start),
        end_date: Set(alert.end),
        deleted_at: Set(None),
        delete_reason: Set(None),
    }
}

/// An audit event as written.
pub fn audit_event(row: audit_event::Model) -> AuditEvent {
    AuditEvent {
        time: row.time,
        actor: row.actor,
        action: row.action,
        trn: row.trn,
        request_id: row.request_id,
        on_behalf_of: row.on_behalf_of,
        details: row.details,
    }
}

/// A change request as the record holds it.
pub fn change_request(row: change_request::Model, trn: Trn) -> ChangeRequest {
    ChangeRequest {
        id: row.id,
        trn,
        kind: ChangeKind::from_stored(&row.kind),
        status: ChangeStatus::from_stored(&row.status),
        created_at: row.created_at,
        requested_first_name: row.requested_first_name,
        requested_middle_name: row.requested_middle_name,
        requested_last_name: row.requested_last_name,
        requested_date_of_birth: row.requested_date_of_birth,
        reject_reason: row.reject_reason,
    }
}

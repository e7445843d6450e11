//! What each audience sees of a record. The only place that turns a [`Teacher`] into API
//! messages.

use dqt_proto::dqt::portal::v1 as pb;

use crate::domain::Teacher;

/// The record as a teacher or an internal reader sees it.
pub fn teacher_record(teacher: &Teacher) -> pb::TeacherRecord {
    pb::TeacherRecord {
        trn: teacher.trn.to_string(),
        first_name: teacher.first_name.clone(),
        middle_name: teacher.middle_name.clone(),
        last_name: teacher.last_name.clone(),
        previous_names: teacher
            .previous_names
            .iter()
            .map(|p| pb::PersonName {
                first_name: p.first.clone(),
                middle_name: p.middle.clone(),
                last_name: p.last.clone(),
            })
            .collect(),
        date_of_birth: teacher
            .date_of_birth
            .map(|d| d.to_string())
            .unwrap_or_default(),
        national_insurance_number: teacher.nino.clone().unwrap_or_default(),
        contact_details: Some(pb::ContactDetails {
            email: teacher.contact.email.clone(),
            phone: teacher.contact.phone.clone(),
            address_line1: teacher.contact.address_line1.clone(),
            address_line2: teacher.contact.address_line2.clone(),
            town: teacher.contact.town.clone(),
            postcode: teacher.contact.postcode.clone(),
        }),
        induction: Some(pb::Induction {
            status: pb::InductionStatus::None.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

//! `portal up --demo` as a process: it logs where the gateway listens once it answers, the demo
//! teachers README lists sign in from then on, and on SIGTERM it turns health NOT_SERVING, lets
//! calls finish, and exits 0.

use std::time::Duration;

use crate::support::PortalProcess;
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::authentication_client::AuthenticationClient;
use dqt_proto::dqt::portal::v1::teacher_portal_client::TeacherPortalClient;
use tonic::metadata::MetadataValue;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn sigterm_turns_health_not_serving_then_exits_zero() {
    let mut portal = PortalProcess::start(&["up", "--demo"], &[]);
    let channel = portal.channel();
    demo_teachers_sign_in(channel.clone()).await;
    let mut health = HealthClient::new(channel);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "dqt.portal.v1.TeacherPortal".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch.message().await.unwrap().unwrap().status(),
        ServingStatus::Serving
    );

    portal.terminate();
    let next = tokio::time::timeout(Duration::from_secs(10), watch.message())
        .await
        .expect("health changes")
        .unwrap()
        .unwrap();
    assert_eq!(next.status(), ServingStatus::NotServing);
    drop(watch);
    drop(health);

    // Within the 10 s grace period.
    let status = portal.wait(Duration::from_secs(8)).await;
    assert!(status.success(), "exit status {status:?}");
}

/// The demo teachers of README's table, each with what the table says is on the record.
async fn demo_teachers_sign_in(channel: tonic::transport::Channel) {
    let demo = [
        ("1000000", "Murphy", "Zoë", "1985-03-14"),
        ("1000001", "Łukasiewicz", "Jan", "1979-11-02"),
        ("1000002", "ŞAHIN", "ayşe", "1992-06-30"),
    ];
    let mut records = Vec::new();
    for (trn, surname, forename, date_of_birth) in demo {
        let token = AuthenticationClient::new(channel.clone())
            .sign_in_teacher(pb::SignInTeacherRequest {
                trn: trn.into(),
                surname: surname.into(),
                forename: forename.into(),
                date_of_birth: date_of_birth.into(),
                ..Default::default()
            })
            .await
            .expect("a demo teacher signs in")
            .into_inner()
            .token;
        let mut request = tonic::Request::new(pb::GetMyRecordRequest {});
        request.metadata_mut().insert(
            "authorization",
            MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
        );
        let record = TeacherPortalClient::new(channel.clone())
            .get_my_record(request)
            .await
            .unwrap()
            .into_inner();
        records.push(record);
    }
    let induction = |r: &pb::TeacherRecord| r.induction.as_ref().unwrap().status;
    assert_eq!(records[0].last_name, "O'Súilleabháin");
    assert_eq!(records[0].qts_date, "2012-06-30");
    assert_eq!(induction(&records[0]), pb::InductionStatus::Passed as i32);
    assert_eq!(records[0].npq_qualifications.len(), 1);
    assert_eq!(induction(&records[1]), pb::InductionStatus::Exempt as i32);
    assert_eq!(records[1].mandatory_qualifications.len(), 1);
    assert_eq!(records[2].eyts_date, "2018-07-20");
    assert_eq!(
        induction(&records[2]),
        pb::InductionStatus::InProgress as i32
    );
}

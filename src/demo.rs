//! Demo teachers for `portal up --demo`: made-up people whose sign-in details README lists.

use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::record::v1::record_service_client::RecordServiceClient;
use portal_common::principal::DEFAULT_DEADLINE;
use portal_common::{Caller, Principal, Signer};
use tonic::Code;

/// First name, last name, date of birth of each demo teacher, in TRN order.
pub const DEMO_TEACHERS: [(&str, &str, &str); 3] = [
    ("Zoë", "O'Súilleabháin", "1985-03-14"),
    ("Jan", "Łukasiewicz", "1979-11-02"),
    ("Ayşe", "Şahin", "1992-06-30"),
];

/// Creates the demo teachers in a record service that holds none yet (no record with the first
/// TRN of the range).
pub async fn add_demo_teachers(
    record: std::net::SocketAddr,
    signer: &Signer,
    first_trn: u32,
) -> anyhow::Result<()> {
    let mut client = RecordServiceClient::connect(format!("http://{record}")).await?;
    let caller = Caller {
        principal: Principal::Client {
            client_id: "demo".into(),
            roles: vec!["records:read".into(), "records:write".into()],
        },
        request_id: portal_common::server::new_request_id(),
        on_behalf_of: None,
    };
    let first_trn = format!("{first_trn:07}");
    let existing = client
        .get_teacher(signer.request(
            pb::GetTeacherRequest { trn: first_trn },
            &caller,
            DEFAULT_DEADLINE,
        ))
        .await;
    match existing {
        Ok(_) => return Ok(()),
        Err(status) if status.code() == Code::NotFound => {}
        Err(status) => return Err(status.into()),
    }
    for (first_name, last_name, date_of_birth) in DEMO_TEACHERS {
        let request = pb::CreateTeacherRequest {
            first_name: first_name.into(),
            last_name: last_name.into(),
            date_of_birth: date_of_birth.into(),
            ..Default::default()
        };
        let created = client
            .create_teacher(signer.request(request, &caller, DEFAULT_DEADLINE))
            .await?
            .into_inner();
        tracing::info!(trn = %created.trn, "demo teacher created");
    }
    Ok(())
}

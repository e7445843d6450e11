//! What a run makes before it measures (teachers with QTS, their sessions, an employer client,
//! a bulk query, a table for pg-commit), and one request of each scenario.

use std::net::SocketAddr;

use anyhow::Context as _;
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::administration_client::AdministrationClient;
use dqt_proto::dqt::portal::v1::authentication_client::AuthenticationClient;
use dqt_proto::dqt::portal::v1::employer_access_client::EmployerAccessClient;
use dqt_proto::dqt::portal::v1::teacher_portal_client::TeacherPortalClient;
use dqt_proto::dqt::record::v1::record_service_client::RecordServiceClient;
use portal_common::deadline::DEFAULT_DEADLINE;
use portal_common::values::Trn;
use portal_common::{Assurance, Caller, Principal, Signer};
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use super::{Scenario, Target};

fn channel(addr: SocketAddr) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))?
        .tcp_nodelay(true)
        .connect_lazy())
}

pub fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = MetadataValue::try_from(format!("Bearer {token}")) {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// Teachers, sessions and an employer made for the run.
pub struct Fixture {
    pub gateway: Channel,
    pub record: Option<Channel>,
    pub signer: Signer,
    pub teachers: Vec<(String, String)>,
    pub sessions: Vec<String>,
    pub employer: String,
    /// The admin client's session: it writes records and reads the change feed.
    pub admin: String,
    pub bulk: Vec<pb::TeacherQuery>,
    /// A pool on the record database with a table of the run's own, for pg-commit.
    pub commits: Option<sea_orm::DatabaseConnection>,
}

/// The table pg-commit inserts into, made for the run and dropped after it.
const COMMITS: &str = "portal_bench_commits";

/// A pool of `size` connections to the PostgreSQL database at `url`, with the commits table.
async fn commits(url: &str, size: u32) -> anyhow::Result<sea_orm::DatabaseConnection> {
    use sea_orm::ConnectionTrait as _;
    let mut options = sea_orm::ConnectOptions::new(url.to_owned());
    options
        .max_connections(size)
        .min_connections(size)
        .sqlx_logging(false);
    let db = sea_orm::Database::connect(options).await?;
    db.execute_unprepared(&format!(
        "CREATE TABLE IF NOT EXISTS {COMMITS} (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())"
    ))
    .await?;
    Ok(db)
}

impl Fixture {
    /// Drops the run's commits table, if it made one.
    pub async fn drop_commits(&self) -> anyhow::Result<()> {
        use sea_orm::ConnectionTrait as _;
        if let Some(db) = &self.commits {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {COMMITS}"))
                .await?;
        }
        Ok(())
    }
}

const BENCH_DOB: &str = "1984-02-29";

pub async fn fixture(target: &Target, teachers: usize, callers: u32) -> anyhow::Result<Fixture> {
    let gateway = channel(target.gateway)?;
    let mut auth = AuthenticationClient::new(gateway.clone());
    let mut admin = AdministrationClient::new(gateway.clone());
    let admin_token = auth
        .sign_in_client(pb::SignInClientRequest {
            client_id: "admin".into(),
            client_secret: target.admin_secret.clone(),
        })
        .await
        .context("signing in as admin (PORTAL_ADMIN_CLIENT_SECRET)")?
        .into_inner()
        .token;
    let mut made = Vec::with_capacity(teachers);
    for i in 0..teachers {
        let surname = format!("Benchmark{}", spelt(i));
        let trn = admin
            .create_teacher(authed(
                pb::CreateTeacherRequest {
                    first_name: "Loadtest".into(),
                    last_name: surname.clone(),
                    date_of_birth: BENCH_DOB.into(),
                    ..Default::default()
                },
                &admin_token,
            ))
            .await?
            .into_inner()
            .trn;
        admin
            .add_professional_status(authed(
                pb::AddProfessionalStatusRequest {
                    trn: trn.clone(),
                    professional_status: Some(pb::ProfessionalStatus {
                        r#type: pb::ProfessionalStatusType::Qts.into(),
                        route: pb::Route::HigherEducation.into(),
                        status: pb::RouteStatus::Holds.into(),
                        awarded_date: "2010-07-01".into(),
                        exempt_from_induction: Some(false),
                        training: None,
                    }),
                },
                &admin_token,
            ))
            .await?;
        made.push((trn, surname));
    }
    let mut sessions = Vec::with_capacity(teachers);
    for (trn, surname) in &made {
        sessions.push(
            auth.sign_in_teacher(sign_in(trn, surname))
                .await?
                .into_inner()
                .token,
        );
    }
    let client_id = format!("bench-{:08x}", rand::random::<u32>());
    let client = admin
        .create_client(authed(
            pb::CreateClientRequest {
                client_id: client_id.clone(),
                display_name: "Benchmark".into(),
                roles: vec![portal_common::Role::EmployerCheck.as_str().to_owned()],
            },
            &admin_token,
        ))
        .await?
        .into_inner();
    let employer = auth
        .sign_in_client(pb::SignInClientRequest {
            client_id: client.client_id,
            client_secret: client.client_secret,
        })
        .await?
        .into_inner()
        .token;
    let bulk = (0..500)
        .map(|i| {
            let (trn, dob) = if i % 2 == 0 {
                (made[i % made.len()].0.clone(), BENCH_DOB.to_owned())
            } else {
                (format!("{}", 9_900_000 + i), "1970-01-01".to_owned())
            };
            pb::TeacherQuery {
                trn,
                date_of_birth: dob,
            }
        })
        .collect();
    Ok(Fixture {
        gateway,
        record: target.record.map(channel).transpose()?,
        signer: target.signer.clone(),
        teachers: made,
        sessions,
        employer,
        admin: admin_token,
        bulk,
        commits: match target
            .record_database
            .as_deref()
            .filter(|url| url.starts_with("postgres"))
        {
            Some(url) => Some(commits(url, callers).await?),
            None => None,
        },
    })
}

/// A number spelt in letters, a for 0 to j for 9: names hold letters only.
pub fn spelt(number: impl ToString) -> String {
    number
        .to_string()
        .bytes()
        .map(|digit| char::from(digit - b'0' + b'a'))
        .collect()
}

fn sign_in(trn: &str, surname: &str) -> pb::SignInTeacherRequest {
    pb::SignInTeacherRequest {
        trn: trn.into(),
        surname: surname.into(),
        forename: "Loadtest".into(),
        date_of_birth: BENCH_DOB.into(),
        ..Default::default()
    }
}

/// One request of a scenario; `i` picks the teacher.
/// One client sign-in of the secret-flood scenario's flood: a wrong secret for client id `i`.
pub async fn wrong_secret(fixture: &Fixture, i: usize) -> Result<(), Code> {
    let mut auth = AuthenticationClient::new(fixture.gateway.clone());
    let request = pb::SignInClientRequest {
        client_id: format!("flood-{i}"),
        client_secret: "not-the-secret".into(),
    };
    auth.sign_in_client(request)
        .await
        .map(drop)
        .map_err(|s| s.code())
}

pub async fn call(fixture: &Fixture, scenario: Scenario, i: usize) -> Result<(), Code> {
    let pick = |n: usize| i % n.max(1);
    let status = |r: Result<(), tonic::Status>| r.map_err(|s| s.code());
    match scenario {
        Scenario::Health => {
            let mut health = HealthClient::new(fixture.gateway.clone());
            status(health.check(HealthCheckRequest::default()).await.map(drop))
        }
        Scenario::RecordDirect => {
            let channel = fixture.record.clone().ok_or(Code::FailedPrecondition)?;
            let (trn, _) = &fixture.teachers[pick(fixture.teachers.len())];
            let trn = Trn::parse("trn", trn).map_err(|_| Code::Internal)?;
            let caller = Caller {
                principal: Principal::Teacher {
                    trn,
                    assurance: Assurance::Knowledge,
                },
                request_id: String::new(),
                on_behalf_of: None,
                session_id: None,
                source: None,
            };
            let request =
                fixture
                    .signer
                    .request(pb::GetMyRecordRequest {}, &caller, DEFAULT_DEADLINE);
            status(
                RecordServiceClient::new(channel)
                    .get_my_record(request)
                    .await
                    .map(drop),
            )
        }
        Scenario::MyRecord | Scenario::SecretFlood => {
            let token = &fixture.sessions[pick(fixture.sessions.len())];
            let mut portal = TeacherPortalClient::new(fixture.gateway.clone());
            status(
                portal
                    .get_my_record(authed(pb::GetMyRecordRequest {}, token))
                    .await
                    .map(drop),
            )
        }
        Scenario::SignIn => {
            let (trn, surname) = &fixture.teachers[pick(fixture.teachers.len())];
            let mut auth = AuthenticationClient::new(fixture.gateway.clone());
            status(auth.sign_in_teacher(sign_in(trn, surname)).await.map(drop))
        }
        Scenario::Certificate => {
            let token = &fixture.sessions[pick(fixture.sessions.len())];
            let mut portal = TeacherPortalClient::new(fixture.gateway.clone());
            let request = pb::DownloadDocumentRequest {
                kind: pb::DocumentKind::QtsCertificate.into(),
                qualification_id: String::new(),
            };
            status(
                portal
                    .download_document(authed(request, token))
                    .await
                    .map(drop),
            )
        }
        Scenario::EmployerCheck => {
            let (trn, _) = &fixture.teachers[pick(fixture.teachers.len())];
            let mut employer = EmployerAccessClient::new(fixture.gateway.clone());
            let request = pb::CheckTeacherRequest {
                trn: trn.clone(),
                date_of_birth: BENCH_DOB.into(),
            };
            status(
                employer
                    .check_teacher(authed(request, &fixture.employer))
                    .await
                    .map(drop),
            )
        }
        Scenario::BulkCheck => {
            let mut employer = EmployerAccessClient::new(fixture.gateway.clone());
            let request = pb::CheckTeachersRequest {
                queries: fixture.bulk.clone(),
            };
            status(
                employer
                    .check_teachers(authed(request, &fixture.employer))
                    .await
                    .map(drop),
            )
        }
        Scenario::PgCommit => {
            use sea_orm::ConnectionTrait as _;
            let db = fixture.commits.as_ref().ok_or(Code::FailedPrecondition)?;
            db.execute_unprepared(&format!("INSERT INTO {COMMITS} DEFAULT VALUES"))
                .await
                .map(drop)
                .map_err(|_| Code::Unavailable)
        }
        Scenario::Evidence => {
            static EVIDENCE: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
                let mut pdf = b"%PDF-1.7\n".to_vec();
                pdf.resize(3 * 1024 * 1024 - 64, b'x');
                pdf
            });
            let token = &fixture.sessions[pick(fixture.sessions.len())];
            let mut portal = TeacherPortalClient::new(fixture.gateway.clone());
            let request = pb::RequestNameChangeRequest {
                first_name: "Loadtest".into(),
                middle_name: String::new(),
                last_name: "Renamed".into(),
                evidence_file_name: "deed-poll.pdf".into(),
                evidence: EVIDENCE.clone(),
            };
            match portal.request_name_change(authed(request, token)).await {
                // Refused only after the whole message was read and checked.
                Err(status) if status.code() == Code::FailedPrecondition => Ok(()),
                other => status(other.map(drop)),
            }
        }
        Scenario::Feed => {
            // A new middle name each time: one event in the feed.
            let (trn, _) = &fixture.teachers[pick(fixture.teachers.len())];
            let request = pb::UpdateTeacherRequest {
                trn: trn.clone(),
                teacher: Some(pb::TeacherRecord {
                    middle_name: spelt(rand::random::<u32>()),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["middle_name".into()],
                }),
            };
            let mut admin = AdministrationClient::new(fixture.gateway.clone());
            status(
                admin
                    .update_teacher(authed(request, &fixture.admin))
                    .await
                    .map(drop),
            )
        }
        // Measured by loops of their own, not one call at a time.
        Scenario::FindTrn | Scenario::All => Err(Code::InvalidArgument),
    }
}

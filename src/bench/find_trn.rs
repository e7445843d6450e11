//! The find-trn scenario: FindMyTrn with details that match one record (whose TRN is then
//! emailed) and with details that match none (a case for staff), the two taken in turn by every
//! caller, so that both meet the same load. Each has its own latencies: the answer must not
//! tell them apart by its timing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::portal::v1::administration_client::AdministrationClient;
use dqt_proto::dqt::portal::v1::authentication_client::AuthenticationClient;
use tokio::sync::Mutex;

use super::fixture::{Fixture, authed, spelt};
use super::{Load, Outcome, Tally, new_histogram};

/// Records whose TRNs are looked for: each with an email, so that name, date of birth and
/// email are three facts.
const RECORDS: usize = 20;
const DOB: &str = "1984-02-29";

fn found(i: usize) -> pb::FindMyTrnRequest {
    let n = i % RECORDS;
    pb::FindMyTrnRequest {
        first_name: format!("Findme{}", spelt(n)),
        last_name: "Benchmark".into(),
        date_of_birth: DOB.into(),
        email: format!("findme{n}@example.org"),
        ..Default::default()
    }
}

fn not_found(i: usize) -> pb::FindMyTrnRequest {
    pb::FindMyTrnRequest {
        first_name: format!("Nobody{}", spelt(i % RECORDS)),
        last_name: "Unknown".into(),
        date_of_birth: "1970-01-01".into(),
        email: format!("nobody{}@example.org", i % RECORDS),
        ..Default::default()
    }
}

/// Makes the records looked for.
async fn records(fixture: &Fixture) -> anyhow::Result<()> {
    let mut admin = AdministrationClient::new(fixture.gateway.clone());
    for n in 0..RECORDS {
        let request = pb::CreateTeacherRequest {
            first_name: format!("Findme{}", spelt(n)),
            last_name: "Benchmark".into(),
            date_of_birth: DOB.into(),
            contact_details: Some(pb::ContactDetails {
                email: format!("findme{n}@example.org"),
                ..Default::default()
            }),
            ..Default::default()
        };
        admin
            .create_teacher(authed(request, &fixture.admin))
            .await?;
    }
    Ok(())
}

/// One histogram and tally per kind of search.
struct Kind {
    name: &'static str,
    histogram: Mutex<hdrhistogram::Histogram<u64>>,
    tally: Mutex<Tally>,
}

impl Kind {
    fn new(name: &'static str) -> anyhow::Result<Self> {
        Ok(Self {
            name,
            histogram: Mutex::new(new_histogram()?),
            tally: Mutex::new(Tally::default()),
        })
    }

    async fn record(&self, took: Duration, outcome: Result<(), tonic::Code>) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.histogram.lock().await.saturating_record(micros.max(1));
        let mut tally = self.tally.lock().await;
        tally.requests += 1;
        if let Err(code) = outcome {
            *tally.errors.entry(format!("{code:?}")).or_default() += 1;
        }
    }

    async fn outcome(&self, seconds: f64) -> Outcome {
        let tally = std::mem::take(&mut *self.tally.lock().await);
        Outcome {
            scenario: self.name,
            requests: tally.requests,
            errors: tally.errors,
            seconds,
            histogram: self.histogram.lock().await.clone(),
        }
    }
}

/// Closed loop of `load.concurrency` callers, each taking a matching and a matching-nothing
/// search in turn (`--rate` does not apply).
pub async fn measure(fixture: Arc<Fixture>, load: &Load) -> anyhow::Result<Vec<Outcome>> {
    records(&fixture).await?;
    let kinds = Arc::new([Kind::new("find-trn-found")?, Kind::new("find-trn-none")?]);
    let started = Instant::now();
    let warmup = started + Duration::from_secs_f64(load.warmup);
    let end = warmup + Duration::from_secs_f64(load.duration);
    let mut callers = tokio::task::JoinSet::new();
    for worker in 0..load.concurrency.max(1) {
        let (fixture, kinds) = (fixture.clone(), kinds.clone());
        callers.spawn(async move {
            let mut auth = AuthenticationClient::new(fixture.gateway.clone());
            let mut i = worker;
            while Instant::now() < end {
                // Which comes first alternates too, so neither always follows the other.
                for which in [i % 2, 1 - i % 2] {
                    let request = if which == 0 { found(i) } else { not_found(i) };
                    let due = Instant::now();
                    let outcome = auth
                        .find_my_trn(request)
                        .await
                        .map(drop)
                        .map_err(|s| s.code());
                    if due >= warmup {
                        kinds[which].record(due.elapsed(), outcome).await;
                    }
                }
                i += 1;
            }
        });
    }
    callers.join_all().await;
    let mut outcomes = Vec::new();
    for kind in kinds.iter() {
        outcomes.push(kind.outcome(load.duration).await);
    }
    Ok(outcomes)
}

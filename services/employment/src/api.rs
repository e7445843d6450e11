//! `dqt.employment.v1.EmploymentService`: a teacher's own employments, and reading for
//! internal clients with `records:read`.

use chrono::Utc;
use dqt_proto::dqt::employment::v1::employment_service_server::EmploymentService;
use dqt_proto::dqt::portal::v1 as pb;
use portal_common::values::Trn;
use portal_common::{Caller, FieldViolation};
use tonic::{Code, Request, Response, Status};

use crate::domain::{self, Employment};
use crate::store::{Store, StoreError};

const NOT_FOUND: &str = "no such employment";

pub struct EmploymentApi {
    store: Store,
}

impl EmploymentApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// A teacher's employments, most recent start first.
    async fn list(&self, trn: Trn) -> Result<Vec<pb::Employment>, Status> {
        let employments = self.store.list(trn).await.map_err(unavailable)?;
        Ok(employments.iter().map(|(id, e)| e.to_proto(*id)).collect())
    }
}

fn unavailable(error: StoreError) -> Status {
    tracing::error!(%error, "employment store failed");
    Status::unavailable("employment store unavailable")
}

fn invalid(violations: &[FieldViolation]) -> Status {
    portal_common::error::invalid_argument(violations)
}

/// The TRN of the calling teacher, from the principal assertion: the "my" calls act on it and
/// on no other.
fn own_trn<T>(request: &Request<T>) -> Result<Trn, Status> {
    Caller::of(request)?
        .principal
        .teacher_trn()
        .ok_or_else(|| Status::permission_denied("teachers only"))
}

/// An employment id: a positive number; anything else is simply not one of the teacher's.
fn employment_id(input: &str) -> Result<i64, Status> {
    input
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| Status::new(Code::NotFound, NOT_FOUND))
}

#[tonic::async_trait]
impl EmploymentService for EmploymentApi {
    async fn list_my_employments(
        &self,
        request: Request<pb::ListMyEmploymentsRequest>,
    ) -> Result<Response<pb::ListMyEmploymentsResponse>, Status> {
        let employments = self.list(own_trn(&request)?).await?;
        Ok(Response::new(pb::ListMyEmploymentsResponse { employments }))
    }

    async fn list_employments(
        &self,
        request: Request<pb::ListEmploymentsRequest>,
    ) -> Result<Response<pb::ListEmploymentsResponse>, Status> {
        if !Caller::of(&request)?.principal.has_role("records:read") {
            return Err(Status::permission_denied("not allowed"));
        }
        let trn = Trn::parse("trn", &request.get_ref().trn).map_err(|v| invalid(&[v]))?;
        let employments = self.list(trn).await?;
        Ok(Response::new(pb::ListEmploymentsResponse { employments }))
    }

    async fn create_my_employment(
        &self,
        request: Request<pb::CreateMyEmploymentRequest>,
    ) -> Result<Response<pb::Employment>, Status> {
        let trn = own_trn(&request)?;
        let input = request.get_ref().employment.clone().unwrap_or_default();
        let employment =
            Employment::parse(&input, Utc::now().date_naive()).map_err(|v| invalid(&v))?;
        let id = self
            .store
            .create(trn, &employment)
            .await
            .map_err(unavailable)?;
        Ok(Response::new(employment.to_proto(id)))
    }

    async fn update_my_employment(
        &self,
        request: Request<pb::UpdateMyEmploymentRequest>,
    ) -> Result<Response<pb::Employment>, Status> {
        let input = request.get_ref();
        let trn = own_trn(&request)?;
        let change = input.employment.clone().unwrap_or_default();
        let id = employment_id(&change.id)?;
        let current = self
            .store
            .get(trn, id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| Status::not_found(NOT_FOUND))?;
        let paths = portal_common::update::paths(
            input.update_mask.as_ref(),
            || domain::given(&change),
            &domain::FIELDS,
        )
        .map_err(|v| invalid(&[v]))?;
        let merged =
            domain::merge(&current.to_proto(id), &change, &paths).map_err(|v| invalid(&v))?;
        let employment =
            Employment::parse(&merged, Utc::now().date_naive()).map_err(|v| invalid(&v))?;
        if !self
            .store
            .update(trn, id, &employment)
            .await
            .map_err(unavailable)?
        {
            return Err(Status::not_found(NOT_FOUND));
        }
        Ok(Response::new(employment.to_proto(id)))
    }

    async fn delete_my_employment(
        &self,
        request: Request<pb::DeleteMyEmploymentRequest>,
    ) -> Result<Response<pb::DeleteMyEmploymentResponse>, Status> {
        let trn = own_trn(&request)?;
        let id = employment_id(&request.get_ref().id)?;
        if !self.store.delete(trn, id).await.map_err(unavailable)? {
            return Err(Status::not_found(NOT_FOUND));
        }
        Ok(Response::new(pb::DeleteMyEmploymentResponse {}))
    }
}

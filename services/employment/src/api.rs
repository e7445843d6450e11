//! `dqt.employment.v1.EmploymentService`: a teacher's own employments, and reading for
//! internal clients with `records:read`.

use chrono::Utc;
use dqt_proto::dqt::employment::v1::employment_service_server::EmploymentService;
use dqt_proto::dqt::employment::v1::{
    CreateEmploymentRequest, DeleteEmploymentRequest, DeleteEmploymentResponse,
    ListEmploymentsRequest, ListEmploymentsResponse, UpdateEmploymentRequest,
};
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
}

fn unavailable(error: StoreError) -> Status {
    tracing::error!(%error, "employment store failed");
    Status::unavailable("employment store unavailable")
}

fn invalid(violations: &[FieldViolation]) -> Status {
    portal_common::error::invalid_argument(violations)
}

/// The TRN a call acts on: the teacher's own, or any for a client that may read records when
/// `read_only`.
fn acting_on<T>(request: &Request<T>, trn: &str, read_only: bool) -> Result<Trn, Status> {
    let caller = Caller::of(request)?;
    let trn = Trn::parse("trn", trn).map_err(|v| invalid(&[v]))?;
    let allowed = caller.principal.teacher_trn() == Some(trn)
        || (read_only && caller.principal.has_role("records:read"));
    if allowed {
        Ok(trn)
    } else {
        Err(Status::permission_denied("not allowed"))
    }
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
    async fn list_employments(
        &self,
        request: Request<ListEmploymentsRequest>,
    ) -> Result<Response<ListEmploymentsResponse>, Status> {
        let trn = acting_on(&request, &request.get_ref().trn, true)?;
        let employments = self.store.list(trn).await.map_err(unavailable)?;
        Ok(Response::new(ListEmploymentsResponse {
            employments: employments.iter().map(|(id, e)| e.to_proto(*id)).collect(),
        }))
    }

    async fn create_employment(
        &self,
        request: Request<CreateEmploymentRequest>,
    ) -> Result<Response<pb::Employment>, Status> {
        let trn = acting_on(&request, &request.get_ref().trn, false)?;
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

    async fn update_employment(
        &self,
        request: Request<UpdateEmploymentRequest>,
    ) -> Result<Response<pb::Employment>, Status> {
        let input = request.get_ref();
        let trn = acting_on(&request, &input.trn, false)?;
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

    async fn delete_employment(
        &self,
        request: Request<DeleteEmploymentRequest>,
    ) -> Result<Response<DeleteEmploymentResponse>, Status> {
        let trn = acting_on(&request, &request.get_ref().trn, false)?;
        let id = employment_id(&request.get_ref().id)?;
        if !self.store.delete(trn, id).await.map_err(unavailable)? {
            return Err(Status::not_found(NOT_FOUND));
        }
        Ok(Response::new(DeleteEmploymentResponse {}))
    }
}

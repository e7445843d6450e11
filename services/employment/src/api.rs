//! `dqt.employment.v1.EmploymentService`: a teacher's own employments, and reading for
//! internal clients with `records:read`.

use chrono::Utc;
use dqt_proto::dqt::employment::v1::employment_service_server::EmploymentService;
use dqt_proto::dqt::portal::v1 as pb;
use portal_common::values::Trn;
use portal_common::{Caller, Role};
use tonic::{Request, Response, Status};

use crate::domain::{self, Employment};
use crate::error::Error;
use crate::store::Store;

pub struct EmploymentApi {
    store: Store,
}

impl EmploymentApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// A teacher's employments, most recent start first.
    async fn list(&self, trn: Trn) -> Result<Vec<pb::Employment>, Error> {
        let employments = self.store.list(trn).await?;
        Ok(employments.iter().map(|(id, e)| e.to_proto(*id)).collect())
    }

    async fn create(&self, trn: Trn, input: &pb::Employment) -> Result<pb::Employment, Error> {
        let employment = Employment::parse(input, Utc::now().date_naive())?;
        let id = self.store.create(trn, &employment).await?;
        Ok(employment.to_proto(id))
    }

    async fn update(
        &self,
        trn: Trn,
        input: &pb::UpdateMyEmploymentRequest,
    ) -> Result<pb::Employment, Error> {
        let change = input.employment.clone().unwrap_or_default();
        let id = employment_id(&change.id)?;
        let current = self.store.get(trn, id).await?.ok_or(Error::NotFound)?;
        let paths = portal_common::update::paths(
            input.update_mask.as_ref(),
            || domain::given(&change),
            &domain::FIELDS,
        )?;
        let merged = domain::merge(&current.to_proto(id), &change, &paths)?;
        let employment = Employment::parse(&merged, Utc::now().date_naive())?;
        if !self.store.update(trn, id, &employment).await? {
            return Err(Error::NotFound);
        }
        Ok(employment.to_proto(id))
    }

    async fn delete(&self, trn: Trn, id: &str) -> Result<(), Error> {
        if self.store.delete(trn, employment_id(id)?).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }
}

type Reply<T> = Result<Response<T>, Status>;

/// The TRN of the calling teacher, from the principal assertion: the "my" calls act on it and
/// on no other.
fn own_trn<T>(request: &Request<T>) -> Result<Trn, Status> {
    Caller::of(request)?
        .principal
        .teacher_trn()
        .ok_or_else(|| Error::PermissionDenied.into())
}

/// An employment id: a positive number; anything else is simply not one of the teacher's.
fn employment_id(input: &str) -> Result<i64, Error> {
    input
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(Error::NotFound)
}

#[tonic::async_trait]
impl EmploymentService for EmploymentApi {
    async fn list_my_employments(
        &self,
        request: Request<pb::ListMyEmploymentsRequest>,
    ) -> Reply<pb::ListMyEmploymentsResponse> {
        let employments = self.list(own_trn(&request)?).await?;
        Ok(Response::new(pb::ListMyEmploymentsResponse { employments }))
    }

    async fn list_employments(
        &self,
        request: Request<pb::ListEmploymentsRequest>,
    ) -> Reply<pb::ListEmploymentsResponse> {
        if !Caller::of(&request)?.principal.has_role(Role::RecordsRead) {
            return Err(Error::PermissionDenied.into());
        }
        let trn = Trn::parse("trn", &request.get_ref().trn).map_err(Error::from)?;
        let employments = self.list(trn).await?;
        Ok(Response::new(pb::ListEmploymentsResponse { employments }))
    }

    async fn create_my_employment(
        &self,
        request: Request<pb::CreateMyEmploymentRequest>,
    ) -> Reply<pb::Employment> {
        let trn = own_trn(&request)?;
        let input = request.get_ref().employment.clone().unwrap_or_default();
        Ok(Response::new(self.create(trn, &input).await?))
    }

    async fn update_my_employment(
        &self,
        request: Request<pb::UpdateMyEmploymentRequest>,
    ) -> Reply<pb::Employment> {
        let trn = own_trn(&request)?;
        Ok(Response::new(self.update(trn, request.get_ref()).await?))
    }

    async fn delete_my_employment(
        &self,
        request: Request<pb::DeleteMyEmploymentRequest>,
    ) -> Reply<pb::DeleteMyEmploymentResponse> {
        let trn = own_trn(&request)?;
        self.delete(trn, &request.get_ref().id).await?;
        Ok(Response::new(pb::DeleteMyEmploymentResponse {}))
    }
}

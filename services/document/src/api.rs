//! `dqt.document.v1.DocumentService`: each handler checks the caller, reads the teacher's
//! record from the record service, and lists, issues or verifies documents.

use portal_common::component::names;
use std::sync::Arc;

use dqt_proto::dqt::document::v1::document_service_server::DocumentService;
use dqt_proto::dqt::portal::v1 as pb;
use dqt_proto::dqt::record::v1::record_service_client::RecordServiceClient;
use portal_common::deadline::remaining_deadline;
use portal_common::upstream::{self, Upstream};
use portal_common::{Caller, FieldViolation, Role, Signer};
use sha2::{Digest as _, Sha256};
use tonic::{Request, Response, Status};

use crate::code;
use crate::documents::{self, full_name};
use crate::entitlement::{self, Entitlement};
use crate::error::Error;
use crate::fonts::Fonts;
use crate::register::{self, Issued, Register};

pub struct DocumentApi {
    fonts: Arc<Fonts>,
    register: Register,
    record: RecordServiceClient<Upstream>,
    signer: Signer,
}

impl DocumentApi {
    pub fn new(fonts: Arc<Fonts>, register: Register, record: Upstream, signer: Signer) -> Self {
        Self {
            fonts,
            register,
            record: RecordServiceClient::new(record),
            signer,
        }
    }

    /// The calling teacher's own record (the TRN is the one the principal assertion names),
    /// read for them.
    async fn own_record<T>(&self, request: &Request<T>) -> Result<pb::TeacherRecord, Error> {
        let caller = Caller::of(request).map_err(|_| Error::PermissionDenied)?;
        caller
            .principal
            .teacher_trn()
            .ok_or(Error::PermissionDenied)?;
        let read = upstream::read(remaining_deadline(request.metadata()), |left| {
            let mut record = self.record.clone();
            let forwarded = self.signer.request(pb::GetMyRecordRequest {}, caller, left);
            async move { record.get_my_record(forwarded).await }
        });
        Ok(read
            .await
            .map_err(|status| Error::Downstream(names::RECORD, status))?
            .into_inner())
    }

    /// The document: laying out, subsetting and compressing are CPU work, off the async
    /// threads.
    async fn make(
        &self,
        record: &pb::TeacherRecord,
        entitlement: &Entitlement,
        shown_code: String,
        issued_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<documents::Made, Error> {
        let (fonts, record, entitlement) =
            (self.fonts.clone(), record.clone(), entitlement.clone());
        Ok(tokio::task::spawn_blocking(move || {
            documents::make(&fonts, &record, &entitlement, &shown_code, issued_at)
        })
        .await??)
    }
}

#[tonic::async_trait]
impl DocumentService for DocumentApi {
    async fn list_my_documents(
        &self,
        request: Request<pb::ListMyDocumentsRequest>,
    ) -> Result<Response<pb::ListMyDocumentsResponse>, Status> {
        let record = self.own_record(&request).await?;
        Ok(Response::new(pb::ListMyDocumentsResponse {
            documents: entitlement::entitlements(&record)
                .iter()
                .map(Entitlement::available)
                .collect(),
        }))
    }

    async fn download_document(
        &self,
        request: Request<pb::DownloadDocumentRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        let input = request.get_ref();
        let kind = pb::DocumentKind::try_from(input.kind)
            .ok()
            .filter(|k| *k != pb::DocumentKind::Unspecified)
            .ok_or_else(|| Error::from(FieldViolation::new("kind", "must be a document kind")))?;
        let record = self.own_record(&request).await?;
        let entitlement =
            entitlement::find(&record, kind, &input.qualification_id).ok_or(Error::NotEntitled)?;
        let verification_code = code::generate();
        let issued_at = register::now();
        let shown_code = code::display(&verification_code);
        let made = self
            .make(&record, &entitlement, shown_code, issued_at)
            .await?;
        let sha256: String = Sha256::digest(&made.pdf)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.register
            .record(Issued {
                verification_code: verification_code.clone(),
                trn: record.trn.clone(),
                kind: register::kind_text(kind).to_owned(),
                qualification_id: Some(entitlement.qualification_id().to_owned())
                    .filter(|id| !id.is_empty()),
                holder_name: full_name(&record),
                sha256,
                issued_at,
            })
            .await?;
        tracing::info!(trn = %record.trn, kind = register::kind_text(kind), "document issued");
        portal_common::metrics::metrics().issued(register::kind_text(kind));
        Ok(Response::new(pb::Document {
            file_name: made.file_name,
            content_type: "application/pdf".into(),
            content: made.pdf,
            verification_code: code::display(&verification_code),
            issue_time: Some(std::time::SystemTime::from(issued_at).into()),
        }))
    }

    async fn verify_document(
        &self,
        request: Request<pb::VerifyDocumentRequest>,
    ) -> Result<Response<pb::DocumentVerification>, Status> {
        let caller = Caller::of(&request)?;
        if !caller.principal.has_role(Role::EmployerCheck) {
            return Err(Error::PermissionDenied.into());
        }
        let code = code::parse("verification_code", &request.get_ref().verification_code)?;
        let Some(issued) = self.register.find(&code).await? else {
            return Ok(Response::new(pb::DocumentVerification::default()));
        };
        Ok(Response::new(pb::DocumentVerification {
            valid: true,
            kind: register::kind_from_text(&issued.kind).into(),
            trn: issued.trn,
            holder_name: issued.holder_name,
            issue_time: Some(std::time::SystemTime::from(issued.issued_at).into()),
            sha256: issued.sha256,
        }))
    }
}

//! The door that needs no token: whoever holds a pre-check certificate may check it
//! (DESIGN.md section 8). Calls are held to the rate limit per client address.

use sieve_proto::gateway::v1::public_api_service_server::PublicApiService;
use sieve_proto::gateway::v1::*;
use tonic::{Request, Response, Status};

use crate::forward::{Context, inner, public_verification};

pub struct PublicApi {
    pub(crate) ctx: Context,
}

#[tonic::async_trait]
impl PublicApiService for PublicApi {
    async fn verify_certificate(
        &self,
        request: Request<PublicApiServiceVerifyCertificateRequest>,
    ) -> Result<Response<PublicApiServiceVerifyCertificateResponse>, Status> {
        self.ctx.gate.admit_anonymous(request.remote_addr())?;
        let r = inner(request.into_inner().request)?;
        let answer = self
            .ctx
            .backends
            .pre_check
            .clone()
            .verify_certificate(r)
            .await?
            .into_inner();
        // Debug: anyone can make these calls, so a line each would be a line anyone can multiply.
        tracing::debug!(
            genuine = answer.genuine,
            unaltered = answer.unaltered,
            revoked = answer.revoked,
            "certificate verified for an anonymous caller"
        );
        Ok(Response::new(PublicApiServiceVerifyCertificateResponse {
            response: Some(public_verification(answer)),
        }))
    }
}

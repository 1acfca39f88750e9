//! A unary request whose protobuf does not decode is refused by tonic before any handler
//! runs, as INTERNAL (the gRPC spec's code for a parse error). To a caller that sent bad bytes,
//! INTERNAL says "our fault, retry": this layer answers INVALID_ARGUMENT with reason
//! MALFORMED_MESSAGE instead, the answer streams already give (`wire::stream_error`).
//!
//! A message over the size limit tonic refuses as OUT_OF_RANGE with no details; gRPC itself
//! answers RESOURCE_EXHAUSTED, so this layer does, with the limit in ErrorInfo
//! (`wire::too_large`).

use std::task::{Context, Poll};

use tower::{Layer, Service};

use crate::error::{Error, reason};

/// The start of the message tonic-prost gives a decode failure (prost's `DecodeError`).
const DECODE_FAILURE: &str = "failed to decode Protobuf message";

#[derive(Debug, Clone, Copy, Default)]
pub struct MalformedMessageLayer;

impl<S> Layer<S> for MalformedMessageLayer {
    type Service = MalformedMessageService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MalformedMessageService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct MalformedMessageService<S> {
    inner: S,
}

impl<S, B, ResB> Service<http::Request<B>> for MalformedMessageService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResB>> + Send,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut res = fut.await?;
            // tonic puts the status of an answer made only of headers into its extensions.
            let Some(status) = res.extensions().get::<tonic::Status>() else {
                return Ok(res);
            };
            let refusal: tonic::Status = if let Some(e) = crate::wire::too_large(status) {
                e.into()
            } else if status.code() == tonic::Code::Internal
                && status.message().starts_with(DECODE_FAILURE)
            {
                Error::bad_request(
                    reason::MALFORMED_MESSAGE,
                    format!("the request could not be read ({})", status.message()),
                )
                .into()
            } else {
                return Ok(res);
            };
            let replacement = refusal.clone().into_http::<()>();
            for (name, value) in replacement.headers() {
                res.headers_mut().insert(name.clone(), value.clone());
            }
            res.extensions_mut().insert(refusal);
            Ok(res)
        })
    }
}

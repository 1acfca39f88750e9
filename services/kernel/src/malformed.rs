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

#[cfg(test)]
mod tests {
    use tonic_health::pb::HealthCheckResponse;

    use crate::error::reason;
    use crate::wire::RawCodec;

    async fn call(addr: std::net::SocketAddr, bytes: Vec<u8>) -> Result<i32, tonic::Status> {
        let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.unwrap();
        grpc.unary(
            tonic::Request::new(bytes),
            http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check"),
            RawCodec::<HealthCheckResponse>::default(),
        )
        .await
        .map(|r| r.into_inner().status)
    }

    #[tokio::test]
    async fn a_unary_request_that_does_not_decode_is_refused_as_invalid_argument() {
        let settings = crate::Settings::defaults().unwrap().server;
        let (addr, stop, served) = crate::server::spawn_for_test(&settings).await;

        // Field 1 (service) declares 127 bytes and ends after one.
        let err = call(addr, vec![0x0a, 0x7f, 0x41]).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
        use tonic_types::StatusExt;
        assert_eq!(
            err.get_error_details().error_info().unwrap().reason,
            reason::MALFORMED_MESSAGE
        );
        assert!(err.message().contains("failed to decode"), "{err:?}");
        // Over the size limit (health's default 4 MiB): RESOURCE_EXHAUSTED naming the limit.
        let mut big = vec![0x0a];
        let len = 5usize << 20;
        let mut n = len;
        while n >= 0x80 {
            big.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        big.push(n as u8);
        big.resize(big.len() + len, b'x');
        let err = call(addr, big).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
        let info = err.get_error_details().error_info().unwrap().clone();
        assert_eq!(info.reason, reason::MESSAGE_TOO_LARGE);
        assert_eq!(info.metadata["limit_bytes"], (4usize << 20).to_string());
        // A well-formed request is answered as before.
        let fine = call(addr, Vec::new()).await.unwrap();
        assert_eq!(
            fine,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
        let _ = stop.send(());
        let _ = served.await;
    }
}

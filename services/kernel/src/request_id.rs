//! Request ids: taken from the caller's `x-request-id` header or made up, put on the span of
//! the call and on the response, and carried to outgoing calls made while serving it, so one
//! id follows a case through every service's logs.

use std::task::{Context, Poll};

use tower::{Layer, Service};
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static CURRENT: String;
}

/// The request id of the call being served on this task, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `fut` as part of the call `id` (for work spawned off a call, such as a batch writer).
pub async fn scope<F: Future>(id: String, fut: F) -> F::Output {
    CURRENT.scope(id, fut).await
}

fn valid(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RequestIdService<S> {
    inner: S,
}

impl<S, B, ResB> Service<http::Request<B>> for RequestIdService<S>
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

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let id = req
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| valid(v))
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
        if let Ok(value) = http::HeaderValue::from_str(&id) {
            req.headers_mut().insert(HEADER, value);
        }
        let span = tracing::info_span!("call", request_id = %id, method = %req.uri().path());
        let fut = self.inner.call(req);
        let header = http::HeaderValue::from_str(&id).ok();
        Box::pin(
            CURRENT.scope(
                id,
                async move {
                    let mut res = fut.await?;
                    if let Some(h) = header {
                        res.headers_mut().insert(HEADER, h);
                    }
                    Ok(res)
                }
                .instrument(span),
            ),
        )
    }
}

/// Puts the current call's request id on an outgoing call's headers
/// ([`crate::internal::InternalChannel`] does, for every call between services).
pub fn stamp(headers: &mut http::HeaderMap) {
    if let Some(id) = current()
        && let Ok(value) = http::HeaderValue::from_str(&id)
    {
        headers.insert(HEADER, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_current_id_travels_to_outgoing_calls() {
        let outgoing = scope("req-42".into(), async {
            let mut headers = http::HeaderMap::new();
            stamp(&mut headers);
            headers
        })
        .await;
        assert_eq!(outgoing.get(HEADER).unwrap(), "req-42");
        // Outside a call nothing is made up.
        let mut bare = http::HeaderMap::new();
        stamp(&mut bare);
        assert!(bare.get(HEADER).is_none());
    }

    #[tokio::test]
    async fn a_served_call_keeps_the_callers_id_and_answers_with_it() {
        let settings = crate::Settings::defaults().unwrap().server;
        let (addr, stop, task) = crate::server::spawn_for_test(&settings).await;
        let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        let mut request = tonic::Request::new(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        });
        request
            .metadata_mut()
            .insert(HEADER, "caller-7".parse().unwrap());
        let response = health.check(request).await.unwrap();
        assert_eq!(response.metadata().get(HEADER).unwrap(), "caller-7");
        // Without one, the server makes one up and says which.
        let response = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap();
        assert!(!response.metadata().get(HEADER).unwrap().is_empty());
        let _ = stop.send(());
        let _ = task.await;
    }
}

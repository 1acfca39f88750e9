//! A flood of calls without the internal credential writes a bounded number of log lines.
//! Alone in its test binary: the captured subscriber is the process's global one.

use sieve_kernel::internal::{self, HEADER, testing};
use sieve_kernel::refusals::testing::{Captured, subscriber};
use sieve_kernel::server::{Access, Server};
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::{ServerReflectionRequest, server_reflection_request};

async fn list_services(
    channel: tonic::transport::Channel,
    credential: Option<&str>,
) -> Result<(), tonic::Status> {
    let mut request = tonic::Request::new(futures::stream::iter([ServerReflectionRequest {
        host: String::new(),
        message_request: Some(server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    }]));
    if let Some(c) = credential {
        request.metadata_mut().insert(HEADER, c.parse().unwrap());
    }
    let mut answers = ServerReflectionClient::new(channel)
        .server_reflection_info(request)
        .await?
        .into_inner();
    answers.message().await?;
    Ok(())
}

#[tokio::test]
async fn ten_thousand_calls_without_the_credential_write_a_few_lines() {
    let captured = Captured::default();
    tracing::subscriber::set_global_default(subscriber(captured.clone())).unwrap();
    let settings = testing::settings();
    let trust = internal::Trust::from_settings(&settings).unwrap();
    let bound = Server::new("flood", &settings.server, Access::Internal(trust))
        .bind("127.0.0.1", 0)
        .await
        .unwrap();
    let url = format!("http://{}", bound.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(bound.run_until(async {
        let _ = stopped.await;
    }));
    let plain = sieve_kernel::server::channel(&url, &settings.server).unwrap();
    let before = captured.text().len();

    let calls = (0..10_000).map(|_| list_services(plain.clone(), None));
    let answers = futures::future::join_all(calls).await;
    assert!(answers.iter().all(|a| {
        a.as_ref()
            .is_err_and(|s| s.code() == tonic::Code::Unauthenticated)
    }));
    // A call with the credential is still served.
    list_services(plain, Some(testing::CREDENTIAL))
        .await
        .unwrap();
    let _ = stop.send(());
    served.await.unwrap().unwrap();

    let text = captured.text()[before..].to_string();
    let lines = text.lines().count();
    eprintln!(
        "10,000 calls without the credential: {lines} log lines, {} bytes",
        text.len()
    );
    // The first refusal; a summary every 10 s while it lasts; what was left on stopping.
    assert!(lines <= 30, "{lines} lines:\n{text}");
    let refusals: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("internal call refused"))
        .collect();
    assert!(
        refusals[0].contains("INTERNAL_CREDENTIAL_MISSING"),
        "{text}"
    );
    // Every refusal is counted, and what was not logged is reported as suppressed.
    let last = refusals.last().copied().unwrap_or_default();
    assert!(last.contains("total=10000"), "{text}");
    assert!(!last.contains("suppressed=0"), "{text}");
}

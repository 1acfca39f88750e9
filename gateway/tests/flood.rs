//! Floods of refused calls write a bounded number of log lines: bad tokens at a door, and the
//! public door past its rate limit. Alone in its test binary: the captured subscriber is the
//! process's global one.

use sieve_gateway::token::SigningKey;
use sieve_kernel::refusals::testing::{Captured, subscriber};
use sieve_proto::gateway::v1::court_api_service_client::CourtApiServiceClient;
use sieve_proto::gateway::v1::public_api_service_client::PublicApiServiceClient;
use sieve_proto::gateway::v1::*;
use tonic::Code;

const CALLS: usize = 10_000;

fn lines_about<'a>(text: &'a str, what: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(what)).collect()
}

#[tokio::test]
async fn ten_thousand_refused_calls_write_a_few_lines() {
    let captured = Captured::default();
    tracing::subscriber::set_global_default(subscriber(captured.clone())).unwrap();
    let mut settings = sieve_kernel::internal::testing::settings();
    let key = SigningKey::generate("test");
    settings
        .gateway
        .signing_keys
        .insert(key.kid.clone(), key.secret_base64());
    settings.gateway.rate_limit_per_second = 200;
    // No service behind it: every call here is refused at the gateway's own gate.
    let gateway =
        sieve_gateway::Application::build(&settings, "http://127.0.0.1:1", "http://127.0.0.1:1", 0)
            .await
            .unwrap();
    let url = format!("http://{}", gateway.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(gateway.run_until(async {
        let _ = stopped.await;
    }));
    let channel = tonic::transport::Channel::from_shared(url)
        .unwrap()
        .connect_lazy();
    let start = captured.text().len();

    // A garbage token, 10,000 times.
    let court = CourtApiServiceClient::new(channel.clone());
    let calls = (0..CALLS).map(|i| {
        let mut court = court.clone();
        async move {
            let mut request = tonic::Request::new(CourtApiServiceListBanksRequest::default());
            let garbage = format!("Bearer sieve1.test.e30.garbage{i}");
            request
                .metadata_mut()
                .insert("authorization", garbage.parse().unwrap());
            court.list_banks(request).await
        }
    });
    let answers = futures::future::join_all(calls).await;
    assert!(
        answers
            .iter()
            .all(|a| a.as_ref().is_err_and(|s| s.code() == Code::Unauthenticated))
    );
    let after_tokens = captured.text().len();

    // The public door, far past its limit of 200 a second for one address.
    let public = PublicApiServiceClient::new(channel);
    let calls = (0..CALLS).map(|_| {
        let mut public = public.clone();
        async move {
            public
                .verify_certificate(PublicApiServiceVerifyCertificateRequest::default())
                .await
        }
    });
    let answers = futures::future::join_all(calls).await;
    let limited = answers
        .iter()
        .filter(|a| {
            a.as_ref()
                .is_err_and(|s| s.code() == Code::ResourceExhausted)
        })
        .count();
    assert!(limited >= CALLS / 2, "{limited} rate limited");

    let _ = stop.send(());
    served.await.unwrap().unwrap();
    let all = captured.text();
    let tokens = &all[start..after_tokens];
    let text = &all[start..];
    eprintln!(
        "{CALLS} calls with a bad token: {} log lines, {} bytes; then {CALLS} public calls \
         ({limited} rate limited): {} lines, {} bytes in all",
        tokens.lines().count(),
        tokens.len(),
        text.lines().count(),
        text.len()
    );
    assert!(text.lines().count() <= 40, "{text}");
    let refused = lines_about(text, "call refused");
    assert!(refused[0].contains("TOKEN_INVALID"), "{text}");
    let last = refused.last().copied().unwrap_or_default();
    assert!(last.contains(&format!("total={CALLS}")), "{text}");
    assert!(!last.contains("suppressed=0"), "{text}");
    let limited_lines = lines_about(text, "rate limited");
    let last = limited_lines.last().copied().unwrap_or_default();
    assert!(last.contains(&format!("total={limited}")), "{text}");
    assert!(!last.contains("suppressed=0"), "{text}");
    // Client addresses are not logged.
    assert!(
        refused
            .iter()
            .chain(&limited_lines)
            .all(|l| !l.contains("127.0.0.1")),
        "{text}"
    );
}

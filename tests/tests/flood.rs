//! Floods of refused calls write a bounded number of log lines: calls without the internal
//! credential at an internal port, bad tokens at a gateway door, and the public door past its
//! rate limit. One test in its own binary: the captured subscriber is the process's global
//! one, and the floods run one after the other so each reads only its own lines.

use sieve_e2e::{GATEWAY, INTAKE, PRE_CHECK, PRESERVATION, Spawn};
use sieve_gateway::token::SigningKey;
use sieve_kernel::error::reason;
use sieve_kernel::internal::{self, testing};
use sieve_kernel::refusals::testing::{Captured, subscriber};
use sieve_kernel::server::{Access, Server};
use sieve_proto::gateway::v1::court_api_service_client::CourtApiServiceClient;
use sieve_proto::gateway::v1::public_api_service_client::PublicApiServiceClient;
use sieve_proto::gateway::v1::*;
use tonic::Code;

const CALLS: usize = 10_000;

fn lines_about<'a>(text: &'a str, what: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(what)).collect()
}

#[tokio::test]
async fn floods_of_refused_calls_write_a_few_lines() {
    let captured = Captured::default();
    tracing::subscriber::set_global_default(subscriber(captured.clone())).unwrap();
    internal_port_without_the_credential(&captured).await;
    gateway_doors(&captured).await;
}

async fn internal_port_without_the_credential(captured: &Captured) {
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

    let calls = (0..CALLS).map(|_| testing::list_services(plain.clone(), None));
    let answers = futures::future::join_all(calls).await;
    assert!(answers.iter().all(|a| {
        a.as_ref()
            .is_err_and(|s| s.code() == tonic::Code::Unauthenticated)
    }));
    // A call with the credential is still served.
    testing::list_services(plain, Some(testing::CREDENTIAL))
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
        refusals[0].contains(reason::INTERNAL_CREDENTIAL_MISSING),
        "{text}"
    );
    // Every refusal is counted, and what was not logged is reported as suppressed.
    let last = refusals.last().copied().unwrap_or_default();
    assert!(last.contains("total=10000"), "{text}");
    assert!(!last.contains("suppressed=0"), "{text}");
}

async fn gateway_doors(captured: &Captured) {
    let key = SigningKey::generate("test");
    // No service behind it: every call here is refused at the gateway's own gate.
    let gateway = Spawn::new(&[GATEWAY])
        .peer(INTAKE, "http://127.0.0.1:1")
        .peer(PRE_CHECK, "http://127.0.0.1:1")
        .peer(PRESERVATION, "http://127.0.0.1:1")
        .configure(|s| {
            s.set_service(
                "gateway",
                "signing_keys",
                sieve_kernel::config::Map::from_iter([(key.kid.clone(), key.secret_base64())]),
            );
            s.set_service("gateway", "rate_limit_per_second", 200);
        })
        .start()
        .await;
    let channel = gateway.plain_channel(GATEWAY);
    let start = captured.text().len();

    // A garbage token, 10,000 times.
    let court = CourtApiServiceClient::new(channel.clone());
    let calls = (0..CALLS).map(|i| {
        let mut court = court.clone();
        async move {
            let mut request = tonic::Request::new(CourtApiServiceListBanksRequest {
                request: Some(Default::default()),
            });
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

    gateway.stop().await;
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
    assert!(refused[0].contains(reason::TOKEN_INVALID), "{text}");
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

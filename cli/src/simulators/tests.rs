//! Starting the simulators where the preservation settings say: compiled only under
//! `cargo test`.
#![cfg(test)]

use sieve_proto::sim::payment::v1 as pay;
use sieve_proto::sim::payment::v1::payment_simulator_service_client::PaymentSimulatorServiceClient;

use super::*;

fn settings() -> Settings {
    match Settings::defaults() {
        Ok(s) => s,
        Err(e) => panic!("defaults: {e}"),
    }
}

#[test]
fn they_listen_on_the_urls_port_and_host() {
    let at = |url: &str, host: &str, any: bool| {
        bind_addr(url, &PAYMENT, host, any).map(|a| a.to_string())
    };
    assert_eq!(
        at("http://127.0.0.1:50071", "0.0.0.0", false)
            .ok()
            .as_deref(),
        Some("127.0.0.1:50071")
    );
    // A name is not an address to bind: the suite's host, the URL's port.
    assert_eq!(
        at("http://sims.internal:7000", "0.0.0.0", false)
            .ok()
            .as_deref(),
        Some("0.0.0.0:7000")
    );
    assert_eq!(
        at("http://[::1]:50071", "0.0.0.0", true).ok().as_deref(),
        Some("[::1]:0")
    );
    assert_eq!(
        at("http://localhost", "not-an-ip", false).ok().as_deref(),
        Some("127.0.0.1:80")
    );
}

#[tokio::test]
async fn both_start_on_free_ports_and_the_preservation_settings_follow_them() {
    let mut settings = settings();
    let mut sims = Simulators::start(&settings, sieve_kernel::clock::system(), true)
        .await
        .unwrap_or_else(|e| panic!("start: {e}"));
    let names: Vec<&str> = sims.running().iter().map(|s| s.name).collect();
    assert_eq!(names, ["payment-sim", "delivery-sim"]);
    sims.point(&mut settings);
    let own = PreservationSettings::of(&settings).unwrap_or_else(|e| panic!("{e}"));
    let payment = sims.running()[0].addr;
    assert_eq!(own.platforms_url, format!("http://{payment}"));
    assert_eq!(
        own.delivery_url,
        format!("http://{}", sims.running()[1].addr)
    );
    // A real server: an account opened is an account held.
    let mut client = PaymentSimulatorServiceClient::connect(own.platforms_url.clone())
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let opened = client
        .open_accounts(pay::OpenAccountsRequest {
            accounts: vec![pay::Account {
                platform: pay::Platform::Alipay as i32,
                id_number: "23072219851102174X".into(),
                balance_fen: 100,
                frozen_fen: 0,
            }],
        })
        .await
        .unwrap_or_else(|e| panic!("open: {e}"));
    assert_eq!(opened.into_inner().opened, 1);
    sims.stop();
}

#[tokio::test]
async fn a_taken_port_fails_the_start_naming_the_port_and_its_setting() {
    let holder = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let taken = holder.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let mut settings = settings();
    settings.set_service("preservation", "delivery_url", format!("http://{taken}"));
    settings.set_service("preservation", "platforms_url", "http://127.0.0.1:0");
    let err = Simulators::start(&settings, sieve_kernel::clock::system(), false)
        .await
        .expect_err("the delivery port is taken")
        .to_string();
    assert!(err.contains(&taken.to_string()), "{err}");
    assert!(err.contains("services.preservation.delivery_url"), "{err}");
    assert!(err.contains("delivery-sim"), "{err}");
}

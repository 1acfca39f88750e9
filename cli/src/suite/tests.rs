#![cfg(test)]
use super::*;

/// A suite of these addresses, running nothing, for what is printed.
fn listening(addrs: Vec<(&'static str, SocketAddr)>, simulators: Simulators) -> Suite {
    let (stop, _) = watch::channel(false);
    Suite {
        addrs,
        tasks: JoinSet::new(),
        stop,
        others: None,
        simulators,
    }
}

#[test]
fn wildcard_binds_are_called_on_loopback() {
    assert_eq!(
        url("0.0.0.0:50051".parse().expect("addr")),
        "http://127.0.0.1:50051"
    );
    assert_eq!(
        url("10.1.2.3:7".parse().expect("addr")),
        "http://10.1.2.3:7"
    );
}

#[test]
fn all_services_are_listed_once_callers_last() {
    assert_eq!(
        names(),
        ["intake", "bad-debt-check", "preservation", "gateway"]
    );
    assert_eq!(
        sieve_intake::PRESERVATION_SERVICE,
        sieve_preservation::SERVICE
    );
    assert_eq!(sieve_preservation::INTAKE_SERVICE, sieve_intake::SERVICE);
    assert_eq!(
        sieve_gateway::PRESERVATION_SERVICE,
        sieve_preservation::SERVICE
    );
    // Each service is built after those it calls (intake's announcements to the
    // pre-check are wired once all are bound).
    let registry = registry();
    for (i, r) in registry.iter().enumerate() {
        for called in r.calls {
            let at = registry.iter().position(|o| o.name == *called);
            assert!(at.is_some_and(|at| at < i), "{} calls {called}", r.name);
        }
    }
    assert_eq!(
        sieve_intake::PRE_CHECK_SERVICE,
        sieve_bad_debt_check::SERVICE
    );
    assert_eq!(sieve_bad_debt_check::INTAKE_SERVICE, sieve_intake::SERVICE);
    assert_eq!(sieve_gateway::INTAKE_SERVICE, sieve_intake::SERVICE);
    assert_eq!(
        sieve_gateway::PRE_CHECK_SERVICE,
        sieve_bad_debt_check::SERVICE
    );
}

#[test]
fn services_alone_reach_the_others_by_configuration_or_this_hosts_port() {
    let mut settings = Settings::defaults().expect("defaults");
    let suite = listening(Vec::new(), Simulators::default());
    let url = |settings: &Settings, name| suite.url_of(name, settings).expect("known");
    assert_eq!(url(&settings, "bad-debt-check"), "http://127.0.0.1:50052");
    assert_eq!(url(&settings, "intake"), "http://127.0.0.1:50051");
    settings.set_service("bad_debt_check", "url", " http://bad-debt-check:50052 ");
    settings.set_service("intake", "url", "http://intake:50051");
    assert_eq!(
        url(&settings, "bad-debt-check"),
        "http://bad-debt-check:50052"
    );
    assert_eq!(url(&settings, "intake"), "http://intake:50051");
    assert_eq!(suite.url_of("nothing", &settings), None);
}

#[test]
fn the_banner_says_when_the_clock_is_manual_and_its_time() {
    let gateway = ("gateway", "127.0.0.1:50050".parse().expect("addr"));
    let suite = listening(vec![gateway], Simulators::default());
    let system = render_started(&suite, None, &sieve_kernel::SystemClock);
    assert!(!system.contains("clock"), "{system}");
    let start = crate::clock::parse_start("2026-09-07T09:00:00+08:00").expect("start");
    let manual = render_started(&suite, None, &sieve_kernel::ManualClock::new(start));
    assert!(
        manual.contains("clock: manual, at 2026-09-07 09:00:00 Asia/Shanghai"),
        "{manual}"
    );
    assert!(manual.contains("sieve clock advance"), "{manual}");
}

#[tokio::test]
async fn the_banner_lists_the_simulators_when_they_run() {
    let settings = Settings::defaults().expect("defaults");
    let sims = Simulators::start(&settings, sieve_kernel::clock::system(), true)
        .await
        .expect("simulators start");
    let payment = sims.running()[0].addr;
    let gateway = ("gateway", "127.0.0.1:50050".parse().expect("addr"));
    let suite = listening(vec![gateway], sims);
    let text = render_started(&suite, None, &sieve_kernel::SystemClock);
    assert!(text.contains("simulator        address"), "{text}");
    assert!(
        text.contains(&format!(
            "payment-sim      {payment}  Alipay and WeChat Pay"
        )),
        "{text}"
    );
    assert!(text.contains("delivery-sim "), "{text}");
    suite.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_section_no_service_owns_and_a_bad_value_are_refused_before_anything_starts() {
    let mut settings = Settings::defaults().expect("defaults");
    settings.set_service("gatway", "rate_limit_per_second", 5);
    let err = Suite::start(&settings, &names(), &Launch::default())
        .await
        .err()
        .expect("a typo in a section name")
        .to_string();
    assert!(err.contains("services.gatway"), "{err}");
    let mut settings = Settings::defaults().expect("defaults");
    settings.set_service("gateway", "rate_limit_per_second", 0);
    let err = Suite::start(&settings, &names(), &Launch::default())
        .await
        .err()
        .expect("a rate limit of 0")
        .to_string();
    assert!(
        err.contains("services.gateway.rate_limit_per_second"),
        "{err}"
    );
}

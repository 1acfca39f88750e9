use super::*;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ToySettings {
    limit: u32,
    names: BTreeMap<String, String>,
}

impl Validate for ToySettings {
    fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.limit == 0 {
            return Err(("limit", "must be at least 1".into()));
        }
        Ok(())
    }
}

const TOY_DEFAULTS: &str = "port = 50099\nurl = \"\"\nlimit = 5\n[names]\na = \"1\"\n";

fn settings(env: &[(&str, &str)]) -> Settings {
    Settings::load_from(
        None,
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .expect("settings")
}

#[test]
fn a_section_is_its_defaults_overlaid_with_what_is_configured() {
    let s = settings(&[
        ("SIEVE__SERVICES__TOY__LIMIT", "9"),
        ("SIEVE__SERVICES__TOY__NAMES__B", "2"),
    ]);
    let ctx = Context::new("toy", "toy", TOY_DEFAULTS, &s).expect("context");
    assert_eq!(ctx.port, 50099);
    let own: ToySettings = ctx.own().expect("own settings");
    assert_eq!(own.limit, 9);
    // Tables merge key by key: the default `a` stays beside the configured `b`.
    assert_eq!(own.names.len(), 2, "{:?}", own.names);
    assert_eq!(ctx.clone().any_port().port, 0);
}

#[test]
fn a_bad_value_an_unknown_key_and_a_failed_check_each_name_the_key() {
    let s = settings(&[("SIEVE__SERVICES__TOY__PORT", "seventy")]);
    let err = Context::new("toy", "toy", TOY_DEFAULTS, &s)
        .expect_err("a port must be a number")
        .to_string();
    assert!(err.contains("services.toy"), "{err}");

    let mut s = settings(&[]);
    s.set_service("toy", "limt", 3);
    let ctx = Context::new("toy", "toy", TOY_DEFAULTS, &s).expect("context");
    let err = ctx
        .own::<ToySettings>()
        .expect_err("unknown key")
        .to_string();
    assert!(
        err.contains("services.toy") && err.contains("limt"),
        "{err}"
    );

    let mut s = settings(&[]);
    s.set_service("toy", "limit", 0);
    let ctx = Context::new("toy", "toy", TOY_DEFAULTS, &s).expect("context");
    match ctx.own::<ToySettings>() {
        Err(BuildError::Config { key, problem }) => {
            assert_eq!(key, "services.toy.limit");
            assert!(problem.contains("at least 1"), "{problem}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn a_missing_peer_names_its_url_key() {
    let err = Peers::new()
        .with("intake", "http://127.0.0.1:1")
        .url("bad-debt-check")
        .expect_err("not given")
        .to_string();
    assert!(err.contains("services.bad_debt_check.url"), "{err}");
}

#[test]
fn a_section_no_service_owns_is_refused() {
    struct Toy;
    impl Service for Toy {
        const NAME: &'static str = "toy";
        const KEY: &'static str = "toy";
        const DEFAULTS: &'static str = TOY_DEFAULTS;
        type Settings = ToySettings;
        async fn build(_ctx: Context) -> Result<Self, BuildError> {
            Ok(Toy)
        }
        fn local_addr(&self) -> SocketAddr {
            SocketAddr::from(([127, 0, 0, 1], 0))
        }
        async fn run(
            self,
            shutdown: BoxFuture<'static, ()>,
        ) -> Result<(), tonic::transport::Error> {
            shutdown.await;
            Ok(())
        }
    }
    let registry = [register::<Toy>()];
    let mut s = settings(&[]);
    s.set_service("toy", "limit", 2);
    check_sections(&s, &registry).expect("toy is registered");
    registry[0].check(&s).expect("a valid section");
    assert_eq!(registry[0].endpoint(&s).expect("endpoint").port, 50099);
    s.set_service("tyo", "limit", 2);
    let err = check_sections(&s, &registry)
        .expect_err("a typo")
        .to_string();
    assert!(err.contains("services.tyo") && err.contains("toy"), "{err}");
}

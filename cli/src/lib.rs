//! The `sieve` command as a library, so whole-suite tests drive exactly what operators run.
//!
//! Each command has a function returning a structured result ([`submit::submit_file`],
//! [`status::case_status`], [`demo_batch`] and [`follow_demo`], [`suite::Suite`]) and a
//! `render_*` function for what is printed; [`run`] joins them for the binary.

pub mod args;
pub mod batch_file;
pub mod calendar;
pub mod certificates;
pub mod client;
pub mod clock;
pub mod demo;
pub mod error;
pub mod follow;
pub mod format;
pub mod paging;
pub mod registry;
pub mod status;
pub mod submit;
pub mod suite;
pub mod upload;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use sieve_kernel::Settings;

pub use args::{CertificatesCommand, Cli, ClockCommand, Command, RegistryCommand, UpArgs};
pub use client::{BankSpec, Credentials, Gateway};
pub use error::CliError;
pub use suite::{Launch, Suite};

/// How many refusals `sieve demo` lists.
const DEMO_REFUSALS_SHOWN: usize = 5;

/// Runs one parsed command with loaded settings, printing its results.
pub async fn run(cli: Cli, settings: Settings) -> Result<(), CliError> {
    match cli.command {
        Command::Up(a) => up(&settings, &a).await,
        Command::Serve { service } => serve(&settings, &service).await,
        Command::Submit(a) => {
            let gateway = gateway(a.gateway.gateway.as_deref(), &settings)?;
            let credentials = Credentials::load(&settings, a.gateway.token)?;
            let bank = BankSpec {
                name: a.bank.name.unwrap_or_else(|| a.bank.code.clone()),
                code: a.bank.code,
                callback_phone: a.bank.callback_phone,
            };
            let options = submit::SubmitOptions {
                request_id: a.request_id,
                chunk: a.chunk as usize,
                progress: true,
                ..submit::SubmitOptions::new(bank)
            };
            let report = submit::submit_file(&gateway, &credentials, &a.file, &options).await?;
            print!("{}", submit::render_report(&report));
            Ok(())
        }
        Command::Status(a) => {
            let gateway = gateway(a.gateway.gateway.as_deref(), &settings)?;
            let token = Credentials::load(&settings, a.gateway.token)?.court_token()?;
            let status = status::case_status(&gateway, &token, &a.case_id).await?;
            print!("{}", status::render_status(&status));
            Ok(())
        }
        Command::Demo(a) => {
            let gateway = gateway(a.gateway.gateway.as_deref(), &settings)?;
            let credentials = Credentials::load(&settings, a.gateway.token)?;
            let options = DemoOptions {
                cases: a.cases as usize,
                seed: a.seed,
                submit: submit::SubmitOptions {
                    chunk: a.chunk as usize,
                    progress: true,
                    ..submit::SubmitOptions::new(demo_bank(&a.bank))
                },
                registry: registry::ImportOptions {
                    chunk: a.chunk as usize,
                    progress: true,
                    ..registry::ImportOptions::new(registry::CourtSpec::from_settings(&settings))
                },
                recency_window_months: recency_window(&settings)?,
            };
            let follow = follow::FollowOptions {
                wait: Duration::from_secs(a.wait_secs),
                certificates_dir: (!a.no_certify).then(|| PathBuf::from(follow::CERTIFICATES_DIR)),
                progress: true,
                ..follow::FollowOptions::default()
            };
            // What was submitted first, so it is on screen while the cases are followed.
            let mut report = demo_batch(&gateway, &credentials, &options).await?;
            print!("{}", render_demo_submission(&report));
            report.flow = Some(follow_demo(&gateway, &credentials, &report, &follow).await?);
            print!("{}", render_demo_flow(&report));
            Ok(())
        }
        Command::Registry {
            command: RegistryCommand::Import(a),
        } => {
            let gateway = gateway(a.gateway.gateway.as_deref(), &settings)?;
            let credentials = Credentials::load(&settings, a.gateway.token)?;
            let options = registry::ImportOptions {
                request_id: a.request_id,
                chunk: a.chunk as usize,
                progress: true,
                ..registry::ImportOptions::new(registry::CourtSpec::from_settings(&settings))
            };
            let report = registry::import_file(&gateway, &credentials, &a.file, &options).await?;
            print!("{}", registry::render_report(&report));
            Ok(())
        }
        Command::Certificates {
            command: CertificatesCommand::Apply(a),
        } => {
            let gateway = gateway(a.gateway.gateway.as_deref(), &settings)?;
            let credentials = Credentials::load(&settings, a.gateway.token)?;
            let selection = if a.all {
                certificates::Selection::AllCertifiable
            } else {
                certificates::Selection::Cases(a.case_ids)
            };
            let options = certificates::ApplyOptions {
                bank_code: a.bank,
                out_dir: a.out,
            };
            let report = certificates::apply(&gateway, &credentials, &selection, &options).await?;
            print!("{}", certificates::render_apply(&report));
            Ok(())
        }
        Command::Certificates {
            command: CertificatesCommand::Verify(a),
        } => {
            let gateway = gateway(a.gateway.as_deref(), &settings)?;
            let verification = certificates::verify_file(&gateway, &a.file).await?;
            print!("{}", certificates::render_verification(&verification));
            if verification.is_valid() {
                Ok(())
            } else {
                Err(CliError::Rejected(format!(
                    "{} is not a valid certificate",
                    a.file.display()
                )))
            }
        }
        Command::Token(a) => {
            let credentials = Credentials::load(&settings, None)?;
            let ttl = (a.ttl_hours > 0).then(|| Duration::from_secs(u64::from(a.ttl_hours) * 3600));
            let token = match a.bank {
                None => credentials.mint_court(ttl)?,
                Some(code) => {
                    let gateway = gateway(a.gateway.as_deref(), &settings)?;
                    let court = credentials.mint_court(Some(Duration::from_secs(300)))?;
                    let banks = client::list_banks(&gateway, &court).await?;
                    let bank = banks.iter().find(|b| b.code == code).ok_or_else(|| {
                        CliError::Usage(format!(
                            "no bank with code {code} is registered; `sieve submit --bank {code}` \
                             registers it"
                        ))
                    })?;
                    credentials.mint_bank(&bank.bank_id, ttl)?
                }
            };
            println!("{token}");
            Ok(())
        }
        Command::Clock { command } => clock::run(command, &settings).await,
        Command::Calendar { command } => calendar::run(command, &settings).await,
    }
}

fn gateway(url: Option<&str>, settings: &Settings) -> Result<Gateway, CliError> {
    Gateway::connect(&Gateway::default_url(url, settings), settings)
}

/// `sieve up`: every service in this process until Ctrl-C or SIGTERM; with `--manual-clock`,
/// all on one manual clock that the court moves through the gateway.
pub async fn up(settings: &Settings, args: &UpArgs) -> Result<(), CliError> {
    let clock = if args.manual_clock {
        sieve_kernel::clock::manual(args.start.unwrap_or_else(clock::default_start))
    } else {
        sieve_kernel::clock::system()
    };
    let launch = Launch {
        clock: Some(clock.clone()),
        ..Launch::default()
    };
    let suite = Suite::start(settings, &suite::names(), &launch).await?;
    // A token is a credential: shown to a person at a terminal, never written into a file or
    // a log collector that stdout may be.
    use std::io::IsTerminal;
    let dev_key = gateway_settings(settings)?.signing_keys.is_empty();
    let token = if dev_key && std::io::stdout().is_terminal() {
        match dev_court_token(settings) {
            Ok(token) => token.map(suite::DevToken::Shown),
            Err(e) => {
                let _ = suite.shutdown().await;
                return Err(e);
            }
        }
    } else {
        dev_key.then_some(suite::DevToken::NotShown)
    };
    print!(
        "{}",
        suite::render_started(&suite, token.as_ref(), clock.as_ref())
    );
    suite
        .run_until(sieve_kernel::server::shutdown_signal())
        .await
}

/// `sieve serve NAME`: one service alone, as a container runs it.
pub async fn serve(settings: &Settings, service: &str) -> Result<(), CliError> {
    let suite = Suite::start(settings, &[service], &Launch::default()).await?;
    print!(
        "{}",
        suite::render_started(&suite, None, &sieve_kernel::SystemClock)
    );
    suite
        .run_until(sieve_kernel::server::shutdown_signal())
        .await
}

/// A day's court token from the development key, when no signing keys are configured.
pub fn dev_court_token(settings: &Settings) -> Result<Option<String>, CliError> {
    if !gateway_settings(settings)?.signing_keys.is_empty() {
        return Ok(None);
    }
    let (key, source) = client::dev_key(&settings.database.data_dir)?;
    let credentials = Credentials::from_key(key, source, &settings.court.name);
    credentials
        .mint_court(Some(Duration::from_secs(24 * 3600)))
        .map(Some)
}

/// The demo bank registered by `sieve demo`.
pub fn demo_bank(code: &str) -> BankSpec {
    BankSpec {
        code: code.to_owned(),
        name: "演示银行 Demo Bank".to_owned(),
        callback_phone: "0458-6100000".to_owned(),
    }
}

/// The configured recency window of the pre-check, `None` when any ruling counts.
pub fn recency_window(settings: &Settings) -> Result<Option<u32>, CliError> {
    sieve_bad_debt_check::PreCheckSettings::of(settings)
        .map(|s| s.recency_window())
        .map_err(|source| CliError::Build {
            service: sieve_bad_debt_check::SERVICE,
            source,
        })
}

/// The gateway's section as configured.
pub fn gateway_settings(settings: &Settings) -> Result<sieve_gateway::GatewaySettings, CliError> {
    sieve_gateway::GatewaySettings::of(settings).map_err(|source| CliError::Build {
        service: sieve_gateway::SERVICE,
        source,
    })
}

/// What `sieve demo` makes and how.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub cases: usize,
    pub seed: u64,
    pub submit: submit::SubmitOptions,
    pub registry: registry::ImportOptions,
    /// The pre-check's recency window (`services.bad_debt_check.recency_window_months`), to tell which
    /// rulings will count.
    pub recency_window_months: Option<u32>,
}

/// What `sieve demo` generated, how the suite answered, and where the cases went.
#[derive(Debug, Clone)]
pub struct DemoReport {
    pub generated: usize,
    pub seed: u64,
    /// Cases made invalid on purpose: the suite should refuse exactly these.
    pub flawed: usize,
    pub request_id: String,
    /// The demo bank's code.
    pub bank_code: String,
    /// The rulings seeded into the registry before the cases were submitted.
    pub rulings: registry::ImportOutcome,
    /// Cases whose debtor has a standing ruling that counts: they should become CERTIFIABLE.
    pub should_match: usize,
    /// Cases whose debtor's ruling was revoked: listed, yet they must not match.
    pub revoked_rulings: usize,
    pub outcome: submit::BatchOutcome,
    /// The batch followed through the pre-check and the certificates: `None` until
    /// [`follow_demo`] has run.
    pub flow: Option<follow::DemoFlow>,
}

impl DemoReport {
    /// The command that makes (and, run again, replays) this demo.
    pub fn command(&self) -> String {
        format!(
            "sieve demo --cases {} --seed {} --bank {}",
            self.generated, self.seed, self.bank_code
        )
    }
}

/// Generates `n` cases from `seed`, seeds the registry with rulings for some of their debtors
/// (see [`demo::demo_rulings`]), then submits the cases as one batch. The request ids follow
/// from `(n, seed)`, so running the same demo twice replays the first results.
pub async fn demo_batch(
    gateway: &Gateway,
    credentials: &Credentials,
    options: &DemoOptions,
) -> Result<DemoReport, CliError> {
    let (n, seed) = (options.cases, options.seed);
    let court = options.registry.court.clone();
    let (generated, rulings) = tokio::task::spawn_blocking(move || {
        let generated = demo::generate(n, seed);
        let rulings = demo::demo_rulings(&generated, seed, &court);
        (generated, rulings)
    })
    .await
    .map_err(|e| CliError::Crashed(format!("generating cases: {e}")))?;
    let flawed = generated
        .iter()
        .filter(|c| c.is_intentionally_invalid())
        .count();
    let today = sieve_kernel::clock::system().today();
    let should_match = rulings
        .iter()
        .filter(|r| {
            r.standing
                && sieve_kernel::rules::dates::date_from_pb(r.input.terminated_on.as_ref())
                    .is_some_and(|t| {
                        sieve_bad_debt_check::domain::ruling::within_window(
                            t,
                            today,
                            options.recency_window_months,
                        )
                    })
        })
        .count();
    let revoked_rulings = rulings.iter().filter(|r| !r.standing).count();

    // The registry first, so the pre-check finds the rulings when the cases arrive.
    let ruling_inputs = rulings.into_iter().map(|r| r.input).collect();
    let rulings = registry::import_rulings(
        gateway,
        credentials,
        ruling_inputs,
        &format!("demo-rulings:seed={seed}:cases={n}"),
        format!("sieve demo --cases {n} --seed {seed} (rulings)"),
        &options.registry,
    )
    .await?;

    // Rows are numbered 1..=n by the generator.
    let cases = generated.into_iter().map(|c| c.input).collect();
    let request_id = options
        .submit
        .request_id
        .clone()
        .unwrap_or_else(|| format!("demo:seed={seed}:cases={n}"));
    let label = format!("sieve demo --cases {n} --seed {seed}");
    let outcome = submit::submit_cases(
        gateway,
        credentials,
        cases,
        &request_id,
        label,
        &options.submit,
    )
    .await?;
    Ok(DemoReport {
        generated: n,
        seed,
        flawed,
        request_id,
        bank_code: options.submit.bank.code.clone(),
        rulings,
        should_match,
        revoked_rulings,
        outcome,
        flow: None,
    })
}

/// Follows the demo's batch ([`follow::follow_batch`]): waits for the pre-check, applies for
/// the matched cases' certificates (unless `options.certificates_dir` is `None`), waits for
/// them to close, and counts the batch's cases per stage. Running out of time is reported in
/// the result, not as an error.
pub async fn follow_demo(
    gateway: &Gateway,
    credentials: &Credentials,
    report: &DemoReport,
    options: &follow::FollowOptions,
) -> Result<follow::DemoFlow, CliError> {
    let batch = &report.outcome.batch;
    follow::follow_batch(
        gateway,
        credentials,
        &report.bank_code,
        &batch.batch_id,
        usize::try_from(batch.accepted_cases).unwrap_or(0),
        options,
    )
    .await
}

/// Everything `sieve demo` prints: [`render_demo_submission`], then [`render_demo_flow`].
pub fn render_demo(report: &DemoReport) -> String {
    let mut out = render_demo_submission(report);
    out.push_str(&render_demo_flow(report));
    out
}

/// The rulings seeded, the cases generated and how the batch was received.
pub fn render_demo_submission(report: &DemoReport) -> String {
    let mut out = String::new();
    let r = &report.rulings.import;
    let _ = writeln!(
        out,
        "registry: {} rulings for the demo's debtors ({} revoked), added {}, unchanged {}, \
         refused {}{}",
        r.received_rulings,
        report.revoked_rulings,
        r.added_rulings,
        r.unchanged_rulings,
        r.refused_rulings,
        if report.rulings.replayed {
            " (replayed)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "generated {} cases, {} of them flawed on purpose (request id {})",
        report.generated, report.flawed, report.request_id
    );
    submit::render_outcome(&mut out, &report.outcome, Some(DEMO_REFUSALS_SHOWN));
    let _ = writeln!(
        out,
        "{} cases should match the registry and become CERTIFIABLE; the other admitted cases \
         go on to PRESERVATION",
        report.should_match
    );
    out
}

/// Where the cases went ([`follow::render_flow`]); before they were followed, what to try.
pub fn render_demo_flow(report: &DemoReport) -> String {
    let mut out = String::new();
    match &report.flow {
        Some(flow) => follow::render_flow(&mut out, flow, &report.bank_code, &report.command()),
        None => {
            if let Some(id) = &report.outcome.first_case_id {
                let _ = writeln!(out, "try: sieve status {id}");
            }
            let _ = writeln!(
                out,
                "then: sieve certificates apply --bank {} --all",
                report.bank_code
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sieve_proto::bad_debt_check::v1::RulingImport;
    use sieve_proto::common::v1::Stage;
    use sieve_proto::intake::v1::Batch;

    fn report() -> DemoReport {
        DemoReport {
            generated: 100,
            seed: 1,
            flawed: 3,
            request_id: "demo:seed=1:cases=100".into(),
            bank_code: "DEMO-BANK".into(),
            rulings: registry::ImportOutcome {
                import: RulingImport {
                    received_rulings: 11,
                    added_rulings: 11,
                    ..Default::default()
                },
                replayed: false,
                refused: Vec::new(),
            },
            should_match: 10,
            revoked_rulings: 1,
            outcome: submit::BatchOutcome {
                batch: Batch {
                    batch_id: "b".into(),
                    accepted_cases: 97,
                    refused_cases: 3,
                    received_cases: 100,
                    ..Default::default()
                },
                replayed: false,
                refused: Vec::new(),
                differing: Vec::new(),
                first_case_id: Some("0193abc".into()),
            },
            flow: None,
        }
    }

    #[test]
    fn demo_report_points_at_a_case() {
        let report = report();
        let text = render_demo(&report);
        assert!(
            text.contains("generated 100 cases, 3 of them flawed"),
            "{text}"
        );
        assert!(text.contains("try: sieve status 0193abc"), "{text}");
        assert!(
            text.contains("registry: 11 rulings for the demo's debtors (1 revoked), added 11"),
            "{text}"
        );
        assert!(
            text.contains("10 cases should match the registry"),
            "{text}"
        );
        assert!(
            text.contains("sieve certificates apply --bank DEMO-BANK --all"),
            "{text}"
        );
        assert_eq!(
            report.command(),
            "sieve demo --cases 100 --seed 1 --bank DEMO-BANK"
        );
    }

    #[test]
    fn a_followed_demo_ends_with_its_funnel_instead_of_the_next_steps() {
        let mut report = report();
        report.flow = Some(follow::DemoFlow {
            pre_check: follow::Waited {
                remaining: 0,
                elapsed: Duration::from_millis(1_500),
                limit: Duration::from_secs(120),
            },
            certification: follow::Certification::Skipped,
            funnel: follow::Funnel {
                batch_id: "b".into(),
                stages: [
                    (Stage::Certifiable as i32, 10),
                    (Stage::Preservation as i32, 87),
                ]
                .into(),
                examples: [
                    (Stage::Certifiable as i32, "c-match".to_owned()),
                    (Stage::Preservation as i32, "c-on".to_owned()),
                ]
                .into(),
            },
        });
        let submission = render_demo_submission(&report);
        assert!(submission.contains("accepted 97"), "{submission}");
        assert!(!submission.contains("try: sieve"), "{submission}");
        let text = render_demo(&report);
        assert!(text.starts_with(&submission), "{text}");
        assert!(text.contains("pre-check: done (waited 1.5 s)"), "{text}");
        assert!(text.contains("batch b: 97 cases now"), "{text}");
        assert!(text.contains("try: sieve status c-match"), "{text}");
        assert!(text.contains("try: sieve status c-on"), "{text}");
        // The first case's hint belongs to the unfollowed demo.
        assert!(!text.contains("0193abc"), "{text}");
        assert!(!text.contains("then: "), "{text}");
    }
}

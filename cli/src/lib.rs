//! The `sieve` command as a library, so whole-suite tests drive exactly what operators run.
//!
//! Each command has a function returning a structured result ([`submit::submit_file`],
//! [`status::case_status`], [`demo_batch`], [`suite::Suite`]) and a `render_*` function for
//! what is printed; [`run`] joins them for the binary.

pub mod args;
pub mod batch_file;
pub mod client;
pub mod demo;
pub mod error;
pub mod format;
pub mod status;
pub mod submit;
pub mod suite;

use std::fmt::Write as _;
use std::time::Duration;

use sieve_kernel::Settings;

pub use args::{Cli, Command};
pub use client::{BankSpec, Credentials, Gateway};
pub use error::CliError;
pub use suite::{Launch, Service, Suite};

/// How many refusals `sieve demo` lists.
const DEMO_REFUSALS_SHOWN: usize = 5;

/// Runs one parsed command with loaded settings, printing its results.
pub async fn run(cli: Cli, settings: Settings) -> Result<(), CliError> {
    match cli.command {
        Command::Up => up(&settings).await,
        Command::Serve { service } => serve(&settings, service).await,
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
            let options = submit::SubmitOptions {
                chunk: a.chunk as usize,
                progress: true,
                ..submit::SubmitOptions::new(demo_bank(&a.bank))
            };
            let report =
                demo_batch(&gateway, &credentials, a.cases as usize, a.seed, &options).await?;
            print!("{}", render_demo(&report));
            Ok(())
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
    }
}

fn gateway(url: Option<&str>, settings: &Settings) -> Result<Gateway, CliError> {
    Gateway::connect(&Gateway::default_url(url, settings), settings)
}

/// `sieve up`: every service in this process until Ctrl-C or SIGTERM.
pub async fn up(settings: &Settings) -> Result<(), CliError> {
    let suite = Suite::start(settings, Service::ALL, &Launch::default()).await?;
    let token = match dev_court_token(settings) {
        Ok(token) => token,
        Err(e) => {
            let _ = suite.shutdown().await;
            return Err(e);
        }
    };
    print!("{}", suite::render_started(&suite, token.as_deref()));
    suite
        .run_until(sieve_kernel::server::shutdown_signal())
        .await
}

/// `sieve serve NAME`: one service alone, as a container runs it.
pub async fn serve(settings: &Settings, service: Service) -> Result<(), CliError> {
    let suite = Suite::start(settings, &[service], &Launch::default()).await?;
    print!("{}", suite::render_started(&suite, None));
    suite
        .run_until(sieve_kernel::server::shutdown_signal())
        .await
}

/// A day's court token from the development key, when no signing keys are configured.
pub fn dev_court_token(settings: &Settings) -> Result<Option<String>, CliError> {
    if !settings.gateway.signing_keys.is_empty() {
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

/// What `sieve demo` generated and how the suite answered.
#[derive(Debug, Clone)]
pub struct DemoReport {
    pub generated: usize,
    /// Cases made invalid on purpose: the suite should refuse exactly these.
    pub flawed: usize,
    pub request_id: String,
    pub outcome: submit::BatchOutcome,
}

/// Generates `n` cases from `seed` and submits them as one batch. The request id follows
/// from `(n, seed)`, so running the same demo twice replays the first result.
pub async fn demo_batch(
    gateway: &Gateway,
    credentials: &Credentials,
    n: usize,
    seed: u64,
    options: &submit::SubmitOptions,
) -> Result<DemoReport, CliError> {
    let generated = tokio::task::spawn_blocking(move || demo::generate(n, seed))
        .await
        .map_err(|e| CliError::Crashed(format!("generating cases: {e}")))?;
    let flawed = generated
        .iter()
        .filter(|c| c.is_intentionally_invalid())
        .count();
    // Rows are numbered 1..=n by the generator.
    let cases = generated.into_iter().map(|c| c.input).collect();
    let request_id = options
        .request_id
        .clone()
        .unwrap_or_else(|| format!("demo:seed={seed}:cases={n}"));
    let label = format!("sieve demo --cases {n} --seed {seed}");
    let outcome =
        submit::submit_cases(gateway, credentials, cases, &request_id, label, options).await?;
    Ok(DemoReport {
        generated: n,
        flawed,
        request_id,
        outcome,
    })
}

pub fn render_demo(report: &DemoReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "generated {} cases, {} of them flawed on purpose (request id {})",
        report.generated, report.flawed, report.request_id
    );
    submit::render_outcome(&mut out, &report.outcome, Some(DEMO_REFUSALS_SHOWN));
    if let Some(id) = &report.outcome.first_case_id {
        let _ = writeln!(out, "try: sieve status {id}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sieve_proto::intake::v1::Batch;

    #[test]
    fn demo_report_points_at_a_case() {
        let report = DemoReport {
            generated: 100,
            flawed: 3,
            request_id: "demo:seed=1:cases=100".into(),
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
                first_case_id: Some("0193abc".into()),
            },
        };
        let text = render_demo(&report);
        assert!(
            text.contains("generated 100 cases, 3 of them flawed"),
            "{text}"
        );
        assert!(text.contains("try: sieve status 0193abc"), "{text}");
    }
}

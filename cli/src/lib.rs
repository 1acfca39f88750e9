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
pub mod demo_preservation;
pub mod demo_run;
pub mod error;
pub mod follow;
pub mod format;
pub mod paging;
pub mod preservation;
pub mod registry;
pub mod simulators;
pub mod status;
pub mod submit;
pub mod suite;
pub mod upload;

use std::time::Duration;

use sieve_kernel::Settings;

pub use args::{CertificatesCommand, Cli, ClockCommand, Command, RegistryCommand, UpArgs};
pub use client::{BankSpec, Credentials, Gateway};
pub use demo_run::{
    DemoOptions, DemoReport, demo_bank, demo_batch, follow_demo, preserve_demo, render_demo,
    render_demo_flow, render_demo_preservation, render_demo_submission,
};
pub use error::CliError;
pub use suite::{Launch, Suite};

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
        Command::Demo(a) => demo_run::run(a, &settings).await,
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
        Command::Preservation { command } => preservation::run(command, &settings).await,
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
        simulators: true,
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

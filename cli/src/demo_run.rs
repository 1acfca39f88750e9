//! `sieve demo`: generate cases and registry rulings, submit them, follow them through the
//! pre-check and the certificates ([`crate::follow`]), then take the unmatched ones through
//! preservation ([`crate::demo_preservation`]). Each step's result is printed as it comes.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use sieve_kernel::Settings;

use crate::args::DemoArgs;
use crate::client::{BankSpec, Credentials, Gateway};
use crate::demo_preservation::{self, PreserveOptions, Preserved};
use crate::error::CliError;
use crate::{demo, follow, registry, submit};

/// How many refusals `sieve demo` lists.
const DEMO_REFUSALS_SHOWN: usize = 5;

/// `sieve demo`: each step printed when it is done.
pub async fn run(a: DemoArgs, settings: &Settings) -> Result<(), CliError> {
    let gateway = Gateway::connect(
        &Gateway::default_url(a.gateway.gateway.as_deref(), settings),
        settings,
    )?;
    let credentials = Credentials::load(settings, a.gateway.token)?;
    let mut options = DemoOptions::new(a.cases as usize, a.seed, &a.bank, settings)?;
    (options.submit.chunk, options.submit.progress) = (a.chunk as usize, true);
    (options.registry.chunk, options.registry.progress) = (a.chunk as usize, true);
    let wait = Duration::from_secs(a.wait_secs);
    let follow = follow::FollowOptions {
        wait,
        certificates_dir: (!a.no_certify).then(|| PathBuf::from(follow::CERTIFICATES_DIR)),
        progress: true,
        ..follow::FollowOptions::default()
    };
    // What was submitted first, so it is on screen while the cases are followed.
    let mut report = demo_batch(&gateway, &credentials, &options).await?;
    print!("{}", render_demo_submission(&report));
    report.flow = Some(follow_demo(&gateway, &credentials, &report, &follow).await?);
    print!("{}", render_demo_flow(&report));
    if !a.no_preserve {
        let preserve = PreserveOptions {
            callback_percent: a.callback_percent,
            wait,
            progress: true,
            ..PreserveOptions::from_settings(settings)?
        };
        report.preservation =
            Some(preserve_demo(&gateway, &credentials, &report, &preserve).await?);
        print!("{}", render_demo_preservation(&report));
    }
    Ok(())
}

/// The demo bank registered by `sieve demo`.
pub fn demo_bank(code: &str) -> BankSpec {
    BankSpec {
        code: code.to_owned(),
        name: "演示银行 Demo Bank".to_owned(),
        callback_phone: "0458-6100000".to_owned(),
    }
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

impl DemoOptions {
    /// `cases` from `seed` for the demo bank `bank_code`, with this court and the pre-check's
    /// window as configured.
    pub fn new(
        cases: usize,
        seed: u64,
        bank_code: &str,
        settings: &Settings,
    ) -> Result<Self, CliError> {
        Ok(Self {
            cases,
            seed,
            submit: submit::SubmitOptions::new(demo_bank(bank_code)),
            registry: registry::ImportOptions::new(registry::CourtSpec::from_settings(settings)),
            recency_window_months: crate::recency_window(settings)?,
        })
    }
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
    /// The unmatched cases taken through preservation: `None` until [`preserve_demo`] has
    /// run.
    pub preservation: Option<Preserved>,
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
        preservation: None,
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

/// Everything `sieve demo` prints: [`render_demo_submission`], [`render_demo_flow`], then
/// [`render_demo_preservation`].
pub fn render_demo(report: &DemoReport) -> String {
    let mut out = render_demo_submission(report);
    out.push_str(&render_demo_flow(report));
    out.push_str(&render_demo_preservation(report));
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

/// Takes the batch's cases in PRESERVATION through preservation
/// ([`demo_preservation::preserve_batch`]); skipped while the pre-check has not finished.
pub async fn preserve_demo(
    gateway: &Gateway,
    credentials: &Credentials,
    report: &DemoReport,
    options: &PreserveOptions,
) -> Result<Preserved, CliError> {
    if report
        .flow
        .as_ref()
        .is_some_and(|f| !f.pre_check.finished())
    {
        return Ok(Preserved::Skipped(
            "the pre-check has not finished with the batch".into(),
        ));
    }
    demo_preservation::preserve_batch(
        gateway,
        credentials,
        &report.bank_code,
        &report.outcome.batch.batch_id,
        report.seed,
        options,
    )
    .await
}

/// What became of the cases in preservation; nothing before [`preserve_demo`] has run.
pub fn render_demo_preservation(report: &DemoReport) -> String {
    let mut out = String::new();
    if let Some(p) = &report.preservation {
        demo_preservation::render(&mut out, p, &report.command());
    }
    out
}

#[cfg(test)]
mod tests;

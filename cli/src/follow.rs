//! `sieve demo` after submitting: waiting for the pre-check to take the demo batch's cases,
//! applying for the certificates of those that matched, and counting where the batch's cases
//! ended up.
//!
//! Everything is read through the bank's door: `BankApiService.ListCases` filtered by the
//! batch (and a stage), the bank forced by the token.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sieve_proto::common::v1::{PageRequest, Stage};
use sieve_proto::gateway::v1::BankApiServiceListCasesRequest;
use sieve_proto::intake::v1::{Case, ListCasesRequest, ListCasesResponse};
use tokio::time::Instant;

use crate::certificates::{self, Applied, ApplyReport};
use crate::client::{BankClient, Credentials, Gateway};
use crate::error::CliError;
use crate::format;

/// How often the cases are looked at while waiting.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How long `sieve demo` waits by default (`--wait-secs`).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(120);
/// Where `sieve demo` writes certificate pages, as `sieve certificates apply` does.
pub const CERTIFICATES_DIR: &str = "certificates";
const PAGE_SIZE: i32 = 1_000;

/// How to follow a batch.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// How long to wait for the pre-check, and then again for the certified cases to close.
    /// Zero: look once and report what is seen.
    pub wait: Duration,
    /// How often to look while waiting.
    pub poll: Duration,
    /// Where certificate pages are written; `None` applies for no certificates
    /// (`--no-certify`).
    pub certificates_dir: Option<PathBuf>,
    /// Draw a spinner (on stdout, and only when it is a terminal).
    pub progress: bool,
}

impl Default for FollowOptions {
    fn default() -> Self {
        Self {
            wait: DEFAULT_WAIT,
            poll: POLL_INTERVAL,
            certificates_dir: Some(PathBuf::from(CERTIFICATES_DIR)),
            progress: false,
        }
    }
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waited {
    /// Cases not yet where they were awaited when the wait ended: 0 when it finished.
    pub remaining: usize,
    pub elapsed: Duration,
    /// How long the wait was allowed to last.
    pub limit: Duration,
}

impl Waited {
    pub fn finished(&self) -> bool {
        self.remaining == 0
    }
}

/// What became of the certificates.
#[derive(Debug, Clone)]
pub enum Certification {
    /// Not asked for (`--no-certify`).
    Skipped,
    /// Cases were still waiting for the pre-check: nothing was applied for.
    PreCheckUnfinished,
    /// Applied for every CERTIFIABLE case of the bank; `closed` is the wait for the issued
    /// ones to become CERTIFIED.
    Applied { report: ApplyReport, closed: Waited },
}

/// Where the batch's cases are now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Funnel {
    pub batch_id: String,
    /// Cases per stage (the `Stage` number, so in chain order).
    pub stages: BTreeMap<i32, usize>,
    /// The first case (by id) found in each stage, to try with `sieve status`.
    pub examples: BTreeMap<i32, String>,
}

impl Funnel {
    pub fn count(&self, stage: Stage) -> usize {
        self.stages.get(&(stage as i32)).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.stages.values().sum()
    }

    pub fn example(&self, stage: Stage) -> Option<&str> {
        self.examples.get(&(stage as i32)).map(String::as_str)
    }

    pub(crate) fn add(&mut self, case: Case) {
        *self.stages.entry(case.stage).or_default() += 1;
        self.examples.entry(case.stage).or_insert(case.case_id);
    }
}

/// What following the batch saw.
#[derive(Debug, Clone)]
pub struct DemoFlow {
    /// The wait for no case of the batch to be left in BAD_DEBT_CHECK.
    pub pre_check: Waited,
    pub certification: Certification,
    /// Counted last, after the waits.
    pub funnel: Funnel,
}

/// Waits (at most `options.wait`) until no case of `batch_id` is in BAD_DEBT_CHECK, then,
/// unless told not to, applies for the certificates of every CERTIFIABLE case of the bank
/// (writing their pages) and waits (again at most `options.wait`) for those cases to become
/// CERTIFIED; last, counts the batch's cases per stage. A wait that runs out is reported in
/// the result, not as an error. `admitted` is only for the spinner's message.
pub async fn follow_batch(
    gateway: &Gateway,
    credentials: &Credentials,
    bank_code: &str,
    batch_id: &str,
    admitted: usize,
    options: &FollowOptions,
) -> Result<DemoFlow, CliError> {
    let token = credentials.bank_token_for_code(gateway, bank_code).await?;
    let bank = gateway.bank(&token)?;
    let spinner = spinner(options.progress);
    spinner.set_message("looking for the batch's cases still in the pre-check");

    let pre_check = wait_until_none(
        options,
        &spinner,
        || {
            let mut bank = bank.clone();
            let batch_id = batch_id.to_owned();
            async move { count_cases(&mut bank, Stage::BadDebtCheck, &batch_id).await }
        },
        |left, elapsed| {
            format!(
                "waiting for the pre-check: {left} of {admitted} cases still in BAD_DEBT_CHECK \
                 ({}s)",
                elapsed.as_secs()
            )
        },
    )
    .await;
    let pre_check = match pre_check {
        Ok(w) => w,
        Err(e) => {
            spinner.finish_and_clear();
            return Err(e);
        }
    };

    let certification = match (&options.certificates_dir, pre_check.finished()) {
        (None, _) => Ok(Certification::Skipped),
        (Some(_), false) => Ok(Certification::PreCheckUnfinished),
        (Some(dir), true) => {
            certify(
                gateway,
                credentials,
                &bank,
                bank_code,
                dir,
                options,
                &spinner,
            )
            .await
        }
    };
    let certification = match certification {
        Ok(c) => c,
        Err(e) => {
            spinner.finish_and_clear();
            return Err(e);
        }
    };

    spinner.set_message("counting the batch's cases");
    let mut funnel = Funnel {
        batch_id: batch_id.to_owned(),
        ..Funnel::default()
    };
    let mut client = bank.clone();
    let counted = visit_cases(&mut client, Stage::Unspecified, batch_id, |c| funnel.add(c)).await;
    spinner.finish_and_clear();
    counted?;
    Ok(DemoFlow {
        pre_check,
        certification,
        funnel,
    })
}

/// Applies for every CERTIFIABLE case of the bank, then waits for the issued ones to close.
async fn certify(
    gateway: &Gateway,
    credentials: &Credentials,
    bank: &BankClient,
    bank_code: &str,
    dir: &std::path::Path,
    options: &FollowOptions,
    spinner: &ProgressBar,
) -> Result<Certification, CliError> {
    spinner.set_message("applying for the matched cases' certificates");
    let report = certificates::apply(
        gateway,
        credentials,
        &certificates::Selection::AllCertifiable,
        &certificates::ApplyOptions {
            bank_code: bank_code.to_owned(),
            out_dir: dir.to_path_buf(),
        },
    )
    .await?;
    let issued: HashSet<String> = report
        .rows
        .iter()
        .filter(|r| matches!(r.outcome, Applied::Issued { .. }))
        .map(|r| r.case_id.clone())
        .collect();
    let total = issued.len();
    let closed = wait_until_none(
        options,
        spinner,
        || {
            let mut bank = bank.clone();
            let issued = &issued;
            async move {
                let certifiable = certificates::certifiable_cases(&mut bank).await?;
                Ok(certifiable.iter().filter(|id| issued.contains(*id)).count())
            }
        },
        |left, elapsed| {
            format!(
                "waiting for the certified cases to close: {left} of {total} not yet CERTIFIED \
                 ({}s)",
                elapsed.as_secs()
            )
        },
    )
    .await?;
    Ok(Certification::Applied { report, closed })
}

/// Looks every `options.poll` until `remaining` answers 0 or `options.wait` has passed;
/// always looks at least once, and once more at the end of the time allowed.
pub async fn wait_until_none<F, Fut>(
    options: &FollowOptions,
    spinner: &ProgressBar,
    mut remaining: F,
    describe: impl Fn(usize, Duration) -> String,
) -> Result<Waited, CliError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, CliError>>,
{
    let start = Instant::now();
    loop {
        let left = remaining().await?;
        let elapsed = start.elapsed();
        if left == 0 || elapsed >= options.wait {
            return Ok(Waited {
                remaining: left,
                elapsed,
                limit: options.wait,
            });
        }
        spinner.set_message(describe(left, elapsed));
        tokio::time::sleep(options.poll.min(options.wait - elapsed)).await;
    }
}

/// How many cases of the batch are in `stage`.
pub(crate) async fn count_cases(
    bank: &mut BankClient,
    stage: Stage,
    batch_id: &str,
) -> Result<usize, CliError> {
    let mut n = 0;
    visit_cases(bank, stage, batch_id, |_| n += 1).await?;
    Ok(n)
}

/// Every case of the batch in `stage` (`Unspecified`: in any), page by page.
pub async fn visit_cases(
    bank: &mut BankClient,
    stage: Stage,
    batch_id: &str,
    mut visit: impl FnMut(Case),
) -> Result<(), CliError> {
    let pages = |page_token: String| {
        let mut bank = bank.clone();
        async move {
            let page = cases_page(&mut bank, stage, batch_id, &page_token).await?;
            Ok((page.cases, page.next_page_token))
        }
    };
    crate::paging::visit_pages(pages, &mut visit).await
}

/// One page, asked for again when the gateway's rate limit refuses it: a large batch takes
/// many pages.
async fn cases_page(
    bank: &mut BankClient,
    stage: Stage,
    batch_id: &str,
    page_token: &str,
) -> Result<ListCasesResponse, CliError> {
    let request = BankApiServiceListCasesRequest {
        request: Some(ListCasesRequest {
            bank_id: String::new(),
            stage: stage as i32,
            batch_id: batch_id.to_owned(),
            page: Some(PageRequest {
                page_size: PAGE_SIZE,
                page_token: page_token.to_owned(),
            }),
        }),
    };
    crate::client::patiently(bank, &request, |mut bank, r| async move {
        bank.list_cases(r).await
    })
    .await
    .map(|r| r.into_inner().response.unwrap_or_default())
    .map_err(|s| CliError::grpc("BankApiService.ListCases", s))
}

/// A spinner with a message (on stdout, and only when it is a terminal and `wanted`).
pub(crate) fn spinner(wanted: bool) -> ProgressBar {
    if !wanted || !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

pub(crate) fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// What a stage means for a demo case, beside its count.
fn gloss(stage: i32) -> &'static str {
    match Stage::try_from(stage) {
        Ok(Stage::BadDebtCheck) => "still waiting for the pre-check",
        Ok(Stage::Certifiable) => "matched a standing ruling; no certificate applied for yet",
        Ok(Stage::Certified) => "matched a standing ruling; certificate issued, case closed",
        Ok(Stage::Preservation) => "no standing ruling: moved on to pre-litigation preservation",
        Ok(Stage::Mediation) => "preserved, and the debtor called the bank back",
        Ok(Stage::Litigation) => "preserved, no callback, no suit in 30 days: freezes lifted",
        _ => "",
    }
}

/// A line per stage: its name, its count and what it means for a demo case.
pub(crate) fn render_stages(out: &mut String, stages: &BTreeMap<i32, usize>) {
    let width = stages
        .keys()
        .map(|s| format::stage(*s).len())
        .max()
        .unwrap_or(0);
    let digits = stages
        .values()
        .map(|n| n.to_string().len())
        .max()
        .unwrap_or(1);
    for (stage, n) in stages {
        let line = format!(
            "  {:<width$}  {n:>digits$}  {}",
            format::stage(*stage),
            gloss(*stage)
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// The waits, the certificates, the batch's cases per stage and two cases to look at.
/// `bank_code` and `rerun` (the command that picks the demo up again) go into the hints.
pub fn render_flow(out: &mut String, flow: &DemoFlow, bank_code: &str, rerun: &str) {
    let w = &flow.pre_check;
    if w.finished() {
        let _ = writeln!(
            out,
            "pre-check: done (waited {}); no case of the batch is left in BAD_DEBT_CHECK",
            seconds(w.elapsed)
        );
    } else if flow.funnel.count(Stage::BadDebtCheck) > 0 {
        let _ = writeln!(
            out,
            "pre-check: NOT finished: after waiting {}, {} cases of the batch were still in \
             BAD_DEBT_CHECK. Is the pre-check (bad-debt-check) running? `sieve up` runs it with \
             the other services.",
            seconds(w.elapsed),
            w.remaining
        );
    } else {
        let _ = writeln!(
            out,
            "pre-check: NOT finished within the {} waited ({} cases were still in \
             BAD_DEBT_CHECK); it has finished since, as the count below shows",
            seconds(w.elapsed),
            w.remaining
        );
    }
    let apply_hint = format!("sieve certificates apply --bank {bank_code} --all");
    match &flow.certification {
        Certification::Skipped => {
            let _ = writeln!(
                out,
                "certificates: not applied for (--no-certify); to apply: {apply_hint}"
            );
        }
        Certification::PreCheckUnfinished => {
            let _ = writeln!(
                out,
                "certificates: not applied for while the pre-check is unfinished; once it is: \
                 {apply_hint}"
            );
        }
        Certification::Applied { report, closed } => {
            render_certificates(out, report, closed);
        }
    }

    let f = &flow.funnel;
    let _ = writeln!(out, "batch {}: {} cases now", f.batch_id, f.total());
    let mut shown: BTreeMap<i32, usize> = f.stages.clone();
    for always in [Stage::Certified, Stage::Preservation] {
        shown.entry(always as i32).or_insert(0);
    }
    if !w.finished() {
        shown.entry(Stage::BadDebtCheck as i32).or_insert(0);
    }
    render_stages(out, &shown);

    let matched = f
        .example(Stage::Certified)
        .map(|id| (id, "certified"))
        .or_else(|| f.example(Stage::Certifiable).map(|id| (id, "matched")));
    if let Some((id, what)) = matched {
        let _ = writeln!(out, "try: sieve status {id}    ({what})");
    }
    if let Some(id) = f.example(Stage::Preservation) {
        let _ = writeln!(out, "try: sieve status {id}    (moved on to preservation)");
    }
    if matched.is_none()
        && f.example(Stage::Preservation).is_none()
        && let Some(id) = f.examples.values().next()
    {
        let _ = writeln!(out, "try: sieve status {id}");
    }
    let certified_open = matches!(
        &flow.certification,
        Certification::Applied { closed, .. } if !closed.finished()
    );
    if !w.finished() || certified_open {
        let _ = writeln!(
            out,
            "stopped waiting. To look again later, run the same demo (it replays: nothing is \
             stored twice): {rerun}"
        );
    }
}

fn render_certificates(out: &mut String, report: &ApplyReport, closed: &Waited) {
    if report.rows.is_empty() {
        let _ = writeln!(
            out,
            "certificates: none to apply for (no case of bank {} is CERTIFIABLE)",
            report.bank_code
        );
        return;
    }
    let (mut issued, mut before, mut refused) = (0, 0, 0);
    for row in &report.rows {
        match &row.outcome {
            Applied::Issued { existing, .. } => {
                issued += 1;
                if *existing {
                    before += 1;
                }
            }
            Applied::Refused(_) => refused += 1,
        }
    }
    let _ = writeln!(
        out,
        "certificates: {issued} issued ({before} before), {refused} refused; pages in {}",
        report.out_dir.display()
    );
    if refused > 0 {
        let _ = writeln!(
            out,
            "  why refused: sieve certificates apply --bank {} --all",
            report.bank_code
        );
    }
    if closed.finished() {
        let _ = writeln!(
            out,
            "  every certified case closed as CERTIFIED (waited {})",
            seconds(closed.elapsed)
        );
    } else {
        let _ = writeln!(
            out,
            "  NOT all closed: after waiting {}, {} certified cases are still CERTIFIABLE",
            seconds(closed.elapsed),
            closed.remaining
        );
    }
}

#[cfg(test)]
mod tests;

//! `sieve demo` past the pre-check: the batch's unmatched cases (in PRESERVATION) taken
//! through preservation as a bank, the court and the outside world would. The platforms'
//! simulator is given accounts for the debtors (seeded: some hold nothing, some less than
//! is preserved, so the second platform is asked); the bank applies through the gateway
//! with an insurer's policy for each; the court approves them all; the freezes and the
//! notices follow. The document service's simulator then has a seeded share of the served
//! debtors call the bank back, and each call is recorded through the bank's door, which
//! takes the case to MEDIATION. Last, on a manual clock, the clock is moved past the 30 days
//! to sue (CPL 104 para 3): the freezes are lifted and the cases nobody called back about
//! go to LITIGATION. On the system clock that step is skipped, and said so.
//!
//! Every call is idempotent (request ids follow from the cases), so running the demo again
//! replays instead of applying twice.

mod accounts;
mod onward;
mod render;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use indicatif::ProgressBar;
use sieve_kernel::Settings;
use sieve_kernel::rules::dates::date_pb;
use sieve_proto::common::v1::Stage;
use sieve_proto::intake::v1::Case;
use sieve_proto::preservation::v1::{
    Guarantee, GuaranteeKind, Preservation, PreservationInput, PreservationStatus,
};
use sieve_proto::sim::delivery::v1::delivery_simulator_service_client::DeliverySimulatorServiceClient;
use sieve_proto::sim::payment::v1 as payment;
use sieve_proto::sim::payment::v1::payment_simulator_service_client::PaymentSimulatorServiceClient;
use tonic::transport::Channel;

pub use accounts::{Holding, plan as plan_accounts};
pub use render::render;

use crate::client::{BankClient, CourtClient, Credentials, Gateway};
use crate::error::CliError;
use crate::follow::{self, FollowOptions, Funnel, Waited};
use crate::preservation::{self as pres, ApplyOutcome, Numbered, RuleOptions, RuleReport};
use crate::submit::file_request_id;

/// The judge who signs the demo's rulings.
pub const DEMO_JUDGE: &str = "演示法官";
/// The insurer behind the demo's applications, and the district its code is registered in.
const INSURER: &str = "中国人民财产保险股份有限公司伊春市分公司";
const INSURER_DIVISION: &str = "230700";
/// The document kind the preservation service serves its notices as.
const NOTICE_KIND: &str = "preservation.notice";
/// Accounts per OpenAccounts call.
const ACCOUNTS_PER_CALL: usize = 1_000;
/// Callbacks recorded at once: enough to finish quickly, few enough for the rate limit.
const CALLS_AT_ONCE: usize = 8;

/// How the demo takes its cases through preservation.
#[derive(Debug, Clone)]
pub struct PreserveOptions {
    /// The payment platforms' simulator (`services.preservation.platforms_url`).
    pub platforms_url: String,
    /// The document service's simulator (`services.preservation.delivery_url`).
    pub delivery_url: String,
    /// This court's code, in the ruling numbers made.
    pub court_code: String,
    /// The share of served debtors who call back, in percent.
    pub callback_percent: u32,
    /// How long each wait lasts at most; zero: look once.
    pub wait: Duration,
    pub poll: Duration,
    /// Draw a spinner (on stdout, and only when it is a terminal).
    pub progress: bool,
}

impl PreserveOptions {
    /// The simulators where the preservation service reaches them, this court's code.
    pub fn from_settings(settings: &Settings) -> Result<Self, CliError> {
        let own = sieve_preservation::PreservationSettings::of(settings).map_err(|source| {
            CliError::Build {
                service: sieve_preservation::SERVICE,
                source,
            }
        })?;
        Ok(Self {
            platforms_url: own.platforms_url,
            delivery_url: own.delivery_url,
            court_code: settings.court.code.clone(),
            callback_percent: 33,
            wait: follow::DEFAULT_WAIT,
            poll: follow::POLL_INTERVAL,
            progress: false,
        })
    }

    fn follow(&self) -> FollowOptions {
        FollowOptions {
            wait: self.wait,
            poll: self.poll,
            certificates_dir: None,
            progress: false,
        }
    }
}

/// What the demo's preservation step did.
#[derive(Debug, Clone)]
pub enum Preserved {
    /// Not tried, and why.
    Skipped(String),
    Done(Box<PreservationFlow>),
}

/// The batch's cases through preservation.
#[derive(Debug, Clone, Default)]
pub struct PreservationFlow {
    pub batch_id: String,
    /// Cases of the batch in PRESERVATION when the step began.
    pub candidates: usize,
    /// How many debtors hold what (see [`Holding`]).
    pub holdings: HashMap<&'static str, usize>,
    pub applied: ApplyOutcome,
    pub ruled: RuleReport,
    /// The wait for every freeze to be answered and every notice served.
    pub executed: Waited,
    pub freezes: Freezes,
    pub callbacks: Callbacks,
    pub suit: Suit,
    /// The batch's cases per stage, last.
    pub funnel: Funnel,
}

/// The freezes of the batch's preservations in force, once executed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Freezes {
    pub in_force: usize,
    pub preserved_fen: i64,
    /// Preservations holding something, and the sum held.
    pub frozen_cases: usize,
    pub frozen_fen: i64,
    /// Holding the whole amount preserved.
    pub fully_frozen: usize,
    /// For which a second platform was asked.
    pub second_platform: usize,
    /// Holding nothing: no account anywhere, or nothing free.
    pub nothing_frozen: usize,
    pub notices_delivered: usize,
    pub notices_failed: usize,
    /// A case whose freeze took two platforms, and one holding nothing, for `sieve status`.
    pub example_two_platforms: Option<String>,
    pub example_nothing: Option<String>,
}

/// The debtors' calls to the bank.
#[derive(Debug, Clone, Default)]
pub struct Callbacks {
    pub share_percent: u32,
    /// Calls the simulator says the batch's served debtors make.
    pub calling: usize,
    pub recorded: usize,
    /// Refused by the court (the preservation no longer in force).
    pub refused: usize,
    /// Calls whose time has not come on the suite's clock (the system clock: within 72 hours).
    pub not_yet: usize,
    /// How far the manual clock was moved for the calls to have been made.
    pub clock_moved: Option<Duration>,
    /// The wait for the called-back cases to enter MEDIATION.
    pub mediation: Option<Waited>,
    pub example: Option<String>,
}

/// The 30 days to sue.
#[derive(Debug, Clone, Default)]
pub enum Suit {
    /// No preservation of the batch was in force.
    #[default]
    NothingInForce,
    /// The suite runs on the system clock: 30 days cannot be made to pass.
    NotManual,
    Advanced {
        by: Duration,
        /// The clock after the move.
        now: prost_types::Timestamp,
        /// The wait for the freezes to be lifted and the cases to move on.
        waited: Waited,
        /// Lifted for no suit in time (LIFT_REASON_NO_SUIT_IN_TIME).
        lifted: usize,
        /// Cases without a callback now in LITIGATION.
        litigation: usize,
        example: Option<String>,
    },
}

fn channel(url: &str) -> Result<Channel, CliError> {
    tonic::transport::Endpoint::from_shared(url.to_owned())
        .map(|e| e.connect_lazy())
        .map_err(|source| CliError::Endpoint {
            url: url.to_owned(),
            source,
        })
}

/// Everything the step calls.
struct Doors {
    bank: BankClient,
    court: CourtClient,
    court_token: String,
    bank_id: String,
    payment: PaymentSimulatorServiceClient<Channel>,
    delivery: DeliverySimulatorServiceClient<Channel>,
}

/// Takes the cases of `batch_id` in PRESERVATION through preservation (module doc).
/// Running out of time is reported in the result, not as an error; so is a platforms'
/// simulator that does not answer (`sieve serve` runs none).
pub async fn preserve_batch(
    gateway: &Gateway,
    credentials: &Credentials,
    bank_code: &str,
    batch_id: &str,
    seed: u64,
    options: &PreserveOptions,
) -> Result<Preserved, CliError> {
    let court_token = credentials.court_token()?;
    let bank_token = credentials.bank_token_for_code(gateway, bank_code).await?;
    let doors = Doors {
        bank: gateway.bank(&bank_token)?,
        court: gateway.court(&court_token)?,
        bank_id: pres::bank_id_of(gateway, &court_token, bank_code).await?,
        court_token,
        payment: PaymentSimulatorServiceClient::new(channel(&options.platforms_url)?),
        delivery: DeliverySimulatorServiceClient::new(channel(&options.delivery_url)?),
    };
    let spinner = follow::spinner(options.progress);
    let done = steps(gateway, &doors, batch_id, seed, options, &spinner).await;
    spinner.finish_and_clear();
    done
}

async fn steps(
    gateway: &Gateway,
    doors: &Doors,
    batch_id: &str,
    seed: u64,
    options: &PreserveOptions,
    spinner: &ProgressBar,
) -> Result<Preserved, CliError> {
    spinner.set_message("looking for the batch's cases in PRESERVATION");
    let mut cases: Vec<Case> = Vec::new();
    follow::visit_cases(
        &mut doors.bank.clone(),
        Stage::Preservation,
        batch_id,
        |c| cases.push(c),
    )
    .await?;
    if cases.is_empty() {
        return Ok(Preserved::Skipped(format!(
            "no case of batch {batch_id} is in PRESERVATION (the demo ran before: they have \
             moved on, as the count above shows)"
        )));
    }
    cases.sort_by(|a, b| a.case_id.cmp(&b.case_id));
    let amounts: Vec<(String, i64)> = cases
        .iter()
        .map(|c| {
            let id = c.debtor.as_ref().map_or("", |d| d.id_number.as_str());
            (id.to_owned(), c.claim.as_ref().map_or(0, |c| c.total_fen))
        })
        .collect();
    let (accounts, holdings) = plan_accounts(seed, &amounts);
    spinner.set_message("opening the debtors' accounts at the platforms' simulator");
    if let Some(why) =
        open_accounts(&mut doors.payment.clone(), accounts, &options.platforms_url).await?
    {
        return Ok(Preserved::Skipped(why));
    }
    let mut flow = PreservationFlow {
        batch_id: batch_id.to_owned(),
        candidates: cases.len(),
        ..PreservationFlow::default()
    };
    for h in holdings {
        *flow.holdings.entry(render::holding_word(h)).or_default() += 1;
    }

    spinner.set_message(format!(
        "applying for preservation of {} cases",
        cases.len()
    ));
    let reading = crate::clock::show(gateway, &doors.court_token).await?;
    let today = crate::format::shanghai_date(&reading.now);
    let applications = applications(&cases, &amounts, today);
    let ids: Vec<&str> = cases.iter().map(|c| c.case_id.as_str()).collect();
    let base = format!(
        "demo-preservation:{}",
        file_request_id(ids.join("\n").as_bytes())
    );
    flow.applied = pres::apply_applications(&doors.bank, applications, &base, false).await?;
    let ours: HashSet<String> = flow
        .applied
        .rows
        .iter()
        .filter_map(|r| r.preservation.as_ref())
        .map(|p| p.preservation_id.clone())
        .collect();

    spinner.set_message("the court approves the applications");
    let applied = ours_in(doors, PreservationStatus::Applied, &ours).await?;
    let selection = pres::Selection::Ids {
        approve: applied.into_iter().map(|p| p.preservation_id).collect(),
        reject: Vec::new(),
        reason: String::new(),
    };
    let rule = RuleOptions {
        judge: DEMO_JUDGE.to_owned(),
        ruling_numbers: Vec::new(),
        first_number: None,
        court_code: options.court_code.clone(),
        request_id: None,
    };
    flow.ruled = pres::rule(gateway, &doors.court_token, &selection, &rule).await?;

    flow.executed = follow::wait_until_none(
        &options.follow(),
        spinner,
        || unexecuted(doors, &ours),
        |left, elapsed| {
            format!(
                "waiting for the freezes and notices: {left} preservations not yet done ({}s)",
                elapsed.as_secs()
            )
        },
    )
    .await?;
    let in_force = ours_in(doors, PreservationStatus::InForce, &ours).await?;
    flow.freezes = freezes(&in_force);
    let in_force_cases: HashMap<String, String> = in_force
        .iter()
        .map(|p| (pres::case_id(p).to_owned(), p.preservation_id.clone()))
        .collect();

    spinner.set_message("the debtors call back");
    flow.callbacks = onward::callbacks(gateway, doors, &in_force_cases, seed, options).await?;
    if flow.callbacks.recorded > 0 {
        let called = called_cases(doors, &ours).await?;
        flow.callbacks.mediation = Some(
            follow::wait_until_none(
                &options.follow(),
                spinner,
                || missing_from(doors, Stage::Mediation, batch_id, &called),
                |left, elapsed| {
                    format!(
                        "waiting for the called-back cases to enter MEDIATION: {left} not yet \
                         ({}s)",
                        elapsed.as_secs()
                    )
                },
            )
            .await?,
        );
    }

    flow.suit = if !reading.manual {
        Suit::NotManual
    } else {
        spinner.set_message("the 30 days to sue pass");
        onward::suit(gateway, doors, &ours, batch_id, options, spinner).await?
    };

    spinner.set_message("counting the batch's cases");
    let mut funnel = Funnel {
        batch_id: batch_id.to_owned(),
        ..Funnel::default()
    };
    follow::visit_cases(&mut doors.bank.clone(), Stage::Unspecified, batch_id, |c| {
        funnel.add(c)
    })
    .await?;
    flow.funnel = funnel;
    Ok(Preserved::Done(Box::new(flow)))
}

/// Opens `accounts`; a simulator that does not answer is a reason to skip, not an error.
async fn open_accounts(
    payment: &mut PaymentSimulatorServiceClient<Channel>,
    accounts: Vec<payment::Account>,
    url: &str,
) -> Result<Option<String>, CliError> {
    for chunk in accounts.chunks(ACCOUNTS_PER_CALL) {
        let answer = payment
            .open_accounts(payment::OpenAccountsRequest {
                accounts: chunk.to_vec(),
            })
            .await;
        match answer {
            Ok(_) => {}
            Err(s) if s.code() == tonic::Code::Unavailable => {
                return Ok(Some(format!(
                    "the payment platforms' simulator does not answer at {url} \
                     (services.preservation.platforms_url; `sieve up` runs it, `sieve serve` \
                     does not)"
                )));
            }
            Err(s) => return Err(CliError::grpc("PaymentSimulatorService.OpenAccounts", s)),
        }
    }
    Ok(None)
}

/// An application for each case: its whole claim, an insurer's policy for as much, valid
/// from a month before `today`.
fn applications(
    cases: &[Case],
    amounts: &[(String, i64)],
    today: chrono::NaiveDate,
) -> Vec<Numbered> {
    let insurer_code = crate::demo::unified_social_credit_code(INSURER_DIVISION, 81_234_567);
    let valid_from = today
        .checked_sub_days(chrono::Days::new(30))
        .unwrap_or(today);
    cases
        .iter()
        .zip(amounts)
        .enumerate()
        .map(|(k, (case, (_, amount)))| Numbered {
            row: k as u64 + 1,
            input: PreservationInput {
                case_id: case.case_id.clone(),
                amount_fen: *amount,
                guarantee: Some(Guarantee {
                    kind: GuaranteeKind::InsurancePolicy as i32,
                    issuer_name: INSURER.to_owned(),
                    issuer_code: insurer_code.clone(),
                    instrument_number: format!("PICC-BQ-{}", case.bank_case_ref),
                    amount_fen: *amount,
                    valid_from: Some(date_pb(valid_from)),
                    valid_until: None,
                    document: None,
                }),
                platforms: Vec::new(),
                callback_phone: String::new(),
            },
        })
        .collect()
}

/// The batch's preservations (`ours`) now in `status`.
async fn ours_in(
    doors: &Doors,
    status: PreservationStatus,
    ours: &HashSet<String>,
) -> Result<Vec<Preservation>, CliError> {
    let all = pres::list(&doors.court, &doors.bank_id, status).await?;
    Ok(all
        .into_iter()
        .filter(|p| ours.contains(&p.preservation_id))
        .collect())
}

/// Preservations in force whose notice is not yet served (the executor serves it once every
/// freeze is answered).
async fn unexecuted(doors: &Doors, ours: &HashSet<String>) -> Result<usize, CliError> {
    let in_force = ours_in(doors, PreservationStatus::InForce, ours).await?;
    Ok(in_force
        .iter()
        .filter(|p| {
            p.notice
                .as_ref()
                .is_none_or(|n| n.status.is_empty() || n.status == "pending")
        })
        .count())
}

pub(crate) fn freezes(in_force: &[Preservation]) -> Freezes {
    let mut f = Freezes::default();
    for p in in_force {
        let case = pres::case_id(p).to_owned();
        let held = pres::total_frozen_fen(p);
        f.in_force += 1;
        f.preserved_fen += p.amount_fen;
        f.frozen_fen += held;
        if held > 0 {
            f.frozen_cases += 1;
        } else {
            f.nothing_frozen += 1;
            f.example_nothing.get_or_insert_with(|| case.clone());
        }
        if held >= p.amount_fen {
            f.fully_frozen += 1;
        }
        if p.freeze_orders.len() > 1 {
            f.second_platform += 1;
            if held > 0 {
                f.example_two_platforms.get_or_insert(case);
            }
        }
        match p.notice.as_ref().map(|n| n.status.as_str()) {
            Some("delivered") => f.notices_delivered += 1,
            Some("failed") => f.notices_failed += 1,
            _ => {}
        }
    }
    f
}

/// The cases of the batch's preservations that were called back about.
async fn called_cases(doors: &Doors, ours: &HashSet<String>) -> Result<HashSet<String>, CliError> {
    let all = ours_in(doors, PreservationStatus::Unspecified, ours).await?;
    Ok(all
        .iter()
        .filter(|p| !p.callbacks.is_empty())
        .map(|p| pres::case_id(p).to_owned())
        .collect())
}

/// How many of `cases` the batch does not have in `stage`.
async fn missing_from(
    doors: &Doors,
    stage: Stage,
    batch_id: &str,
    cases: &HashSet<String>,
) -> Result<usize, CliError> {
    let mut there = 0;
    let mut bank = doors.bank.clone();
    follow::visit_cases(&mut bank, stage, batch_id, |c| {
        there += usize::from(cases.contains(&c.case_id))
    })
    .await?;
    Ok(cases.len().saturating_sub(there))
}

#[cfg(test)]
mod tests;

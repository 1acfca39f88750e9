//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod preservation;

pub use preservation::{
    PreservationApplyArgs, PreservationCommand, PreservationListArgs, PreservationRuleArgs,
    PreservationShowArgs, PreservationStatusArg,
};

#[derive(Debug, Parser)]
#[command(
    name = "sieve",
    version,
    about = "Sieve: run the 1+X suite, submit a bank's batch, follow a case"
)]
pub struct Cli {
    /// Configuration file (default: ./sieve.toml when it exists); SIEVE__SECTION__KEY
    /// variables and DATABASE_URL override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every service in this process, each on its own port, and the simulators of the
    /// payment platforms and the document service, until Ctrl-C.
    Up(UpArgs),
    /// Run one service alone (what a container runs).
    Serve {
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(crate::suite::names()))]
        service: String,
    },
    /// Submit a bank's batch file (CSV or XLSX) through the gateway.
    Submit(SubmitArgs),
    /// Show a case and its timeline.
    Status(StatusArgs),
    /// Generate synthetic cases (and registry rulings for some of their debtors), submit them
    /// through the gateway, wait for the pre-check, apply for the matched cases' certificates,
    /// then take the others through preservation (simulated platforms and debtors) and show
    /// where the cases went.
    Demo(DemoArgs),
    /// The registry of terminated-enforcement rulings (终本) that the pre-check matches.
    Registry {
        #[command(subcommand)]
        command: RegistryCommand,
    },
    /// Pre-check certificates (预查废证明): a bank applies, anyone verifies.
    Certificates {
        #[command(subcommand)]
        command: CertificatesCommand,
    },
    /// Pre-litigation preservation (以保促调): a bank applies with security, the court rules,
    /// the freezes and the notice follow.
    Preservation {
        #[command(subcommand)]
        command: PreservationCommand,
    },
    /// Print a development token for grpcurl and other clients.
    Token(TokenArgs),
    /// The running suite's clock: show it, or move a manual one (`sieve up --manual-clock`)
    /// forward. Needs a court token.
    Clock {
        #[command(subcommand)]
        command: ClockCommand,
    },
    /// The court's holiday calendar: load a year's file (the form of
    /// `calendars/cn-2026.toml`) into every service that counts periods. Needs a court token.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
}

impl Command {
    /// Commands that run services log at the configured level; client commands keep their
    /// output clean and log warnings only (unless RUST_LOG says otherwise).
    pub fn runs_services(&self) -> bool {
        matches!(self, Command::Up(_) | Command::Serve { .. })
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct UpArgs {
    /// Run every service on one manual clock, which stands still until `sieve clock advance`
    /// moves it (demos, end-to-end tests: a 30-day window passes in a moment).
    #[arg(long = "manual-clock")]
    pub manual_clock: bool,
    /// Where the manual clock starts, with its offset [default: now]
    #[arg(
        long,
        value_name = "TIME",
        requires = "manual_clock",
        value_parser = crate::clock::parse_start
    )]
    pub start: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Subcommand)]
pub enum ClockCommand {
    /// The suite's time (Asia/Shanghai) and whether its clock is manual.
    Show(ClockShowArgs),
    /// Move the manual clock forward, e.g. `31d`, `12h`, `90m`, `45s`, `1d12h`.
    Advance(ClockAdvanceArgs),
}

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Load a year's calendar; running deadlines it changes are counted again, each move
    /// written on its case's timeline.
    Load(CalendarLoadArgs),
    /// The calendars in force, as each service that keeps one holds them.
    List(ClockShowArgs),
}

#[derive(Debug, Args)]
pub struct CalendarLoadArgs {
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

#[derive(Debug, Args)]
pub struct ClockShowArgs {
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

#[derive(Debug, Args)]
pub struct ClockAdvanceArgs {
    /// How far: a number and a unit, d (days), h (hours), m (minutes) or s (seconds), several
    /// largest first (1d12h).
    #[arg(value_name = "DURATION", value_parser = crate::clock::parse_duration)]
    pub by: std::time::Duration,
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

/// Where the gateway is and who we are to it.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// The gateway's URL [default: http://127.0.0.1:<services.gateway_port>]
    #[arg(long, value_name = "URL")]
    pub gateway: Option<String>,
    /// Bearer token; without it tokens are minted from the signing key (configured, or the
    /// development key under database.data_dir).
    #[arg(long, env = "SIEVE_TOKEN", hide_env_values = true, value_name = "T")]
    pub token: Option<String>,
}

/// The creditor bank a batch belongs to; registered (idempotently, by code) when tokens are
/// minted locally.
#[derive(Debug, Clone, Args)]
pub struct BankArgs {
    /// The bank's short code.
    #[arg(long = "bank", value_name = "CODE", default_value = "DEV-BANK")]
    pub code: String,
    /// The bank's name, used when the bank is registered [default: the code]
    #[arg(long = "bank-name", value_name = "NAME")]
    pub name: Option<String>,
    /// The phone printed on preservation documents for debtors to call back.
    #[arg(
        long = "callback-phone",
        value_name = "P",
        default_value = "0458-6100000"
    )]
    pub callback_phone: String,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The batch file: .csv (UTF-8) or .xlsx/.xlsm/.xls.
    pub file: PathBuf,
    #[command(flatten)]
    pub bank: BankArgs,
    #[command(flatten)]
    pub gateway: GatewayArgs,
    /// Idempotency key [default: derived from the file's SHA-256, so re-running the same
    /// file replays the first result]
    #[arg(long = "request-id", value_name = "ID")]
    pub request_id: Option<String>,
    /// Cases per stream message.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub chunk: u32,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Import the enforcement system's CSV export of rulings through the gateway (court).
    Import(RegistryImportArgs),
}

#[derive(Debug, Args)]
pub struct RegistryImportArgs {
    /// The export: .csv (UTF-8) with the columns 终本裁定文书号, 法院, 被执行人姓名,
    /// 被执行人身份证号, 执行立案日期, 终本日期, 未履行金额, 状态 (or their English names).
    pub file: PathBuf,
    #[command(flatten)]
    pub gateway: GatewayArgs,
    /// Idempotency key [default: derived from the file's SHA-256, so re-importing the same
    /// file replays the first result]
    #[arg(long = "request-id", value_name = "ID")]
    pub request_id: Option<String>,
    /// Rulings per stream message.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub chunk: u32,
}

#[derive(Debug, Subcommand)]
pub enum CertificatesCommand {
    /// Apply, as a bank, for the certificates of matched (CERTIFIABLE) cases and save each
    /// one's printable page.
    Apply(CertificatesApplyArgs),
    /// Check a certificate page with the court: genuine, unaltered, still standing. Needs no
    /// token.
    Verify(CertificatesVerifyArgs),
}

#[derive(Debug, Args)]
#[group(id = "cases", required = true, multiple = false, args = ["all", "case_ids"])]
pub struct CertificatesApplyArgs {
    /// The applying bank's code (a registered bank).
    #[arg(long = "bank", value_name = "CODE")]
    pub bank: String,
    /// Every case of the bank that is CERTIFIABLE now.
    #[arg(long)]
    pub all: bool,
    /// The cases to apply for.
    #[arg(value_name = "CASE_ID")]
    pub case_ids: Vec<String>,
    /// Where each certificate's page is written.
    #[arg(long, value_name = "DIR", default_value = "certificates")]
    pub out: PathBuf,
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

#[derive(Debug, Args)]
pub struct CertificatesVerifyArgs {
    /// A certificate page as `sieve certificates apply` saved it (.html).
    pub file: PathBuf,
    /// The gateway's URL [default: http://127.0.0.1:<services.gateway_port>]
    #[arg(long, value_name = "URL")]
    pub gateway: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    pub case_id: String,
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many cases to generate (about 3% are flawed on purpose).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub cases: u32,
    /// The same seed gives the same cases.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The demo bank's code.
    #[arg(long = "bank", value_name = "CODE", default_value = "DEMO-BANK")]
    pub bank: String,
    #[command(flatten)]
    pub gateway: GatewayArgs,
    /// Cases per stream message.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub chunk: u32,
    /// Seconds to wait for the pre-check to take the batch's cases, and then again for the
    /// certified cases to close; 0: look once and show what is there.
    #[arg(long = "wait-secs", value_name = "S", default_value_t = 120)]
    pub wait_secs: u64,
    /// Apply for no certificates: the matched cases stay CERTIFIABLE.
    #[arg(long = "no-certify")]
    pub no_certify: bool,
    /// Stop after the pre-check: the other cases stay in PRESERVATION.
    #[arg(long = "no-preserve")]
    pub no_preserve: bool,
    /// The share of served debtors who call the bank back, in percent.
    #[arg(long = "callback-percent", value_name = "P", default_value_t = 33,
          value_parser = clap::value_parser!(u32).range(0..=100))]
    pub callback_percent: u32,
}

// Not an argument group: derive puts every field of a grouped struct in the group, so
// `--gateway` and `--ttl-hours` would exclude `--bank`. Exactly one of court and bank.
#[derive(Debug, Args)]
#[group(skip)]
pub struct TokenArgs {
    /// A court token: every case, every court call.
    #[arg(long, conflicts_with = "bank", required_unless_present = "bank")]
    pub court: bool,
    /// A token for the registered bank with this code (looked up through the gateway).
    #[arg(long, value_name = "CODE")]
    pub bank: Option<String>,
    /// The gateway to look the bank up on [default: http://127.0.0.1:<services.gateway_port>]
    #[arg(long, value_name = "URL")]
    pub gateway: Option<String>,
    /// Hours until the token expires; 0: never.
    #[arg(long = "ttl-hours", default_value_t = 24)]
    pub ttl_hours: u32,
}

#[cfg(test)]
mod tests;

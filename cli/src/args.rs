//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// Run every service in this process, each on its own port, until Ctrl-C.
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
    /// through the gateway, wait for the pre-check, apply for the matched cases' certificates
    /// and show where the cases went.
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
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("sieve").chain(args.iter().copied()))
    }

    #[test]
    fn submit_defaults_and_options() {
        let cli = parse(&["submit", "batch.csv"]).expect("parses");
        let Command::Submit(a) = cli.command else {
            panic!("not submit")
        };
        assert_eq!(a.file, PathBuf::from("batch.csv"));
        assert_eq!(a.chunk, 1000);
        assert_eq!(a.bank.code, "DEV-BANK");
        assert!(a.request_id.is_none());

        let cli = parse(&[
            "--config",
            "x.toml",
            "submit",
            "b.xlsx",
            "--bank",
            "ICBC-YC",
            "--bank-name",
            "工商银行伊春分行",
            "--callback-phone",
            "0458-3600000",
            "--gateway",
            "http://10.0.0.1:50050",
            "--token",
            "t",
            "--request-id",
            "r1",
            "--chunk",
            "500",
        ])
        .expect("parses");
        assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
        let Command::Submit(a) = cli.command else {
            panic!("not submit")
        };
        assert_eq!(a.bank.code, "ICBC-YC");
        assert_eq!(a.bank.name.as_deref(), Some("工商银行伊春分行"));
        assert_eq!(a.gateway.token.as_deref(), Some("t"));
        assert_eq!(a.request_id.as_deref(), Some("r1"));
        assert_eq!(a.chunk, 500);
        assert!(parse(&["submit", "b.csv", "--chunk", "0"]).is_err());
    }

    #[test]
    fn serve_names_one_service() {
        let cli = parse(&["serve", "intake"]).expect("parses");
        assert!(matches!(
            cli.command,
            Command::Serve { ref service } if service == "intake"
        ));
        let cli = parse(&["serve", "bad-debt-check"]).expect("parses");
        assert!(matches!(
            cli.command,
            Command::Serve { ref service } if service == "bad-debt-check"
        ));
        assert!(cli.command.runs_services());
        assert!(parse(&["serve", "nothing"]).is_err());
        assert!(parse(&["serve"]).is_err());
    }

    #[test]
    fn registry_and_certificates_commands() {
        let cli = parse(&["registry", "import", "rulings.csv", "--chunk", "10"]).expect("parses");
        let Command::Registry {
            command: RegistryCommand::Import(a),
        } = cli.command
        else {
            panic!("not registry import")
        };
        assert_eq!((a.file, a.chunk), (PathBuf::from("rulings.csv"), 10));
        assert!(parse(&["registry", "import"]).is_err());

        let cli = parse(&["certificates", "apply", "--bank", "JY-RCB", "--all"]).expect("parses");
        let Command::Certificates {
            command: CertificatesCommand::Apply(a),
        } = cli.command
        else {
            panic!("not certificates apply")
        };
        assert!(a.all && a.case_ids.is_empty());
        assert_eq!(a.out, PathBuf::from("certificates"));
        let cli = parse(&[
            "certificates",
            "apply",
            "--bank",
            "JY-RCB",
            "c1",
            "c2",
            "--out",
            "/tmp/x",
        ])
        .expect("parses");
        let Command::Certificates {
            command: CertificatesCommand::Apply(a),
        } = cli.command
        else {
            panic!("not certificates apply")
        };
        assert_eq!(a.case_ids, ["c1", "c2"]);
        assert_eq!(a.out, PathBuf::from("/tmp/x"));
        // Exactly one of --all and case ids; a bank.
        assert!(parse(&["certificates", "apply", "--bank", "B"]).is_err());
        assert!(parse(&["certificates", "apply", "--bank", "B", "--all", "c1"]).is_err());
        assert!(parse(&["certificates", "apply", "--all"]).is_err());

        let cli = parse(&["certificates", "verify", "c.html"]).expect("parses");
        assert!(matches!(
            cli.command,
            Command::Certificates {
                command: CertificatesCommand::Verify(_)
            }
        ));
        assert!(!cli.command.runs_services());
    }

    #[test]
    fn token_needs_exactly_one_kind() {
        assert!(parse(&["token"]).is_err());
        assert!(parse(&["token", "--court", "--bank", "X"]).is_err());
        let cli = parse(&["token", "--bank", "ICBC-YC"]).expect("parses");
        let Command::Token(t) = cli.command else {
            panic!("not token")
        };
        assert_eq!(t.bank.as_deref(), Some("ICBC-YC"));
        assert!(!t.court);
        assert_eq!(t.ttl_hours, 24);
        // The bank looked up on a named gateway, with its own expiry.
        let cli = parse(&[
            "token",
            "--bank",
            "ICBC-YC",
            "--gateway",
            "http://10.0.0.5:50050",
            "--ttl-hours",
            "2",
        ])
        .expect("parses");
        let Command::Token(t) = cli.command else {
            panic!("not token")
        };
        assert_eq!(
            (t.bank.as_deref(), t.gateway.as_deref(), t.ttl_hours),
            (Some("ICBC-YC"), Some("http://10.0.0.5:50050"), 2)
        );
        assert!(parse(&["token", "--court", "--ttl-hours", "1"]).is_ok());
        assert!(parse(&["token", "--gateway", "http://10.0.0.5:50050"]).is_err());
    }

    #[test]
    fn demo_needs_a_case_count() {
        assert!(parse(&["demo"]).is_err());
        assert!(parse(&["demo", "--cases", "0"]).is_err());
        let cli = parse(&["demo", "--cases", "1000", "--seed", "7"]).expect("parses");
        let Command::Demo(d) = cli.command else {
            panic!("not demo")
        };
        assert_eq!((d.cases, d.seed, d.bank.as_str()), (1000, 7, "DEMO-BANK"));
        assert_eq!((d.wait_secs, d.no_certify), (120, false));
        assert!(!cli_is_server(&["demo", "--cases", "1"]));
        let cli =
            parse(&["demo", "--cases", "10", "--wait-secs", "5", "--no-certify"]).expect("parses");
        let Command::Demo(d) = cli.command else {
            panic!("not demo")
        };
        assert_eq!((d.wait_secs, d.no_certify), (5, true));
        assert!(parse(&["demo", "--cases", "10", "--wait-secs", "-1"]).is_err());
    }

    #[test]
    fn up_takes_a_manual_clock_and_its_start() {
        let cli = parse(&["up"]).expect("parses");
        let Command::Up(a) = cli.command else {
            panic!("not up")
        };
        assert!(!a.manual_clock && a.start.is_none());
        let cli = parse(&[
            "up",
            "--manual-clock",
            "--start",
            "2026-09-07T09:00:00+08:00",
        ])
        .expect("parses");
        assert!(cli.command.runs_services());
        let Command::Up(a) = cli.command else {
            panic!("not up")
        };
        assert!(a.manual_clock);
        assert_eq!(
            a.start.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-09-07T01:00:00+00:00")
        );
        assert!(
            parse(&["up", "--start", "2026-09-07T09:00:00+08:00"]).is_err(),
            "only manual"
        );
        assert!(parse(&["up", "--manual-clock", "--start", "2026-09-07"]).is_err());
    }

    #[test]
    fn calendar_load_takes_a_file() {
        let cli = parse(&["calendar", "load", "cn-2027.toml", "--token", "t"]).expect("parses");
        assert!(!cli.command.runs_services());
        let Command::Calendar {
            command: CalendarCommand::Load(a),
        } = cli.command
        else {
            panic!("not calendar load")
        };
        assert_eq!(a.file, std::path::Path::new("cn-2027.toml"));
        assert_eq!(a.gateway.token.as_deref(), Some("t"));
        assert!(
            parse(&["calendar", "load"]).is_err(),
            "the file is required"
        );
    }

    #[test]
    fn clock_shows_and_advances_by_a_duration() {
        let cli = parse(&["clock", "show", "--token", "t"]).expect("parses");
        assert!(!cli.command.runs_services());
        let Command::Clock {
            command: ClockCommand::Show(a),
        } = cli.command
        else {
            panic!("not clock show")
        };
        assert_eq!(a.gateway.token.as_deref(), Some("t"));
        let cli = parse(&["clock", "advance", "1d12h"]).expect("parses");
        let Command::Clock {
            command: ClockCommand::Advance(a),
        } = cli.command
        else {
            panic!("not clock advance")
        };
        assert_eq!(a.by.as_secs(), 36 * 3600);
        let err = parse(&["clock", "advance", "31x"]).expect_err("no such unit");
        assert!(err.to_string().contains("unknown unit"), "{err}");
        assert!(parse(&["clock", "advance"]).is_err());
        assert!(parse(&["clock", "advance", "0s"]).is_err());
    }

    fn cli_is_server(args: &[&str]) -> bool {
        parse(args).expect("parses").command.runs_services()
    }
}

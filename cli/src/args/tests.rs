#![cfg(test)]
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
    assert_eq!((d.no_preserve, d.callback_percent), (false, 33));
    assert!(parse(&["demo", "--cases", "10", "--wait-secs", "-1"]).is_err());
    let cli = parse(&[
        "demo",
        "--cases",
        "10",
        "--no-preserve",
        "--callback-percent",
        "50",
    ])
    .expect("parses");
    let Command::Demo(d) = cli.command else {
        panic!("not demo")
    };
    assert_eq!((d.no_preserve, d.callback_percent), (true, 50));
    assert!(parse(&["demo", "--cases", "10", "--callback-percent", "101"]).is_err());
}

fn preservation(args: &[&str]) -> Result<PreservationCommand, clap::Error> {
    let all: Vec<&str> = std::iter::once("preservation")
        .chain(args.iter().copied())
        .collect();
    match parse(&all)?.command {
        Command::Preservation { command } => Ok(command),
        other => panic!("not preservation: {other:?}"),
    }
}

#[test]
fn preservation_apply_takes_a_file_a_bank_and_a_request_id_base() {
    let PreservationCommand::Apply(a) = preservation(&["apply", "a.csv"]).expect("parses") else {
        panic!("not apply")
    };
    assert_eq!(
        (a.file, a.bank.as_str(), a.request_id),
        (PathBuf::from("a.csv"), "DEV-BANK", None)
    );
    let PreservationCommand::Apply(a) =
        preservation(&["apply", "a.csv", "--bank", "JYRCB", "--request-id", "r"]).expect("parses")
    else {
        panic!("not apply")
    };
    assert_eq!(
        (a.bank.as_str(), a.request_id.as_deref()),
        ("JYRCB", Some("r"))
    );
    assert!(preservation(&["apply"]).is_err());
}

#[test]
fn preservation_rule_takes_ids_or_all_applied_and_a_judge() {
    let PreservationCommand::Rule(a) = preservation(&[
        "rule",
        "--approve",
        "p1",
        "p2",
        "--reject",
        "p3",
        "--reason",
        "担保不足",
        "--judge",
        "李法官",
    ])
    .expect("parses") else {
        panic!("not rule")
    };
    assert_eq!(
        (a.approve, a.reject),
        (
            vec!["p1".to_owned(), "p2".to_owned()],
            vec!["p3".to_owned()]
        )
    );
    assert_eq!(
        (a.reason.as_deref(), a.judge.as_str()),
        (Some("担保不足"), "李法官")
    );
    assert!(!a.all_applied);
    let PreservationCommand::Rule(a) = preservation(&[
        "rule",
        "--all-applied",
        "--judge",
        "J",
        "--first-number",
        "40",
    ])
    .expect("parses") else {
        panic!("not rule")
    };
    assert!(a.all_applied && a.approve.is_empty());
    assert_eq!(a.first_number, Some(40));
    let PreservationCommand::Rule(a) = preservation(&[
        "rule",
        "--approve",
        "p1",
        "--ruling-number",
        "(2026)黑0722财保9号",
        "--judge",
        "J",
    ])
    .expect("parses") else {
        panic!("not rule")
    };
    assert_eq!(a.ruling_numbers, ["(2026)黑0722财保9号"]);
    // A judge; something to rule on; a reason for a rejection; not both ways.
    assert!(preservation(&["rule", "--approve", "p1"]).is_err());
    assert!(preservation(&["rule", "--judge", "J"]).is_err());
    assert!(preservation(&["rule", "--reject", "p1", "--judge", "J"]).is_err());
    assert!(preservation(&["rule", "--all-applied", "--approve", "p1", "--judge", "J"]).is_err());
    assert!(
        preservation(&[
            "rule",
            "--all-applied",
            "--ruling-number",
            "x",
            "--judge",
            "J"
        ])
        .is_err()
    );
}

#[test]
fn preservation_list_and_show() {
    let PreservationCommand::List(a) =
        preservation(&["list", "--status", "in_force"]).expect("parses")
    else {
        panic!("not list")
    };
    assert_eq!(a.status, Some(PreservationStatusArg::InForce));
    for word in ["applied", "rejected", "in-force", "lifted"] {
        assert!(preservation(&["list", "--status", word]).is_ok(), "{word}");
    }
    assert!(preservation(&["list", "--status", "frozen"]).is_err());
    let PreservationCommand::List(a) = preservation(&["list"]).expect("parses") else {
        panic!("not list")
    };
    assert_eq!((a.status, a.bank), (None, None));
    let PreservationCommand::Show(a) = preservation(&["show", "p1"]).expect("parses") else {
        panic!("not show")
    };
    assert_eq!((a.id.as_deref(), a.case), (Some("p1"), None));
    let PreservationCommand::Show(a) = preservation(&["show", "--case", "c1"]).expect("parses")
    else {
        panic!("not show")
    };
    assert_eq!((a.id, a.case.as_deref()), (None, Some("c1")));
    assert!(preservation(&["show"]).is_err());
    assert!(preservation(&["show", "p1", "--case", "c1"]).is_err());
    assert!(!cli_is_server(&["preservation", "list"]));
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

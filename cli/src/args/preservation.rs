//! `sieve preservation …`, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::GatewayArgs;

#[derive(Debug, Subcommand)]
pub enum PreservationCommand {
    /// Apply, as a bank, for preservation of cases in PRESERVATION: a CSV of applications
    /// (case_id, amount, guarantee_kind, issuer_name, issuer_code, instrument_number,
    /// guarantee_amount, valid_from, and optionally valid_until, platforms, callback_phone;
    /// or their Chinese headings), in calls of 1,000.
    Apply(PreservationApplyArgs),
    /// Approve or reject applications, as the court (within 48 hours, CPL 104 para 2).
    Rule(PreservationRuleArgs),
    /// The court's list of preservations: overdue rulings first.
    List(PreservationListArgs),
    /// One preservation: its freezes, deadlines, notice and callbacks.
    Show(PreservationShowArgs),
}

#[derive(Debug, Args)]
pub struct PreservationApplyArgs {
    /// The applications: .csv (UTF-8).
    pub file: PathBuf,
    /// The applying bank's code (a registered bank).
    #[arg(long = "bank", value_name = "CODE", default_value = "DEV-BANK")]
    pub bank: String,
    /// The calls' request ids are BASE-1, BASE-2, … [default: derived from the file's
    /// SHA-256, so running the same file again replays the first answers]
    #[arg(long = "request-id", value_name = "BASE")]
    pub request_id: Option<String>,
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

#[derive(Debug, Args)]
#[group(id = "decisions", required = true, multiple = true, args = ["approve", "reject", "all_applied"])]
pub struct PreservationRuleArgs {
    /// Approve these preservations.
    #[arg(long, value_name = "ID", num_args = 1.., conflicts_with = "all_applied")]
    pub approve: Vec<String>,
    /// Reject these preservations, for --reason.
    #[arg(long, value_name = "ID", num_args = 1.., requires = "reason", conflicts_with = "all_applied")]
    pub reject: Vec<String>,
    /// Why the rejected applications are rejected.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Approve every application awaiting a ruling (APPLIED), overdue ones first.
    #[arg(long = "all-applied")]
    pub all_applied: bool,
    /// The judge who signs the rulings.
    #[arg(long, value_name = "NAME")]
    pub judge: String,
    /// The approvals' ruling numbers, one for each --approve in order [default: made as
    /// (YEAR)<court code>财保<n>号, after the highest of the year]
    #[arg(
        long = "ruling-number",
        value_name = "NUMBER",
        num_args = 1..,
        requires = "approve",
        conflicts_with = "all_applied"
    )]
    pub ruling_numbers: Vec<String>,
    /// The first <n> of the made ruling numbers.
    #[arg(
        long = "first-number",
        value_name = "N",
        conflicts_with = "ruling_numbers"
    )]
    pub first_number: Option<u64>,
    /// The calls' request ids are BASE-1, BASE-2, … [default: derived from the rulings]
    #[arg(long = "request-id", value_name = "BASE")]
    pub request_id: Option<String>,
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PreservationStatusArg {
    /// Awaiting the court's ruling.
    Applied,
    Rejected,
    /// Approved: freezes in force.
    #[value(name = "in_force", alias = "in-force")]
    InForce,
    /// Every freeze lifted or lapsed.
    Lifted,
}

#[derive(Debug, Args)]
pub struct PreservationListArgs {
    /// Only those in this status [default: every status]
    #[arg(long, value_enum)]
    pub status: Option<PreservationStatusArg>,
    /// Only this bank's (by code) [default: every bank]
    #[arg(long = "bank", value_name = "CODE")]
    pub bank: Option<String>,
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

#[derive(Debug, Args)]
#[group(id = "which", required = true, multiple = false, args = ["id", "case"])]
pub struct PreservationShowArgs {
    /// The preservation's id.
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// The latest preservation of this case instead.
    #[arg(long = "case", value_name = "CASE")]
    pub case: Option<String>,
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

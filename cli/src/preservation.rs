//! `sieve preservation apply|rule|list|show`: pre-litigation preservation (以保促调) through
//! the gateway. A bank applies for its cases in PRESERVATION, each with security; the court
//! approves or rejects (within 48 hours, CPL 104 para 2); approval freezes at the payment
//! platforms and serves the notice on the debtor.
//!
//! The applications file is a UTF-8 CSV (optional BOM) with a header row naming its columns
//! in Chinese or English snake_case (the two may be mixed): 案件编号 `case_id`, 保全金额
//! `amount` (yuan, exact to the fen), 担保方式 `guarantee_kind` (`insurance_policy` 保险保单 or
//! `bank_guarantee` 银行保函), 担保机构 `issuer_name`, 担保机构统一社会信用代码 `issuer_code`,
//! 保单或保函编号 `instrument_number`, 担保金额 `guarantee_amount` (yuan), 担保生效日期
//! `valid_from` (YYYY-MM-DD) and, optionally, 担保失效日期 `valid_until`, 冻结平台 `platforms`
//! (`alipay;wechat_pay`, in the order to freeze; empty: every platform) and 回访电话
//! `callback_phone` (empty: the bank's own). As for batches, the court judges the
//! applications, with a rule per field; the reader reports only the cells it cannot represent
//! (an amount that is not exact yuan, a date that is not YYYY-MM-DD, an unknown kind or
//! platform), and such rows are not sent. Rows are numbered as in batch files.

mod apply;
mod file;
mod render;
mod rule;

use sieve_kernel::Settings;
use sieve_proto::common::v1::PageRequest;
use sieve_proto::gateway::v1::{
    CourtApiServiceGetPreservationRequest, CourtApiServiceListPreservationsRequest,
};
use sieve_proto::preservation::v1::{
    self as pb, GetPreservationRequest, ListPreservationsRequest, Preservation, PreservationStatus,
    get_preservation_request::Key,
};

pub use apply::{
    AppliedRow, ApplyOptions, ApplyOutcome, ApplyReport, Numbered, apply_applications, apply_file,
    render_apply, render_outcome,
};
pub use file::{ApplicationRow, ApplicationsFile, read_applications, read_applications_csv};
pub use render::{
    lift_reason, platform, render_list, render_preservation, status_word, total_frozen_fen,
};
pub use rule::{
    Decision, RuleOptions, RuleReport, RuledRow, Selection, render_rule, rule, ruling_number,
    ruling_sequence,
};

use crate::args::{PreservationCommand, PreservationStatusArg};
use crate::client::{CourtClient, Credentials, Gateway, list_banks};
use crate::error::CliError;

/// Applications or rulings per call (the preservation service's limit).
pub const MAX_PER_CALL: usize = 1_000;
/// Preservations per page: each carries its notice's page, so not the 1,000 the service
/// allows.
const PAGE_SIZE: i32 = 200;

/// Runs one `sieve preservation` command, printing its report.
pub async fn run(command: PreservationCommand, settings: &Settings) -> Result<(), CliError> {
    let connect =
        |url: Option<&str>| Gateway::connect(&Gateway::default_url(url, settings), settings);
    match command {
        PreservationCommand::Apply(a) => {
            let gateway = connect(a.gateway.gateway.as_deref())?;
            let credentials = Credentials::load(settings, a.gateway.token)?;
            let options = ApplyOptions {
                bank_code: a.bank,
                request_id: a.request_id,
                progress: true,
            };
            let report = apply_file(&gateway, &credentials, &a.file, &options).await?;
            print!("{}", render_apply(&report));
        }
        PreservationCommand::Rule(a) => {
            let gateway = connect(a.gateway.gateway.as_deref())?;
            let token = Credentials::load(settings, a.gateway.token)?.court_token()?;
            let selection = if a.all_applied {
                Selection::AllApplied
            } else {
                Selection::Ids {
                    approve: a.approve,
                    reject: a.reject,
                    reason: a.reason.unwrap_or_default(),
                }
            };
            let options = RuleOptions {
                judge: a.judge,
                ruling_numbers: a.ruling_numbers,
                first_number: a.first_number,
                court_code: settings.court.code.clone(),
                request_id: a.request_id,
            };
            let report = rule(&gateway, &token, &selection, &options).await?;
            print!("{}", render_rule(&report));
        }
        PreservationCommand::List(a) => {
            let gateway = connect(a.gateway.gateway.as_deref())?;
            let token = Credentials::load(settings, a.gateway.token)?.court_token()?;
            let bank_id = match &a.bank {
                None => String::new(),
                Some(code) => bank_id_of(&gateway, &token, code).await?,
            };
            let status = a.status.map_or(PreservationStatus::Unspecified, status_of);
            let found = list(&gateway.court(&token)?, &bank_id, status).await?;
            print!("{}", render_list(&found));
        }
        PreservationCommand::Show(a) => {
            let gateway = connect(a.gateway.gateway.as_deref())?;
            let token = Credentials::load(settings, a.gateway.token)?.court_token()?;
            let key = match (a.id, a.case) {
                (_, Some(case)) => Key::CaseId(case.trim().to_owned()),
                (Some(id), None) => Key::PreservationId(id.trim().to_owned()),
                (None, None) => {
                    return Err(CliError::Usage(
                        "name a preservation, or a case with --case".into(),
                    ));
                }
            };
            let found = get(&gateway.court(&token)?, key).await?;
            print!("{}", render_preservation(&found));
        }
    }
    Ok(())
}

pub fn status_of(arg: PreservationStatusArg) -> PreservationStatus {
    match arg {
        PreservationStatusArg::Applied => PreservationStatus::Applied,
        PreservationStatusArg::Rejected => PreservationStatus::Rejected,
        PreservationStatusArg::InForce => PreservationStatus::InForce,
        PreservationStatusArg::Lifted => PreservationStatus::Lifted,
    }
}

pub(crate) async fn bank_id_of(
    gateway: &Gateway,
    court_token: &str,
    code: &str,
) -> Result<String, CliError> {
    list_banks(gateway, court_token)
        .await?
        .into_iter()
        .find(|b| b.code == code)
        .map(|b| b.bank_id)
        .ok_or_else(|| CliError::Usage(format!("no bank with code {code} is registered")))
}

/// Every preservation in `status` (UNSPECIFIED: any) of `bank_id` (empty: every bank), in
/// the court's order: overdue rulings first, then as applied.
pub async fn list(
    court: &CourtClient,
    bank_id: &str,
    status: PreservationStatus,
) -> Result<Vec<Preservation>, CliError> {
    crate::paging::all_pages(|page_token| {
        let court = court.clone();
        let request = CourtApiServiceListPreservationsRequest {
            request: Some(ListPreservationsRequest {
                bank_id: bank_id.to_owned(),
                status: status as i32,
                page: Some(PageRequest {
                    page_size: PAGE_SIZE,
                    page_token,
                }),
            }),
        };
        async move {
            let page = crate::client::patiently(&court, &request, |mut court, r| async move {
                court.list_preservations(r).await
            })
            .await
            .map_err(|s| CliError::grpc("CourtApiService.ListPreservations", s))?
            .into_inner()
            .response
            .unwrap_or_default();
            Ok((page.preservations, page.next_page_token))
        }
    })
    .await
}

/// One preservation by its id, its case (the latest) or a freeze order's id.
pub async fn get(court: &CourtClient, key: Key) -> Result<Preservation, CliError> {
    court
        .clone()
        .get_preservation(CourtApiServiceGetPreservationRequest {
            request: Some(GetPreservationRequest { key: Some(key) }),
        })
        .await
        .map_err(|s| CliError::grpc("CourtApiService.GetPreservation", s))?
        .into_inner()
        .response
        .and_then(|r| r.preservation)
        .ok_or_else(|| CliError::Protocol("GetPreservation answered without it".into()))
}

/// When some calls were answered from earlier ones under the same request ids, says so:
/// `before` says what was sent ("these rulings were sent").
fn render_replayed(out: &mut String, replayed: usize, calls: usize, before: &str) {
    if replayed > 0 {
        crate::submit::render_heading(
            out,
            &format!("{replayed} of {calls} calls replayed"),
            Some(before),
        );
    }
}

/// The case a preservation is for.
pub fn case_id(p: &pb::Preservation) -> &str {
    p.case_summary
        .as_ref()
        .and_then(|s| s.case_ref.as_ref())
        .map_or("", |r| r.case_id.as_str())
}

#[cfg(test)]
mod tests;

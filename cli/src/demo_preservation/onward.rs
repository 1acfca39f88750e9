//! After the freezes: the debtors' calls to the bank (each recorded through the bank's
//! door, which takes the case to MEDIATION) and, on a manual clock, the 30 days to sue
//! passing (CPL 104 para 3).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use indicatif::ProgressBar;
use sieve_proto::common::v1::Stage;
use sieve_proto::gateway::v1::BankApiServiceRecordCallbackRequest;
use sieve_proto::preservation::v1::{LiftReason, PreservationStatus, RecordCallbackRequest};
use sieve_proto::sim::delivery::v1 as delivery;

use super::{
    CALLS_AT_ONCE, Callbacks, Doors, NOTICE_KIND, PreserveOptions, Suit, called_cases,
    missing_from, ours_in,
};
use crate::client::Gateway;
use crate::error::CliError;
use crate::follow;
use crate::preservation as pres;

/// Sets the debtors' behaviour, makes the calls' time come (manual clock), records each
/// call through the bank's door.
pub(super) async fn callbacks(
    gateway: &Gateway,
    doors: &Doors,
    in_force_cases: &HashMap<String, String>,
    seed: u64,
    options: &PreserveOptions,
) -> Result<Callbacks, CliError> {
    let mut c = Callbacks {
        share_percent: options.callback_percent,
        ..Callbacks::default()
    };
    let mut sim = doors.delivery.clone();
    sim.set_debtor_behaviour(delivery::SetDebtorBehaviourRequest {
        callback_share_percent: options.callback_percent,
        seed,
    })
    .await
    .map_err(|s| CliError::grpc("DeliverySimulatorService.SetDebtorBehaviour", s))?;
    let calls: Vec<delivery::Callback> = sim
        .list_callbacks(delivery::ListCallbacksRequest {
            document_kind: NOTICE_KIND.to_owned(),
        })
        .await
        .map_err(|s| CliError::grpc("DeliverySimulatorService.ListCallbacks", s))?
        .into_inner()
        .callbacks
        .into_iter()
        .filter(|cb| in_force_cases.contains_key(&cb.case_reference))
        .collect();
    c.calling = calls.len();
    let seconds = |cb: &delivery::Callback| cb.called_at.as_ref().map_or(0, |t| t.seconds);
    let mut now = crate::clock::show(gateway, &doors.court_token).await?;
    let latest = calls.iter().map(seconds).max().unwrap_or(0);
    if now.manual && latest > now.now.seconds {
        // Whole minutes, so the last call is behind the clock.
        let by = Duration::from_secs((latest - now.now.seconds).unsigned_abs().div_ceil(60) * 60);
        now = crate::clock::advance(gateway, &doors.court_token, by).await?;
        c.clock_moved = Some(by);
    }
    let (due, later): (Vec<_>, Vec<_>) = calls
        .into_iter()
        .partition(|cb| seconds(cb) <= now.now.seconds);
    c.not_yet = later.len();
    let bank = &doors.bank;
    let answers: Vec<Result<(String, bool), CliError>> = futures::stream::iter(due)
        .map(|cb| {
            let preservation_id = in_force_cases
                .get(&cb.case_reference)
                .cloned()
                .unwrap_or_default();
            let request = BankApiServiceRecordCallbackRequest {
                request: Some(RecordCallbackRequest {
                    request_id: format!("demo-callback:{}", cb.delivery_id),
                    preservation_id,
                    called_at: cb.called_at,
                    caller_phone: cb.caller_phone.clone(),
                    note: "演示：债务人拨打回访电话 / demo: the debtor called back".to_owned(),
                }),
            };
            async move {
                let answer = crate::client::patiently(bank, &request, |mut bank, r| async move {
                    bank.record_callback(r).await
                })
                .await;
                match answer {
                    Ok(_) => Ok((cb.case_reference, true)),
                    Err(s) if s.code() == tonic::Code::FailedPrecondition => {
                        Ok((cb.case_reference, false))
                    }
                    Err(s) => Err(CliError::grpc("BankApiService.RecordCallback", s)),
                }
            }
        })
        .buffer_unordered(CALLS_AT_ONCE)
        .collect()
        .await;
    for answer in answers {
        let (case, recorded) = answer?;
        if recorded {
            c.recorded += 1;
            if c.example.as_ref().is_none_or(|e| case < *e) {
                c.example = Some(case);
            }
        } else {
            c.refused += 1;
        }
    }
    Ok(c)
}

/// Moves the manual clock past the last day to sue of the batch's preservations in force,
/// then waits for their freezes to be lifted and the cases nobody called back about to
/// reach LITIGATION.
pub(super) async fn suit(
    gateway: &Gateway,
    doors: &Doors,
    ours: &HashSet<String>,
    batch_id: &str,
    options: &PreserveOptions,
    spinner: &ProgressBar,
) -> Result<Suit, CliError> {
    let in_force = ours_in(doors, PreservationStatus::InForce, ours).await?;
    if in_force.is_empty() {
        return Ok(Suit::NothingInForce);
    }
    let now = crate::clock::show(gateway, &doors.court_token).await?;
    let last = in_force
        .iter()
        .filter_map(|p| p.suit_due.as_ref()?.due_at.as_ref().map(|t| t.seconds))
        .max()
        .unwrap_or(now.now.seconds);
    // A minute past the end of the last day (24:00 Asia/Shanghai), whole minutes.
    let by = Duration::from_secs(((last - now.now.seconds).max(0).unsigned_abs() / 60 + 1) * 60);
    let moved = crate::clock::advance(gateway, &doors.court_token, by).await?;
    let waiting: HashSet<String> = in_force.iter().map(|p| p.preservation_id.clone()).collect();
    let called = called_cases(doors, ours).await?;
    let uncalled: HashSet<String> = in_force
        .iter()
        .map(|p| pres::case_id(p).to_owned())
        .filter(|case| !called.contains(case))
        .collect();
    // The case to look at: one that held funds, so its lift shows.
    let example = in_force
        .iter()
        .filter(|p| uncalled.contains(pres::case_id(p)))
        .max_by_key(|p| {
            (
                pres::total_frozen_fen(p) > 0,
                std::cmp::Reverse(pres::case_id(p)),
            )
        })
        .map(|p| pres::case_id(p).to_owned());
    let waited = follow::wait_until_none(
        &options.follow(),
        spinner,
        || {
            let (waiting, uncalled) = (&waiting, &uncalled);
            async move {
                let open = ours_in(doors, PreservationStatus::InForce, waiting).await?;
                Ok(open.len() + missing_from(doors, Stage::Litigation, batch_id, uncalled).await?)
            }
        },
        |left, elapsed| {
            format!(
                "waiting for the freezes to be lifted and the cases to go to suit: {left} not \
                 yet ({}s)",
                elapsed.as_secs()
            )
        },
    )
    .await?;
    let lifted = ours_in(doors, PreservationStatus::Lifted, &waiting)
        .await?
        .iter()
        .filter(|p| p.lift_reason == LiftReason::NoSuitInTime as i32)
        .count();
    let litigation =
        uncalled.len() - missing_from(doors, Stage::Litigation, batch_id, &uncalled).await?;
    Ok(Suit::Advanced {
        by,
        now: moved.now,
        waited,
        lifted,
        litigation,
        example,
    })
}

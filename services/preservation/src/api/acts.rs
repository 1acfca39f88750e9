//! What happens to a preservation once it stands: the debtor's callback, the applicant's
//! suit, a lift (asked, ordered, or the case closed at intake), a freeze's renewal.

use sieve_kernel::calendar;
use sieve_kernel::rules::dates;

use super::*;

fn not_in_force(p: &store::preservation::Model) -> Error {
    let status = convert::status_pb(p.status).as_str_name();
    Error::precondition(
        reason::PRESERVATION_NOT_IN_FORCE,
        format!("preservation {} is {status}, not in force", p.id),
    )
    .with_meta("status", status)
}

/// A date field that must be given.
fn required_date(field: &'static str, d: Option<&common::Date>) -> Result<chrono::NaiveDate> {
    match d {
        None => Err(Error::invalid_field(field, "required")),
        Some(_) => {
            dates::date_from_pb(d).ok_or_else(|| Error::invalid_field(field, "not a calendar date"))
        }
    }
}

impl PreservationApi {
    pub(super) async fn callback(
        &self,
        mut r: pb::RecordCallbackRequest,
    ) -> Result<pb::RecordCallbackResponse> {
        sieve_kernel::wire::require_id("request_id", &r.request_id)?;
        let p = self.preservation(&r.preservation_id).await?;
        let request_id = std::mem::take(&mut r.request_id);
        let call = Call::new("RecordCallback", &p.bank_id, &request_id, &r);
        let now_ms = self.now_ms();
        let called_at_ms = r
            .called_at
            .as_ref()
            .map_or(now_ms, sieve_kernel::wire::millis);
        if called_at_ms > now_ms {
            return Err(Error::invalid_field("called_at", "in the future"));
        }
        let txn = sieve_kernel::db::begin_write(&self.inner.db).await?;
        if let Some(kept) = call.recall::<pb::RecordCallbackResponse, _>(&txn).await? {
            return Ok(kept);
        }
        let p = store::get_for_update(&txn, &p.id)
            .await?
            .ok_or_else(|| Error::not_found("preservation", &p.id))?;
        if p.status != store::preservation::Status::InForce {
            return Err(not_in_force(&p));
        }
        store::callback(
            &txn,
            &p,
            called_at_ms,
            r.caller_phone.trim(),
            r.note.trim(),
            now_ms,
        )
        .await?;
        let record = store::record(&txn, p).await?;
        let answer = pb::RecordCallbackResponse {
            preservation: Some(convert::preservation_pb(&record)),
        };
        call.remember(&txn, &answer, now_ms).await?;
        txn.commit().await?;
        self.wake();
        Ok(answer)
    }

    pub(super) async fn suit_filed(
        &self,
        mut r: pb::RecordSuitFiledRequest,
    ) -> Result<pb::RecordSuitFiledResponse> {
        sieve_kernel::wire::require_id("request_id", &r.request_id)?;
        sieve_kernel::wire::require_id("litigation_id", &r.litigation_id)?;
        let filed_on = required_date("filed_on", r.filed_on.as_ref())?;
        let p = self.preservation(&r.preservation_id).await?;
        let request_id = std::mem::take(&mut r.request_id);
        let call = Call::new("RecordSuitFiled", &p.bank_id, &request_id, &r);
        let now_ms = self.now_ms();
        let txn = sieve_kernel::db::begin_write(&self.inner.db).await?;
        if let Some(kept) = call.recall::<pb::RecordSuitFiledResponse, _>(&txn).await? {
            return Ok(kept);
        }
        let mut p = store::get_for_update(&txn, &p.id)
            .await?
            .ok_or_else(|| Error::not_found("preservation", &p.id))?;
        if !matches!(
            p.status,
            store::preservation::Status::InForce | store::preservation::Status::Lifted
        ) || p.measure_taken_at_ms.is_none()
        {
            return Err(not_in_force(&p));
        }
        let in_time =
            store::suit_filed(&txn, &mut p, r.litigation_id.trim(), filed_on, now_ms).await?;
        let record = store::record(&txn, p).await?;
        let answer = pb::RecordSuitFiledResponse {
            preservation: Some(convert::preservation_pb(&record)),
            in_time,
        };
        call.remember(&txn, &answer, now_ms).await?;
        txn.commit().await?;
        Ok(answer)
    }

    pub(super) async fn lift(
        &self,
        mut r: pb::LiftPreservationRequest,
    ) -> Result<pb::LiftPreservationResponse> {
        sieve_kernel::wire::require_id("request_id", &r.request_id)?;
        let word = convert::lift_reason_word(r.reason).ok_or_else(|| {
            Error::invalid_field("reason", "required: why the freezes are lifted")
        })?;
        let p = self.preservation(&r.preservation_id).await?;
        let request_id = std::mem::take(&mut r.request_id);
        let call = Call::new("LiftPreservation", &p.bank_id, &request_id, &r);
        let now_ms = self.now_ms();
        let txn = sieve_kernel::db::begin_write(&self.inner.db).await?;
        if let Some(kept) = call.recall::<pb::LiftPreservationResponse, _>(&txn).await? {
            return Ok(kept);
        }
        let mut p = store::get_for_update(&txn, &p.id)
            .await?
            .ok_or_else(|| Error::not_found("preservation", &p.id))?;
        if p.status == store::preservation::Status::Rejected {
            return Err(not_in_force(&p));
        }
        store::lift(&txn, &mut p, word, r.note.trim(), now_ms).await?;
        let record = store::record(&txn, p).await?;
        let answer = pb::LiftPreservationResponse {
            preservation: Some(convert::preservation_pb(&record)),
        };
        call.remember(&txn, &answer, now_ms).await?;
        txn.commit().await?;
        self.wake();
        Ok(answer)
    }

    pub(super) async fn renew(
        &self,
        mut r: pb::RenewFreezeRequest,
    ) -> Result<pb::RenewFreezeResponse> {
        sieve_kernel::wire::require_id("request_id", &r.request_id)?;
        sieve_kernel::wire::require_id("freeze_order_id", &r.freeze_order_id)?;
        let new_expires_on = required_date("new_expires_on", r.new_expires_on.as_ref())?;
        let request_id = std::mem::take(&mut r.request_id);
        let call = Call::new("RenewFreeze", "", &request_id, &r);
        let now_ms = self.now_ms();
        let today = self.inner.clock.today();
        let txn = sieve_kernel::db::begin_write(&self.inner.db).await?;
        if let Some(kept) = call.recall::<pb::RenewFreezeResponse, _>(&txn).await? {
            return Ok(kept);
        }
        let calendar = calendar::stored::current(&txn).await?;
        let mut order = store::freeze_order_by_id(&txn, &r.freeze_order_id)
            .await?
            .ok_or_else(|| Error::not_found("freeze order", &r.freeze_order_id))?;
        match store::renew(&txn, &mut order, new_expires_on, today, &calendar, now_ms).await? {
            Ok(()) => {}
            Err(store::NotRenewed::NotInForce(status)) => {
                return Err(Error::precondition(
                    reason::FREEZE_NOT_IN_FORCE,
                    format!("freeze order {} is not held ({status:?})", order.id),
                ));
            }
            Err(store::NotRenewed::Late(last_day)) => {
                return Err(Error::precondition(
                    reason::RENEWAL_LATE,
                    format!(
                        "续行冻结须在期限届满7日前申请，最后一日为 {last_day} / a renewal must be asked at least 7 days before expiry: the last day was {last_day} (provisions art. 18)"
                    ),
                )
                .with_meta("last_day", last_day.to_string()));
            }
            Err(store::NotRenewed::BadExpiry { current, latest }) => {
                return Err(Error::invalid_field(
                    "new_expires_on",
                    format!(
                        "must be after the current expiry {current} and at most one year after it ({latest}; Interp. 485)"
                    ),
                ));
            }
        }
        let p = store::get(&txn, &order.preservation_id)
            .await?
            .ok_or_else(|| Error::not_found("preservation", &order.preservation_id))?;
        let record = store::record(&txn, p).await?;
        let freeze_order = record
            .orders
            .iter()
            .find(|o| o.id == order.id)
            .map(|_| convert::preservation_pb(&record))
            .and_then(|p| {
                p.freeze_orders
                    .into_iter()
                    .find(|o| o.freeze_order_id == order.id)
            });
        let answer = pb::RenewFreezeResponse { freeze_order };
        call.remember(&txn, &answer, now_ms).await?;
        txn.commit().await?;
        Ok(answer)
    }

    pub(super) async fn case_closed(
        &self,
        r: pb::RecordCaseClosedRequest,
    ) -> Result<pb::RecordCaseClosedResponse> {
        sieve_kernel::wire::require_id("event_id", &r.event_id)?;
        sieve_kernel::wire::require_id("case_id", &r.case_id)?;
        let stage = sieve_kernel::stage::Stage::from_pb(r.closed_stage)
            .map_or("UNSPECIFIED", |s| s.as_str());
        let now_ms = self.now_ms();
        let txn = sieve_kernel::db::begin_write(&self.inner.db).await?;
        let open = store::of_cases(&txn, std::slice::from_ref(&r.case_id))
            .await?
            .into_iter()
            .find(|p| p.open_case_id.is_some());
        let Some(mut p) = open else {
            txn.commit().await?;
            return Ok(pb::RecordCaseClosedResponse { preservation: None });
        };
        store::lift(
            &txn,
            &mut p,
            store::lift_reason::CASE_CLOSED,
            &format!("case closed ({stage}), event {}", r.event_id),
            now_ms,
        )
        .await?;
        let record = store::record(&txn, p).await?;
        txn.commit().await?;
        self.wake();
        Ok(pb::RecordCaseClosedResponse {
            preservation: Some(convert::preservation_pb(&record)),
        })
    }
}

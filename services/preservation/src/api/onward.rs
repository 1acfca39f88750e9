//! The court's work list, and cases the bank sends on without preservation (to the
//! payment-order path only when none was ever applied for: Interp. 427(7)).

use std::collections::HashSet;

use sieve_kernel::rules::violation::rule as shared;
use sieve_kernel::stage::Stage;

use super::applications::{case_refusal, rule, status_word};
use super::*;

impl PreservationApi {
    pub(super) async fn list(
        &self,
        r: pb::ListPreservationsRequest,
    ) -> Result<pb::ListPreservationsResponse> {
        let page = sieve_kernel::bulk::Page::of(r.page.as_ref())?;
        let after = if page.token.is_empty() {
            None
        } else {
            let bad = || Error::invalid_field("page.page_token", "not a token this call returned");
            let mut parts = page.token.splitn(3, '|');
            let overdue = parts.next().ok_or_else(bad)? == "1";
            let at: i64 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            let id = parts.next().ok_or_else(bad)?.to_string();
            Some((overdue, at, id))
        };
        let status = match r.status {
            0 => None,
            v => Some(
                convert::status_of_pb(v)
                    .ok_or_else(|| Error::invalid_field("status", "not a preservation status"))?,
            ),
        };
        let bank = (!r.bank_id.is_empty()).then_some(r.bank_id.as_str());
        let found = store::list(self.inner.db.read(), bank, status, after, page.size).await?;
        let next_page_token = page.next_token(&found, |p| {
            format!(
                "{}|{}|{}",
                u8::from(p.ruling_overdue),
                p.applied_at_ms,
                p.id
            )
        });
        let records = store::records(self.inner.db.read(), found).await?;
        Ok(pb::ListPreservationsResponse {
            preservations: records.iter().map(convert::preservation_pb).collect(),
            next_page_token,
        })
    }

    pub(super) async fn forgo(
        &self,
        mut r: pb::ForgoPreservationRequest,
    ) -> Result<pb::ForgoPreservationResponse> {
        sieve_kernel::wire::require_id("request_id", &r.request_id)?;
        sieve_kernel::wire::require_id("bank_id", &r.bank_id)?;
        row_count("case_ids", r.case_ids.len())?;
        let request_id = std::mem::take(&mut r.request_id);
        let call = Call::new("ForgoPreservation", &r.bank_id, &request_id, &r);
        if let Some(mut kept) = self
            .replayed::<pb::ForgoPreservationResponse>(&call)
            .await?
        {
            kept.replayed = true;
            return Ok(kept);
        }
        let refused =
            |row: i64, case_id: &str, field: &str, rule: &str, d: String| pb::ForgoneCase {
                row,
                case_id: case_id.to_string(),
                outcome: common::RowOutcome::Refused as i32,
                to_stage: 0,
                rule: String::new(),
                refusals: vec![refusal(row, case_id, field, rule, d)],
            };
        let mut rows: Vec<Option<pb::ForgoneCase>> = vec![None; r.case_ids.len()];
        let mut seen = HashSet::new();
        let mut asked = Vec::new();
        for (i, id) in r.case_ids.iter().enumerate() {
            let row = i as i64 + 1;
            if let Err(e) = sieve_kernel::wire::require_id("case_ids", id) {
                rows[i] = Some(refused(row, id, "case_ids", shared::REQUIRED, e.message));
            } else if !seen.insert(id.clone()) {
                rows[i] = Some(refused(
                    row,
                    id,
                    "case_ids",
                    rule::DUPLICATE_IN_CALL,
                    "该案件在本次请求中重复 / the case appears earlier in this call".into(),
                ));
            } else {
                asked.push(i);
            }
        }
        let ids: Vec<String> = asked.iter().map(|&i| r.case_ids[i].clone()).collect();
        let cases = if ids.is_empty() {
            Vec::new()
        } else {
            self.inner
                .intake
                .cases_of_bank_in_stage(&ids, &r.bank_id, Stage::Preservation)
                .await?
        };
        let mut go = Vec::new();
        for (&i, case) in asked.iter().zip(cases) {
            match case {
                Ok(_) => go.push(i),
                Err(e) => {
                    let (code, d) = case_refusal(&e);
                    rows[i] = Some(refused(i as i64 + 1, &r.case_ids[i], "case_ids", code, d));
                }
            }
        }
        let now_ms = self.now_ms();
        let txn = sieve_kernel::db::begin_write(&self.inner.db).await?;
        if let Some(mut kept) = call
            .recall::<pb::ForgoPreservationResponse, _>(&txn)
            .await?
        {
            kept.replayed = true;
            return Ok(kept);
        }
        let go_ids: Vec<String> = go.iter().map(|&i| r.case_ids[i].clone()).collect();
        let forgone = store::forgo(&txn, &r.bank_id, &go_ids, now_ms).await?;
        for (&i, f) in go.iter().zip(forgone) {
            let row = i as i64 + 1;
            rows[i] = Some(match f {
                Ok(f) => pb::ForgoneCase {
                    row,
                    case_id: r.case_ids[i].clone(),
                    outcome: common::RowOutcome::Accepted as i32,
                    to_stage: f.to.pb() as i32,
                    rule: f.rule.to_string(),
                    refusals: vec![],
                },
                Err(p) => refused(
                    row,
                    &r.case_ids[i],
                    "case_ids",
                    rule::PRESERVATION_OPEN,
                    format!(
                        "该案件的保全 {} 尚未结束（{}） / preservation {} of the case is open ({})",
                        p.id,
                        status_word(p.status),
                        p.id,
                        status_word(p.status)
                    ),
                ),
            });
        }
        let answer = pb::ForgoPreservationResponse {
            rows: rows.into_iter().flatten().collect(),
            replayed: false,
        };
        call.remember(&txn, &answer, now_ms).await?;
        txn.commit().await?;
        self.wake();
        Ok(answer)
    }
}

//! Cases entering the pre-check are announced once their batch completes: a batch that breaks
//! off is deleted whole, so nothing of it may have reached the pre-check before. The outbox
//! message names a range of the batch's rows; the relay reads the cases when it delivers,
//! rather than each chunk copying its cases into the outbox as it is written.

use async_trait::async_trait;
use sea_orm::DbErr;
use sieve_kernel::db::Db;
use sieve_kernel::outbox::{self, DeliveryError, NewMessage, OutboxMessage, PreCheckCases};
use sieve_proto::bad_debt_check::v1::CheckCasesRequest;

use crate::store;

/// Cases of a batch entering the pre-check (payload: a `RowRange`).
pub const TOPIC_ANNOUNCED_CASES: &str = "intake.announced_cases";
/// Rows per message: the pre-check takes up to 1,000 cases per call.
pub const ROWS_PER_MESSAGE: i64 = 1_000;

/// The cases a batch admitted with `after_row < batch_row <= last_row`. Rows refused, or
/// answered with a case that already existed, hold no case of this batch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowRange {
    pub batch_id: String,
    pub after_row: i64,
    pub last_row: i64,
}

/// The announcements of a completed batch of `rows` rows.
pub fn messages(batch_id: &str, rows: i64) -> Result<Vec<NewMessage>, DbErr> {
    (0..rows)
        .step_by(ROWS_PER_MESSAGE as usize)
        .map(|after_row| {
            let range = RowRange {
                batch_id: batch_id.to_string(),
                after_row,
                last_row: (after_row + ROWS_PER_MESSAGE).min(rows),
            };
            Ok(NewMessage {
                topic: TOPIC_ANNOUNCED_CASES,
                key: batch_id.to_string(),
                payload: serde_json::to_vec(&range)
                    .map_err(|e| DbErr::Custom(format!("row range: {e}")))?,
            })
        })
        .collect()
}

/// Delivers announcements to the pre-check's `CheckCases`.
pub struct AnnouncedCases {
    db: Db,
    pre_check: PreCheckCases,
}

impl AnnouncedCases {
    pub fn new(db: Db, pre_check: sieve_kernel::internal::InternalChannel) -> Self {
        Self {
            db,
            pre_check: PreCheckCases::new(pre_check),
        }
    }
}

#[async_trait]
impl outbox::Deliver for AnnouncedCases {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        let range: RowRange = serde_json::from_slice(&message.payload)
            .map_err(|e| DeliveryError::Permanent(format!("payload is not a row range: {e}")))?;
        let cases = store::cases_in_rows(
            self.db.read(),
            &range.batch_id,
            range.after_row,
            range.last_row,
        )
        .await
        .map_err(|e| DeliveryError::Retry(format!("reading batch {}: {e}", range.batch_id)))?;
        if cases.is_empty() {
            return Ok(());
        }
        let request = CheckCasesRequest {
            // Stable per range, so a redelivery takes nothing new.
            request_id: format!("intake:{}:{}", range.batch_id, range.after_row),
            cases: cases.iter().map(crate::convert::case_summary).collect(),
        };
        self.pre_check.check_cases(request, message).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_announced_in_ranges_of_a_thousand_rows() {
        let m = messages("b", 2_500).unwrap();
        let ranges: Vec<RowRange> = m
            .iter()
            .map(|m| serde_json::from_slice(&m.payload).unwrap())
            .collect();
        let bounds: Vec<(i64, i64)> = ranges.iter().map(|r| (r.after_row, r.last_row)).collect();
        assert_eq!(bounds, vec![(0, 1_000), (1_000, 2_000), (2_000, 2_500)]);
        assert!(m.iter().all(|m| m.topic == TOPIC_ANNOUNCED_CASES));
        assert!(messages("b", 0).unwrap().is_empty());
    }
}

//! What a stage service asks intake, the owner of cases and banks (DESIGN.md section 11):
//! whether a case is the calling bank's own and in the stage the service acts in, and the
//! bank's record. Intake's refusals become the service's own errors in one place.

use sieve_proto::intake::v1 as intake;
use sieve_proto::intake::v1::intake_service_client::IntakeServiceClient;

use super::Stage;
use crate::error::{Error, reason};
use crate::internal::InternalChannel;

/// A client of intake for stage services.
#[derive(Clone)]
pub struct IntakeClient {
    client: IntakeServiceClient<InternalChannel>,
}

impl IntakeClient {
    pub fn new(channel: InternalChannel) -> Self {
        Self {
            client: IntakeServiceClient::new(channel),
        }
    }

    /// The bank as intake registered it (a certificate names it so).
    pub async fn bank(&self, bank_id: &str) -> Result<intake::Bank, Error> {
        self.client
            .clone()
            .get_bank(intake::GetBankRequest {
                key: Some(intake::get_bank_request::Key::BankId(bank_id.to_string())),
            })
            .await
            .map_err(|s| refused("bank", bank_id, &s))?
            .into_inner()
            .bank
            .ok_or_else(|| Error::not_found("bank", bank_id))
    }

    /// The case, when it is `bank_id`'s and in `stage`. Another bank's case is not found,
    /// so ids do not leak across banks; one in another stage is FAILED_PRECONDITION
    /// `STAGE_MISMATCH`, as intake answers an outcome from the wrong stage.
    pub async fn case_of_bank_in_stage(
        &self,
        case_id: &str,
        bank_id: &str,
        stage: Stage,
    ) -> Result<intake::Case, Error> {
        let case = self
            .client
            .clone()
            .get_case(intake::GetCaseRequest {
                case_id: case_id.to_string(),
            })
            .await
            .map_err(|s| refused("case", case_id, &s))?
            .into_inner()
            .case
            .filter(|c| c.bank_id == bank_id)
            .ok_or_else(|| Error::not_found("case", case_id))?;
        in_stage(case, stage)
    }
}

impl IntakeClient {
    /// Each case of `case_ids` (at most `wire::MAX_BATCH_GET`), in order, as
    /// [`IntakeClient::case_of_bank_in_stage`] answers it, asked in one call. Intake not
    /// answering fails the whole call.
    pub async fn cases_of_bank_in_stage(
        &self,
        case_ids: &[String],
        bank_id: &str,
        stage: Stage,
    ) -> Result<Vec<Result<intake::Case, Error>>, Error> {
        let found = self
            .client
            .clone()
            .batch_get_cases(intake::BatchGetCasesRequest {
                case_ids: case_ids.to_vec(),
            })
            .await
            .map_err(|s| Error::unavailable(format!("intake did not answer: {}", s.message())))?
            .into_inner()
            .cases;
        let by_id: std::collections::HashMap<String, intake::Case> =
            found.into_iter().map(|c| (c.case_id.clone(), c)).collect();
        Ok(case_ids
            .iter()
            .map(|id| {
                let case = by_id
                    .get(id)
                    .filter(|c| c.bank_id == bank_id)
                    .cloned()
                    .ok_or_else(|| Error::not_found("case", id))?;
                in_stage(case, stage)
            })
            .collect())
    }
}

/// The case when it is in `stage`, else `STAGE_MISMATCH` naming both.
fn in_stage(case: intake::Case, stage: Stage) -> Result<intake::Case, Error> {
    match Stage::from_pb(case.stage) {
        Some(current) if current == stage => Ok(case),
        current => {
            let current = current.map_or("UNSPECIFIED", Stage::as_str);
            Err(Error::precondition(
                reason::STAGE_MISMATCH,
                format!("case {} is in {current}, not {stage}", case.case_id),
            )
            .with_meta("current", current)
            .with_meta("expected", stage.as_str()))
        }
    }
}

/// Intake's refusal of a lookup: what it does not have is not found here either; anything
/// else (down, overloaded, our credential refused) means intake did not answer.
fn refused(what: &'static str, id: &str, status: &tonic::Status) -> Error {
    if status.code() == tonic::Code::NotFound {
        Error::not_found(what, id)
    } else {
        Error::unavailable(format!("intake did not answer: {}", status.message()))
    }
}

//! Waiting for what the outbox relays do on their own.

use std::future::Future;
use std::time::{Duration, Instant};

use sieve_kernel::internal::InternalChannel;
use sieve_proto::common::v1::Stage;
use sieve_proto::intake::v1 as intake;
use sieve_proto::intake::v1::intake_service_client::IntakeServiceClient;

/// How long a relay may take before a test fails: generous, as the test fails only when
/// something never happens.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `probe` every 50 ms until it answers `Ok(value)`; after [`PATIENCE`], fails the test
/// with `what` and the last `Err(state)` it answered.
pub async fn eventually<T, S, F, Fut>(what: &str, mut probe: F) -> T
where
    S: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, S>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(state) if Instant::now() >= deadline => {
                panic!("{what}: not within {PATIENCE:?}; last seen {state:?}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Waits until every one of `case_ids` is in a stage `done` accepts, and returns the cases.
pub async fn wait_for_stage(
    intake: &IntakeServiceClient<InternalChannel>,
    case_ids: &[String],
    done: impl Fn(Stage) -> bool,
) -> Vec<intake::Case> {
    eventually("cases reach their stage", || {
        let mut intake = intake.clone();
        let done = &done;
        async move {
            let mut cases = Vec::with_capacity(case_ids.len());
            for id in case_ids {
                let case = intake
                    .get_case(intake::GetCaseRequest {
                        case_id: id.clone(),
                    })
                    .await
                    .map_err(|e| format!("{id}: {e:?}"))?
                    .into_inner()
                    .case
                    .ok_or_else(|| format!("{id}: answered without the case"))?;
                let stage = Stage::try_from(case.stage).unwrap_or(Stage::Unspecified);
                if !done(stage) {
                    return Err(format!("{id} in {stage:?}"));
                }
                cases.push(case);
            }
            Ok(cases)
        }
    })
    .await
}

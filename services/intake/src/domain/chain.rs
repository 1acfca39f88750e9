//! The 1+X chain as a transition table (DESIGN.md section 3). Intake is the router: a stage
//! service reports an outcome, and only a transition listed there moves the case. The table
//! lives in the kernel, where every stage service reads it too.

pub use sieve_kernel::stage::{FIRST_STAGE, Stage, allows};

use sieve_kernel::error::{Error, reason};

/// A case as a transition finds it.
#[derive(Debug, Clone, Copy)]
pub struct Current<'a> {
    pub case_id: &'a str,
    pub stage: Stage,
}

/// An outcome recorded before under the same event id.
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    pub case_id: &'a str,
    pub to: Stage,
}

/// The chain's checks of one outcome against the case as it is now. `from` None: the case's
/// current stage (a bank's own act). An event id seen before is a harmless redelivery when it
/// recorded the same move, a refusal when it recorded another.
pub fn check(
    case_id: &str,
    event_id: &str,
    from: Option<Stage>,
    to: Stage,
    current: Option<Current<'_>>,
    previous: Option<Recorded<'_>>,
) -> Result<(), Error> {
    let Some(current) = current else {
        return Err(Error::not_found("case", case_id));
    };
    if let Some(prev) = previous {
        if prev.case_id != case_id || prev.to != to {
            return Err(Error::bad_request(
                reason::EVENT_ID_REUSED,
                format!("event {event_id} was already recorded for another outcome"),
            )
            .with_violation("event_id", "already used for a different case or stage"));
        }
        return Ok(());
    }
    let from = from.unwrap_or(current.stage);
    if current.stage != from {
        return Err(Error::precondition(
            reason::STAGE_MISMATCH,
            format!(
                "case {} is in {}, not {from}",
                current.case_id, current.stage
            ),
        )
        .with_meta("current", current.stage.as_str())
        .with_meta("from", from.as_str())
        .with_meta("to", to.as_str()));
    }
    if !allows(from, to) {
        return Err(Error::precondition(
            reason::ILLEGAL_TRANSITION,
            format!("the chain has no transition from {from} to {to}"),
        )
        .with_meta("from", from.as_str())
        .with_meta("to", to.as_str()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_moves_only_from_the_stage_the_case_is_in_along_the_chain() {
        let at = |stage| Current {
            case_id: "c1",
            stage,
        };
        let ok = check(
            "c1",
            "e1",
            None,
            Stage::Preservation,
            Some(at(Stage::BadDebtCheck)),
            None,
        );
        assert!(ok.is_ok());
        let missing = check("c1", "e1", None, Stage::Preservation, None, None).unwrap_err();
        assert_eq!(missing.code, sieve_kernel::ErrorCode::NotFound);
        let stale = check(
            "c1",
            "e1",
            Some(Stage::Preservation),
            Stage::Mediation,
            Some(at(Stage::BadDebtCheck)),
            None,
        )
        .unwrap_err();
        assert_eq!(stale.reason, reason::STAGE_MISMATCH);
        let illegal = check(
            "c1",
            "e1",
            None,
            Stage::Settled,
            Some(at(Stage::Settled)),
            None,
        )
        .unwrap_err();
        assert_eq!(illegal.reason, reason::ILLEGAL_TRANSITION);
        let redelivered = Recorded {
            case_id: "c1",
            to: Stage::Preservation,
        };
        assert!(
            check(
                "c1",
                "e1",
                None,
                Stage::Preservation,
                Some(at(Stage::Preservation)),
                Some(redelivered)
            )
            .is_ok()
        );
        let reused = check(
            "c2",
            "e1",
            None,
            Stage::Preservation,
            Some(at(Stage::BadDebtCheck)),
            Some(redelivered),
        )
        .unwrap_err();
        assert_eq!(reused.reason, reason::EVENT_ID_REUSED);
    }
}

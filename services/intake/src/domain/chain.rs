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

/// An event recorded before under the same event id.
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    pub case_id: &'a str,
    pub from: Stage,
    pub to: Stage,
}

impl Recorded<'_> {
    /// It moved no stage: an act within one.
    fn within(&self) -> bool {
        self.from == self.to
    }
}

/// The refusal of an event id used before for another case or another kind of event.
fn reused(event_id: &str) -> Error {
    Error::bad_request(
        reason::EVENT_ID_REUSED,
        format!("event {event_id} was already recorded for another case or event"),
    )
    .with_violation(
        "event_id",
        "already used for a different case, stage or event",
    )
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
        if prev.case_id != case_id || prev.to != to || prev.within() {
            return Err(reused(event_id));
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

/// The checks of an event within the case's stage (a deadline moved, preservation applied
/// for), which moves nothing: the case exists; an event id seen before is a harmless
/// redelivery when it recorded an event within a stage of the same case, a refusal when it
/// recorded anything else.
pub fn check_within(
    case_id: &str,
    event_id: &str,
    current: Option<Current<'_>>,
    previous: Option<Recorded<'_>>,
) -> Result<(), Error> {
    if current.is_none() {
        return Err(Error::not_found("case", case_id));
    }
    match previous {
        Some(prev) if prev.case_id != case_id || !prev.within() => Err(reused(event_id)),
        _ => Ok(()),
    }
}

/// Whether a case moving `from → to` is done with preservation, whose freezes then lift: it
/// closed (settled, withdrawn, certified, ...) or its agreement was performed
/// (RESOLVED_BY_AGREEMENT). Said once: a performed agreement that later goes to enforcement
/// was told at the agreement.
pub fn ends_preservation(from: Stage, to: Stage) -> bool {
    from != Stage::ResolvedByAgreement && (to.is_closed() || to == Stage::ResolvedByAgreement)
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
            from: Stage::BadDebtCheck,
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

    #[test]
    fn an_event_within_a_stage_is_recorded_once_for_its_own_case() {
        let at = Current {
            case_id: "c1",
            stage: Stage::Preservation,
        };
        let within = Recorded {
            case_id: "c1",
            from: Stage::Preservation,
            to: Stage::Preservation,
        };
        assert!(check_within("c1", "e1", Some(at), None).is_ok());
        assert!(check_within("c1", "e1", Some(at), Some(within)).is_ok());
        let missing = check_within("c9", "e1", None, None).unwrap_err();
        assert_eq!(missing.reason, reason::NOT_FOUND);
        let other_case = Recorded {
            case_id: "c2",
            ..within
        };
        let a_move = Recorded {
            from: Stage::BadDebtCheck,
            ..within
        };
        for prev in [other_case, a_move] {
            let e = check_within("c1", "e1", Some(at), Some(prev)).unwrap_err();
            assert_eq!(e.reason, reason::EVENT_ID_REUSED, "{prev:?}");
        }
        // Nor does an outcome take an event id an event within a stage had.
        let e = check(
            "c1",
            "e1",
            None,
            Stage::Preservation,
            Some(Current {
                stage: Stage::BadDebtCheck,
                ..at
            }),
            Some(within),
        )
        .unwrap_err();
        assert_eq!(e.reason, reason::EVENT_ID_REUSED);
    }

    #[test]
    fn preservation_ends_when_the_case_closes_or_its_agreement_is_performed() {
        use Stage::*;
        for to in [
            Settled,
            Withdrawn,
            Certified,
            Enforceable,
            Judged,
            ResolvedByAgreement,
        ] {
            assert!(ends_preservation(Mediation, to), "{to}");
        }
        for to in [
            Mediation,
            PaymentOrder,
            Litigation,
            JudicialConfirmation,
            Notarization,
        ] {
            assert!(!ends_preservation(Preservation, to), "{to}");
        }
        assert!(
            !ends_preservation(ResolvedByAgreement, EnforcementReferred),
            "said at the agreement"
        );
    }
}

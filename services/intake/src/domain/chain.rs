//! The 1+X chain as a transition table (DESIGN.md section 3). Intake is the router: a stage
//! service reports an outcome, and only a transition listed here moves the case.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Submitted,
    Rejected,
    BadDebtCheck,
    Certifiable,
    Certified,
    Preservation,
    Mediation,
    JudicialConfirmation,
    Notarization,
    ResolvedByAgreement,
    EnforcementReferred,
    PaymentOrder,
    Enforceable,
    Litigation,
    Judged,
    Settled,
    Withdrawn,
}

use Stage::*;

impl Stage {
    pub const ALL: [Stage; 17] = [
        Submitted,
        Rejected,
        BadDebtCheck,
        Certifiable,
        Certified,
        Preservation,
        Mediation,
        JudicialConfirmation,
        Notarization,
        ResolvedByAgreement,
        EnforcementReferred,
        PaymentOrder,
        Enforceable,
        Litigation,
        Judged,
        Settled,
        Withdrawn,
    ];

    /// The name stored in the database and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            Submitted => "SUBMITTED",
            Rejected => "REJECTED",
            BadDebtCheck => "BAD_DEBT_CHECK",
            Certifiable => "CERTIFIABLE",
            Certified => "CERTIFIED",
            Preservation => "PRESERVATION",
            Mediation => "MEDIATION",
            JudicialConfirmation => "JUDICIAL_CONFIRMATION",
            Notarization => "NOTARIZATION",
            ResolvedByAgreement => "RESOLVED_BY_AGREEMENT",
            EnforcementReferred => "ENFORCEMENT_REFERRED",
            PaymentOrder => "PAYMENT_ORDER",
            Enforceable => "ENFORCEABLE",
            Litigation => "LITIGATION",
            Judged => "JUDGED",
            Settled => "SETTLED",
            Withdrawn => "WITHDRAWN",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// A closed case leaves the chain; nothing but a correction by the court reopens it.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            Rejected | Certified | EnforcementReferred | Enforceable | Judged | Settled | Withdrawn
        )
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a freshly screened case goes: the first layer of the chain.
pub const FIRST_STAGE: Stage = BadDebtCheck;

/// Whether the chain has the transition `from → to`.
pub fn allows(from: Stage, to: Stage) -> bool {
    if from.is_closed() || from == to {
        return false;
    }
    // Any open stage: paid in full, or withdrawn by the bank (DESIGN.md section 3).
    if matches!(to, Settled | Withdrawn) && from != Submitted {
        return true;
    }
    matches!(
        (from, to),
        (Submitted, Rejected | BadDebtCheck)
            // 预查废: a terminated-enforcement match makes the case certifiable; else it moves on.
            | (BadDebtCheck, Certifiable | Preservation)
            | (Certifiable, Certified | Preservation)
            // 以保促调: a callback leads to mediation; without one the case goes on. A
            // preserved case cannot take the payment-order path (CPL 225; Interp. 427), so the
            // payment-order screen sends it to litigation, or it goes there directly.
            | (Preservation, Mediation | PaymentOrder | Litigation)
            | (Mediation, JudicialConfirmation | Notarization | ResolvedByAgreement | PaymentOrder | Litigation)
            // CPL 205-206: a confirmed agreement is enforceable; a refused one goes on.
            | (JudicialConfirmation, ResolvedByAgreement | PaymentOrder | Litigation)
            // 赋强公证: default on the installments leads to enforcement.
            | (Notarization, ResolvedByAgreement | EnforcementReferred | Litigation)
            | (ResolvedByAgreement, EnforcementReferred)
            // CPL 227-228: no objection makes the order enforceable; an objection, or an
            // ineligible case, turns into litigation.
            | (PaymentOrder, Enforceable | Litigation)
            | (Litigation, Judged)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Stage::ALL {
            assert_eq!(Stage::parse(s.as_str()), Some(s));
        }
        assert_eq!(Stage::parse("bad_debt_check"), None);
    }

    #[test]
    fn the_chain_in_order() {
        assert!(allows(Submitted, BadDebtCheck));
        assert!(allows(BadDebtCheck, Certifiable));
        assert!(allows(Certifiable, Certified));
        assert!(allows(BadDebtCheck, Preservation));
        assert!(allows(Preservation, Mediation));
        assert!(allows(Mediation, Notarization));
        assert!(allows(Notarization, ResolvedByAgreement));
        assert!(allows(ResolvedByAgreement, EnforcementReferred));
        assert!(allows(Preservation, PaymentOrder));
        assert!(allows(PaymentOrder, Enforceable));
        assert!(allows(PaymentOrder, Litigation));
        assert!(allows(Litigation, Judged));
    }

    #[test]
    fn no_skipping_and_no_way_back() {
        assert!(!allows(Submitted, Certified));
        assert!(!allows(BadDebtCheck, Certified));
        assert!(!allows(BadDebtCheck, Mediation));
        assert!(!allows(Mediation, Preservation));
        assert!(!allows(BadDebtCheck, BadDebtCheck));
    }

    #[test]
    fn closed_cases_stay_closed() {
        for closed in Stage::ALL.into_iter().filter(|s| s.is_closed()) {
            for to in Stage::ALL {
                assert!(!allows(closed, to), "{closed} -> {to}");
            }
        }
    }

    #[test]
    fn any_open_stage_can_settle_or_withdraw() {
        for open in Stage::ALL
            .into_iter()
            .filter(|s| !s.is_closed() && *s != Submitted)
        {
            assert!(allows(open, Settled), "{open}");
            assert!(allows(open, Withdrawn), "{open}");
        }
    }
}

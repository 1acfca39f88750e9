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

#[test]
fn every_stage_has_its_protobuf_value() {
    for s in Stage::ALL {
        assert_ne!(s.pb(), common::Stage::Unspecified, "{s}");
        assert_eq!(Stage::from_pb(s.pb() as i32), Some(s));
    }
    assert_eq!(Stage::from_pb(common::Stage::Unspecified as i32), None);
    assert_eq!(Stage::from_pb(9_999), None);
}

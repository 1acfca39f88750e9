//! The 1+X chain every stage service works along (DESIGN.md section 3), and what a stage
//! service needs of intake, the router: its outcomes reported through the outbox
//! ([`report`], event ids `<source>:<record>`), its acts within a stage likewise ([`note`]),
//! and the case and bank it acts for ([`IntakeClient`]).
//!
//! The chain itself is a pure transition table (no I/O): a stage service reports an outcome,
//! and only a transition listed here moves the case. Intake applies it (and re-exports it as
//! its `domain::chain`); a stage service reads it to know what it may report.

mod event;
mod intake;
mod outcome;

pub use event::{CaseEvent, MAX_EVENTS_PER_MESSAGE, note};
pub use intake::IntakeClient;
pub use outcome::{MAX_OUTCOMES_PER_MESSAGE, StageOutcome, report, report_many};

use std::fmt;

use sea_orm::entity::prelude::{DeriveActiveEnum, EnumIter, StringLen};

use sieve_proto::common::v1 as common;

use crate::outbox::NewMessage;

/// What intake keeps of a record's reference (longer ones are cut there too).
const SOURCE_RECORD_CHARS: usize = 256;

/// The first `chars` characters of `text` (not bytes: the text is Chinese as often as not).
fn cut(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// `items` as messages of `topic` keyed by `key`, `per` items to a message, each the request
/// `batch` makes of its items: what intake takes in one call.
fn messages<T, M: prost::Message>(
    topic: &'static str,
    key: &str,
    items: &[T],
    per: usize,
    batch: impl Fn(&[T]) -> M,
) -> Vec<NewMessage> {
    items
        .chunks(per)
        .map(|chunk| NewMessage::protobuf(topic, key, &batch(chunk)))
        .collect()
}

/// A case's place on the chain. Stored (a case's stage, its events' from and to) as the
/// words of [`Stage::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Stage {
    #[sea_orm(string_value = "SUBMITTED")]
    Submitted,
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
    #[sea_orm(string_value = "BAD_DEBT_CHECK")]
    BadDebtCheck,
    #[sea_orm(string_value = "CERTIFIABLE")]
    Certifiable,
    #[sea_orm(string_value = "CERTIFIED")]
    Certified,
    #[sea_orm(string_value = "PRESERVATION")]
    Preservation,
    #[sea_orm(string_value = "MEDIATION")]
    Mediation,
    #[sea_orm(string_value = "JUDICIAL_CONFIRMATION")]
    JudicialConfirmation,
    #[sea_orm(string_value = "NOTARIZATION")]
    Notarization,
    #[sea_orm(string_value = "RESOLVED_BY_AGREEMENT")]
    ResolvedByAgreement,
    #[sea_orm(string_value = "ENFORCEMENT_REFERRED")]
    EnforcementReferred,
    #[sea_orm(string_value = "PAYMENT_ORDER")]
    PaymentOrder,
    #[sea_orm(string_value = "ENFORCEABLE")]
    Enforceable,
    #[sea_orm(string_value = "LITIGATION")]
    Litigation,
    #[sea_orm(string_value = "JUDGED")]
    Judged,
    #[sea_orm(string_value = "SETTLED")]
    Settled,
    #[sea_orm(string_value = "WITHDRAWN")]
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

    /// The protobuf enum value of this stage (`STAGE_` and the name).
    pub fn pb(self) -> common::Stage {
        common::Stage::from_str_name(&format!("STAGE_{}", self.as_str()))
            .unwrap_or(common::Stage::Unspecified)
    }

    /// The stage a protobuf enum value names; `None` for `STAGE_UNSPECIFIED` and values this
    /// build does not know.
    pub fn from_pb(v: i32) -> Option<Stage> {
        let s = common::Stage::try_from(v).ok()?;
        Stage::parse(s.as_str_name().strip_prefix("STAGE_")?)
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
mod tests;

//! What an application for pre-litigation preservation must carry (RULES.md, "Preservation"):
//! an amount within the claim, and security of an accepted kind, equal to at least the amount
//! preserved, valid on the day (CPL 104 para 1; SPC preservation provisions 2020 arts. 5, 7,
//! 8). Its fee is Fees art. 14(2).

use chrono::NaiveDate;
use sieve_kernel::rules::fees::preservation_fee_fen;
use sieve_kernel::rules::money::format_yuan;
use sieve_kernel::rules::violation::{self, Label, Violation};

/// Stable rule codes of an application. Clients may match on them; never rename one.
pub mod rule {
    pub use sieve_kernel::rules::rule::*;

    /// The amount to preserve is zero or negative.
    pub const AMOUNT_NOT_POSITIVE: &str = "amount.not_positive";
    /// The amount to preserve is more than the case claims.
    pub const AMOUNT_ABOVE_CLAIM: &str = "amount.above_claim";
    /// No security offered (CPL 104 para 1: the applicant shall provide security).
    pub const SECURITY_MISSING: &str = "security.missing";
    /// Security of a kind the court does not accept here (provisions arts. 7, 8: an insurer's
    /// policy or a bank's guarantee).
    pub const SECURITY_KIND: &str = "security.kind";
    /// Security less than the amount preserved (CPL 104 para 1; provisions art. 5).
    pub const SECURITY_SHORT: &str = "security.short";
    /// Security not yet valid, or no longer valid, on the day of the application.
    pub const SECURITY_NOT_VALID: &str = "security.not_valid";
}

/// Kinds of security (provisions arts. 7, 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuaranteeKind {
    /// An insurer's preservation liability policy (art. 7).
    InsurancePolicy,
    /// A bank's letter of guarantee (art. 8).
    BankGuarantee,
    /// Anything the contract does not name.
    Other,
}

/// The security behind an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guarantee {
    pub kind: GuaranteeKind,
    pub issuer_name: String,
    pub instrument_number: String,
    pub amount_fen: i64,
    pub valid_from: Option<NaiveDate>,
    /// `None`: valid until the preservation ends.
    pub valid_until: Option<NaiveDate>,
}

/// One application as the bank sent it, with the claim of its case (asked of intake).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub amount_fen: i64,
    pub claim_fen: i64,
    pub guarantee: Option<Guarantee>,
}

/// What an admissible application costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    /// Fees art. 14(2), on the amount preserved.
    pub fee_fen: i64,
}

const AMOUNT: Label = Label {
    zh: "保全金额",
    en: "The amount to preserve",
};
const ISSUER: Label = Label {
    zh: "担保机构",
    en: "The guarantor",
};
const INSTRUMENT: Label = Label {
    zh: "保单或保函编号",
    en: "The policy or guarantee number",
};
/// Longest issuer name or instrument number kept.
const MAX_TEXT_CHARS: usize = 128;

/// Checks `application` on `today`; every rule it breaks, or its fee.
pub fn screen(application: &Application, today: NaiveDate) -> Result<Admitted, Vec<Violation>> {
    let mut out = Vec::new();
    let amount = application.amount_fen;
    let yuan = format_yuan(amount);
    if amount <= 0 {
        out.push(Violation {
            field: "amount_fen",
            rule: rule::AMOUNT_NOT_POSITIVE,
            description: format!(
                "{}须大于零（{yuan} 元）。 {} must be more than zero ({yuan} yuan).",
                AMOUNT.zh, AMOUNT.en
            ),
        });
    } else if amount > application.claim_fen {
        let claim = format_yuan(application.claim_fen);
        out.push(Violation {
            field: "amount_fen",
            rule: rule::AMOUNT_ABOVE_CLAIM,
            description: format!(
                "保全金额 {yuan} 元超过请求金额 {claim} 元。 The amount to preserve ({yuan} yuan) \
                 is more than the claim ({claim} yuan)."
            ),
        });
    }
    match &application.guarantee {
        None => out.push(Violation {
            field: "guarantee",
            rule: rule::SECURITY_MISSING,
            description: "诉前保全须提供担保（民事诉讼法第104条第1款）。 Preservation before suit \
                          needs security (CPL 104 para 1)."
                .into(),
        }),
        Some(g) => security(&mut out, g, amount, today),
    }
    if out.is_empty() {
        Ok(Admitted {
            fee_fen: preservation_fee_fen(amount),
        })
    } else {
        Err(out)
    }
}

fn security(out: &mut Vec<Violation>, g: &Guarantee, amount_fen: i64, today: NaiveDate) {
    if g.kind == GuaranteeKind::Other {
        out.push(Violation {
            field: "guarantee.kind",
            rule: rule::SECURITY_KIND,
            description:
                "担保须为保险公司保函（保单）或银行保函（保全规定第7、8条）。 Security must \
                          be an insurer's policy or a bank guarantee (provisions arts. 7, 8)."
                    .into(),
        });
    }
    violation::text_field(
        out,
        "guarantee.issuer_name",
        ISSUER,
        &g.issuer_name,
        MAX_TEXT_CHARS,
    );
    violation::text_field(
        out,
        "guarantee.instrument_number",
        INSTRUMENT,
        &g.instrument_number,
        MAX_TEXT_CHARS,
    );
    if amount_fen > 0 && g.amount_fen < amount_fen {
        let (offered, needed) = (format_yuan(g.amount_fen), format_yuan(amount_fen));
        out.push(Violation {
            field: "guarantee.amount_fen",
            rule: rule::SECURITY_SHORT,
            description: format!(
                "担保金额 {offered} 元少于保全金额 {needed} 元（保全规定第5条）。 Security of \
                 {offered} yuan is less than the {needed} yuan to preserve (provisions art. 5)."
            ),
        });
    }
    if let Some(from) = g.valid_from.filter(|from| *from > today) {
        out.push(Violation {
            field: "guarantee.valid_from",
            rule: rule::SECURITY_NOT_VALID,
            description: format!(
                "担保自 {from} 起才生效。 The security is valid only from {from}."
            ),
        });
    }
    if let Some(until) = g.valid_until.filter(|until| *until < today) {
        out.push(Violation {
            field: "guarantee.valid_until",
            rule: rule::SECURITY_NOT_VALID,
            description: format!("担保已于 {until} 失效。 The security lapsed on {until}."),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn application(amount_fen: i64) -> Application {
        Application {
            amount_fen,
            claim_fen: 5_000_000,
            guarantee: Some(Guarantee {
                kind: GuaranteeKind::InsurancePolicy,
                issuer_name: "中国人民财产保险股份有限公司佳木斯市分公司".into(),
                instrument_number: "PICC-BZ-2026-000123".into(),
                amount_fen,
                valid_from: Some(day(2026, 3, 1)),
                valid_until: Some(day(2027, 3, 1)),
            }),
        }
    }

    fn rules(result: Result<Admitted, Vec<Violation>>) -> Vec<(&'static str, &'static str)> {
        result
            .err()
            .unwrap_or_default()
            .iter()
            .map(|v| (v.field, v.rule))
            .collect()
    }

    const TODAY: (i32, u32, u32) = (2026, 3, 2);

    fn today() -> NaiveDate {
        day(TODAY.0, TODAY.1, TODAY.2)
    }

    #[test]
    fn an_application_with_enough_security_is_admitted_with_its_fee() {
        // 50,000 yuan: 30 + 1% of 49,000 = 520 yuan (Fees art. 14(2)).
        let admitted = screen(&application(5_000_000), today()).unwrap();
        assert_eq!(admitted.fee_fen, 52_000);
        // The claim itself may be preserved in full ("at most the claim").
        let mut whole = application(5_000_000);
        whole.claim_fen = 5_000_000;
        assert!(screen(&whole, today()).is_ok());
    }

    #[test]
    fn security_one_fen_short_is_refused_naming_both_amounts() {
        let mut short = application(5_000_000);
        if let Some(g) = short.guarantee.as_mut() {
            g.amount_fen = 4_999_999;
        }
        let refused = screen(&short, today()).unwrap_err();
        assert_eq!(refused.len(), 1);
        assert_eq!(
            (refused[0].field, refused[0].rule),
            ("guarantee.amount_fen", rule::SECURITY_SHORT)
        );
        assert!(
            refused[0].description.contains("49,999.99"),
            "{}",
            refused[0].description
        );
        assert!(
            refused[0].description.contains("50,000.00"),
            "{}",
            refused[0].description
        );
    }

    #[test]
    fn amounts_outside_the_claim_and_missing_security_are_refused() {
        assert_eq!(
            rules(screen(&application(0), today())),
            [("amount_fen", rule::AMOUNT_NOT_POSITIVE)]
        );
        let mut above = application(5_000_001);
        above.claim_fen = 5_000_000;
        assert_eq!(
            rules(screen(&above, today())),
            [("amount_fen", rule::AMOUNT_ABOVE_CLAIM)]
        );
        let mut none = application(100);
        none.guarantee = None;
        assert_eq!(
            rules(screen(&none, today())),
            [("guarantee", rule::SECURITY_MISSING)]
        );
    }

    #[test]
    fn security_of_another_kind_without_its_papers_or_out_of_date_is_refused() {
        let mut bad = application(100);
        if let Some(g) = bad.guarantee.as_mut() {
            g.kind = GuaranteeKind::Other;
            g.issuer_name = " ".into();
            g.instrument_number = String::new();
        }
        assert_eq!(
            rules(screen(&bad, today())),
            [
                ("guarantee.kind", rule::SECURITY_KIND),
                ("guarantee.issuer_name", rule::REQUIRED),
                ("guarantee.instrument_number", rule::REQUIRED),
            ]
        );
        // Valid on its first and last day; not the day before or after.
        let app = application(100);
        assert!(screen(&app, day(2026, 3, 1)).is_ok());
        assert!(screen(&app, day(2027, 3, 1)).is_ok());
        assert_eq!(
            rules(screen(&app, day(2026, 2, 28))),
            [("guarantee.valid_from", rule::SECURITY_NOT_VALID)]
        );
        assert_eq!(
            rules(screen(&app, day(2027, 3, 2))),
            [("guarantee.valid_until", rule::SECURITY_NOT_VALID)]
        );
    }
}

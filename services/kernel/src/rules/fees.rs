//! Court fees (诉讼费用交纳办法, the State Council's Measures on the Payment of Litigation
//! Costs, 2007), in fen: the preservation fee (art. 14(2)) for the preservation service, the
//! property-case acceptance fee (art. 13(1)) with its third for a payment order (art. 14(3))
//! and its half (arts. 15, 16) for adjudication.
//!
//! Each fee is summed over its bands exactly (in hundredths of a basis point of a fen) and
//! rounded once, half up, to the fen: the Measures give rates, not a rounding, and rounding
//! band by band would let a fee depend on where the bands fall.

/// One band of a cumulative tariff: the part of the amount up to `up_to_fen` (and above the
/// band before) pays `basis_points` per 10,000.
struct Band {
    up_to_fen: i64,
    basis_points: i128,
}

/// A tariff: a flat fee for amounts up to the first threshold, then cumulative bands, the
/// last one open-ended.
struct Tariff {
    flat_fen: i64,
    flat_up_to_fen: i64,
    bands: &'static [Band],
    /// Above every band.
    above_basis_points: i128,
}

const YUAN: i64 = 100;

/// Art. 14(2): 30 yuan up to 1,000 yuan; 1% of the part from 1,000 to 100,000; 0.5% above.
const PRESERVATION: Tariff = Tariff {
    flat_fen: 30 * YUAN,
    flat_up_to_fen: 1_000 * YUAN,
    bands: &[Band {
        up_to_fen: 100_000 * YUAN,
        basis_points: 100,
    }],
    above_basis_points: 50,
};

/// Art. 14(2), last sentence: a preservation costs at most 5,000 yuan.
pub const PRESERVATION_FEE_CAP_FEN: i64 = 5_000 * YUAN;

/// Art. 13(1): 50 yuan up to 10,000 yuan, then 2.5%, 2%, 1.5%, 1%, 0.9%, 0.8%, 0.7%, 0.6%
/// of the parts up to 100,000, 200,000, 500,000, 1, 2, 5, 10 and 20 million; 0.5% above.
const PROPERTY_CASE: Tariff = Tariff {
    flat_fen: 50 * YUAN,
    flat_up_to_fen: 10_000 * YUAN,
    bands: &[
        Band {
            up_to_fen: 100_000 * YUAN,
            basis_points: 250,
        },
        Band {
            up_to_fen: 200_000 * YUAN,
            basis_points: 200,
        },
        Band {
            up_to_fen: 500_000 * YUAN,
            basis_points: 150,
        },
        Band {
            up_to_fen: 1_000_000 * YUAN,
            basis_points: 100,
        },
        Band {
            up_to_fen: 2_000_000 * YUAN,
            basis_points: 90,
        },
        Band {
            up_to_fen: 5_000_000 * YUAN,
            basis_points: 80,
        },
        Band {
            up_to_fen: 10_000_000 * YUAN,
            basis_points: 70,
        },
        Band {
            up_to_fen: 20_000_000 * YUAN,
            basis_points: 60,
        },
    ],
    above_basis_points: 50,
};

impl Tariff {
    /// The fee in ten-thousandths of a fen (fen × basis points), before rounding. A negative
    /// amount counts as none.
    fn exact(&self, amount_fen: i64) -> i128 {
        let amount = i128::from(amount_fen.max(0));
        let mut fee = i128::from(self.flat_fen) * 10_000;
        let mut floor = i128::from(self.flat_up_to_fen);
        for band in self.bands {
            let top = i128::from(band.up_to_fen);
            if amount <= floor {
                return fee;
            }
            fee += (amount.min(top) - floor) * band.basis_points;
            floor = top;
        }
        if amount > floor {
            fee += (amount - floor) * self.above_basis_points;
        }
        fee
    }
}

/// `numerator / denominator` rounded half up (both positive).
fn round_half_up(numerator: i128, denominator: i128) -> i64 {
    let rounded = (numerator * 2 + denominator) / (denominator * 2);
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// The fee for preserving `amount_fen` (the amount actually preserved), Fees art. 14(2),
/// capped at 5,000 yuan.
pub fn preservation_fee_fen(amount_fen: i64) -> i64 {
    round_half_up(PRESERVATION.exact(amount_fen), 10_000).min(PRESERVATION_FEE_CAP_FEN)
}

/// The acceptance fee of a property case claiming `claim_fen`, Fees art. 13(1).
pub fn property_case_fee_fen(claim_fen: i64) -> i64 {
    round_half_up(PROPERTY_CASE.exact(claim_fen), 10_000)
}

/// A payment order's fee: a third of the property-case fee, Fees art. 14(3).
pub fn payment_order_fee_fen(claim_fen: i64) -> i64 {
    round_half_up(PROPERTY_CASE.exact(claim_fen), 30_000)
}

/// Half the property-case fee: simple procedure (art. 16), or a case closed by mediation or
/// withdrawal (art. 15).
pub fn halved_property_case_fee_fen(claim_fen: i64) -> i64 {
    round_half_up(PROPERTY_CASE.exact(claim_fen), 20_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yuan(y: f64) -> i64 {
        (y * 100.0).round() as i64
    }

    #[test]
    fn preservation_fees_at_their_boundaries() {
        // 1,000 yuan and below: 30 yuan ("不超过1000元").
        assert_eq!(preservation_fee_fen(0), yuan(30.0));
        assert_eq!(preservation_fee_fen(yuan(1_000.0)), yuan(30.0));
        // One fen more pays 1% of one fen: 0.01 fen, rounded away.
        assert_eq!(preservation_fee_fen(yuan(1_000.01)), yuan(30.0));
        assert_eq!(preservation_fee_fen(yuan(1_050.0)), yuan(30.5));
        // 100,000: 30 + 1% of 99,000.
        assert_eq!(preservation_fee_fen(yuan(100_000.0)), yuan(1_020.0));
        assert_eq!(preservation_fee_fen(yuan(100_000.01)), yuan(1_020.0));
        assert_eq!(preservation_fee_fen(yuan(100_200.0)), yuan(1_021.0));
        // The cap: 1,020 + 0.5% of 796,000 = 5,000 at 896,000 yuan, and no more above it.
        assert_eq!(preservation_fee_fen(yuan(895_000.0)), yuan(4_995.0));
        assert_eq!(
            preservation_fee_fen(yuan(896_000.0)),
            PRESERVATION_FEE_CAP_FEN
        );
        assert_eq!(
            preservation_fee_fen(yuan(896_000.01)),
            PRESERVATION_FEE_CAP_FEN
        );
        assert_eq!(preservation_fee_fen(i64::MAX), PRESERVATION_FEE_CAP_FEN);
    }

    #[test]
    fn property_case_fees_match_the_worked_examples() {
        // RULES.md, "Litigation": 50,000 yuan → 1,050 (525 simple, 350 as a payment order).
        assert_eq!(property_case_fee_fen(yuan(50_000.0)), yuan(1_050.0));
        assert_eq!(halved_property_case_fee_fen(yuan(50_000.0)), yuan(525.0));
        assert_eq!(payment_order_fee_fen(yuan(50_000.0)), yuan(350.0));
        // 100,000 → 2,300; up to 10,000 → 50.
        assert_eq!(property_case_fee_fen(yuan(100_000.0)), yuan(2_300.0));
        assert_eq!(property_case_fee_fen(yuan(10_000.0)), yuan(50.0));
        assert_eq!(property_case_fee_fen(yuan(1.0)), yuan(50.0));
        // 200,000: 2,300 + 2% of 100,000; 500,000: + 1.5% of 300,000.
        assert_eq!(property_case_fee_fen(yuan(200_000.0)), yuan(4_300.0));
        assert_eq!(property_case_fee_fen(yuan(500_000.0)), yuan(8_800.0));
        // 30 million: every band, then 0.5% of the 10 million above 20 million.
        assert_eq!(property_case_fee_fen(yuan(30_000_000.0)), yuan(191_800.0));
    }

    #[test]
    fn a_third_and_a_half_are_rounded_once_to_the_fen() {
        // 10,001 yuan: 50.025 yuan; a third 16.675 → 16.68; half 25.0125 → 25.01.
        assert_eq!(property_case_fee_fen(yuan(10_001.0)), yuan(50.03));
        assert_eq!(payment_order_fee_fen(yuan(10_001.0)), yuan(16.68));
        assert_eq!(halved_property_case_fee_fen(yuan(10_001.0)), yuan(25.01));
    }
}

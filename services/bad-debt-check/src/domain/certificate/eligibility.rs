//! Whether a checked case may have a certificate, and on which rulings it rests (RULES.md
//! "Bad-debt pre-check": the debtor's other enforcement ended for lack of property, by a
//! ruling that still stands and, when the court sets a recency window, is recent enough).

use chrono::NaiveDate;

/// Where the case's check stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckState {
    /// Taken, waiting for the next matching run.
    Pending,
    NoMatch,
    Matched,
}

/// A ruling the check matched, as it stands today.
#[derive(Debug, Clone, Copy)]
pub struct MatchedRuling<'a> {
    pub number: &'a str,
    pub revoked: bool,
    pub terminated_on: Option<NaiveDate>,
}

/// Why no certificate is issued: the rule and what the bank reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub rule: &'static str,
    pub description: &'static str,
}

/// The rulings a certificate for the case rests on, sorted: those matched that still stand
/// today (one revoked since the check no longer counts) and were terminated on or after
/// `window_start` when there is a window.
pub fn grounds(
    state: CheckState,
    rulings: &[MatchedRuling<'_>],
    window_start: Option<NaiveDate>,
) -> Result<Vec<String>, Refusal> {
    match state {
        CheckState::Matched => {}
        CheckState::Pending => {
            return Err(Refusal {
                rule: "pre_check.pending",
                description: "该案件正在等待比对，请稍后申请 / the case waits for the next matching run; apply again shortly",
            });
        }
        CheckState::NoMatch => {
            return Err(Refusal {
                rule: "pre_check.no_match",
                description: "未匹配终本案件，不能出具预查废证明 / no terminated-enforcement ruling matched; no certificate",
            });
        }
    }
    let mut numbers: Vec<String> = rulings
        .iter()
        .filter(|r| {
            !r.revoked
                && window_start.is_none_or(|start| r.terminated_on.is_some_and(|t| t >= start))
        })
        .map(|r| r.number.to_string())
        .collect();
    if numbers.is_empty() {
        return Err(Refusal {
            rule: "pre_check.rulings_revoked",
            description: "匹配的终本裁定均已恢复执行 / every matching ruling has since been revoked",
        });
    }
    numbers.sort();
    Ok(numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn ruling(number: &str, revoked: bool, terminated_on: NaiveDate) -> MatchedRuling<'_> {
        MatchedRuling {
            number,
            revoked,
            terminated_on: Some(terminated_on),
        }
    }

    #[test]
    fn only_standing_rulings_within_the_window_ground_a_certificate() {
        let rulings = [
            ruling("B", false, day(2025, 3, 1)),
            ruling("A", false, day(2025, 2, 28)),
            ruling("C", true, day(2025, 5, 1)),
            ruling("D", false, day(2025, 2, 27)),
        ];
        let start = Some(day(2025, 2, 28));
        assert_eq!(
            grounds(CheckState::Matched, &rulings, start),
            Ok(vec!["A".to_string(), "B".to_string()])
        );
        assert_eq!(
            grounds(CheckState::Matched, &rulings, None).map(|n| n.len()),
            Ok(3)
        );
        let revoked = [ruling("C", true, day(2025, 5, 1))];
        assert_eq!(
            grounds(CheckState::Matched, &revoked, None)
                .unwrap_err()
                .rule,
            "pre_check.rulings_revoked"
        );
        assert_eq!(
            grounds(CheckState::Pending, &rulings, None)
                .unwrap_err()
                .rule,
            "pre_check.pending"
        );
        assert_eq!(
            grounds(CheckState::NoMatch, &[], None).unwrap_err().rule,
            "pre_check.no_match"
        );
    }
}

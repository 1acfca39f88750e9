//! The mobile number a bank gives for a debtor (RULES.md "Scope (intake)"). The resident ID
//! (GB 11643) and the unified social credit code (GB 32100) are the kernel's
//! (`sieve_kernel::rules::resident_id`, `sieve_kernel::rules::uscc`).
//!
//! Pure functions: nothing here reads the clock.

/// Why a string is not a mainland mobile number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MobileError {
    /// Something other than ASCII digits (a space, a dash, a `+86`, a full-width digit).
    #[error("a mobile number holds digits only")]
    NonDigit,
    /// Digits only, but not 11 of them.
    #[error("a mobile number has 11 digits, this one has {digits}")]
    WrongLength { digits: usize },
    /// 11 digits that do not start with 1.
    #[error("a mobile number starts with 1")]
    BadPrefix,
}

/// A mainland mobile number: 11 ASCII digits starting with 1 (RULES.md "Scope (intake)").
/// Surrounding whitespace is ignored.
pub fn validate_mobile(raw: &str) -> Result<(), MobileError> {
    let s = raw.trim();
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MobileError::NonDigit);
    }
    if s.len() != 11 {
        return Err(MobileError::WrongLength { digits: s.len() });
    }
    if !s.starts_with('1') {
        return Err(MobileError::BadPrefix);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_numbers() {
        assert_eq!(validate_mobile("13917784483"), Ok(()));
        assert_eq!(validate_mobile(" 13917784483 "), Ok(()));
        assert_eq!(
            validate_mobile("1361234567"),
            Err(MobileError::WrongLength { digits: 10 })
        );
        assert_eq!(
            validate_mobile("136123456789"),
            Err(MobileError::WrongLength { digits: 12 })
        );
        assert_eq!(validate_mobile("23912345678"), Err(MobileError::BadPrefix));
        assert_eq!(validate_mobile("139-1778-4483"), Err(MobileError::NonDigit));
        assert_eq!(
            validate_mobile("+8613917784483"),
            Err(MobileError::NonDigit)
        );
        assert_eq!(
            validate_mobile(""),
            Err(MobileError::WrongLength { digits: 0 })
        );
    }
}

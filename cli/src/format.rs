//! How times and enum values are shown to people (amounts: `sieve_kernel::rules::money`).

use chrono::DateTime;
use sieve_proto::common::v1::{Actor, DebtorKind, ProductType, Stage};

/// A protobuf timestamp as Asia/Shanghai wall-clock time, `2025-03-02 01:00:00`.
pub fn shanghai_time(ts: Option<&prost_types::Timestamp>) -> String {
    let Some(ts) = ts else {
        return "-".to_owned();
    };
    match DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).unwrap_or(0)) {
        Some(t) => t
            .with_timezone(&sieve_kernel::clock::shanghai())
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        None => format!("{}s", ts.seconds),
    }
}

/// The Asia/Shanghai date of a protobuf timestamp (1970-01-01 for one out of range).
pub fn shanghai_date(ts: &prost_types::Timestamp) -> chrono::NaiveDate {
    DateTime::from_timestamp(ts.seconds, 0)
        .map(|t| {
            t.with_timezone(&sieve_kernel::clock::shanghai())
                .date_naive()
        })
        .unwrap_or_default()
}

/// `STAGE_BAD_DEBT_CHECK` → `BAD_DEBT_CHECK`; unknown numbers are shown as numbers.
pub fn stage(value: i32) -> String {
    enum_name(
        Stage::try_from(value).map(|s| s.as_str_name()),
        "STAGE_",
        value,
    )
}

pub fn actor(value: i32) -> String {
    enum_name(
        Actor::try_from(value).map(|a| a.as_str_name()),
        "ACTOR_",
        value,
    )
}

pub fn product(value: i32) -> &'static str {
    match ProductType::try_from(value) {
        Ok(ProductType::CreditCard) => "信用卡 credit card",
        Ok(ProductType::Loan) => "贷款 loan",
        _ => "unspecified",
    }
}

pub fn debtor_kind(value: i32) -> &'static str {
    match DebtorKind::try_from(value) {
        Ok(DebtorKind::NaturalPerson) => "自然人 natural person",
        Ok(DebtorKind::Organisation) => "法人 organisation",
        _ => "unspecified",
    }
}

/// An enum's protobuf name without its prefix; unknown numbers as numbers.
pub(crate) fn enum_name<E>(name: Result<&'static str, E>, prefix: &str, value: i32) -> String {
    match name {
        Ok(n) => n.strip_prefix(prefix).unwrap_or(n).to_owned(),
        Err(_) => value.to_string(),
    }
}

/// What became of a file sent to the court: its rows, and the server's answer once sent.
#[derive(Debug, Clone)]
pub struct FileReport<O> {
    pub file: std::path::PathBuf,
    pub request_id: String,
    /// Data rows in the file (blank rows not counted).
    pub rows_read: usize,
    /// Rows that could not be read: reported here, never sent.
    pub unreadable: Vec<crate::batch_file::RowError>,
    /// `None` when no row could be read, so there was nothing to send.
    pub outcome: Option<O>,
}

impl<O> FileReport<O> {
    /// The report as printed: rows read, the rows that could not be read and so were not sent
    /// (`again` names what to do after fixing them: "submit", "import"), then the answer.
    pub fn render(&self, again: &str, outcome: impl Fn(&mut String, &O)) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {} data rows, {} could not be read",
            self.file.display(),
            self.rows_read,
            self.unreadable.len()
        );
        if !self.unreadable.is_empty() {
            let _ = writeln!(out, "not sent (fix these rows and {again} again):");
            for e in &self.unreadable {
                let _ = writeln!(
                    out,
                    "  row {:>6}  column {}: {}",
                    e.row, e.column, e.message
                );
            }
        }
        match &self.outcome {
            None => {
                let _ = writeln!(out, "nothing to send");
            }
            Some(o) => {
                let _ = writeln!(out, "request id {}", self.request_id);
                outcome(&mut out, o);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_shanghai() {
        // 2025-03-01 17:00:00 UTC.
        let ts = prost_types::Timestamp {
            seconds: 1_740_848_400,
            nanos: 0,
        };
        assert_eq!(shanghai_time(Some(&ts)), "2025-03-02 01:00:00");
        assert_eq!(shanghai_time(None), "-");
    }

    #[test]
    fn enum_names_drop_their_prefix() {
        assert_eq!(stage(Stage::BadDebtCheck as i32), "BAD_DEBT_CHECK");
        assert_eq!(actor(Actor::Intake as i32), "INTAKE");
        assert_eq!(stage(999), "999");
        assert_eq!(product(ProductType::Loan as i32), "贷款 loan");
    }
}

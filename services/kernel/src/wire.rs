//! Small translations every service's API layer needs, kept in one place.

use crate::error::{Error, Result};

/// Longest id a caller may send (ids, request ids, event ids).
pub const MAX_ID_BYTES: usize = 128;

/// A required identifier: present, not blank, not absurdly long.
pub fn require_id(field: &'static str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid_field(field, "required / 必填"));
    }
    if value.len() > MAX_ID_BYTES {
        return Err(Error::invalid_field(
            field,
            format!("at most {MAX_ID_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Epoch milliseconds (how Sieve stores instants) as a protobuf timestamp.
pub fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

pub fn millis(ts: &prost_types::Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(ts.nanos) / 1_000_000)
}

/// A client stream that broke: a message that does not decode, or a caller that went away.
/// `what` names the stream ("batch", "import") and `kept` says what became of it.
pub fn stream_error(status: &tonic::Status, what: &str, kept: &str) -> Error {
    match status.code() {
        tonic::Code::Cancelled => Error::bad_request(
            "STREAM_CANCELLED",
            format!("the caller cancelled the {what}; {kept}"),
        ),
        _ => Error::bad_request(
            "MALFORMED_MESSAGE",
            format!(
                "a message of the {what} could not be read ({}); {kept}",
                status.message()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_millis() {
        for ms in [0, 1, 999, 1_000, -1, -1_001, 1_764_000_000_123] {
            assert_eq!(millis(&timestamp(ms)), ms, "{ms}");
        }
    }

    #[test]
    fn ids_are_required_and_bounded() {
        assert!(require_id("case_id", "c1").is_ok());
        assert_eq!(
            require_id("case_id", "  ").unwrap_err().violations[0].field,
            "case_id"
        );
        assert!(require_id("case_id", &"x".repeat(129)).is_err());
    }
}

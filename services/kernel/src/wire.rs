//! Small translations every service's API layer needs, kept in one place.

use crate::error::{Error, Result, reason};

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

/// Case ids one `BatchGet` call may ask for.
pub const MAX_BATCH_GET: usize = 1_000;

/// The case ids of a `BatchGet` call: 1 to [`MAX_BATCH_GET`] of them, each a valid id (a bad
/// one named by its index).
pub fn require_case_ids(ids: &[String]) -> Result<()> {
    let max = MAX_BATCH_GET;
    if ids.is_empty() || ids.len() > max {
        return Err(Error::bad_request(
            crate::error::reason::CASE_COUNT,
            format!("ask for 1 to {max} cases per call"),
        )
        .with_violation("case_ids", ids.len().to_string()));
    }
    for (i, id) in ids.iter().enumerate() {
        if id.trim().is_empty() || id.len() > MAX_ID_BYTES {
            return Err(Error::invalid_field(
                format!("case_ids[{i}]"),
                format!("required, at most {MAX_ID_BYTES} bytes"),
            ));
        }
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
    if let Some(e) = too_large(status) {
        return e;
    }
    match status.code() {
        tonic::Code::Cancelled => Error::bad_request(
            reason::STREAM_CANCELLED,
            format!("the caller cancelled the {what}; {kept}"),
        ),
        _ => Error::bad_request(
            reason::MALFORMED_MESSAGE,
            format!(
                "a message of the {what} could not be read ({}); {kept}",
                status.message()
            ),
        ),
    }
}

/// tonic's refusal of a message over the size limit (OUT_OF_RANGE, "... found N bytes, the
/// limit is: M bytes"), as gRPC answers it: RESOURCE_EXHAUSTED, MESSAGE_TOO_LARGE, with the
/// limit and the size in ErrorInfo.
pub fn too_large(status: &tonic::Status) -> Option<Error> {
    if status.code() != tonic::Code::OutOfRange {
        return None;
    }
    let message = status.message();
    let rest = message.split("length too large: found ").nth(1)?;
    let (found, rest) = rest.split_once(" bytes, the limit is: ")?;
    let limit = rest.strip_suffix(" bytes")?;
    let (found, limit): (u64, u64) = (found.parse().ok()?, limit.parse().ok()?);
    let whose = if message.contains("encoded message") {
        "the answer"
    } else {
        "a message"
    };
    Some(
        Error::new(
            crate::ErrorCode::TooLarge,
            reason::MESSAGE_TOO_LARGE,
            format!(
                "{whose} of {found} bytes is over the limit of {limit} bytes; send smaller messages (fewer cases per chunk)"
            ),
        )
        .with_meta("limit_bytes", limit.to_string())
        .with_meta("found_bytes", found.to_string()),
    )
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
    fn a_message_over_the_limit_is_resource_exhausted_with_the_limit() {
        let status = tonic::Status::out_of_range(
            "Error, decoded message length too large: found 20000000 bytes, the limit is: 16777216 bytes",
        );
        let e = too_large(&status).unwrap();
        assert_eq!(e.code, crate::ErrorCode::TooLarge);
        assert_eq!(e.reason, reason::MESSAGE_TOO_LARGE);
        let status: tonic::Status = stream_error(&status, "batch", "nothing was kept").into();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        use tonic_types::StatusExt;
        let info = status.get_error_details().error_info().unwrap().clone();
        assert_eq!(info.metadata["limit_bytes"], "16777216");
        assert!(too_large(&tonic::Status::out_of_range("something else")).is_none());
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

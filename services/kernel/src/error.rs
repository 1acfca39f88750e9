//! One error type for every service and one mapping to `tonic::Status` (as Quickwit does):
//! a small code enum decides the gRPC code; details travel as tonic-types `ErrorInfo` (a
//! stable reason) and `BadRequest` field violations, so a bank can tell which row and field
//! broke which rule. Internal failures are logged with a reference and never shown.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The domain of every `ErrorInfo` Sieve sends.
pub const ERROR_DOMAIN: &str = "sieve.court";

/// Every `ErrorInfo` reason Sieve sends, in one place: stable UPPER_SNAKE codes a program
/// matches on (servers, the CLI and tests use these constants). Never rename one.
pub mod reason {
    // Any service.
    /// A single field of the request is wrong (`Error::invalid_field`).
    pub const INVALID_FIELD: &str = "INVALID_FIELD";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// Something broke on our side; the message carries only a reference.
    pub const INTERNAL: &str = "INTERNAL";
    pub const UNAVAILABLE: &str = "UNAVAILABLE";
    /// The request's protobuf does not decode.
    pub const MALFORMED_MESSAGE: &str = "MALFORMED_MESSAGE";
    pub const MESSAGE_TOO_LARGE: &str = "MESSAGE_TOO_LARGE";
    /// The caller cancelled its stream.
    pub const STREAM_CANCELLED: &str = "STREAM_CANCELLED";
    /// An internal server was called without the internal credential, or with a wrong one.
    pub const INTERNAL_CREDENTIAL_MISSING: &str = "INTERNAL_CREDENTIAL_MISSING";
    pub const INTERNAL_CREDENTIAL_INVALID: &str = "INTERNAL_CREDENTIAL_INVALID";

    // Uploads (a bank's batch, the registry's import): a header, then rows in order.
    pub const HEADER_FIRST: &str = "HEADER_FIRST";
    pub const HEADER_TWICE: &str = "HEADER_TWICE";
    pub const ROWS_OUT_OF_ORDER: &str = "ROWS_OUT_OF_ORDER";
    pub const BATCH_EMPTY: &str = "BATCH_EMPTY";
    pub const BATCH_TOO_LARGE: &str = "BATCH_TOO_LARGE";
    /// The same request id is being received by another call.
    pub const BATCH_IN_PROGRESS: &str = "BATCH_IN_PROGRESS";
    pub const BATCH_LONGER_THAN_DECLARED: &str = "BATCH_LONGER_THAN_DECLARED";
    pub const BATCH_SHORTER_THAN_DECLARED: &str = "BATCH_SHORTER_THAN_DECLARED";
    /// The batch was given up while being received; nothing was kept.
    pub const BATCH_LEASE_LOST: &str = "BATCH_LEASE_LOST";
    pub const BATCH_NOT_COMPLETED: &str = "BATCH_NOT_COMPLETED";
    pub const IMPORT_EMPTY: &str = "IMPORT_EMPTY";
    pub const IMPORT_SIZE: &str = "IMPORT_SIZE";
    pub const IMPORT_IN_PROGRESS: &str = "IMPORT_IN_PROGRESS";
    pub const IMPORT_LONGER_THAN_DECLARED: &str = "IMPORT_LONGER_THAN_DECLARED";
    pub const IMPORT_SHORTER_THAN_DECLARED: &str = "IMPORT_SHORTER_THAN_DECLARED";

    // Intake: banks and the chain.
    pub const INVALID_BANK: &str = "INVALID_BANK";
    pub const ILLEGAL_TRANSITION: &str = "ILLEGAL_TRANSITION";
    pub const STAGE_MISMATCH: &str = "STAGE_MISMATCH";
    pub const CONCURRENT_TRANSITION: &str = "CONCURRENT_TRANSITION";
    pub const TOO_MANY_OUTCOMES: &str = "TOO_MANY_OUTCOMES";
    pub const EVENT_ID_REUSED: &str = "EVENT_ID_REUSED";
    /// A request id sent again with other content (`replay`): a retry must repeat the call.
    pub const REQUEST_ID_REUSED: &str = "REQUEST_ID_REUSED";

    // Preservation.
    /// The act needs a preservation in force (approved, not lifted); the message says its
    /// status.
    pub const PRESERVATION_NOT_IN_FORCE: &str = "PRESERVATION_NOT_IN_FORCE";
    /// The freeze is not held (unanswered, failed, lifted, lapsed or being lifted).
    pub const FREEZE_NOT_IN_FORCE: &str = "FREEZE_NOT_IN_FORCE";
    /// A renewal asked fewer than 7 days before expiry (provisions art. 18); the message and
    /// `last_day` say the last day it could have been asked.
    pub const RENEWAL_LATE: &str = "RENEWAL_LATE";

    // The pre-check.
    pub const TOO_MANY_CASES: &str = "TOO_MANY_CASES";
    /// An application for certificates names no case, or more than one call takes.
    pub const CASE_COUNT: &str = "CASE_COUNT";

    // The gateway: who may call which door.
    pub const TOKEN_MISSING: &str = "TOKEN_MISSING";
    pub const TOKEN_INVALID: &str = "TOKEN_INVALID";
    pub const TOKEN_EXPIRED: &str = "TOKEN_EXPIRED";
    pub const WRONG_ROLE: &str = "WRONG_ROLE";
    pub const OTHER_COURT: &str = "OTHER_COURT";
    pub const UNKNOWN_ORGANISATION: &str = "UNKNOWN_ORGANISATION";
    /// Intake could not say whether the token's bank exists (logged, not sent: the caller
    /// sees intake's own status).
    pub const ORGANISATION_UNCHECKED: &str = "ORGANISATION_UNCHECKED";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const SERVICE_NOT_DEPLOYED: &str = "SERVICE_NOT_DEPLOYED";
    pub const BANK_MISMATCH: &str = "BANK_MISMATCH";
    /// The suite runs on the system clock, which nobody moves (`sieve up --manual-clock`).
    pub const CLOCK_NOT_MANUAL: &str = "CLOCK_NOT_MANUAL";
    /// A holiday calendar file that does not parse (its line and reason in the violation).
    pub const CALENDAR_INVALID: &str = "CALENDAR_INVALID";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request itself is wrong; fixing it is the caller's job.
    BadRequest,
    NotFound,
    AlreadyExists,
    /// The request is well-formed but the record's state does not allow it.
    FailedPrecondition,
    /// A concurrent request got there first; retrying may succeed.
    Conflict,
    TooLarge,
    Unauthenticated,
    PermissionDenied,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn grpc(self) -> Code {
        match self {
            ErrorCode::BadRequest => Code::InvalidArgument,
            ErrorCode::NotFound => Code::NotFound,
            ErrorCode::AlreadyExists => Code::AlreadyExists,
            ErrorCode::FailedPrecondition => Code::FailedPrecondition,
            ErrorCode::Conflict => Code::Aborted,
            ErrorCode::TooLarge => Code::ResourceExhausted,
            ErrorCode::Unauthenticated => Code::Unauthenticated,
            ErrorCode::PermissionDenied => Code::PermissionDenied,
            ErrorCode::Unavailable => Code::Unavailable,
            ErrorCode::Internal => Code::Internal,
        }
    }
}

/// A field that broke a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{code:?} {reason}: {message}")]
pub struct Error {
    pub code: ErrorCode,
    /// Stable, UPPER_SNAKE reason a program can match on (the `ErrorInfo` reason).
    pub reason: &'static str,
    pub message: String,
    pub violations: Vec<FieldViolation>,
    pub metadata: HashMap<String, String>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub fn new(code: ErrorCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            violations: Vec::new(),
            metadata: HashMap::new(),
            source: None,
        }
    }

    pub fn bad_request(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, reason, message)
    }

    /// A single field that is wrong.
    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Self {
        let field = field.into();
        let description = description.into();
        Self::bad_request(reason::INVALID_FIELD, format!("{field}: {description}"))
            .with_violation(field, description)
    }

    /// The id is quoted as refusals quote what callers sent: bounded, control characters
    /// replaced (it reaches terminals and logs).
    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        let id = crate::rules::mask::excerpt(&id.into(), crate::wire::MAX_ID_BYTES);
        Self::new(
            ErrorCode::NotFound,
            reason::NOT_FOUND,
            format!("{what} {id} does not exist"),
        )
        .with_meta("kind", what)
        .with_meta("id", id)
    }

    pub fn precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::FailedPrecondition, reason, message)
    }

    pub fn conflict(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, reason, message)
    }

    /// Something broke on our side. The source is logged under a reference; the caller sees
    /// only the reference.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let mut e = Self::new(ErrorCode::Internal, reason::INTERNAL, "internal error");
        e.source = Some(source.into());
        e
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, reason::UNAVAILABLE, message)
    }

    pub fn with_violation(
        mut self,
        field: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.violations.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
        self
    }

    pub fn with_meta(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(err: sea_orm::DbErr) -> Self {
        use sea_orm::DbErr;
        match err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
                let mut e = Error::unavailable("storage is unavailable, retry later");
                e.source = Some(Box::new(err));
                e
            }
            other => Error::internal(other),
        }
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        let mut details = ErrorDetails::new();
        let mut metadata = err.metadata;
        let message = if err.code == ErrorCode::Internal || err.code == ErrorCode::Unavailable {
            let reference = uuid::Uuid::new_v4().simple().to_string();
            let reference = reference[..12].to_string();
            match &err.source {
                Some(source) => {
                    tracing::error!(reference, error = %source, reason = err.reason, "request failed")
                }
                None => {
                    tracing::error!(reference, reason = err.reason, message = %err.message, "request failed")
                }
            }
            metadata.insert("reference".into(), reference.clone());
            format!("{} (reference {reference})", err.message)
        } else {
            err.message
        };
        details.set_error_info(err.reason, ERROR_DOMAIN, metadata);
        for v in err.violations {
            details.add_bad_request_violation(v.field, v.description);
        }
        Status::with_error_details(err.code.grpc(), message, details)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_request_carries_field_violations_and_reason() {
        let status: Status = Error::bad_request(reason::BATCH_EMPTY, "the batch has no cases")
            .with_violation("header.expected_cases", "must be at least 1")
            .into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        assert_eq!(details.error_info().unwrap().reason, reason::BATCH_EMPTY);
        let v = &details.bad_request().unwrap().field_violations[0];
        assert_eq!(v.field, "header.expected_cases");
    }

    #[test]
    fn internal_errors_do_not_leak() {
        let status: Status =
            Error::internal(std::io::Error::other("password=hunter2 at db")).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
        assert!(status.message().contains("reference"));
    }
}

//! What can go wrong in a `sieve` command, each shown the way an operator can act on it: a
//! gRPC error with its code, message and the structured details the services attach.

use std::fmt;

use tonic_types::StatusExt;

use crate::batch_file::FileError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] sieve_kernel::config::ConfigError),
    #[error("{0}")]
    File(#[from] FileError),
    #[error("starting {service}: {source}")]
    Build {
        service: &'static str,
        source: sieve_kernel::BuildError,
    },
    #[error("{service} stopped: {source}")]
    Serve {
        service: &'static str,
        source: tonic::transport::Error,
    },
    #[error(
        "the {name} cannot listen on {addr} (where services.preservation.{key} says the \
         preservation service finds it): {source}; stop what holds the port, or configure \
         services.preservation.{key} elsewhere"
    )]
    Simulator {
        name: &'static str,
        addr: std::net::SocketAddr,
        /// The preservation setting naming its address.
        key: &'static str,
        source: std::io::Error,
    },
    #[error("{0} stopped on its own")]
    Stopped(&'static str),
    #[error("a service failed: {0}")]
    Crashed(String),
    #[error("gateway address {url}: {source}")]
    Endpoint {
        url: String,
        source: tonic::transport::Error,
    },
    #[error("{}", GrpcDisplay(.call, .status, .hint.as_deref()))]
    Grpc {
        /// The RPC that failed, e.g. `BankApiService.SubmitBatch`.
        call: &'static str,
        status: Box<tonic::Status>,
        /// What the operator can do about it, when we can tell.
        hint: Option<String>,
    },
    #[error("signing key: {0}")]
    Key(String),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write {0}")]
    Output(String),
    /// The command ran and its answer is a refusal (a certificate that is not valid).
    #[error("{0}")]
    Rejected(String),
    #[error("the server broke the contract: {0}")]
    Protocol(String),
}

impl CliError {
    /// A failed call, with a hint for the failures an operator commonly meets.
    pub fn grpc(call: &'static str, status: tonic::Status) -> Self {
        let hint = match status.code() {
            tonic::Code::Unauthenticated => Some(
                "the gateway did not accept the token: pass --token (or SIEVE_TOKEN), or run \
                 from the directory where `sieve up` runs so the same development key is used"
                    .to_owned(),
            ),
            tonic::Code::PermissionDenied => Some(
                "the token's organisation may not make this call (submit needs a bank token: \
                 `sieve token --bank CODE`; status needs a court token: `sieve token --court`)"
                    .to_owned(),
            ),
            tonic::Code::Unavailable => {
                Some("is the suite running? start it with `sieve up`".to_owned())
            }
            _ => None,
        };
        CliError::Grpc {
            call,
            status: Box::new(status),
            hint,
        }
    }

    /// The gRPC status, when this is a failed call.
    pub fn status(&self) -> Option<&tonic::Status> {
        match self {
            CliError::Grpc { status, .. } => Some(status),
            _ => None,
        }
    }
}

/// `call failed: CODE: message`, then the `ErrorInfo` reason and metadata and every
/// `BadRequest` field violation, one per line.
struct GrpcDisplay<'a>(&'a str, &'a tonic::Status, Option<&'a str>);

impl fmt::Display for GrpcDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let GrpcDisplay(call, status, hint) = *self;
        write!(
            f,
            "{call} failed: {:?}: {}",
            status.code(),
            status.message()
        )?;
        let details = status.get_error_details();
        if let Some(info) = details.error_info() {
            write!(f, "\n  reason: {} ({})", info.reason, info.domain)?;
            let mut meta: Vec<_> = info.metadata.iter().collect();
            meta.sort();
            for (k, v) in meta {
                write!(f, "\n  {k}: {v}")?;
            }
        }
        if let Some(bad) = details.bad_request() {
            for v in &bad.field_violations {
                write!(f, "\n  field {}: {}", v.field, v.description)?;
            }
        }
        if let Some(hint) = hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sieve_kernel::error::reason;
    use tonic_types::ErrorDetails;

    #[test]
    fn grpc_errors_show_reason_and_field_violations() {
        let mut details = ErrorDetails::new();
        details.set_error_info(
            reason::BATCH_EMPTY,
            "sieve.court",
            std::collections::HashMap::new(),
        );
        details.add_bad_request_violation("header.expected_cases", "must be at least 1");
        let status = tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "the batch declares no cases",
            details,
        );
        let shown = CliError::grpc("BankApiService.SubmitBatch", status).to_string();
        assert_eq!(
            shown,
            "BankApiService.SubmitBatch failed: InvalidArgument: the batch declares no cases\n  \
             reason: BATCH_EMPTY (sieve.court)\n  \
             field header.expected_cases: must be at least 1"
        );
    }

    #[test]
    fn unavailable_suggests_starting_the_suite() {
        let shown = CliError::grpc(
            "CourtApiService.GetCaseDossier",
            tonic::Status::unavailable("x"),
        )
        .to_string();
        assert!(shown.contains("sieve up"), "{shown}");
    }
}

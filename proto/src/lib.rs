//! Sieve's contracts, generated from `proto/sieve/**.proto`.
//!
//! One module per protobuf package, versioned like the package (`sieve.intake.v1` is
//! [`intake::v1`]). [`FILE_DESCRIPTOR_SET`] carries every file for server reflection,
//! [`GOOGLE_RPC_FILE_DESCRIPTOR_SET`] the error details refusals carry.

/// Every Sieve proto file, encoded as a `google.protobuf.FileDescriptorSet`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/sieve_descriptor.bin"));

/// `google/rpc/error_details.proto` and `google/rpc/status.proto` with their imports, encoded
/// as a `google.protobuf.FileDescriptorSet`: reflection offers them so that clients decode a
/// refusal's `ErrorInfo` and `BadRequest`. The messages themselves are tonic-types'.
pub const GOOGLE_RPC_FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/google_rpc_descriptor.bin"));

macro_rules! package {
    ($name:ident, $pkg:literal) => {
        pub mod $name {
            pub mod v1 {
                #![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]
                tonic::include_proto!($pkg);
            }
        }
    };
}

package!(common, "sieve.common.v1");
package!(intake, "sieve.intake.v1");
package!(bad_debt_check, "sieve.bad_debt_check.v1");
package!(calendar, "sieve.calendar.v1");
package!(preservation, "sieve.preservation.v1");
package!(mediation, "sieve.mediation.v1");
package!(notarization, "sieve.notarization.v1");
package!(adjudication, "sieve.adjudication.v1");
package!(gateway, "sieve.gateway.v1");

/// Simulators of the systems the court talks to, run as real servers by tests and `sieve up`.
pub mod sim {
    /// A payment platform's freezing interface (`sieve.sim.payment.v1`).
    pub mod payment {
        pub mod v1 {
            tonic::include_proto!("sieve.sim.payment.v1");
        }
    }

    /// A document-service provider's interface: SMS, electronic, postal, in person
    /// (`sieve.sim.delivery.v1`).
    pub mod delivery {
        pub mod v1 {
            tonic::include_proto!("sieve.sim.delivery.v1");
        }
    }
}

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

/// A codec that sends pre-encoded bytes as they are and decodes answers as `T`: for tests that
/// must put malformed protobuf on the wire.
pub struct RawCodec<T>(std::marker::PhantomData<T>);

impl<T> Default for RawCodec<T> {
    fn default() -> Self {
        Self(std::marker::PhantomData)
    }
}

pub struct RawEncoder;
pub struct ProstDecoder<T>(std::marker::PhantomData<T>);

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> std::result::Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl<T: prost::Message + Default> tonic::codec::Decoder for ProstDecoder<T> {
    type Item = T;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> std::result::Result<Option<T>, tonic::Status> {
        use bytes::Buf;
        T::decode(src.copy_to_bytes(src.remaining()))
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl<T: prost::Message + Default + Send + 'static> tonic::codec::Codec for RawCodec<T> {
    type Encode = Vec<u8>;
    type Decode = T;
    type Encoder = RawEncoder;
    type Decoder = ProstDecoder<T>;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> ProstDecoder<T> {
        ProstDecoder(std::marker::PhantomData)
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

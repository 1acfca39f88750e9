//! A codec that puts bytes on the wire as they are: for tests of what a server does with a
//! message no generated client would send (malformed protobuf, over the size limit).

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
    ) -> Result<(), tonic::Status> {
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
    ) -> Result<Option<T>, tonic::Status> {
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
    use tonic_health::pb::HealthCheckResponse;

    use super::RawCodec;
    use sieve_kernel::error::reason;
    use sieve_kernel::server::{Access, Server};

    async fn call(addr: std::net::SocketAddr, bytes: Vec<u8>) -> Result<i32, tonic::Status> {
        let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.unwrap();
        grpc.unary(
            tonic::Request::new(bytes),
            http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check"),
            RawCodec::<HealthCheckResponse>::default(),
        )
        .await
        .map(|r| r.into_inner().status)
    }

    #[tokio::test]
    async fn a_unary_request_that_does_not_decode_is_refused_as_invalid_argument() {
        let settings = sieve_kernel::Settings::defaults().unwrap().server;
        let bound = Server::new("test", &settings, Access::Public)
            .bind("127.0.0.1", 0)
            .await
            .unwrap();
        let addr = bound.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(bound.run_until(async {
            let _ = stopped.await;
        }));

        // Field 1 (service) declares 127 bytes and ends after one.
        let err = call(addr, vec![0x0a, 0x7f, 0x41]).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
        use tonic_types::StatusExt;
        assert_eq!(
            err.get_error_details().error_info().unwrap().reason,
            reason::MALFORMED_MESSAGE
        );
        assert!(err.message().contains("failed to decode"), "{err:?}");
        // Over the size limit (health's default 4 MiB): RESOURCE_EXHAUSTED naming the limit.
        let mut big = vec![0x0a];
        let len = 5usize << 20;
        let mut n = len;
        while n >= 0x80 {
            big.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        big.push(n as u8);
        big.resize(big.len() + len, b'x');
        let err = call(addr, big).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
        let info = err.get_error_details().error_info().unwrap().clone();
        assert_eq!(info.reason, reason::MESSAGE_TOO_LARGE);
        assert_eq!(info.metadata["limit_bytes"], (4usize << 20).to_string());
        // A well-formed request is answered as before.
        let fine = call(addr, Vec::new()).await.unwrap();
        assert_eq!(
            fine,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
        let _ = stop.send(());
        let _ = served.await;
    }
}

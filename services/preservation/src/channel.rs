//! Where freeze orders go: the payment platforms, behind [`FreezeChannel`]. In service and in
//! tests it is [`PaymentPlatforms`], a gRPC client of the platforms' interface
//! (`sieve.sim.payment.v1`, which `sieve-sim` serves for tests and demos).

use sieve_proto::sim::payment::v1 as pb;
use sieve_proto::sim::payment::v1::payment_platform_service_client::PaymentPlatformServiceClient;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::domain::freezes::Platform;

/// One order to a platform. Sent again with the same id, it freezes nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeOrder {
    pub order_id: String,
    pub platform: Platform,
    /// The debtor's resident ID number, by which the platforms hold accounts.
    pub id_number: String,
    pub amount_fen: i64,
    pub ruling_number: String,
}

/// What a platform answered to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Frozen { frozen_fen: i64 },
    NoAccount,
    Lifted,
}

/// Why an order got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// Down, overloaded or unreachable: send the same order again later.
    #[error("the platform is unavailable: {0}")]
    Unavailable(String),
    /// The platform refused the order itself (a bad field, an id reused for another order):
    /// sending it again will not help.
    #[error("the platform refused the order: {0}")]
    Refused(String),
}

impl From<Status> for ChannelError {
    fn from(status: Status) -> Self {
        match status.code() {
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Cancelled
            | Code::Unknown
            | Code::Internal => ChannelError::Unavailable(status.message().to_string()),
            _ => ChannelError::Refused(format!("{:?}: {}", status.code(), status.message())),
        }
    }
}

/// The payment platforms as the preservation service reaches them.
#[async_trait::async_trait]
pub trait FreezeChannel: Send + Sync + 'static {
    async fn freeze(&self, order: &FreezeOrder) -> Result<Answer, ChannelError>;
    /// Releases what the order froze; lifting twice is lifting once.
    async fn lift(&self, platform: Platform, order_id: &str) -> Result<Answer, ChannelError>;
}

/// The platforms' gRPC interface.
#[derive(Debug, Clone)]
pub struct PaymentPlatforms {
    client: PaymentPlatformServiceClient<Channel>,
}

impl PaymentPlatforms {
    pub fn new(channel: Channel) -> Self {
        Self {
            client: PaymentPlatformServiceClient::new(channel),
        }
    }
}

fn platform_pb(p: Platform) -> i32 {
    match p {
        Platform::Alipay => pb::Platform::Alipay as i32,
        Platform::WechatPay => pb::Platform::WechatPay as i32,
    }
}

fn answer(order: Option<pb::FreezeOrder>) -> Result<Answer, ChannelError> {
    let order = order.ok_or_else(|| ChannelError::Refused("answered without the order".into()))?;
    match pb::OrderStatus::try_from(order.status) {
        Ok(pb::OrderStatus::Frozen) => Ok(Answer::Frozen {
            frozen_fen: order.frozen_fen,
        }),
        Ok(pb::OrderStatus::NoAccount) => Ok(Answer::NoAccount),
        Ok(pb::OrderStatus::Lifted) => Ok(Answer::Lifted),
        _ => Err(ChannelError::Refused(format!(
            "answered an order in status {}",
            order.status
        ))),
    }
}

#[async_trait::async_trait]
impl FreezeChannel for PaymentPlatforms {
    async fn freeze(&self, order: &FreezeOrder) -> Result<Answer, ChannelError> {
        let answered = self
            .client
            .clone()
            .freeze(pb::FreezeRequest {
                order_id: order.order_id.clone(),
                platform: platform_pb(order.platform),
                id_number: order.id_number.clone(),
                amount_fen: order.amount_fen,
                ruling_number: order.ruling_number.clone(),
            })
            .await?;
        answer(answered.into_inner().order)
    }

    async fn lift(&self, platform: Platform, order_id: &str) -> Result<Answer, ChannelError> {
        let answered = self
            .client
            .clone()
            .lift(pb::LiftRequest {
                order_id: order_id.to_string(),
                platform: platform_pb(platform),
            })
            .await?;
        answer(answered.into_inner().order)
    }
}

#[cfg(test)]
mod tests;

//! The payment simulator's tests, over the network: compiled only under `cargo test`.
#![cfg(test)]

use super::*;
use sieve_proto::sim::payment::v1::payment_platform_service_client::PaymentPlatformServiceClient;
use sieve_proto::sim::payment::v1::payment_simulator_service_client::PaymentSimulatorServiceClient;
use tonic::Code;
use tonic::transport::Channel;

const ID: &str = "230722199001011234";
const ALIPAY: i32 = pb::Platform::Alipay as i32;
const WECHAT: i32 = pb::Platform::WechatPay as i32;

async fn started() -> (
    PaymentPlatformServiceClient<Channel>,
    PaymentSimulatorServiceClient<Channel>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (channel, stop) = PaymentSimulator::default().start_local().await.unwrap();
    (
        PaymentPlatformServiceClient::new(channel.clone()),
        PaymentSimulatorServiceClient::new(channel),
        stop,
    )
}

fn freeze(order_id: &str, platform: i32, amount_fen: i64) -> pb::FreezeRequest {
    pb::FreezeRequest {
        order_id: order_id.into(),
        platform,
        id_number: ID.into(),
        amount_fen,
        ruling_number: "(2026)黑0722财保1号".into(),
    }
}

async fn open(sim: &mut PaymentSimulatorServiceClient<Channel>, platform: i32, balance_fen: i64) {
    sim.open_accounts(pb::OpenAccountsRequest {
        accounts: vec![pb::Account {
            platform,
            id_number: ID.into(),
            balance_fen,
            frozen_fen: 0,
        }],
    })
    .await
    .unwrap();
}

/// The order a freeze answered.
async fn order(
    platform: &mut PaymentPlatformServiceClient<Channel>,
    request: pb::FreezeRequest,
) -> pb::FreezeOrder {
    platform
        .freeze(request)
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap()
}

async fn frozen_on(sim: &mut PaymentSimulatorServiceClient<Channel>, platform: i32) -> i64 {
    sim.get_account(pb::GetAccountRequest {
        platform,
        id_number: ID.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .account
    .unwrap()
    .frozen_fen
}

#[tokio::test]
async fn a_freeze_holds_at_most_the_balance_once_per_order() {
    let (mut platform, mut sim, _stop) = started().await;
    open(&mut sim, ALIPAY, 50_000).await;

    // Asked 800 yuan of an account holding 500: 500 frozen.
    let first = order(&mut platform, freeze("o-1", ALIPAY, 80_000)).await;
    assert_eq!(first.status, pb::OrderStatus::Frozen as i32);
    assert_eq!((first.requested_fen, first.frozen_fen), (80_000, 50_000));
    // Sent again, the same order: nothing more frozen.
    let again = order(&mut platform, freeze("o-1", ALIPAY, 80_000)).await;
    assert_eq!(again, first);
    assert_eq!(frozen_on(&mut sim, ALIPAY).await, 50_000);
    // Another order finds nothing free; the same id for other content is refused.
    let second = order(&mut platform, freeze("o-2", ALIPAY, 10_000)).await;
    assert_eq!(second.frozen_fen, 0);
    let reused = platform
        .freeze(freeze("o-1", ALIPAY, 70_000))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::AlreadyExists);
    // No account on the other platform.
    let none = order(&mut platform, freeze("o-3", WECHAT, 10_000)).await;
    assert_eq!(
        (none.status, none.frozen_fen),
        (pb::OrderStatus::NoAccount as i32, 0)
    );

    // Lifting releases the funds, once.
    for _ in 0..2 {
        let lifted = platform
            .lift(pb::LiftRequest {
                order_id: "o-1".into(),
                platform: ALIPAY,
            })
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        assert_eq!(lifted.status, pb::OrderStatus::Lifted as i32);
        assert_eq!(frozen_on(&mut sim, ALIPAY).await, 0);
    }
}

#[tokio::test]
async fn a_platform_that_is_down_answers_unavailable_and_changes_nothing() {
    let (mut platform, mut sim, _stop) = started().await;
    open(&mut sim, WECHAT, 20_000).await;
    let outage = |down| pb::SetOutageRequest {
        platform: WECHAT,
        down,
    };
    sim.set_outage(outage(true)).await.unwrap();
    let refused = platform
        .freeze(freeze("o-1", WECHAT, 10_000))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable);
    assert_eq!(frozen_on(&mut sim, WECHAT).await, 0);
    // Alipay is not affected; once WeChat Pay is back the order goes through.
    let alipay = order(&mut platform, freeze("o-2", ALIPAY, 10_000)).await;
    assert_eq!(alipay.status, pb::OrderStatus::NoAccount as i32);
    sim.set_outage(outage(false)).await.unwrap();
    let order = order(&mut platform, freeze("o-1", WECHAT, 10_000)).await;
    assert_eq!(order.frozen_fen, 10_000);
    assert_eq!(frozen_on(&mut sim, WECHAT).await, 10_000);
}

#[tokio::test]
async fn bad_orders_are_refused_naming_the_field() {
    let (mut platform, _sim, _stop) = started().await;
    let cases = [
        (freeze("o", 9, 100), "platform"),
        (freeze("", ALIPAY, 100), "order_id"),
        (freeze("o", ALIPAY, 0), "amount_fen"),
    ];
    for (request, field) in cases {
        let status = platform.freeze(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains(field), "{}", status.message());
    }
}

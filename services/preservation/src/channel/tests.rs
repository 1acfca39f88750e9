use super::*;
use sieve_proto::sim::payment::v1::payment_simulator_service_client::PaymentSimulatorServiceClient;
use sieve_sim::payment::PaymentSimulator;

const ID: &str = "230722199001011234";

fn order(order_id: &str, platform: Platform, amount_fen: i64) -> FreezeOrder {
    FreezeOrder {
        order_id: order_id.into(),
        platform,
        id_number: ID.into(),
        amount_fen,
        ruling_number: "(2026)黑0722财保1号".into(),
    }
}

#[tokio::test]
async fn orders_reach_the_platforms_simulator_and_an_outage_is_worth_a_retry() {
    let (channel, _stop) = PaymentSimulator::default().start_local().await.unwrap();
    let mut sim = PaymentSimulatorServiceClient::new(channel.clone());
    sim.open_accounts(pb::OpenAccountsRequest {
        accounts: vec![pb::Account {
            platform: pb::Platform::Alipay as i32,
            id_number: ID.into(),
            balance_fen: 30_000,
            frozen_fen: 0,
        }],
    })
    .await
    .unwrap();
    let platforms = PaymentPlatforms::new(channel);

    let first = order("p-1/alipay", Platform::Alipay, 100_000);
    assert_eq!(
        platforms.freeze(&first).await,
        Ok(Answer::Frozen { frozen_fen: 30_000 })
    );
    // The same order again: the same answer, nothing more held.
    assert_eq!(
        platforms.freeze(&first).await,
        Ok(Answer::Frozen { frozen_fen: 30_000 })
    );
    assert_eq!(
        platforms
            .freeze(&order("p-1/wechat", Platform::WechatPay, 70_000))
            .await,
        Ok(Answer::NoAccount)
    );
    // The same id for other content: refused for good.
    assert!(matches!(
        platforms
            .freeze(&order("p-1/alipay", Platform::Alipay, 5))
            .await,
        Err(ChannelError::Refused(_))
    ));

    sim.set_outage(pb::SetOutageRequest {
        platform: pb::Platform::Alipay as i32,
        down: true,
    })
    .await
    .unwrap();
    assert!(matches!(
        platforms.lift(Platform::Alipay, "p-1/alipay").await,
        Err(ChannelError::Unavailable(_))
    ));
    sim.set_outage(pb::SetOutageRequest {
        platform: pb::Platform::Alipay as i32,
        down: false,
    })
    .await
    .unwrap();
    assert_eq!(
        platforms.lift(Platform::Alipay, "p-1/alipay").await,
        Ok(Answer::Lifted)
    );
}

#[tokio::test]
async fn a_platform_that_cannot_be_reached_is_unavailable_not_refused() {
    // Nothing listens here.
    let channel = Channel::from_static("http://127.0.0.1:1").connect_lazy();
    let platforms = PaymentPlatforms::new(channel);
    assert!(matches!(
        platforms
            .freeze(&order("p-2/alipay", Platform::Alipay, 100))
            .await,
        Err(ChannelError::Unavailable(_))
    ));
}

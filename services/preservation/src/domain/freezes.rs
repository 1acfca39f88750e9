//! How an approved preservation is executed at the payment platforms: one order per
//! platform, in the court's order of platforms, each asking only for what the confirmed
//! freezes before it left, so the sum frozen never exceeds the amount preserved. An order
//! not yet answered (the platform down, the service restarted) is sent again under its id
//! before anything else: the platform answers a repeated order without freezing twice.

/// The payment platforms whose account funds can be frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    Alipay,
    WechatPay,
}

impl Platform {
    /// The word stored and shown for it.
    pub fn word(self) -> &'static str {
        match self {
            Platform::Alipay => "ALIPAY",
            Platform::WechatPay => "WECHAT_PAY",
        }
    }

    pub fn parse(word: &str) -> Option<Platform> {
        ALL_PLATFORMS.into_iter().find(|p| p.word() == word)
    }
}

/// Platforms as stored: their words joined by commas, in order.
pub fn platforms_text(platforms: &[Platform]) -> String {
    platforms
        .iter()
        .map(|p| p.word())
        .collect::<Vec<_>>()
        .join(",")
}

/// Platforms as stored; a word no platform has is left out.
pub fn parse_platforms(text: &str) -> Vec<Platform> {
    text.split(',').filter_map(Platform::parse).collect()
}

/// Both platforms, in the order the court freezes them when an application names none.
pub const ALL_PLATFORMS: [Platform; 2] = [Platform::Alipay, Platform::WechatPay];

/// An order as the service knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderState {
    /// Sent, no answer yet: to be sent again under the same id.
    Unanswered,
    /// Confirmed: `frozen_fen` held, at most what was asked.
    Frozen { frozen_fen: i64 },
    /// The platform holds no account for the debtor.
    NoAccount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub platform: Platform,
    pub requested_fen: i64,
    pub state: OrderState,
}

/// What to do next for a preservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Send this order again, as it was.
    Resend(Order),
    /// Send a new order.
    Send { platform: Platform, amount_fen: i64 },
    /// Every platform has answered, or the amount is held in full.
    Done,
}

/// The next step for preserving `amount_fen` on `platforms` (in order), given the orders so
/// far.
pub fn next(amount_fen: i64, platforms: &[Platform], orders: &[Order]) -> Next {
    if let Some(waiting) = orders.iter().find(|o| o.state == OrderState::Unanswered) {
        return Next::Resend(*waiting);
    }
    let remaining = amount_fen - frozen_fen(orders);
    if remaining <= 0 {
        return Next::Done;
    }
    match platforms
        .iter()
        .find(|p| orders.iter().all(|o| o.platform != **p))
    {
        Some(platform) => Next::Send {
            platform: *platform,
            amount_fen: remaining,
        },
        None => Next::Done,
    }
}

/// What the confirmed orders hold.
pub fn frozen_fen(orders: &[Order]) -> i64 {
    orders
        .iter()
        .map(|o| match o.state {
            OrderState::Frozen { frozen_fen } => frozen_fen,
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the plan against accounts holding `balances` (None: no account), answering each
    /// order as a platform would; `down` platforms leave their first order unanswered once.
    fn execute(amount_fen: i64, balances: [Option<i64>; 2], down: &[Platform]) -> Vec<Order> {
        let mut orders: Vec<Order> = Vec::new();
        let mut outage: Vec<Platform> = down.to_vec();
        let answer = |platform: Platform, asked: i64| {
            let i = ALL_PLATFORMS.iter().position(|p| *p == platform).unwrap();
            match balances[i] {
                None => OrderState::NoAccount,
                Some(balance) => OrderState::Frozen {
                    frozen_fen: asked.min(balance),
                },
            }
        };
        for _ in 0..10 {
            match next(amount_fen, &ALL_PLATFORMS, &orders) {
                Next::Done => return orders,
                Next::Send {
                    platform,
                    amount_fen,
                } => {
                    let state = if let Some(i) = outage.iter().position(|p| *p == platform) {
                        outage.remove(i);
                        OrderState::Unanswered
                    } else {
                        answer(platform, amount_fen)
                    };
                    orders.push(Order {
                        platform,
                        requested_fen: amount_fen,
                        state,
                    });
                }
                Next::Resend(order) => {
                    let o = orders
                        .iter_mut()
                        .find(|o| o.platform == order.platform)
                        .unwrap();
                    o.state = answer(o.platform, o.requested_fen);
                }
            }
        }
        panic!("the plan did not finish: {orders:?}");
    }

    #[test]
    fn the_second_platform_is_asked_only_for_what_the_first_did_not_hold() {
        let orders = execute(100_000, [Some(30_000), Some(500_000)], &[]);
        assert_eq!(orders.len(), 2);
        assert_eq!(orders[1].requested_fen, 70_000);
        assert_eq!(frozen_fen(&orders), 100_000);
        // Held in full by the first: the second is never asked.
        let orders = execute(100_000, [Some(200_000), Some(500_000)], &[]);
        assert_eq!(orders.len(), 1);
        // No account anywhere: both asked, nothing held.
        let orders = execute(100_000, [None, None], &[]);
        assert_eq!((orders.len(), frozen_fen(&orders)), (2, 0));
    }

    #[test]
    fn an_unanswered_order_is_sent_again_before_any_other_and_nothing_exceeds_the_amount() {
        let orders = execute(100_000, [Some(60_000), Some(60_000)], &[Platform::Alipay]);
        assert_eq!(
            orders
                .iter()
                .map(|o| (o.platform, o.requested_fen))
                .collect::<Vec<_>>(),
            [(Platform::Alipay, 100_000), (Platform::WechatPay, 40_000)]
        );
        assert_eq!(frozen_fen(&orders), 100_000);
        for balances in [
            [Some(0), Some(0)],
            [Some(1), None],
            [Some(99_999), Some(99_999)],
        ] {
            for down in [&[][..], &[Platform::WechatPay], &ALL_PLATFORMS] {
                let orders = execute(100_000, balances, down);
                assert!(frozen_fen(&orders) <= 100_000, "{balances:?} {down:?}");
            }
        }
    }
}

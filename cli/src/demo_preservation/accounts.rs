//! What the demo's debtors hold at the payment platforms, drawn from the seed: some hold
//! nothing anywhere, some only at WeChat Pay, some less at Alipay than is preserved (so the
//! second platform is asked for the rest), the others enough at Alipay.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sieve_proto::sim::payment::v1::{Account, Platform};

/// Shares of the debtors, in percent: no account, WeChat Pay only, Alipay short; the rest
/// hold enough at Alipay.
const NONE_PERCENT: u32 = 15;
const WECHAT_ONLY_PERCENT: u32 = 10;
const ALIPAY_SHORT_PERCENT: u32 = 30;

/// One debtor's holdings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holding {
    /// No account on either platform: both are asked, nothing is frozen.
    Nothing,
    /// Only WeChat Pay, holding the amount: Alipay answers no account.
    WechatOnly,
    /// Alipay holds less than the amount; WeChat Pay the rest (or, `covered` false, less).
    AlipayShort { covered: bool },
    /// Alipay holds the amount or more.
    Enough,
}

/// The accounts to open and each debtor's holding, for `debtors` as (ID number, amount to
/// preserve in fen), in the order given: the same seed and order give the same accounts.
pub fn plan(seed: u64, debtors: &[(String, i64)]) -> (Vec<Account>, Vec<Holding>) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6163_636f_756e_7473);
    let mut accounts = Vec::new();
    let mut holdings = Vec::with_capacity(debtors.len());
    let account = |platform: Platform, id: &str, balance_fen: i64| Account {
        platform: platform as i32,
        id_number: id.to_owned(),
        balance_fen,
        frozen_fen: 0,
    };
    for (id, amount) in debtors {
        let amount = (*amount).max(1);
        let draw = rng.random_range(0..100);
        let holding = if draw < NONE_PERCENT {
            Holding::Nothing
        } else if draw < NONE_PERCENT + WECHAT_ONLY_PERCENT {
            Holding::WechatOnly
        } else if draw < NONE_PERCENT + WECHAT_ONLY_PERCENT + ALIPAY_SHORT_PERCENT {
            Holding::AlipayShort {
                covered: rng.random_bool(2.0 / 3.0),
            }
        } else {
            Holding::Enough
        };
        match holding {
            Holding::Nothing => {}
            Holding::WechatOnly => {
                accounts.push(account(
                    Platform::WechatPay,
                    id,
                    amount + extra(&mut rng, amount),
                ));
            }
            Holding::AlipayShort { covered } => {
                let alipay = amount * rng.random_range(20..=80) / 100;
                let rest = amount - alipay;
                let wechat = if covered {
                    rest + extra(&mut rng, amount)
                } else {
                    rest * rng.random_range(10..=90) / 100
                };
                accounts.push(account(Platform::Alipay, id, alipay));
                accounts.push(account(Platform::WechatPay, id, wechat));
            }
            Holding::Enough => {
                accounts.push(account(
                    Platform::Alipay,
                    id,
                    amount + extra(&mut rng, amount),
                ));
            }
        }
        holdings.push(holding);
    }
    (accounts, holdings)
}

/// Up to half the amount again: balances are seldom exactly what is owed.
fn extra(rng: &mut StdRng, amount: i64) -> i64 {
    amount * rng.random_range(0..=50) / 100
}

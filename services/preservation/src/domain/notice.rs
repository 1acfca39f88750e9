//! The notice to the debtor (CPL 106: the party whose property is preserved is told), as a
//! printable HTML page. It carries the bank's callback phone (local practice): a debtor who
//! calls it is mediated, which is what preservation-driven mediation (以保促调) is for.

use chrono::NaiveDate;
use sieve_kernel::rules::document::{chinese_date, html_escape};
use sieve_kernel::rules::money::format_yuan;

use super::freezes::Platform;

/// What the notice says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub court_name: String,
    pub ruling_number: String,
    pub ruled_on: NaiveDate,
    pub debtor_name: String,
    pub bank_name: String,
    /// The bank's callback phone, for the debtor to call.
    pub callback_phone: String,
    pub amount_preserved_fen: i64,
    /// What each platform froze.
    pub frozen: Vec<(Platform, i64)>,
    /// The last day for the bank's suit (CPL 104 para 3), after which the freezes are lifted.
    pub suit_due: NaiveDate,
}

fn platform_name(p: Platform) -> &'static str {
    match p {
        Platform::Alipay => "支付宝 Alipay",
        Platform::WechatPay => "微信支付 WeChat Pay",
    }
}

/// The notice as a self-contained HTML page.
pub fn render_html(n: &Notice) -> String {
    let e = |s: &str| html_escape(s);
    let rows: String = n
        .frozen
        .iter()
        .map(|(p, fen)| {
            format!(
                "<tr><th>{}</th><td class=\"amount\">{} 元</td></tr>",
                platform_name(*p),
                format_yuan(*fen)
            )
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <title>财产保全告知书 {number}</title></head><body>\
         <h1>{court}</h1><h2>财产保全告知书</h2>\
         <p class=\"en\">Notice of preservation (CPL 106)</p>\
         <p class=\"number\">{number}</p>\
         <p>{debtor}：</p>\
         <p>申请人{bank}向本院申请诉前财产保全，本院于{ruled}作出{number}民事裁定，\
         冻结你名下的资金 {amount} 元。</p>\
         <table>{rows}</table>\
         <p class=\"callback\">如你愿意与申请人协商还款，请致电 <strong>{phone}</strong>，\
         本院将组织调解。 To settle with the applicant, call <strong>{phone}</strong>; the court \
         will arrange mediation.</p>\
         <p>申请人应于{due}前起诉；逾期未起诉的，本院将解除保全（民事诉讼法第一百零四条）。</p>\
         </body></html>\n",
        court = e(&n.court_name),
        number = e(&n.ruling_number),
        debtor = e(&n.debtor_name),
        bank = e(&n.bank_name),
        ruled = chinese_date(n.ruled_on),
        amount = format_yuan(n.amount_preserved_fen),
        phone = e(&n.callback_phone),
        due = chinese_date(n.suit_due),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_carries_the_callback_phone_the_freezes_and_the_suit_date() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let notice = Notice {
            court_name: "黑龙江省桦川县人民法院".into(),
            ruling_number: "(2026)黑0826财保12号".into(),
            ruled_on: day(2026, 9, 7),
            debtor_name: "赵<磊>".into(),
            bank_name: "桦川农商银行".into(),
            callback_phone: "0454-8123456".into(),
            amount_preserved_fen: 5_000_000,
            frozen: vec![
                (Platform::Alipay, 3_000_000),
                (Platform::WechatPay, 2_000_000),
            ],
            suit_due: day(2026, 10, 8),
        };
        let html = render_html(&notice);
        assert!(html.contains("<strong>0454-8123456</strong>"), "{html}");
        assert!(
            html.contains("50,000.00 元") && html.contains("30,000.00 元"),
            "{html}"
        );
        assert!(
            html.contains("微信支付") && html.contains("20,000.00 元"),
            "{html}"
        );
        assert!(html.contains("2026年10月8日前起诉"), "{html}");
        assert!(html.contains("2026年9月7日"), "{html}");
        // A name is text, never markup.
        assert!(
            html.contains("赵&lt;磊&gt;") && !html.contains("赵<磊>"),
            "{html}"
        );
    }
}

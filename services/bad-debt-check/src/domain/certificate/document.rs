//! The printable certificate document (证明文书): the HTML page a holder keeps, its file name,
//! and what verification reads back from a copy.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sieve_kernel::rules::dates::iso;
use sieve_kernel::rules::document::html_unescape;
pub use sieve_kernel::rules::document::{chinese_date, html_escape};
use sieve_kernel::rules::money::format_yuan;

use super::content::CertificateContent;
use super::qr::{qr_payload, qr_svg};
use super::signature::ALGORITHM;

/// The suggested file name of a certificate's document, e.g. `预查废证明-2025-000123.html`.
pub fn document_file_name(year: i32, sequence: u64) -> String {
    format!("预查废证明-{year}-{sequence:06}.html")
}

/// What a holder's copy of the document carries for verification, as [`read_document`] finds
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentProof {
    pub number: String,
    pub key_id: String,
    pub content: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Reads the number, key id, exact canonical content and signature back from a document made
/// by [`render_html`] (its `data-sieve-*` attributes), for `sieve certificates verify FILE`.
pub fn read_document(html: &str) -> Result<DocumentProof, String> {
    let attr = |name: &str| -> Result<String, String> {
        let marker = format!("{name}=\"");
        let start = html
            .find(&marker)
            .map(|i| i + marker.len())
            .ok_or_else(|| format!("文件中没有 {name}。 The document carries no {name}."))?;
        let len = html[start..].find('"').ok_or_else(|| {
            format!("文件中的 {name} 不完整。 The document's {name} is cut short.")
        })?;
        Ok(html_unescape(&html[start..start + len]))
    };
    let b64 = |name: &str| -> Result<Vec<u8>, String> {
        STANDARD.decode(attr(name)?).map_err(|_| {
            format!("文件中的 {name} 不是base64。 The document's {name} is not base64.")
        })
    };
    Ok(DocumentProof {
        number: attr("data-sieve-number")?,
        key_id: attr("data-sieve-key-id")?,
        content: b64("data-sieve-content")?,
        signature: b64("data-sieve-signature")?,
    })
}

const STYLE: &str = "\
@page{size:A4;margin:18mm}\
body{font-family:\"SimSun\",\"Songti SC\",\"Noto Serif CJK SC\",\"Source Han Serif SC\",serif;\
color:#000;background:#fff;max-width:180mm;margin:0 auto;padding:8mm 0;line-height:1.6;font-size:11pt}\
h1{text-align:center;font-size:22pt;letter-spacing:.3em;margin:0}\
.en{color:#444;font-size:9pt;font-family:\"Helvetica\",\"Arial\",sans-serif;letter-spacing:0}\
.subtitle{text-align:center;margin:0 0 4mm}\
.number{text-align:center;margin:2mm 0 6mm}\
table{border-collapse:collapse;width:100%;margin:3mm 0}\
th,td{border:1px solid #000;padding:1.5mm 2.5mm;text-align:left;vertical-align:top}\
th{width:34%;font-weight:normal;background:#f4f4f4}\
td.amount{text-align:right;font-family:\"Courier New\",monospace}\
.statement{margin:5mm 0;text-indent:2em}\
.signoff{text-align:right;margin:8mm 0 6mm}\
.revoked{border:3px solid #b00;color:#b00;padding:3mm;text-align:center;font-size:14pt;margin-bottom:5mm}\
.verify{border-top:1px dashed #000;margin-top:8mm;padding-top:4mm;font-size:9pt;\
display:flex;gap:5mm;page-break-inside:avoid}\
.verify .qr{flex:none;width:45mm}.verify .qr svg{width:45mm;height:45mm}\
.verify .proof{flex:1;min-width:0}\
pre{white-space:pre-wrap;word-break:break-all;font-family:\"Courier New\",monospace;font-size:8pt;\
border:1px solid #999;padding:2mm;margin:1mm 0}\
code{word-break:break-all;font-size:8pt}";

/// The certificate as a self-contained printable HTML page (inline CSS, no scripts, no
/// external resources): Chinese with English subtitles. It states the debtor's ID number in
/// full, as a court document does, and carries what verification needs: the key id, the
/// signature, the canonical content (`<pre>`, and exactly in `data-sieve-content`) and a QR
/// code ([`qr_payload`]). `status_revoked` adds a banner saying the certificate no longer
/// stands. Every value is HTML-escaped.
pub fn render_html(
    content: &CertificateContent,
    canonical: &[u8],
    signature: &[u8; 64],
    status_revoked: bool,
) -> String {
    let e = |s: &str| html_escape(s);
    let number = e(&content.number);
    let signature_b64 = STANDARD.encode(signature);
    let payload = qr_payload(&content.number, &content.key_id, signature, canonical);
    let qr = qr_svg(&payload).unwrap_or_else(|| {
        "<p>二维码无法生成，请凭证明编号核验。<br><span class=\"en\">QR code unavailable; \
         verify by the certificate number.</span></p>"
            .to_owned()
    });
    let mut rulings: Vec<&String> = content.ruling_numbers.iter().collect();
    rulings.sort();
    rulings.dedup();
    let ruling_items: String = rulings
        .iter()
        .map(|r| format!("<li>{}</li>", e(r)))
        .collect();
    let amount_row = |zh: &str, en: &str, fen: i128| {
        format!(
            "<tr><th>{zh} <span class=\"en\">{en}</span></th>\
             <td class=\"amount\">{} 元 <span class=\"en\">yuan</span></td></tr>",
            format_yuan(fen)
        )
    };
    let claim_rows = [
        amount_row("本金", "Principal", i128::from(content.principal_fen)),
        amount_row("利息", "Interest", i128::from(content.interest_fen)),
        amount_row("罚息", "Penalty interest", i128::from(content.penalty_fen)),
        amount_row("费用", "Fees", i128::from(content.fees_fen)),
        amount_row("合计", "Total claim", content.claim_fen()),
    ]
    .concat();
    let revoked_banner = if status_revoked {
        "<div class=\"revoked\">本证明已撤销：所依据的终本案件已恢复执行。<br>\
         <span class=\"en\">REVOKED: enforcement of the ruling(s) it rests on has resumed; \
         this certificate no longer stands.</span></div>"
    } else {
        ""
    };
    let issued_zh = chinese_date(content.issued_on);
    let issued_iso = iso(content.issued_on);
    let canonical_text = e(&String::from_utf8_lossy(canonical));
    let name = e(&content.debtor_name);
    let id_number = e(&content.debtor_id_number);
    let court = e(&content.court_name);

    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
<title>预查废证明 {number}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
{revoked_banner}\
<h1>预查废证明</h1>\n\
<p class=\"subtitle en\">Pre-check certificate (bad-debt write-off basis)</p>\n\
<p class=\"number\">{number}</p>\n\
<table>\n\
<tr><th>出具法院 <span class=\"en\">Court</span></th><td>{court}（{court_code}）</td></tr>\n\
<tr><th>申请银行 <span class=\"en\">Bank</span></th><td>{bank}（{bank_id}）</td></tr>\n\
<tr><th>银行案件编号 <span class=\"en\">Bank case reference</span></th><td>{bank_case_ref}</td></tr>\n\
<tr><th>案件标识 <span class=\"en\">Case id</span></th><td>{case_id}</td></tr>\n\
<tr><th>被执行人 <span class=\"en\">Debtor</span></th><td>{name}</td></tr>\n\
<tr><th>身份证号 <span class=\"en\">ID number</span></th><td>{id_number}</td></tr>\n\
{claim_rows}\n\
</table>\n\
<p class=\"statement\">经查询，被执行人{name}（身份证号{id_number}）系下列执行案件的被执行人；\
该等案件因被执行人无财产可供执行，已由人民法院裁定终结本次执行程序（终本）。\
<br><span class=\"en\">The debtor named above is the judgment debtor of the enforcement \
case(s) below, in which enforcement was terminated for lack of property available for \
enforcement (终结本次执行程序).</span></p>\n\
<p>终本裁定文书号 <span class=\"en\">Matching ruling(s)</span></p>\n<ul>{ruling_items}</ul>\n\
<p class=\"statement\">本证明依据出具之日登记的终本裁定作出；上述案件恢复执行的，本证明随之撤销。\
特此证明。<br><span class=\"en\">Issued on the rulings registered on the issue date; should \
enforcement resume, this certificate is revoked. Verify it by the QR code or the certificate \
number.</span></p>\n\
<p class=\"signoff\">{court}<br>{issued_zh}<br><span class=\"en\">Issued on {issued_iso}</span></p>\n\
<section class=\"verify\" id=\"verification\" data-sieve-number=\"{number}\" \
data-sieve-key-id=\"{key_id}\" data-sieve-signature=\"{signature_b64}\" \
data-sieve-content=\"{content_b64}\">\n\
<div class=\"qr\">{qr}</div>\n\
<div class=\"proof\">\n\
<p>核验信息 <span class=\"en\">Verification</span>：签名算法 <span class=\"en\">algorithm</span> \
{ALGORITHM}；密钥 <span class=\"en\">key id</span> <code>{key_id}</code></p>\n\
<p>签名 <span class=\"en\">Signature (base64)</span><br><code>{signature_b64}</code></p>\n\
<p>签名内容 <span class=\"en\">Signed content</span></p>\n\
<pre id=\"canonical-content\">{canonical_text}</pre>\n\
</div>\n</section>\n</body>\n</html>\n",
        court_code = e(&content.court_code),
        bank = e(&content.bank_name),
        bank_id = e(&content.bank_id),
        bank_case_ref = e(&content.bank_case_ref),
        case_id = e(&content.case_id),
        key_id = e(&content.key_id),
        content_b64 = STANDARD.encode(canonical),
    )
}

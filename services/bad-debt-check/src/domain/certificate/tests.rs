//! The certificate's tests: compiled only under `cargo test` (see `mod tests` in certificate.rs).
#![cfg(test)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::NaiveDate;

use super::qr::qr_svg;
use super::*;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn content() -> CertificateContent {
    CertificateContent {
        number: "(2025)黑0722预查废第000123号".into(),
        court_name: "嘉荫县人民法院".into(),
        court_code: "黑0722".into(),
        bank_name: "嘉荫农村商业银行".into(),
        bank_id: "bank-jiayin".into(),
        case_id: "0190a4c2-7d1e-7000-8000-000000000001".into(),
        bank_case_ref: "JY-2025-00001".into(),
        debtor_name: "徐敏".into(),
        debtor_id_number: "23072219851102174X".into(),
        principal_fen: 3_267_620,
        interest_fen: 45_061,
        penalty_fen: 56_838,
        fees_fen: 0,
        ruling_numbers: vec![
            "(2024)黑0722执300号之一".into(),
            "(2023)黑0722执12号之一".into(),
        ],
        issued_on: day(2025, 3, 1),
        key_id: "jiayin-2025-01".into(),
    }
}

/// A fixed key, so failures reproduce.
fn fixed_key() -> CourtKey {
    CourtKey::from_secret_base64("jiayin-2025-01", &STANDARD.encode([7u8; 32])).expect("32 bytes")
}

#[test]
fn numbers_follow_the_configured_format() {
    assert_eq!(
        certificate_number(DEFAULT_NUMBER_FORMAT, 2025, "黑0722", 123),
        "(2025)黑0722预查废第000123号"
    );
    assert_eq!(
        certificate_number(DEFAULT_NUMBER_FORMAT, 2025, "黑0722", 1_234_567),
        "(2025)黑0722预查废第1234567号"
    );
    assert_eq!(
        certificate_number("{court}-{year}-{seq}", 2026, "JY", 7),
        "JY-2026-7"
    );
    assert_eq!(
        certificate_number("{year}/{seq:03}/{other}/{seq:x}/{", 2025, "c", 5),
        "2025/005/{other}/{seq:x}/{"
    );
    assert_eq!(certificate_number("无占位", 2025, "c", 5), "无占位");
    assert!(validate_number_format(DEFAULT_NUMBER_FORMAT).is_ok());
    assert!(validate_number_format("{court}第{seq:06}号").is_err());
    assert!(validate_number_format("({year}){court}预查废").is_err());
    assert_eq!(document_file_name(2025, 123), "预查废证明-2025-000123.html");
}

#[test]
fn canonical_layout_and_round_trip() {
    let c = content();
    let bytes = canonical(&c);
    let text = String::from_utf8(bytes.clone()).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], CANONICAL_VERSION);
    assert_eq!(lines.len(), 17);
    assert!(text.ends_with('\n'));
    assert_eq!(lines[1], "number=(2025)黑0722预查废第000123号");
    assert_eq!(lines[9], "debtor_id_number=23072219851102174X");
    assert_eq!(lines[10], "principal_fen=3267620");
    assert_eq!(
        lines[14],
        "ruling_numbers=(2023)黑0722执12号之一;(2024)黑0722执300号之一"
    );
    assert_eq!(lines[15], "issued_on=2025-03-01");

    let parsed = parse_canonical(&bytes).expect("parses");
    let mut sorted = c.clone();
    sorted.ruling_numbers.sort();
    assert_eq!(parsed, sorted);
    assert_eq!(canonical(&parsed), bytes);

    // Order of the rulings does not change the content.
    let mut reversed = c.clone();
    reversed.ruling_numbers.reverse();
    assert_eq!(canonical(&reversed), bytes);

    // A copy with CRLF line ends still reads, for altered_fields.
    let crlf = text.replace('\n', "\r\n");
    assert_eq!(parse_canonical(crlf.as_bytes()), Ok(sorted));
}

#[test]
fn odd_values_round_trip_and_cannot_forge_fields() {
    let mut c = content();
    c.debtor_name = "徐敏\ndebtor_id_number=110101199003070000".into();
    c.bank_name = "银行=bank_id=x;y%41\r\u{202E}".into();
    c.ruling_numbers = vec!["A;B".into(), "C=D\nkey_id=evil".into()];
    let bytes = canonical(&c);
    let text = String::from_utf8(bytes.clone()).expect("utf-8");
    assert_eq!(text.lines().count(), 17);
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("debtor_id_number="))
            .count(),
        1
    );
    assert!(text.contains("debtor_name=徐敏%0Adebtor_id_number%3D110101199003070000\n"));
    let parsed = parse_canonical(&bytes).expect("parses");
    assert_eq!(parsed.debtor_name, c.debtor_name);
    assert_eq!(parsed.bank_name, c.bank_name);
    assert_eq!(parsed.debtor_id_number, "23072219851102174X");
    assert_eq!(parsed.ruling_numbers, vec!["A;B", "C=D\nkey_id=evil"]);
    assert_eq!(canonical(&parsed), bytes);

    // Hand-made forgeries are refused rather than read.
    let forged = text.replacen("key_id=", "key_id=a\nkey_id=", 1);
    assert!(parse_canonical(forged.as_bytes()).is_err());
    let raw_newline = text.replacen("%0A", "\n", 1);
    assert!(parse_canonical(raw_newline.as_bytes()).is_err());
}

#[test]
fn malformed_canonical_is_refused() {
    let text = String::from_utf8(canonical(&content())).expect("utf-8");
    for bad in [
        String::new(),
        text.replacen(CANONICAL_VERSION, "sieve-certificate-v2", 1),
        text.replacen("court_name=", "court=", 1),
        text.replacen("principal_fen=3267620", "principal_fen=32676.20", 1),
        text.replacen("issued_on=2025-03-01", "issued_on=2025-02-30", 1),
        text.replacen("bank_id=bank-jiayin", "bank_id=bank%4", 1),
        text.replacen("bank_id=bank-jiayin", "bank_id=bank%FF", 1),
        text.replacen("ruling_numbers=(2023)", "ruling_numbers=;(2023)", 1),
        format!("{text}extra=1\n"),
        text.lines().take(10).collect::<Vec<_>>().join("\n"),
    ] {
        assert!(parse_canonical(bad.as_bytes()).is_err(), "{bad:?}");
    }
    assert!(parse_canonical(&[0xff, 0xfe]).is_err());
    // Errors do not echo the content.
    let e = parse_canonical(text.replacen("case_id=", "case=", 1).as_bytes()).expect_err("refused");
    assert!(!e.contains("23072219851102174X"));
}

#[test]
fn altered_fields_finds_changes() {
    let issued = content();
    assert!(altered_fields(&issued, &issued).is_empty());
    let mut presented = issued.clone();
    presented.principal_fen += 100_000;
    presented.ruling_numbers.reverse();
    assert_eq!(altered_fields(&issued, &presented), vec!["principal_fen"]);
    presented.debtor_name = "徐明".into();
    presented.issued_on = day(2025, 3, 2);
    assert_eq!(
        altered_fields(&issued, &presented),
        vec!["debtor_name", "principal_fen", "issued_on"]
    );
    // Read from tampered bytes, as the verifier does.
    let tampered = String::from_utf8(canonical(&issued))
        .expect("utf-8")
        .replacen("fees_fen=0", "fees_fen=99", 1);
    let read = parse_canonical(tampered.as_bytes()).expect("readable");
    assert_eq!(altered_fields(&issued, &read), vec!["fees_fen"]);
}

#[test]
fn sign_and_verify() {
    let key = fixed_key();
    let bytes = canonical(&content());
    let signature = key.sign(&bytes);
    let public = key.public_key_bytes();
    assert!(verify(&public, &bytes, &signature));
    assert!(verify_bytes(&public, &bytes, &signature));

    // Any flipped bit of content or signature fails.
    for i in [0, bytes.len() / 2, bytes.len() - 1] {
        let mut altered = bytes.clone();
        altered[i] ^= 0x01;
        assert!(!verify(&public, &altered, &signature), "content byte {i}");
    }
    for i in [0, 31, 32, 63] {
        let mut altered = signature;
        altered[i] ^= 0x80;
        assert!(!verify(&public, &bytes, &altered), "signature byte {i}");
    }

    // Another key fails.
    let other = CourtKey::generate("jiayin-2025-02");
    assert_ne!(other.public_key_bytes(), public);
    assert!(!verify(&other.public_key_bytes(), &bytes, &signature));

    // Garbage never panics.
    assert!(!verify(&public, &bytes, &[]));
    assert!(!verify(&public, &bytes, &signature[..63]));
    assert!(!verify(&public, &bytes, &[0u8; 65]));
    assert!(!verify(&[0u8; 32], &bytes, &signature));
    assert!(!verify(&[0xffu8; 32], &bytes, &[0xffu8; 64]));
    assert!(!verify_bytes(&public[..31], &bytes, &signature));
    assert!(!verify_bytes(&[], &bytes, &signature));
}

#[test]
fn keys_round_trip_through_base64_without_leaking() {
    let key = CourtKey::generate("k1");
    let again = CourtKey::from_secret_base64("k1", &key.secret_base64()).expect("valid");
    assert_eq!(again.public_key_bytes(), key.public_key_bytes());
    assert_eq!(again.key_id(), "k1");
    let secret = key.secret_base64();
    assert!(!format!("{key:?}").contains(&secret));
    assert!(format!("{key:?}").contains(&key.public_key_base64()));

    assert!(CourtKey::from_secret_base64("k", "not base64!").is_err());
    let short = CourtKey::from_secret_base64("k", &STANDARD.encode([1u8; 31]));
    assert!(short.is_err());
    assert!(CourtKey::from_secret_base64("k", &STANDARD.encode([1u8; 64])).is_err());
    // Deterministic: the same seed is the same key.
    assert_eq!(
        fixed_key().public_key_bytes(),
        fixed_key().public_key_bytes()
    );
}

#[test]
fn qr_payload_round_trip() {
    let key = fixed_key();
    let bytes = canonical(&content());
    let signature = key.sign(&bytes);
    let payload = qr_payload(&content().number, key.key_id(), &signature, &bytes);
    assert!(payload.starts_with("SIEVE-CERT1|(2025)黑0722预查废第000123号|jiayin-2025-01|"));
    let read = parse_qr_payload(&payload).expect("parses");
    assert_eq!(read.number, content().number);
    assert_eq!(read.key_id, "jiayin-2025-01");
    assert_eq!(read.signature, signature);
    assert!(read.matches_content(&bytes));
    assert!(!read.matches_content(b"other"));
    assert!(verify(&key.public_key_bytes(), &bytes, &read.signature));

    // A `|` in a text part is escaped, not a field break.
    let odd = qr_payload("A|B%", "k|1", &signature, &bytes);
    let read = parse_qr_payload(&odd).expect("parses");
    assert_eq!(
        (read.number.as_str(), read.key_id.as_str()),
        ("A|B%", "k|1")
    );

    for bad in [
        "",
        "SIEVE-CERT2|a|b|c|d",
        "SIEVE-CERT1|a|b|c",
        "SIEVE-CERT1|a|b|!!|d",
        &payload.replacen("SIEVE-CERT1|", "SIEVE-CERT1|x|", 1),
    ] {
        assert!(parse_qr_payload(bad).is_err(), "{bad}");
    }
    // The payload fits a QR code.
    assert!(qr_svg(&payload).is_some());
}

#[test]
fn html_document() {
    let key = fixed_key();
    let mut c = content();
    c.debtor_name = "<script>alert('x')</script>徐敏".into();
    c.bank_name = "Bank & \"Co\"".into();
    let bytes = canonical(&c);
    let signature = key.sign(&bytes);
    let html = render_html(&c, &bytes, &signature, false);

    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("预查废证明"));
    assert!(html.contains("Pre-check certificate"));
    assert!(html.contains("(2025)黑0722预查废第000123号"));
    assert!(html.contains("嘉荫县人民法院"));
    assert!(!html.contains("<script"));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;徐敏"));
    assert!(html.contains("Bank &amp; &quot;Co&quot;"));
    // Full ID number, as a court document states it.
    assert!(html.contains("23072219851102174X"));
    // Claim parts and total, exact yuan with separators.
    assert!(html.contains("32,676.20"));
    assert!(html.contains("450.61"));
    assert!(html.contains("568.38"));
    assert!(html.contains("0.00"));
    assert!(html.contains("33,695.19"));
    assert!(html.contains("(2023)黑0722执12号之一"));
    assert!(html.contains("(2024)黑0722执300号之一"));
    assert!(html.contains("2025年3月1日"));
    assert!(html.contains("终结本次执行程序"));
    assert!(html.contains("jiayin-2025-01"));
    assert!(html.contains(&STANDARD.encode(signature)));
    assert!(html.contains("<pre id=\"canonical-content\">sieve-certificate-v1\n"));
    assert!(html.contains("<svg"));
    assert!(!html.contains("<?xml"));
    assert!(!html.contains("REVOKED"));
    // Self-contained: no external resources.
    assert!(!html.contains("<link") && !html.contains("src=") && !html.contains("url("));

    // The holder's copy carries what verification needs, exactly.
    let proof = read_document(&html).expect("readable");
    assert_eq!(proof.number, c.number);
    assert_eq!(proof.key_id, c.key_id);
    assert_eq!(proof.content, bytes);
    assert_eq!(proof.signature, signature.to_vec());
    assert!(verify_bytes(
        &key.public_key_bytes(),
        &proof.content,
        &proof.signature
    ));
    assert!(read_document("<html></html>").is_err());

    let revoked = render_html(&c, &bytes, &signature, true);
    assert!(revoked.contains("REVOKED") && revoked.contains("已撤销"));
}

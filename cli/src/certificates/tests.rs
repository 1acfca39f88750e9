use super::*;

fn certificate() -> Certificate {
    Certificate {
        certificate_id: "c1".into(),
        certificate_number: "(2026)黑0722预查废第000001号".into(),
        year: 2026,
        sequence: 1,
        bank_name: "嘉荫农村商业银行".into(),
        debtor_name: "徐敏".into(),
        debtor_id_number: "23072219851102174X".into(),
        claim: Some(sieve_proto::common::v1::Claim {
            principal_fen: 3_267_620,
            interest_fen: 45_061,
            penalty_fen: 56_838,
            ..Default::default()
        }),
        ruling_numbers: vec!["(2024)黑0722执300号之一".into()],
        case_ref: Some(sieve_proto::common::v1::CaseRef {
            case_id: "case-1".into(),
            bank_case_ref: "JY-2025-00001".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn suggested_names_never_leave_the_directory() {
    let c = certificate();
    assert_eq!(
        document_file_name("预查废证明-2026-000001.html", &c),
        "预查废证明-2026-000001.html"
    );
    for bad in [
        "../x.html",
        "/etc/passwd",
        "a/b.html",
        "",
        ".hidden",
        "a\\b.html",
    ] {
        assert_eq!(
            document_file_name(bad, &c),
            "预查废证明-2026-000001.html",
            "{bad:?}"
        );
    }
}

#[test]
fn a_page_whose_printed_text_was_edited_does_not_match_its_content() {
    let key = cert::CourtKey::generate("k1");
    let content = cert::CertificateContent {
        number: "(2026)黑0722预查废第000001号".into(),
        court_name: "嘉荫县人民法院".into(),
        court_code: "黑0722".into(),
        bank_name: "嘉荫农村商业银行".into(),
        bank_id: "b1".into(),
        case_id: "case-1".into(),
        bank_case_ref: "JY-2025-00001".into(),
        debtor_name: "徐敏".into(),
        debtor_id_number: "23072219851102174X".into(),
        principal_fen: 3_267_620,
        interest_fen: 45_061,
        penalty_fen: 56_838,
        fees_fen: 0,
        ruling_numbers: vec!["(2024)黑0722执300号之一".into()],
        issued_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default(),
        key_id: "k1".into(),
    };
    let canonical = cert::canonical(&content);
    let signature = key.sign(&canonical);
    for revoked in [false, true] {
        let html = cert::render_html(&content, &canonical, &signature, revoked);
        let proof = cert::read_document(&html).expect("reads");
        assert_eq!(page_matches_content(&html, &proof), Some(true));
        let edited = html.replace("32,676.20", "92,676.20");
        assert_ne!(edited, html);
        assert_eq!(page_matches_content(&edited, &proof), Some(false));
    }
    let unreadable = DocumentProof {
        number: content.number.clone(),
        key_id: "k1".into(),
        content: b"not canonical".to_vec(),
        signature: signature.to_vec(),
    };
    assert_eq!(page_matches_content("", &unreadable), None);
}

#[test]
fn verification_masks_the_debtor_and_names_altered_fields() {
    let v = Verification {
        file: PathBuf::from("c.html"),
        proof: DocumentProof {
            number: "(2026)黑0722预查废第000001号".into(),
            key_id: "dev".into(),
            content: Vec::new(),
            signature: Vec::new(),
        },
        answer: VerifyCertificateResponse {
            genuine: false,
            unaltered: false,
            altered_fields: vec!["principal_fen".into()],
            certificate: Some(certificate()),
            ..Default::default()
        },
        page_matches: None,
    };
    let text = render_verification(&v);
    assert!(text.contains("genuine    NO"), "{text}");
    assert!(text.contains("altered fields: principal_fen"), "{text}");
    assert!(text.contains("230722********174X"), "{text}");
    assert!(!text.contains("23072219851102174X"), "{text}");
    assert!(text.contains("徐*"), "{text}");
    assert!(text.contains("33,695.19"), "{text}");
    assert!(text.trim_end().ends_with("NOT VALID"), "{text}");
    assert!(!v.is_valid());
}

#[test]
fn apply_report_lists_numbers_and_refusals() {
    let report = ApplyReport {
        bank_code: "JY-RCB".into(),
        out_dir: PathBuf::from("certificates"),
        rows: vec![
            AppliedRow {
                case_id: "case-1".into(),
                outcome: Applied::Issued {
                    certificate: Box::new(certificate()),
                    existing: false,
                    file: PathBuf::from("certificates/预查废证明-2026-000001.html"),
                },
            },
            AppliedRow {
                case_id: "case-6".into(),
                outcome: Applied::Refused(vec![RowRefusal {
                    row: 2,
                    reference: "case-6".into(),
                    field: "case_ids".into(),
                    rule: "pre_check.no_match".into(),
                    description: "no match".into(),
                }]),
            },
        ],
    };
    let text = render_apply(&report);
    assert!(
        text.contains(
            "case-1  JY-2025-00001  (2026)黑0722预查废第000001号  certificates/预查废证明-2026-000001.html"
        ),
        "{text}"
    );
    assert!(
        text.contains("case-6  refused  case_ids  pre_check.no_match  no match"),
        "{text}"
    );
    assert!(
        text.contains("1 certificates (0 issued before), 1 refused"),
        "{text}"
    );
}

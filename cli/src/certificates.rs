//! `sieve certificates apply` and `sieve certificates verify`: a bank applies for pre-check
//! certificates (预查废证明) on its matched cases and keeps each one's printable page;
//! anyone holding such a page checks it with the court.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sieve_bad_debt_check::domain::certificate::{self as cert, DocumentProof};
use sieve_kernel::rules::dates::{date_from_pb, iso};
use sieve_kernel::rules::money::{Claim, format_yuan};
use sieve_proto::bad_debt_check::v1::{
    self as bdc, ApplyCertificatesRequest, Certificate, GetCertificateDocumentRequest,
    VerifyCertificateRequest, VerifyCertificateResponse,
};
use sieve_proto::common::v1::{PageRequest, RowOutcome, RowRefusal, Stage};
use sieve_proto::gateway::v1::{
    BankApiServiceApplyCertificatesRequest, BankApiServiceGetCertificateDocumentRequest,
    BankApiServiceListCasesRequest, PublicApiServiceVerifyCertificateRequest,
};
use sieve_proto::intake::v1::ListCasesRequest;

use crate::client::{BankClient, Credentials, Gateway};
use crate::error::CliError;
use crate::format;
use crate::submit::file_request_id;

/// Cases per ApplyCertificates call (the pre-check's limit).
pub const MAX_CASES_PER_CALL: usize = 1_000;
const PAGE_SIZE: i32 = 1_000;

/// Which cases to apply for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every case of the bank that is CERTIFIABLE now.
    AllCertifiable,
    Cases(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The applying bank's code.
    pub bank_code: String,
    /// Where each certificate's page is written.
    pub out_dir: PathBuf,
}

/// What became of each case applied for, in the order applied.
#[derive(Debug, Clone)]
pub struct ApplyReport {
    pub bank_code: String,
    pub out_dir: PathBuf,
    pub rows: Vec<AppliedRow>,
}

#[derive(Debug, Clone)]
pub struct AppliedRow {
    pub case_id: String,
    pub outcome: Applied,
}

#[derive(Debug, Clone)]
pub enum Applied {
    /// Issued now, or (`existing`) before: one certificate per case.
    Issued {
        certificate: Box<Certificate>,
        existing: bool,
        /// The page as written.
        file: PathBuf,
    },
    Refused(Vec<RowRefusal>),
}

impl ApplyReport {
    pub fn certificates(&self) -> impl Iterator<Item = (&Certificate, &Path)> {
        self.rows.iter().filter_map(|r| match &r.outcome {
            Applied::Issued {
                certificate, file, ..
            } => Some((certificate.as_ref(), file.as_path())),
            Applied::Refused(_) => None,
        })
    }
}

/// Applies for certificates in calls of at most [`MAX_CASES_PER_CALL`] cases and writes each
/// issued certificate's page to `options.out_dir` under the name the court suggests.
pub async fn apply(
    gateway: &Gateway,
    credentials: &Credentials,
    selection: &Selection,
    options: &ApplyOptions,
) -> Result<ApplyReport, CliError> {
    let token = credentials
        .bank_token_for_code(gateway, &options.bank_code)
        .await?;
    let mut bank = gateway.bank(&token)?;
    let case_ids = match selection {
        Selection::AllCertifiable => certifiable_cases(&mut bank).await?,
        Selection::Cases(ids) => {
            let mut seen = std::collections::HashSet::new();
            ids.iter()
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty() && seen.insert(id.clone()))
                .collect()
        }
    };
    let mut rows = Vec::with_capacity(case_ids.len());
    if !case_ids.is_empty() {
        tokio::fs::create_dir_all(&options.out_dir)
            .await
            .map_err(|e| CliError::Output(format!("{}: {e}", options.out_dir.display())))?;
    }
    for chunk in case_ids.chunks(MAX_CASES_PER_CALL) {
        // The same cases make the same request: a rerun is harmless either way, since each
        // case has one certificate.
        let request_id = format!(
            "certificates:{}",
            file_request_id(chunk.join("\n").as_bytes())
        );
        let answer = bank
            .apply_certificates(BankApiServiceApplyCertificatesRequest {
                request: Some(ApplyCertificatesRequest {
                    request_id,
                    bank_id: String::new(),
                    case_ids: chunk.to_vec(),
                }),
            })
            .await
            .map_err(|s| CliError::grpc("BankApiService.ApplyCertificates", s))?
            .into_inner()
            .response
            .ok_or_else(|| CliError::Protocol("ApplyCertificates answered without rows".into()))?;
        for row in answer.rows {
            let issued = row.outcome == RowOutcome::Accepted as i32
                || row.outcome == RowOutcome::Existing as i32;
            let outcome = match (issued, row.certificate) {
                (true, Some(certificate)) => {
                    let file = write_document(&mut bank, &certificate, &options.out_dir).await?;
                    Applied::Issued {
                        existing: row.outcome == RowOutcome::Existing as i32,
                        certificate: Box::new(certificate),
                        file,
                    }
                }
                (true, None) => {
                    return Err(CliError::Protocol(format!(
                        "ApplyCertificates issued case {} without its certificate",
                        row.case_id
                    )));
                }
                (false, _) => Applied::Refused(row.refusals),
            };
            rows.push(AppliedRow {
                case_id: row.case_id,
                outcome,
            });
        }
    }
    Ok(ApplyReport {
        bank_code: options.bank_code.clone(),
        out_dir: options.out_dir.clone(),
        rows,
    })
}

/// Every case of the calling bank in CERTIFIABLE, page by page.
pub async fn certifiable_cases(bank: &mut BankClient) -> Result<Vec<String>, CliError> {
    crate::paging::all_pages(|page_token| {
        let mut bank = bank.clone();
        async move {
            let page = bank
                .list_cases(BankApiServiceListCasesRequest {
                    request: Some(ListCasesRequest {
                        bank_id: String::new(),
                        stage: Stage::Certifiable as i32,
                        batch_id: String::new(),
                        page: Some(PageRequest {
                            page_size: PAGE_SIZE,
                            page_token,
                        }),
                    }),
                })
                .await
                .map_err(|s| CliError::grpc("BankApiService.ListCases", s))?
                .into_inner()
                .response
                .unwrap_or_default();
            let ids = page.cases.into_iter().map(|c| c.case_id).collect();
            Ok((ids, page.next_page_token))
        }
    })
    .await
}

/// Fetches the certificate's page and writes it into `dir`.
async fn write_document(
    bank: &mut BankClient,
    certificate: &Certificate,
    dir: &Path,
) -> Result<PathBuf, CliError> {
    let document = bank
        .get_certificate_document(BankApiServiceGetCertificateDocumentRequest {
            request: Some(GetCertificateDocumentRequest {
                key: Some(bdc::get_certificate_document_request::Key::CertificateId(
                    certificate.certificate_id.clone(),
                )),
            }),
        })
        .await
        .map_err(|s| CliError::grpc("BankApiService.GetCertificateDocument", s))?
        .into_inner()
        .response
        .ok_or_else(|| {
            CliError::Protocol("GetCertificateDocument answered without the document".into())
        })?;
    let path = dir.join(document_file_name(&document.file_name, certificate));
    tokio::fs::write(&path, document.html.as_bytes())
        .await
        .map_err(|e| CliError::Output(format!("{}: {e}", path.display())))?;
    Ok(path)
}

/// The suggested file name reduced to one plain file name (never a path out of the
/// directory), else one made from the certificate's year and sequence.
fn document_file_name(suggested: &str, certificate: &Certificate) -> String {
    let plain = Path::new(suggested)
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| {
            *n == suggested.trim()
                && !n.starts_with('.')
                && !n.chars().any(|c| c.is_control() || c == '\\')
        });
    match plain {
        Some(name) => name.to_owned(),
        None => cert::document_file_name(
            certificate.year,
            u64::try_from(certificate.sequence).unwrap_or(0),
        ),
    }
}

/// Each case's certificate number and page, or its refusals, then the counts.
pub fn render_apply(report: &ApplyReport) -> String {
    let mut out = String::new();
    if report.rows.is_empty() {
        let _ = writeln!(
            out,
            "bank {}: no cases to apply for (none is CERTIFIABLE)",
            report.bank_code
        );
        return out;
    }
    let (mut issued, mut existing, mut refused) = (0, 0, 0);
    for row in &report.rows {
        match &row.outcome {
            Applied::Issued {
                certificate,
                existing: was,
                file,
            } => {
                issued += 1;
                if *was {
                    existing += 1;
                }
                let _ = writeln!(
                    out,
                    "  {}  {}  {}{}  {}",
                    row.case_id,
                    certificate
                        .case_ref
                        .as_ref()
                        .map_or("-", |r| r.bank_case_ref.as_str()),
                    certificate.certificate_number,
                    if *was { " (issued before)" } else { "" },
                    file.display()
                );
            }
            Applied::Refused(reasons) => {
                refused += 1;
                for r in reasons {
                    let _ = writeln!(
                        out,
                        "  {}  refused  {}  {}  {}",
                        row.case_id, r.field, r.rule, r.description
                    );
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "bank {}: {} certificates ({} issued before), {} refused; pages in {}",
        report.bank_code,
        issued,
        existing,
        refused,
        report.out_dir.display()
    );
    out
}

/// What a certificate file says and what the court answered about it.
#[derive(Debug, Clone)]
pub struct Verification {
    pub file: PathBuf,
    pub proof: DocumentProof,
    pub answer: VerifyCertificateResponse,
    /// Whether the page is exactly as the court renders its signed content: the court checks
    /// only the signed content the page carries, so a page whose printed table was edited
    /// (a larger claim, another debtor) would otherwise pass. `None` when the signed content
    /// cannot be read back at all.
    pub page_matches: Option<bool>,
}

impl Verification {
    /// Genuine, unaltered, still standing, and the page prints what was signed.
    pub fn is_valid(&self) -> bool {
        self.answer.genuine
            && self.answer.unaltered
            && !self.answer.revoked
            && self.page_matches != Some(false)
    }
}

/// Whether `html` is the page the court renders for the signed content it carries (with or
/// without the revocation banner, which depends on when it was fetched).
pub fn page_matches_content(html: &str, proof: &DocumentProof) -> Option<bool> {
    let content = cert::parse_canonical(&proof.content).ok()?;
    let signature: [u8; 64] = proof.signature.as_slice().try_into().ok()?;
    Some(
        [false, true].into_iter().any(|revoked| {
            cert::render_html(&content, &proof.content, &signature, revoked) == html
        }),
    )
}

/// Reads a certificate page (as `sieve certificates apply` writes it) and has the court
/// verify it through the gateway's public door: no token needed.
pub async fn verify_file(gateway: &Gateway, path: &Path) -> Result<Verification, CliError> {
    let html = tokio::fs::read(path).await.map_err(|source| {
        CliError::File(crate::batch_file::FileError::Io {
            path: path.to_path_buf(),
            source,
        })
    })?;
    let html = String::from_utf8_lossy(&html);
    let proof = cert::read_document(&html)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    let page_matches = page_matches_content(&html, &proof);
    let answer = gateway
        .public()
        .verify_certificate(PublicApiServiceVerifyCertificateRequest {
            request: Some(VerifyCertificateRequest {
                certificate_number: proof.number.clone(),
                content: proof.content.clone(),
                signature: proof.signature.clone(),
                key_id: proof.key_id.clone(),
            }),
        })
        .await
        .map_err(|s| CliError::grpc("PublicApiService.VerifyCertificate", s))?
        .into_inner()
        .response
        .ok_or_else(|| CliError::Protocol("VerifyCertificate answered without a verdict".into()))?;
    Ok(Verification {
        file: path.to_path_buf(),
        proof,
        answer,
        page_matches,
    })
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "NO" }
}

/// The verdicts, the altered fields and, when the court returned it, the certificate as
/// issued (debtor masked).
pub fn render_verification(v: &Verification) -> String {
    let mut out = String::new();
    let a = &v.answer;
    let _ = writeln!(
        out,
        "{}: certificate {} (key {})",
        v.file.display(),
        v.proof.number,
        if v.proof.key_id.is_empty() {
            "-"
        } else {
            v.proof.key_id.as_str()
        }
    );
    let _ = writeln!(
        out,
        "genuine    {}  signed by the court and issued under this number",
        yes_no(a.genuine)
    );
    let _ = writeln!(
        out,
        "unaltered  {}  the content is exactly what was issued",
        yes_no(a.unaltered)
    );
    let _ = writeln!(
        out,
        "revoked    {}",
        if a.revoked {
            "YES  enforcement resumed: the certificate no longer stands"
        } else {
            "no"
        }
    );
    match v.page_matches {
        Some(true) => {
            let _ = writeln!(out, "page       yes  it prints exactly the signed content");
        }
        Some(false) => {
            let _ = writeln!(
                out,
                "page       NO   it is not the page the court renders for its signed content: \
                 its printed text was edited (or it was saved by another program)"
            );
        }
        None => {}
    }
    if !a.altered_fields.is_empty() {
        let _ = writeln!(out, "altered fields: {}", a.altered_fields.join(", "));
    }
    if a.revoked {
        if let Some(at) = &a.revoked_at {
            let _ = writeln!(
                out,
                "revoked at {} (Asia/Shanghai)",
                format::shanghai_time(Some(at))
            );
        }
        if !a.revocation_reason.is_empty() {
            let _ = writeln!(out, "why: {}", a.revocation_reason);
        }
    }
    if let Some(c) = &a.certificate {
        let claim = c
            .claim
            .as_ref()
            .map_or(0, |cl| Claim::from(cl).saturating_total_fen());
        let _ = writeln!(
            out,
            "as issued: {} to {} on {}; debtor {} (ID {}); claim {} yuan; rulings {}",
            c.certificate_number,
            c.bank_name,
            date_from_pb(c.issued_on.as_ref()).map_or_else(|| "-".to_owned(), iso),
            sieve_kernel::rules::mask::name(&c.debtor_name),
            sieve_kernel::rules::mask::id_number(&c.debtor_id_number),
            format_yuan(claim),
            c.ruling_numbers.join(", ")
        );
    }
    let _ = writeln!(out, "{}", if v.is_valid() { "VALID" } else { "NOT VALID" });
    out
}

#[cfg(test)]
mod tests;

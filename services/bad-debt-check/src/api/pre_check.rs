//! `PreCheckService`: cases taken for matching, their checks, and certificates.

use super::*;

impl PreCheckApi {
    /// Takes a call's cases for the next matching run, in one transaction. Returns the
    /// refused rows and how many cases were new.
    async fn take(&self, cases: Vec<common::CaseSummary>) -> Result<Taken> {
        let mut refused = Vec::new();
        let mut todo: Vec<(common::CaseSummary, String)> = Vec::with_capacity(cases.len());
        let mut seen = HashSet::new();
        for (i, c) in cases.into_iter().enumerate() {
            let row = i as i64 + 1;
            let case_id = c
                .case_ref
                .as_ref()
                .map(|r| r.case_id.clone())
                .unwrap_or_default();
            let id_number = rules::normalize_id_number(
                c.debtor
                    .as_ref()
                    .map(|d| d.id_number.as_str())
                    .unwrap_or_default(),
            );
            let bad =
                if case_id.trim().is_empty() || case_id.len() > sieve_kernel::wire::MAX_ID_BYTES {
                    Some(("case_ref.case_id", "required"))
                } else if id_number.is_empty() {
                    Some(("debtor.id_number", "required"))
                } else if !seen.insert(case_id.clone()) {
                    Some(("case_ref.case_id", "case.duplicate_in_call"))
                } else {
                    None
                };
            match bad {
                Some((field, rule)) => refused.push(pb::CheckRow {
                    row,
                    case_id: case_id.clone(),
                    outcome: common::RowOutcome::Refused as i32,
                    refusals: vec![refusal(
                        row,
                        &case_id,
                        field,
                        rule,
                        format!("{field}: {rule}"),
                    )],
                }),
                None => todo.push((c, id_number)),
            }
        }
        if todo.is_empty() {
            return Ok(Taken {
                refused,
                accepted: 0,
                existing: 0,
            });
        }
        let offered = todo.len() as u64;
        let checks = todo
            .into_iter()
            .map(|(c, id_number)| {
                let case_ref = c.case_ref.unwrap_or_default();
                let debtor = c.debtor.unwrap_or_default();
                let claim = c.claim.unwrap_or_default();
                store::check::Model {
                    id: store::new_id(),
                    case_id: case_ref.case_id,
                    bank_id: case_ref.bank_id,
                    bank_case_ref: case_ref.bank_case_ref,
                    debtor_name: debtor.name,
                    debtor_id_number: id_number,
                    principal_fen: claim.principal_fen,
                    interest_fen: claim.interest_fen,
                    penalty_fen: claim.penalty_fen,
                    fees_fen: claim.fees_fen,
                    certificate_id: None,
                    seq: 0,
                }
            })
            .collect();
        let accepted = store::take_checks(&self.inner.db, checks).await?;
        if accepted > 0 {
            if let Some(w) = &self.inner.matcher {
                w.notify_one();
            }
            tracing::info!(accepted, "cases taken for the pre-check");
        }
        Ok(Taken {
            refused,
            accepted,
            existing: offered - accepted,
        })
    }
}

/// What a `CheckCases` call did.
struct Taken {
    refused: Vec<pb::CheckRow>,
    accepted: u64,
    existing: u64,
}

#[tonic::async_trait]
impl PreCheckService for PreCheckApi {
    async fn check_cases(
        &self,
        request: Request<pb::CheckCasesRequest>,
    ) -> std::result::Result<Response<pb::CheckCasesResponse>, Status> {
        let r = request.into_inner();
        sieve_kernel::wire::require_id("request_id", &r.request_id)?;
        if r.cases.len() > MAX_CASES_PER_CALL {
            return Err(Error::bad_request(
                reason::TOO_MANY_CASES,
                format!("at most {MAX_CASES_PER_CALL} cases per call"),
            )
            .with_violation("cases", r.cases.len().to_string())
            .into());
        }
        let taken = self.take(r.cases).await?;
        Ok(Response::new(pb::CheckCasesResponse {
            replayed: taken.accepted == 0 && taken.existing > 0,
            refused: taken.refused,
            accepted: taken.accepted as i64,
            existing: taken.existing as i64,
        }))
    }

    async fn get_check(
        &self,
        request: Request<pb::GetCheckRequest>,
    ) -> std::result::Result<Response<pb::GetCheckResponse>, Status> {
        use pb::get_check_request::Key;
        let (id, case) = match request.into_inner().key {
            Some(Key::CheckId(id)) => (Some(id), None),
            Some(Key::CaseId(c)) => (None, Some(c)),
            None => return Err(Error::invalid_field("key", "check_id or case_id").into()),
        };
        let found = match (&id, &case) {
            (None, Some(case)) => self.inner.checks_by_case.get(case).await,
            _ => store::get_check(self.inner.db.read(), id.as_deref(), case.as_deref()).await,
        }
        .map_err(Error::from)?
        .ok_or_else(|| Error::not_found("check", id.or(case).unwrap_or_default()))?;
        Ok(Response::new(pb::GetCheckResponse {
            check: Some(convert::check_pb(found)),
        }))
    }

    async fn batch_get_checks(
        &self,
        request: Request<pb::BatchGetChecksRequest>,
    ) -> std::result::Result<Response<pb::BatchGetChecksResponse>, Status> {
        let case_ids = &request.get_ref().case_ids;
        sieve_kernel::wire::require_case_ids(case_ids)?;
        let found = self
            .inner
            .checks_by_case
            .get_many(case_ids)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::BatchGetChecksResponse {
            checks: found.into_iter().map(convert::check_pb).collect(),
        }))
    }

    async fn apply_certificates(
        &self,
        request: Request<pb::ApplyCertificatesRequest>,
    ) -> std::result::Result<Response<pb::ApplyCertificatesResponse>, Status> {
        let r = request.into_inner();
        sieve_kernel::wire::require_id("request_id", &r.request_id)?;
        sieve_kernel::wire::require_id("bank_id", &r.bank_id)?;
        if r.case_ids.is_empty() || r.case_ids.len() > MAX_CASES_PER_CALL {
            return Err(Error::bad_request(
                reason::CASE_COUNT,
                format!("apply for 1 to {MAX_CASES_PER_CALL} cases per call"),
            )
            .with_violation("case_ids", r.case_ids.len().to_string())
            .into());
        }
        // The certificate names the bank as intake registered it.
        let bank = self.inner.intake.bank(&r.bank_id).await?;
        let today = self.inner.clock.today();
        let config = &self.inner.config;
        let issuer = store::Issuer {
            court_code: &config.court_code,
            court_name: &config.court_name,
            number_format: &config.number_format,
            key: &config.key,
        };
        let application = store::Application {
            bank_id: &r.bank_id,
            bank_name: &bank.name,
            case_ids: &r.case_ids,
            today,
            now_ms: self.now_ms(),
            window_start: rules::window_start(today, config.recency_window_months),
        };
        let applied = store::apply_certificates(&self.inner.db, &issuer, &application).await?;
        let mut rows = Vec::with_capacity(applied.len());
        for (i, (case_id, applied)) in r.case_ids.iter().zip(applied).enumerate() {
            let row = i as i64 + 1;
            let (outcome, certificate, refusals) = match applied {
                store::Applied::Refused { rule, description } => (
                    common::RowOutcome::Refused,
                    None,
                    vec![refusal(row, case_id, "case_ids", rule, description)],
                ),
                store::Applied::Existing(found) => (
                    common::RowOutcome::Existing,
                    found.map(convert::certificate_pb).transpose()?,
                    vec![],
                ),
                store::Applied::Issued(model) => (
                    common::RowOutcome::Accepted,
                    Some(convert::certificate_pb(model)?),
                    vec![],
                ),
            };
            rows.push(pb::CertificateRow {
                row,
                case_id: case_id.clone(),
                outcome: outcome as i32,
                certificate,
                refusals,
            });
        }
        self.wake_relay();
        let replayed = rows
            .iter()
            .all(|r| r.outcome == common::RowOutcome::Existing as i32);
        Ok(Response::new(pb::ApplyCertificatesResponse {
            rows,
            replayed,
        }))
    }

    async fn get_certificate(
        &self,
        request: Request<pb::GetCertificateRequest>,
    ) -> std::result::Result<Response<pb::GetCertificateResponse>, Status> {
        use pb::get_certificate_request::Key;
        let key = request.into_inner().key;
        let (id, number, case) = match &key {
            Some(Key::CertificateId(v)) => (Some(v.as_str()), None, None),
            Some(Key::CertificateNumber(v)) => (None, Some(v.trim()), None),
            Some(Key::CaseId(v)) => (None, None, Some(v.as_str())),
            None => {
                return Err(Error::invalid_field(
                    "key",
                    "certificate_id, certificate_number or case_id",
                )
                .into());
            }
        };
        let found = store::get_certificate(self.inner.db.read(), id, number, case)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| {
                Error::not_found("certificate", id.or(number).or(case).unwrap_or_default())
            })?;
        Ok(Response::new(pb::GetCertificateResponse {
            certificate: Some(convert::certificate_pb(found)?),
        }))
    }

    async fn get_certificate_document(
        &self,
        request: Request<pb::GetCertificateDocumentRequest>,
    ) -> std::result::Result<Response<pb::GetCertificateDocumentResponse>, Status> {
        use pb::get_certificate_document_request::Key;
        let key = request.into_inner().key;
        let (id, number) = match &key {
            Some(Key::CertificateId(v)) => (Some(v.as_str()), None),
            Some(Key::CertificateNumber(v)) => (None, Some(v.trim())),
            None => {
                return Err(
                    Error::invalid_field("key", "certificate_id or certificate_number").into(),
                );
            }
        };
        let found = store::get_certificate(self.inner.db.read(), id, number, None)
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::not_found("certificate", id.or(number).unwrap_or_default()))?;
        let content = convert::content_of(&found).ok_or_else(|| {
            Error::internal(std::io::Error::other(
                "stored certificate content does not parse",
            ))
        })?;
        let signature: [u8; 64] = found.signature.as_slice().try_into().map_err(|_| {
            Error::internal(std::io::Error::other("stored signature is not 64 bytes"))
        })?;
        let html = cert::render_html(
            &content,
            &found.canonical,
            &signature,
            found.revoked_at_ms.is_some(),
        );
        Ok(Response::new(pb::GetCertificateDocumentResponse {
            certificate_number: found.number,
            html,
            file_name: cert::document_file_name(found.year, found.sequence as u64),
        }))
    }

    async fn verify_certificate(
        &self,
        request: Request<pb::VerifyCertificateRequest>,
    ) -> std::result::Result<Response<pb::VerifyCertificateResponse>, Status> {
        let r = request.into_inner();
        sieve_kernel::wire::require_id("certificate_number", &r.certificate_number)?;
        if r.content.len() > 64 * 1024 {
            return Err(Error::invalid_field("content", "at most 64 KiB").into());
        }
        let issued = store::get_certificate(
            self.inner.db.read(),
            None,
            Some(r.certificate_number.trim()),
            None,
        )
        .await
        .map_err(Error::from)?;
        let keys = store::signing_keys(self.inner.db.read())
            .await
            .map_err(Error::from)?;
        // Genuine: a court key signed exactly these bytes, and they name this number.
        let signed = keys
            .iter()
            .filter(|k| r.key_id.is_empty() || k.key_id == r.key_id)
            .any(|k| cert::verify_bytes(&k.public_key, &r.content, &r.signature));
        let presented = cert::parse_canonical(&r.content).ok();
        let names_number = presented
            .as_ref()
            .is_some_and(|p| p.number == r.certificate_number.trim());
        let genuine = signed && names_number && issued.is_some();
        let (unaltered, altered_fields) = match (&issued, &presented) {
            (Some(i), Some(p)) => {
                let same = i.canonical == r.content;
                let altered = convert::content_of(i)
                    .map(|ic| {
                        cert::altered_fields(&ic, p)
                            .into_iter()
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                (same, altered)
            }
            (Some(i), None) => (i.canonical == r.content, vec!["content".into()]),
            _ => (false, vec![]),
        };
        let revoked = issued.as_ref().is_some_and(|i| i.revoked_at_ms.is_some());
        Ok(Response::new(pb::VerifyCertificateResponse {
            genuine,
            unaltered,
            revoked,
            altered_fields,
            revoked_at: issued
                .as_ref()
                .and_then(|i| i.revoked_at_ms)
                .map(convert::timestamp),
            revocation_reason: issued
                .as_ref()
                .map(|i| i.revocation_reason.clone())
                .unwrap_or_default(),
            certificate: issued.map(convert::certificate_pb).transpose()?,
        }))
    }

    async fn list_signing_keys(
        &self,
        _request: Request<pb::ListSigningKeysRequest>,
    ) -> std::result::Result<Response<pb::ListSigningKeysResponse>, Status> {
        let keys = store::signing_keys(self.inner.db.read())
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListSigningKeysResponse {
            keys: keys
                .into_iter()
                .map(|k| pb::SigningKey {
                    key_id: k.key_id,
                    algorithm: cert::ALGORITHM.into(),
                    public_key: k.public_key,
                    active_from: Some(convert::timestamp(k.active_from_ms)),
                    retired_at: k.retired_at_ms.map(convert::timestamp),
                })
                .collect(),
        }))
    }
}

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
        let txn = sieve_kernel::db::begin_write(&self.inner.db).await?;
        let before = store::take_sequence(&txn, todo.len() as i64).await?;
        let offered = todo.len() as u64;
        let models = todo
            .into_iter()
            .enumerate()
            .map(|(k, (c, id_number))| {
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
                    seq: before + 1 + k as i64,
                }
            })
            .collect();
        let accepted = store::insert_checks(&txn, models).await?;
        txn.commit().await?;
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
        let now = self.inner.clock.now();
        let now_ms = now.timestamp_millis();
        let today = self.inner.clock.today();
        let config = &self.inner.config;
        let txn = sieve_kernel::db::begin_write(&self.inner.db)
            .await
            .map_err(Error::from)?;
        let checks = store::checks_by_case(&txn, r.case_ids.clone())
            .await
            .map_err(Error::from)?;
        let records: std::collections::HashMap<String, store::CheckRecord> =
            store::check_records(&txn, checks)
                .await
                .map_err(Error::from)?
                .into_iter()
                .map(|c| (c.check.case_id.clone(), c))
                .collect();
        let since = self.since();
        let mut rows = Vec::with_capacity(r.case_ids.len());
        let mut outcomes = Vec::new();
        let mut seen = HashSet::new();
        for (i, case_id) in r.case_ids.iter().enumerate() {
            let row = i as i64 + 1;
            let refused = |field: &str, rule: &str, d: &str| pb::CertificateRow {
                row,
                case_id: case_id.clone(),
                outcome: common::RowOutcome::Refused as i32,
                certificate: None,
                refusals: vec![refusal(row, case_id, field, rule, d)],
            };
            if !seen.insert(case_id.clone()) {
                rows.push(refused(
                    "case_ids",
                    "case.duplicate_in_call",
                    "该案件在本次申请中重复 / the case appears earlier in this call",
                ));
                continue;
            }
            // Another bank's case is answered as unknown, so ids do not leak across banks.
            let Some(record) = records
                .get(case_id)
                .filter(|c| c.check.bank_id == r.bank_id)
            else {
                rows.push(refused("case_ids", "pre_check.not_checked", "该案件尚未经预查废审查 / the case has not been pre-checked (or is not this bank's)"));
                continue;
            };
            let check = &record.check;
            if let Some(existing) = &check.certificate_id {
                let cert = store::get_certificate(&txn, Some(existing), None, None)
                    .await
                    .map_err(Error::from)?;
                rows.push(pb::CertificateRow {
                    row,
                    case_id: case_id.clone(),
                    outcome: common::RowOutcome::Existing as i32,
                    certificate: cert.map(convert::certificate_pb).transpose()?,
                    refusals: vec![],
                });
                continue;
            }
            match record.outcome() {
                store::Outcome::Matched => {}
                store::Outcome::Pending => {
                    rows.push(refused("case_ids", "pre_check.pending", "该案件正在等待比对，请稍后申请 / the case waits for the next matching run; apply again shortly"));
                    continue;
                }
                store::Outcome::NoMatch => {
                    rows.push(refused("case_ids", "pre_check.no_match", "未匹配终本案件，不能出具预查废证明 / no terminated-enforcement ruling matched; no certificate"));
                    continue;
                }
            }
            // The rulings must still stand today: one revoked since the check no longer counts.
            let mut ruling_numbers: Vec<String> = record
                .rulings
                .iter()
                .filter(|r| {
                    !r.revoked
                        && since
                            .as_deref()
                            .is_none_or(|s| r.terminated_on.as_str() >= s)
                })
                .map(|r| r.ruling_number.clone())
                .collect();
            if ruling_numbers.is_empty() {
                rows.push(refused(
                    "case_ids",
                    "pre_check.rulings_revoked",
                    "匹配的终本裁定均已恢复执行 / every matching ruling has since been revoked",
                ));
                continue;
            }
            ruling_numbers.sort();
            let year = today.year();
            let sequence = store::next_sequence(&txn, &config.court_code, year)
                .await
                .map_err(Error::from)?;
            let number = cert::certificate_number(
                &config.number_format,
                year,
                &config.court_code,
                sequence as u64,
            );
            let content = CertificateContent {
                number: number.clone(),
                court_name: config.court_name.clone(),
                court_code: config.court_code.clone(),
                bank_name: bank.name.clone(),
                bank_id: bank.bank_id.clone(),
                case_id: case_id.clone(),
                bank_case_ref: check.bank_case_ref.clone(),
                debtor_name: check.debtor_name.clone(),
                debtor_id_number: check.debtor_id_number.clone(),
                principal_fen: check.principal_fen,
                interest_fen: check.interest_fen,
                penalty_fen: check.penalty_fen,
                fees_fen: check.fees_fen,
                ruling_numbers: ruling_numbers.clone(),
                issued_on: today,
                key_id: config.key.key_id().to_string(),
            };
            let canonical = cert::canonical(&content);
            let signature = config.key.sign(&canonical);
            let model = store::certificate::Model {
                id: store::new_id(),
                number: number.clone(),
                court_code: config.court_code.clone(),
                year,
                sequence,
                case_id: case_id.clone(),
                check_id: check.id.clone(),
                bank_id: bank.bank_id.clone(),
                bank_name: bank.name.clone(),
                // Never a stand-in "[]": a certificate stored without its bases would stand
                // even once every ruling it rests on is revoked.
                ruling_numbers: sieve_kernel::rules::stored::encode(&ruling_numbers)?,
                issued_on: sieve_kernel::rules::dates::iso(today),
                issued_at_ms: now_ms,
                canonical,
                key_id: config.key.key_id().to_string(),
                signature: signature.to_vec(),
                revoked_at_ms: None,
                revocation_reason: String::new(),
            };
            store::certificate::Entity::insert(model.clone().into_active_model().reset_all())
                .exec_without_returning(&txn)
                .await
                .map_err(Error::from)?;
            store::check::Entity::update_many()
                .filter(store::check::Column::Id.eq(check.id.clone()))
                .col_expr(
                    store::check::Column::CertificateId,
                    sea_orm::sea_query::Expr::value(model.id.clone()),
                )
                .exec(&txn)
                .await
                .map_err(Error::from)?;
            outcomes.push(StageOutcome {
                source: convert::CERTIFICATE_SOURCE,
                record: model.id.clone(),
                case_id: case_id.clone(),
                from: Stage::Certifiable,
                to: Stage::Certified,
                actor: common::Actor::BadDebtCheck,
                reason: format!("出具预查废证明 {number} / pre-check certificate issued"),
                source_record_id: number,
                occurred_at_ms: now_ms,
            });
            rows.push(pb::CertificateRow {
                row,
                case_id: case_id.clone(),
                outcome: common::RowOutcome::Accepted as i32,
                certificate: Some(convert::certificate_pb(model)?),
                refusals: vec![],
            });
        }
        stage::report_many(&txn, now_ms, "certificates", &outcomes)
            .await
            .map_err(Error::from)?;
        txn.commit().await.map_err(Error::from)?;
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

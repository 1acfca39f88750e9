//! `RegistryService`: imports of terminated-enforcement rulings, their revocation, and the
//! certificates a revocation withdraws.

use super::*;
use sieve_kernel::bulk::{self, Page, Part};

impl PreCheckApi {
    /// Writes one chunk of an import in one transaction. Returns the refusals written.
    async fn import_chunk(
        &self,
        import_id: &str,
        rows: Vec<(i64, pb::RulingInput)>,
    ) -> Result<store::ImportCounts> {
        let now = self.now_ms();
        let today = self.inner.clock.today();
        let mut counts = store::ImportCounts {
            received: rows.len() as i64,
            ..Default::default()
        };
        let mut refusals: Vec<store::import_refusal::Model> = Vec::new();
        // A refusal that cannot be stored fails the chunk: stored as an empty list, the row
        // would read as refused for no reason.
        let refuse = |row: i64,
                      number: &str,
                      v: Vec<rules::Violation>,
                      refusals: &mut Vec<store::import_refusal::Model>|
         -> Result<()> {
            let stored: Vec<StoredViolation> = v.into_iter().map(StoredViolation::from).collect();
            refusals.push(store::import_refusal::Model {
                import_id: import_id.to_string(),
                row,
                ruling_number: number
                    .chars()
                    .take(violation::MAX_REFERENCE_CHARS)
                    .collect(),
                refusals: violation::encode(&stored).map_err(Error::internal)?,
            });
            Ok(())
        };
        let mut valid: Vec<(i64, pb::RulingInput, rules::RulingDraft)> =
            Vec::with_capacity(rows.len());
        let mut seen: HashSet<String> = HashSet::new();
        for (row, input) in rows {
            let draft = convert::draft(&input).normalized();
            let mut violations = rules::validate(&draft, today);
            if violations.is_empty() && !seen.insert(draft.ruling_number.clone()) {
                violations.push(rules::Violation {
                    field: rules::field::RULING_NUMBER,
                    rule: rules::rule::RULING_NUMBER_DUPLICATE_IN_IMPORT,
                    description: "同一文书号在本次导入中重复 / the same ruling number appears \
                                  earlier in this import"
                        .into(),
                });
            }
            if violations.is_empty() {
                valid.push((row, input, draft));
            } else {
                counts.refused += 1;
                refuse(row, &draft.ruling_number, violations, &mut refusals)?;
            }
        }
        let txn = sieve_kernel::db::begin_write(&self.inner.db).await?;
        let stored = store::rulings_by_number(
            &txn,
            valid.iter().map(|v| v.2.ruling_number.clone()).collect(),
        )
        .await?;
        let mut new_rulings = Vec::new();
        let mut newly_revoked = Vec::new();
        for (row, input, draft) in valid {
            let existing = stored.get(&draft.ruling_number);
            match existing.map(|e| (e, convert::stored_draft(e))) {
                None => {
                    let court = input.court.clone().unwrap_or_default();
                    new_rulings.push(store::ruling::Model {
                        id: store::new_id(),
                        ruling_number: draft.ruling_number.clone(),
                        court_code: court.code.trim().to_string(),
                        court_name: draft.court_name.clone(),
                        debtor_name: draft.debtor_name.clone(),
                        debtor_id_number: draft.debtor_id_number.clone(),
                        filed_on: draft
                            .filed_on
                            .map(sieve_kernel::rules::dates::iso)
                            .unwrap_or_default(),
                        terminated_on: draft
                            .terminated_on
                            .map(sieve_kernel::rules::dates::iso)
                            .unwrap_or_default(),
                        unpaid_fen: draft.unpaid_fen,
                        revoked: draft.revoked,
                        revocation_reason: if draft.revoked {
                            "enforcement resumed (已恢复执行), as exported".into()
                        } else {
                            String::new()
                        },
                        resumed_case_number: String::new(),
                        revoked_at_ms: draft.revoked.then_some(now),
                        import_id: import_id.to_string(),
                        imported_at_ms: now,
                        updated_at_ms: now,
                    });
                    counts.added += 1;
                }
                Some((model, stored_draft)) => {
                    if let Some(v) = rules::contradicts(&stored_draft, &draft) {
                        counts.refused += 1;
                        refuse(row, &draft.ruling_number, vec![v], &mut refusals)?;
                        continue;
                    }
                    match rules::compare(&stored_draft, &draft) {
                        Comparison::Identical | Comparison::New => counts.unchanged += 1,
                        Comparison::Changed(_) => {
                            let revoked = rules::merge_revoked(model.revoked, draft.revoked);
                            if revoked && !model.revoked {
                                newly_revoked.push(model.ruling_number.clone());
                            }
                            let mut am = model.clone().into_active_model();
                            am.terminated_on = sea_orm::Set(
                                draft
                                    .terminated_on
                                    .map(sieve_kernel::rules::dates::iso)
                                    .unwrap_or_default(),
                            );
                            am.unpaid_fen = sea_orm::Set(draft.unpaid_fen);
                            am.revoked = sea_orm::Set(revoked);
                            if revoked && !model.revoked {
                                am.revoked_at_ms = sea_orm::Set(Some(now));
                                am.revocation_reason = sea_orm::Set(
                                    "enforcement resumed (已恢复执行), as exported".into(),
                                );
                            }
                            am.import_id = sea_orm::Set(import_id.to_string());
                            am.updated_at_ms = sea_orm::Set(now);
                            sea_orm::ActiveModelTrait::update(am, &txn).await?;
                            counts.updated += 1;
                        }
                    }
                }
            }
        }
        let new_models: Vec<store::ruling::ActiveModel> = new_rulings
            .into_iter()
            .map(|m| m.into_active_model().reset_all())
            .collect();
        store::insert_all(&txn, new_models).await?;
        let refusal_models: Vec<store::import_refusal::ActiveModel> = refusals
            .into_iter()
            .map(|m| m.into_active_model().reset_all())
            .collect();
        store::insert_all(&txn, refusal_models).await?;
        for number in newly_revoked {
            revoke_certificates_resting_on(&txn, &number, now).await?;
        }
        store::bump_import(&txn, import_id, counts, now + IMPORT_LEASE_MS).await?;
        txn.commit().await?;
        Ok(counts)
    }

    /// The refusals of an import's first rows, for its summary; the rest are paged.
    async fn first_import_refusals(&self, import_id: &str) -> Result<Vec<common::RowRefusal>> {
        let rows =
            store::import_refusals(self.inner.db.read(), import_id, 0, REFUSALS_IN_SUMMARY).await?;
        convert::import_refusals_pb(rows)
    }
}

/// A certificate whose every ruling has been revoked no longer stands (its write-off basis
/// is gone); one that still cites a standing ruling does.
async fn revoke_certificates_resting_on<C: sea_orm::ConnectionTrait>(
    conn: &C,
    ruling_number: &str,
    now: i64,
) -> Result<Vec<String>> {
    let mut revoked = Vec::new();
    for c in store::certificates_citing(conn, ruling_number).await? {
        // Strictly: an unreadable list read as empty would revoke the certificate (every one
        // of no rulings is revoked).
        let numbers: Vec<String> = sieve_kernel::rules::stored::decode(
            &c.ruling_numbers,
            format_args!("certificate {}", c.id),
            "ruling numbers",
        )?;
        let stored = store::rulings_by_number(conn, numbers.clone()).await?;
        let all_revoked = !numbers.is_empty()
            && numbers.iter().all(|n| {
                stored
                    .get(n)
                    .is_none_or(|r| r.revoked || r.ruling_number == ruling_number)
            });
        if all_revoked {
            store::certificate::Entity::update_many()
                .filter(store::certificate::Column::Id.eq(c.id.clone()))
                .col_expr(
                    store::certificate::Column::RevokedAtMs,
                    sea_orm::sea_query::Expr::value(now),
                )
                .col_expr(
                    store::certificate::Column::RevocationReason,
                    sea_orm::sea_query::Expr::value(format!(
                        "终本裁定已恢复执行 / enforcement resumed on {}",
                        numbers.join(", ")
                    )),
                )
                .exec(conn)
                .await?;
            revoked.push(c.number);
        }
    }
    Ok(revoked)
}

#[tonic::async_trait]
impl RegistryService for PreCheckApi {
    async fn import_rulings(
        &self,
        request: Request<Streaming<pb::ImportRulingsRequest>>,
    ) -> std::result::Result<Response<pb::ImportRulingsResponse>, Status> {
        let (header, upload) =
            bulk::Upload::begin(request.into_inner(), &bulk::IMPORT, import_part).await?;
        sieve_kernel::wire::require_id("header.request_id", &header.request_id)?;
        if header.expected_rulings < 1 || header.expected_rulings > MAX_IMPORT_RULINGS {
            return Err(Error::bad_request(
                reason::IMPORT_SIZE,
                format!("an import declares 1 to {MAX_IMPORT_RULINGS} rulings"),
            )
            .with_violation(
                "header.expected_rulings",
                header.expected_rulings.to_string(),
            )
            .into());
        }
        let court = header.source_court.clone().unwrap_or_default();
        let new = store::NewImport {
            request_id: header.request_id.trim(),
            court_code: &court.code,
            court_name: &court.name,
            label: &header.label,
            expected: header.expected_rulings,
        };
        let lease = bulk::Lease::new(self.now_ms(), IMPORT_LEASE_MS);
        let opened = bulk::lease::open(&self.inner.db, &new, lease)
            .await
            .map_err(Error::from)?;
        let import = match opened {
            OpenedImport::Completed(done) => {
                let refusals = self.first_import_refusals(&done.id).await?;
                return Ok(Response::new(pb::ImportRulingsResponse {
                    ruling_import: Some(convert::import_pb(done)),
                    refusals,
                    replayed: true,
                }));
            }
            OpenedImport::Busy(b) => {
                return Err(Error::conflict(
                    reason::IMPORT_IN_PROGRESS,
                    format!("import {} is being received right now", b.id),
                )
                .into());
            }
            OpenedImport::Receiving(i) => i,
        };
        let per_chunk = 2_000;
        let mut rows = upload.rows(header.expected_rulings, ruling_row);
        let result: Result<()> = async {
            // Written every `per_chunk` rulings (at message boundaries), and what is left
            // once the stream ends, before the count is checked: an import that falls short
            // keeps what it wrote, as every import that breaks off does.
            let mut pending: Vec<(i64, pb::RulingInput)> = Vec::new();
            while let Some(chunk) = rows.next().await? {
                pending.extend(chunk);
                if pending.len() >= per_chunk {
                    self.import_chunk(&import.id, std::mem::take(&mut pending))
                        .await?;
                }
            }
            if !pending.is_empty() {
                self.import_chunk(&import.id, pending).await?;
            }
            rows.finish()
        }
        .await;
        let now = self.now_ms();
        match result {
            Ok(()) => {
                let done = store::finish_import(
                    &self.inner.db,
                    &import.id,
                    store::ImportStatus::Completed,
                    now,
                )
                .await
                .map_err(Error::from)?
                .ok_or_else(|| Error::not_found("import", &import.id))?;
                let refusals = self.first_import_refusals(&done.id).await?;
                tracing::info!(import = %done.id, added = done.added, updated = done.updated, unchanged = done.unchanged, refused = done.refused, "rulings imported");
                Ok(Response::new(pb::ImportRulingsResponse {
                    ruling_import: Some(convert::import_pb(done)),
                    refusals,
                    replayed: false,
                }))
            }
            Err(e) => {
                // Chunks already written stay: each ruling is an idempotent fact keyed by its
                // number, so the retry that follows rewrites nothing it does not change.
                if let Err(cleanup) = store::finish_import(
                    &self.inner.db,
                    &import.id,
                    store::ImportStatus::Aborted,
                    now,
                )
                .await
                {
                    // Its lease lapses; a retry under the same request id takes it over.
                    tracing::error!(import = %import.id, error = %cleanup, "could not mark an import aborted");
                }
                Err(e.into())
            }
        }
    }

    async fn list_import_refusals(
        &self,
        request: Request<pb::ListImportRefusalsRequest>,
    ) -> std::result::Result<Response<pb::ListImportRefusalsResponse>, Status> {
        let r = request.into_inner();
        sieve_kernel::wire::require_id("import_id", &r.import_id)?;
        let page = Page::of(r.page.as_ref())?;
        let after = page.after_row()?;
        let rows = store::import_refusals(self.inner.db.read(), &r.import_id, after, page.size)
            .await
            .map_err(Error::from)?;
        let next = page.next_token(&rows, |r| r.row);
        let refusals = convert::import_refusals_pb(rows)?;
        Ok(Response::new(pb::ListImportRefusalsResponse {
            refusals,
            next_page_token: next,
        }))
    }

    async fn revoke_ruling(
        &self,
        request: Request<pb::RevokeRulingRequest>,
    ) -> std::result::Result<Response<pb::RevokeRulingResponse>, Status> {
        let r = request.into_inner();
        sieve_kernel::wire::require_id("request_id", &r.request_id)?;
        sieve_kernel::wire::require_id("ruling_number", &r.ruling_number)?;
        let now = self.now_ms();
        let txn = sieve_kernel::db::begin_write(&self.inner.db)
            .await
            .map_err(Error::from)?;
        let ruling = store::get_ruling(&txn, None, Some(r.ruling_number.trim()))
            .await
            .map_err(Error::from)?
            .ok_or_else(|| Error::not_found("ruling", &r.ruling_number))?;
        let mut revoked_certs = Vec::new();
        let ruling = if ruling.revoked {
            ruling // revoking twice is harmless
        } else {
            let mut am = ruling.into_active_model();
            am.revoked = sea_orm::Set(true);
            am.revoked_at_ms = sea_orm::Set(Some(now));
            am.revocation_reason = sea_orm::Set(r.reason.chars().take(500).collect());
            am.resumed_case_number = sea_orm::Set(r.resumed_case_number.chars().take(64).collect());
            am.updated_at_ms = sea_orm::Set(now);
            let updated = sea_orm::ActiveModelTrait::update(am, &txn)
                .await
                .map_err(Error::from)?;
            revoked_certs =
                revoke_certificates_resting_on(&txn, &updated.ruling_number, now).await?;
            updated
        };
        txn.commit().await.map_err(Error::from)?;
        tracing::info!(ruling = %ruling.ruling_number, certificates = revoked_certs.len(), "ruling revoked");
        Ok(Response::new(pb::RevokeRulingResponse {
            ruling: Some(convert::ruling_pb(ruling)),
            revoked_certificate_numbers: revoked_certs,
        }))
    }

    async fn get_ruling(
        &self,
        request: Request<pb::GetRulingRequest>,
    ) -> std::result::Result<Response<pb::GetRulingResponse>, Status> {
        use pb::get_ruling_request::Key;
        let (id, number) = match request.into_inner().key {
            Some(Key::RulingId(id)) => (Some(id), None),
            Some(Key::RulingNumber(n)) => (None, Some(n)),
            None => return Err(Error::invalid_field("key", "ruling_id or ruling_number").into()),
        };
        let found = store::get_ruling(
            self.inner.db.read(),
            id.as_deref(),
            number.as_deref().map(str::trim),
        )
        .await
        .map_err(Error::from)?
        .ok_or_else(|| Error::not_found("ruling", id.or(number).unwrap_or_default()))?;
        Ok(Response::new(pb::GetRulingResponse {
            ruling: Some(convert::ruling_pb(found)),
        }))
    }
}

/// What a message of `ImportRulings` holds.
fn import_part(m: pb::ImportRulingsRequest) -> Part<pb::ImportHeader, pb::RulingInput> {
    use pb::import_rulings_request::Item;
    match m.item {
        Some(Item::Header(h)) => Part::Header(h),
        Some(Item::Chunk(c)) => Part::Rows(c.rulings),
        None => Part::Neither,
    }
}

fn ruling_row(r: &pb::RulingInput) -> i64 {
    r.row
}

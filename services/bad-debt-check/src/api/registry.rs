//! `RegistryService`: imports of terminated-enforcement rulings, their revocation, and the
//! certificates a revocation withdraws.

use super::*;
use sieve_kernel::bulk::{self, Page, Part};

impl PreCheckApi {
    /// Screens one chunk of an import and writes it in one transaction.
    async fn import_chunk(
        &self,
        import_id: &str,
        rows: Vec<(i64, pb::RulingInput)>,
    ) -> Result<store::ImportCounts> {
        let now = self.now_ms();
        let received = rows.len() as i64;
        let drafts = rows
            .into_iter()
            .map(|(row, input)| {
                let court_code = input
                    .court
                    .as_ref()
                    .map(|c| c.code.trim().to_string())
                    .unwrap_or_default();
                (row, court_code, convert::draft(&input).normalized())
            })
            .collect();
        let screened = rules::screen(drafts, self.inner.clock.today());
        store::write_import_chunk(
            &self.inner.db,
            store::ImportChunk {
                import_id,
                now,
                lease_until_ms: now + IMPORT_LEASE_MS,
                received,
                valid: screened.valid,
                refused: screened.refused,
            },
        )
        .await
    }

    /// The refusals of an import's first rows, for its summary; the rest are paged.
    async fn first_import_refusals(&self, import_id: &str) -> Result<Vec<common::RowRefusal>> {
        let rows =
            store::import_refusals(self.inner.db.read(), import_id, 0, REFUSALS_IN_SUMMARY).await?;
        convert::import_refusals_pb(rows)
    }
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
        let (ruling, revoked_certs) = store::revoke_ruling(
            &self.inner.db,
            store::Revocation {
                ruling_number: r.ruling_number.trim(),
                reason: &r.reason,
                resumed_case_number: &r.resumed_case_number,
                now: self.now_ms(),
            },
        )
        .await?
        .ok_or_else(|| Error::not_found("ruling", &r.ruling_number))?;
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

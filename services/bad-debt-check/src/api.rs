//! `sieve.bad_debt_check.v1`: the registry of terminated-enforcement rulings and the pre-check.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Datelike;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use sieve_kernel::SharedClock;
use sieve_kernel::error::{Error, Result};
use sieve_kernel::outbox::{self, NewMessage};
use sieve_proto::bad_debt_check::v1 as pb;
use sieve_proto::bad_debt_check::v1::pre_check_service_server::PreCheckService;
use sieve_proto::bad_debt_check::v1::registry_service_server::RegistryService;
use sieve_proto::common::v1 as common;
use sieve_proto::intake::v1 as intake;
use tonic::{Request, Response, Status, Streaming};

use crate::convert;
use crate::domain::certificate::{self as cert, CertificateContent, CourtKey};
use crate::domain::ruling::{self as rules, Comparison};
use crate::store::{self, OpenedImport};

/// Rulings per import: the enforcement system's export of a province fits.
pub const MAX_IMPORT_RULINGS: i64 = 10_000_000;
pub const MAX_CASES_PER_CALL: usize = 1_000;
const REFUSALS_IN_SUMMARY: u64 = 1_000;
const IMPORT_LEASE_MS: i64 = 120_000;

/// What the pre-check needs to run.
pub struct Config {
    pub court_code: String,
    pub court_name: String,
    pub number_format: String,
    /// Months; None: any ruling counts however old.
    pub recency_window_months: Option<u32>,
    pub key: CourtKey,
}

#[derive(Clone)]
pub struct PreCheckApi {
    inner: Arc<Inner>,
}

struct Inner {
    db: sieve_kernel::db::Db,
    clock: SharedClock,
    config: Config,
    intake:
        intake::intake_service_client::IntakeServiceClient<sieve_kernel::internal::InternalChannel>,
    /// Woken after commits that leave messages in the outbox.
    relay: Option<Arc<tokio::sync::Notify>>,
    /// Woken after cases are taken.
    matcher: Option<Arc<tokio::sync::Notify>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredRefusal {
    field: String,
    rule: String,
    description: String,
}

fn refusal(
    row: i64,
    reference: &str,
    field: &str,
    rule: &str,
    description: impl Into<String>,
) -> common::RowRefusal {
    common::RowRefusal {
        row,
        reference: reference.chars().take(64).collect(),
        field: field.into(),
        rule: rule.into(),
        description: description.into(),
    }
}

impl PreCheckApi {
    pub fn new(
        db: sieve_kernel::db::Db,
        clock: SharedClock,
        config: Config,
        intake: sieve_kernel::internal::InternalChannel,
        relay: Option<Arc<tokio::sync::Notify>>,
        matcher: Option<Arc<tokio::sync::Notify>>,
    ) -> Self {
        let intake = intake::intake_service_client::IntakeServiceClient::new(intake);
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                config,
                intake,
                relay,
                matcher,
            }),
        }
    }

    fn now_ms(&self) -> i64 {
        self.inner.clock.now().timestamp_millis()
    }

    fn wake_relay(&self) {
        if let Some(w) = &self.inner.relay {
            w.notify_one();
        }
    }

    fn since(&self) -> Option<String> {
        rules::window_start(
            self.inner.clock.today(),
            self.inner.config.recency_window_months,
        )
        .map(convert::iso)
    }

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
        let refuse = |row: i64,
                      number: &str,
                      v: Vec<(String, String, String)>,
                      refusals: &mut Vec<store::import_refusal::Model>| {
            let stored: Vec<StoredRefusal> = v
                .into_iter()
                .map(|(field, rule, description)| StoredRefusal {
                    field,
                    rule,
                    description,
                })
                .collect();
            refusals.push(store::import_refusal::Model {
                import_id: import_id.to_string(),
                row,
                ruling_number: number.chars().take(64).collect(),
                refusals: serde_json::to_string(&stored).unwrap_or_else(|_| "[]".into()),
            });
        };
        let mut valid: Vec<(i64, pb::RulingInput, rules::RulingDraft)> =
            Vec::with_capacity(rows.len());
        let mut seen: HashSet<String> = HashSet::new();
        for (row, input) in rows {
            let draft = convert::draft(&input).normalized();
            let mut violations: Vec<(String, String, String)> = rules::validate(&draft, today)
                .into_iter()
                .map(|v| (v.field.to_string(), v.rule.to_string(), v.description))
                .collect();
            if violations.is_empty() && !seen.insert(draft.ruling_number.clone()) {
                violations.push((
                    "ruling_number".into(),
                    "ruling_number.duplicate_in_import".into(),
                    "同一文书号在本次导入中重复 / the same ruling number appears earlier in this import".into(),
                ));
            }
            if violations.is_empty() {
                valid.push((row, input, draft));
            } else {
                counts.refused += 1;
                refuse(row, &draft.ruling_number, violations, &mut refusals);
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
                        filed_on: draft.filed_on.map(convert::iso).unwrap_or_default(),
                        terminated_on: draft.terminated_on.map(convert::iso).unwrap_or_default(),
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
                        refuse(
                            row,
                            &draft.ruling_number,
                            vec![(v.field.into(), v.rule.into(), v.description)],
                            &mut refusals,
                        );
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
                                draft.terminated_on.map(convert::iso).unwrap_or_default(),
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
        store::insert_all(&txn, new_models, store::ruling::COLUMNS).await?;
        let refusal_models: Vec<store::import_refusal::ActiveModel> = refusals
            .into_iter()
            .map(|m| m.into_active_model().reset_all())
            .collect();
        store::insert_all(&txn, refusal_models, 4).await?;
        for number in newly_revoked {
            revoke_certificates_resting_on(&txn, &number, now).await?;
        }
        store::bump_import(&txn, import_id, counts, now + IMPORT_LEASE_MS).await?;
        txn.commit().await?;
        Ok(counts)
    }

    async fn first_import_refusals(
        &self,
        import_id: &str,
        after: i64,
        limit: u64,
    ) -> Result<(Vec<common::RowRefusal>, i64)> {
        let rows = store::import_refusals(self.inner.db.read(), import_id, after, limit).await?;
        let last = rows.last().map_or(0, |r| r.row);
        let mut out = Vec::new();
        for r in rows {
            let stored: Vec<StoredRefusal> = serde_json::from_str(&r.refusals).unwrap_or_default();
            out.extend(
                stored
                    .into_iter()
                    .map(|s| refusal(r.row, &r.ruling_number, &s.field, &s.rule, s.description)),
            );
        }
        Ok((out, last))
    }

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

/// A certificate whose every ruling has been revoked no longer stands (its write-off basis
/// is gone); one that still cites a standing ruling does.
async fn revoke_certificates_resting_on<C: sea_orm::ConnectionTrait>(
    conn: &C,
    ruling_number: &str,
    now: i64,
) -> std::result::Result<Vec<String>, sea_orm::DbErr> {
    let mut revoked = Vec::new();
    for c in store::certificates_citing(conn, ruling_number).await? {
        // Strictly: an unreadable list read as empty would revoke the certificate (every one
        // of no rulings is revoked).
        let numbers: Vec<String> = serde_json::from_str(&c.ruling_numbers).map_err(|e| {
            sea_orm::DbErr::Custom(format!(
                "certificate {}: its stored ruling numbers do not parse: {e}",
                c.id
            ))
        })?;
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
        use pb::import_rulings_request::Item;
        let mut stream = request.into_inner();
        let header = match stream.message().await {
            Ok(Some(pb::ImportRulingsRequest {
                item: Some(Item::Header(h)),
            })) => h,
            Ok(Some(_)) => {
                return Err(Error::bad_request(
                    "HEADER_FIRST",
                    "the first message of an import must be its header",
                )
                .with_violation("item", "expected header")
                .into());
            }
            Ok(None) => {
                return Err(Error::bad_request(
                    "IMPORT_EMPTY",
                    "the stream ended before the import header",
                )
                .into());
            }
            Err(s) => return Err(malformed(&s).into()),
        };
        sieve_kernel::wire::require_id("header.request_id", &header.request_id)?;
        if header.expected_rulings < 1 || header.expected_rulings > MAX_IMPORT_RULINGS {
            return Err(Error::bad_request(
                "IMPORT_SIZE",
                format!("an import declares 1 to {MAX_IMPORT_RULINGS} rulings"),
            )
            .with_violation(
                "header.expected_rulings",
                header.expected_rulings.to_string(),
            )
            .into());
        }
        let court = header.source_court.clone().unwrap_or_default();
        let now = self.now_ms();
        let opened = store::open_import(
            &self.inner.db,
            header.request_id.trim(),
            &court.code,
            &court.name,
            &header.label,
            header.expected_rulings,
            now,
            now + IMPORT_LEASE_MS,
        )
        .await
        .map_err(Error::from)?;
        let import = match opened {
            OpenedImport::Completed(done) => {
                let (refusals, _) = self
                    .first_import_refusals(&done.id, 0, REFUSALS_IN_SUMMARY)
                    .await?;
                return Ok(Response::new(pb::ImportRulingsResponse {
                    ruling_import: Some(convert::import_pb(done)),
                    refusals,
                    replayed: true,
                }));
            }
            OpenedImport::Busy(b) => {
                return Err(Error::conflict(
                    "IMPORT_IN_PROGRESS",
                    format!("import {} is being received right now", b.id),
                )
                .into());
            }
            OpenedImport::Receiving(i) => i,
        };
        let per_chunk = 2_000;
        let (mut position, mut last_row) = (0i64, 0i64);
        let mut pending: Vec<(i64, pb::RulingInput)> = Vec::new();
        let result: Result<()> = async {
            loop {
                let msg = stream.message().await.map_err(|s| malformed(&s))?;
                let done = msg.is_none();
                if let Some(m) = msg {
                    match m.item {
                        Some(Item::Chunk(c)) => {
                            for r in c.rulings {
                                position += 1;
                                if position > header.expected_rulings {
                                    return Err(Error::bad_request(
                                        "IMPORT_LONGER_THAN_DECLARED",
                                        format!(
                                            "the header declared {} rulings but more arrived",
                                            header.expected_rulings
                                        ),
                                    ));
                                }
                                let row = if r.row > 0 { r.row } else { last_row + 1 };
                                if row <= last_row {
                                    return Err(Error::bad_request(
                                        "ROWS_OUT_OF_ORDER",
                                        format!("row {row} follows row {last_row}"),
                                    ));
                                }
                                last_row = row;
                                pending.push((row, r));
                            }
                        }
                        _ => {
                            return Err(Error::bad_request(
                                "HEADER_TWICE",
                                "an import has one header, first",
                            ));
                        }
                    }
                }
                if pending.len() >= per_chunk || (done && !pending.is_empty()) {
                    self.import_chunk(&import.id, std::mem::take(&mut pending))
                        .await?;
                }
                if done {
                    break;
                }
            }
            if position < header.expected_rulings {
                return Err(Error::bad_request(
                    "IMPORT_SHORTER_THAN_DECLARED",
                    format!(
                        "the header declared {} rulings but {position} arrived",
                        header.expected_rulings
                    ),
                ));
            }
            Ok(())
        }
        .await;
        let now = self.now_ms();
        match result {
            Ok(()) => {
                let done =
                    store::finish_import(&self.inner.db, &import.id, store::IMPORT_COMPLETED, now)
                        .await
                        .map_err(Error::from)?
                        .ok_or_else(|| Error::not_found("import", &import.id))?;
                let (refusals, _) = self
                    .first_import_refusals(&done.id, 0, REFUSALS_IN_SUMMARY)
                    .await?;
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
                let _ =
                    store::finish_import(&self.inner.db, &import.id, store::IMPORT_ABORTED, now)
                        .await;
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
        let page = r.page.unwrap_or_default();
        let size = if page.page_size <= 0 {
            100
        } else {
            page.page_size.min(1000)
        } as u64;
        let after: i64 = if page.page_token.is_empty() {
            0
        } else {
            page.page_token.parse().map_err(|_| {
                Error::invalid_field("page.page_token", "not a token this call returned")
            })?
        };
        let rows = store::import_refusals(self.inner.db.read(), &r.import_id, after, size)
            .await
            .map_err(Error::from)?;
        let next = if rows.len() as u64 == size {
            rows.last().map(|r| r.row.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        let (refusals, _) = self
            .first_import_refusals(&r.import_id, after, size)
            .await?;
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
            revoked_certs = revoke_certificates_resting_on(&txn, &updated.ruling_number, now)
                .await
                .map_err(Error::from)?;
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
                "TOO_MANY_CASES",
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
        let found = store::get_check(self.inner.db.read(), id.as_deref(), case.as_deref())
            .await
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
                "CASE_COUNT",
                format!("apply for 1 to {MAX_CASES_PER_CALL} cases per call"),
            )
            .with_violation("case_ids", r.case_ids.len().to_string())
            .into());
        }
        // The certificate names the bank as intake registered it.
        let bank = self
            .inner
            .intake
            .clone()
            .get_bank(intake::GetBankRequest {
                key: Some(intake::get_bank_request::Key::BankId(r.bank_id.clone())),
            })
            .await
            .map_err(|s| {
                if s.code() == tonic::Code::NotFound {
                    Error::not_found("bank", &r.bank_id)
                } else {
                    Error::unavailable(format!("intake did not answer: {}", s.message()))
                }
            })?
            .into_inner()
            .bank
            .ok_or_else(|| Error::not_found("bank", &r.bank_id))?;
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
                    certificate: cert.map(convert::certificate_pb),
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
                ruling_numbers: serde_json::to_string(&ruling_numbers)
                    .unwrap_or_else(|_| "[]".into()),
                issued_on: convert::iso(today),
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
            outcomes.push(intake::RecordStageOutcomeRequest {
                event_id: format!("certificate:{}", model.id),
                case_id: case_id.clone(),
                from_stage: common::Stage::Certifiable as i32,
                to_stage: common::Stage::Certified as i32,
                actor: common::Actor::BadDebtCheck as i32,
                reason: format!("出具预查废证明 {number} / pre-check certificate issued"),
                source_record_id: number,
                occurred_at: Some(convert::timestamp(now_ms)),
            });
            rows.push(pb::CertificateRow {
                row,
                case_id: case_id.clone(),
                outcome: common::RowOutcome::Accepted as i32,
                certificate: Some(convert::certificate_pb(model)),
                refusals: vec![],
            });
        }
        if !outcomes.is_empty() {
            let msg = intake::RecordStageOutcomesRequest { outcomes };
            outbox::enqueue(
                &txn,
                now_ms,
                vec![NewMessage::protobuf(
                    outbox::TOPIC_STAGE_OUTCOMES,
                    "certificates",
                    &msg,
                )],
            )
            .await
            .map_err(Error::from)?;
        }
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
            certificate: Some(convert::certificate_pb(found)),
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
            certificate: issued.map(convert::certificate_pb),
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

/// An import stream that broke: the chunks already written stay (each an idempotent fact).
fn malformed(status: &Status) -> Error {
    sieve_kernel::wire::stream_error(status, "import", "rulings of earlier chunks stay imported")
}

//! Receiving a batch: the leased open, screening row by row, the writer task and the lease
//! renewal, completion or abort (DEVELOPERS.md, "How intake takes a batch").

use super::*;
use sieve_kernel::bulk::{self, Lease};
use sieve_kernel::rules::StoredViolation;
use sieve_kernel::rules::violation;

/// Tallies of one batch as it is received.
pub(super) struct Receipt {
    pub(super) batch: store::batch::Model,
    bank_id: String,
    seen: HashSet<String>,
    pending: store::Chunk,
    chunk_rows: usize,
}

impl IntakeApi {
    /// Opens the batch, or answers from the earlier submission with the same key.
    pub(super) async fn open(
        &self,
        header: &pb::BatchHeader,
    ) -> Result<std::result::Result<Receipt, store::batch::Model>> {
        sieve_kernel::wire::require_id("header.request_id", &header.request_id)?;
        if header.expected_cases < 1 {
            return Err(Error::bad_request(
                reason::BATCH_EMPTY,
                "the batch declares no cases / 批次为空",
            )
            .with_violation("header.expected_cases", "must be at least 1"));
        }
        if header.expected_cases > MAX_BATCH_CASES {
            return Err(Error::bad_request(
                reason::BATCH_TOO_LARGE,
                format!("a batch holds at most {MAX_BATCH_CASES} cases; split it / 单批最多 {MAX_BATCH_CASES} 件"),
            )
            .with_violation("header.expected_cases", format!("{} > {MAX_BATCH_CASES}", header.expected_cases)));
        }
        if header.label.chars().count() > 256 {
            return Err(Error::invalid_field(
                "header.label",
                "at most 256 characters",
            ));
        }
        self.require_bank(&header.bank_id).await?;
        let batch = store::NewBatch {
            receiver: &self.inner.receiver,
            bank_id: &header.bank_id,
            request_id: header.request_id.trim(),
            label: &header.label,
            expected: header.expected_cases,
        };
        let lease = Lease::new(self.now_ms(), BATCH_LEASE_MS);
        let opened = bulk::lease::open(&self.inner.db, &batch, lease).await?;
        match opened {
            Opened::Completed(b) => Ok(Err(b)),
            Opened::Busy(b) => Err(Error::conflict(
                reason::BATCH_IN_PROGRESS,
                format!(
                    "batch {} with this request id is being received right now; retry when it ends",
                    b.id
                ),
            )),
            Opened::Receiving(batch) => {
                let backend = self.inner.db.backend();
                Ok(Ok(Receipt {
                    batch,
                    bank_id: header.bank_id.clone(),
                    seen: HashSet::new(),
                    pending: store::Chunk::default(),
                    chunk_rows: sieve_kernel::db::rows_per_insert::<store::case::Entity>(backend),
                }))
            }
        }
    }

    /// Screens row `row` (numbered and counted by the kernel's reader) into the pending chunk.
    fn screen_row(
        &self,
        r: &mut Receipt,
        row: i64,
        input: pb::CaseInput,
        now: i64,
        today: chrono::NaiveDate,
    ) -> Result<()> {
        let draft = convert::draft(input);
        let mut violations = screening::screen(&draft, &self.inner.scope, today);
        // The same reference twice in one batch: the second is refused (the first stands).
        if !draft.bank_case_ref.is_empty() && !r.seen.insert(draft.bank_case_ref.clone()) {
            violations.push(screening::Violation {
                field: screening::field::BANK_CASE_REF,
                rule: "bank_case_ref.duplicate_in_batch",
                description: "本批次中该银行案件编号重复 / the same bank case reference appears earlier in this batch"
                    .into(),
            });
        }
        r.pending.received += 1;
        if violations.is_empty() {
            let id = uuid::Uuid::now_v7().simple().to_string();
            r.pending.cases.push(convert::new_case(
                draft,
                id,
                &r.bank_id,
                &r.batch.id,
                row,
                now,
            ));
        } else {
            let stored: Vec<StoredViolation> =
                violations.into_iter().map(StoredViolation::from).collect();
            let reference: String = draft.bank_case_ref.chars().take(64).collect();
            r.pending.refused.push(store::batch_row::Model {
                batch_id: r.batch.id.clone(),
                row,
                bank_case_ref: reference,
                outcome: store::RowOutcome::Refused,
                case_id: None,
                refusals: violation::encode(&stored).map_err(Error::internal)?,
                differing_fields: store::NO_DIFFERENCES.into(),
            });
        }
        Ok(())
    }

    /// Receives a whole batch from `chunks` (rows numbered and counted against the header by
    /// the kernel's reader), writing chunk by chunk on a writer task while the next rows are
    /// screened. Any error aborts the batch and removes what it wrote; the batch's cases
    /// exist for callers only once it completes.
    pub(super) async fn receive<S>(
        &self,
        mut receipt: Receipt,
        mut chunks: S,
    ) -> Result<store::batch::Model>
    where
        S: futures::Stream<Item = Result<Vec<(i64, pb::CaseInput)>>> + Unpin + Send,
    {
        use futures::StreamExt;
        let batch_id = receipt.batch.id.clone();
        let (tx, mut rx) = mpsc::channel::<store::Chunk>(2);
        let writer = {
            let api = self.clone();
            let (batch_id, bank_id) = (batch_id.clone(), receipt.bank_id.clone());
            tokio::spawn(async move {
                let inner = &api.inner;
                while let Some(chunk) = rx.recv().await {
                    let now = api.now_ms();
                    store::write_chunk(
                        &inner.db,
                        &batch_id,
                        &bank_id,
                        &inner.receiver,
                        chunk,
                        now,
                        now + BATCH_LEASE_MS,
                    )
                    .await?;
                }
                Ok::<(), store::BatchError>(())
            })
        };
        // While the caller is slow to send, the lease is renewed so the sweep leaves the
        // batch alone; it stops with the receipt (or with the process).
        let renewal = {
            let api = self.clone();
            let batch_id = batch_id.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(LEASE_RENEWAL);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let until = api.now_ms() + BATCH_LEASE_MS;
                    match store::renew_lease(&api.inner.db, &batch_id, &api.inner.receiver, until)
                        .await
                    {
                        Ok(()) => {}
                        Err(store::BatchError::LeaseLost(_)) => break,
                        Err(e) => {
                            tracing::warn!(batch = %batch_id, error = %e, "could not renew a batch's lease")
                        }
                    }
                }
            })
        };
        let result: Result<()> = async {
            let now = self.now_ms();
            let today = self.inner.clock.today();
            while let Some(item) = chunks.next().await {
                for (row, input) in item? {
                    self.screen_row(&mut receipt, row, input, now, today)?;
                    if receipt.pending.received as usize >= receipt.chunk_rows {
                        let chunk = std::mem::take(&mut receipt.pending);
                        if tx.send(chunk).await.is_err() {
                            // The writer stopped; its error is reported below.
                            return Ok(());
                        }
                    }
                }
            }
            let chunk = std::mem::take(&mut receipt.pending);
            if chunk.received > 0 {
                let _ = tx.send(chunk).await;
            }
            Ok(())
        }
        .await;
        drop(tx);
        let written = match writer.await {
            Ok(r) => r.map_err(batch_error),
            Err(join) => Err(Error::internal(join)),
        };
        let outcome = result.and(written);
        let now = self.now_ms();
        let ended = match outcome {
            Ok(()) => store::complete_batch(&self.inner.db, &batch_id, &self.inner.receiver, now)
                .await
                .map_err(batch_error),
            Err(e) => Err(e),
        };
        renewal.abort();
        match ended {
            Ok(batch) => Ok(batch),
            Err(e) => {
                let reason = format!("{}: {}", e.reason, e.message);
                match store::abort_batch(
                    &self.inner.db,
                    &batch_id,
                    &self.inner.receiver,
                    &reason,
                    now,
                )
                .await
                {
                    Ok(_) => {}
                    // The lease lapses and the sweep, the next start or a retry purges it.
                    Err(cleanup) => {
                        tracing::error!(batch = %batch_id, error = %cleanup, "could not clear an aborted batch")
                    }
                }
                tracing::info!(batch = %batch_id, reason = e.reason, "batch aborted, nothing kept");
                Err(e)
            }
        }
    }

    pub(super) async fn first_refusals(
        &self,
        batch_id: &str,
    ) -> Result<Vec<sieve_proto::common::v1::RowRefusal>> {
        let rows = store::batch_rows(
            self.inner.db.read(),
            batch_id,
            0,
            REFUSALS_IN_SUMMARY,
            store::WhichRows::Of(store::RowOutcome::Refused),
        )
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.extend(convert::row_pb(r)?.refusals);
            if out.len() as u64 >= REFUSALS_IN_SUMMARY {
                out.truncate(REFUSALS_IN_SUMMARY as usize);
                break;
            }
        }
        Ok(out)
    }
}

/// Why writing a batch stopped, as the caller is told.
fn batch_error(e: store::BatchError) -> Error {
    match e {
        store::BatchError::Db(e) => e.into(),
        store::BatchError::LeaseLost(id) => Error::conflict(
            reason::BATCH_LEASE_LOST,
            format!(
                "batch {id} was given up while it was being received (no rows for {} s); nothing \
                 was kept: send it again",
                BATCH_LEASE_MS / 1000
            ),
        ),
    }
}

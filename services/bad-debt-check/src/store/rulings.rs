//! Writing the registry: a chunk of an import in one transaction, a ruling revoked, and the
//! certificates a revocation withdraws, each written with what it changes.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use sieve_kernel::db::Db;
use sieve_kernel::error::{Error, Result};
use sieve_kernel::rules::{StoredViolation, violation};

use super::{ImportCounts, bump_import, certificate, import_refusal, insert_all, new_id, ruling};
use super::{certificates_citing, get_ruling, rulings_by_number};
use crate::convert::stored_draft;
use crate::domain::ruling::{self as rules, Reconciled, RulingDraft, Violation};

/// The reason a ruling carries when an export already shows it revoked.
const REVOKED_AS_EXPORTED: &str = "enforcement resumed (已恢复执行), as exported";

/// One chunk of an import, screened ([`rules::screen`]).
pub struct ImportChunk<'a> {
    pub import_id: &'a str,
    pub now: i64,
    /// The import's lease, renewed by the chunk.
    pub lease_until_ms: i64,
    /// Rows the chunk held.
    pub received: i64,
    /// Row, the court's code, the ruling.
    pub valid: Vec<(i64, String, RulingDraft)>,
    /// Row, ruling number, what it broke.
    pub refused: Vec<(i64, String, Vec<Violation>)>,
}

/// Writes a chunk in one transaction: new rulings added, changed ones updated, rows that
/// contradict the registry refused, certificates resting only on rulings the chunk revokes
/// withdrawn, the import's counts and lease moved on. Returns the chunk's counts.
pub async fn write_import_chunk(db: &Db, chunk: ImportChunk<'_>) -> Result<ImportCounts> {
    let ImportChunk {
        import_id,
        now,
        lease_until_ms,
        received,
        valid,
        mut refused,
    } = chunk;
    let mut counts = ImportCounts {
        received,
        ..Default::default()
    };
    let txn = sieve_kernel::db::begin_write(db).await?;
    let stored = rulings_by_number(
        &txn,
        valid.iter().map(|v| v.2.ruling_number.clone()).collect(),
    )
    .await?;
    let mut added = Vec::new();
    let mut newly_revoked = Vec::new();
    for (row, court_code, draft) in valid {
        let existing = stored.get(&draft.ruling_number);
        match rules::reconcile(existing.map(stored_draft).as_ref(), &draft) {
            Reconciled::Add => added.push(new_ruling(import_id, now, court_code, draft)),
            Reconciled::Refuse(v) => refused.push((row, draft.ruling_number, vec![v])),
            Reconciled::Unchanged => counts.unchanged += 1,
            Reconciled::Update {
                revoked,
                newly_revoked: now_revoked,
            } => {
                let Some(model) = existing else { continue };
                let mut am = model.clone().into_active_model();
                am.terminated_on = Set(draft
                    .terminated_on
                    .map(sieve_kernel::rules::dates::iso)
                    .unwrap_or_default());
                am.unpaid_fen = Set(draft.unpaid_fen);
                am.revoked = Set(revoked);
                if now_revoked {
                    am.revoked_at_ms = Set(Some(now));
                    am.revocation_reason = Set(REVOKED_AS_EXPORTED.into());
                    newly_revoked.push(model.ruling_number.clone());
                }
                am.import_id = Set(import_id.to_string());
                am.updated_at_ms = Set(now);
                am.update(&txn).await?;
                counts.updated += 1;
            }
        }
    }
    counts.added = added.len() as i64;
    counts.refused = refused.len() as i64;
    insert_all(&txn, added).await?;
    let mut refusals = Vec::with_capacity(refused.len());
    for (row, number, violations) in refused {
        refusals.push(refusal(import_id, row, &number, violations)?);
    }
    insert_all(&txn, refusals).await?;
    for number in newly_revoked {
        revoke_certificates_resting_on(&txn, &number, now).await?;
    }
    bump_import(&txn, import_id, counts, lease_until_ms).await?;
    txn.commit().await?;
    Ok(counts)
}

fn new_ruling(
    import_id: &str,
    now: i64,
    court_code: String,
    d: RulingDraft,
) -> ruling::ActiveModel {
    let iso = |date: Option<chrono::NaiveDate>| {
        date.map(sieve_kernel::rules::dates::iso)
            .unwrap_or_default()
    };
    ruling::Model {
        id: new_id(),
        ruling_number: d.ruling_number,
        court_code,
        court_name: d.court_name,
        debtor_name: d.debtor_name,
        debtor_id_number: d.debtor_id_number,
        filed_on: iso(d.filed_on),
        terminated_on: iso(d.terminated_on),
        unpaid_fen: d.unpaid_fen,
        revoked: d.revoked,
        revocation_reason: if d.revoked {
            REVOKED_AS_EXPORTED.into()
        } else {
            String::new()
        },
        resumed_case_number: String::new(),
        revoked_at_ms: d.revoked.then_some(now),
        import_id: import_id.to_string(),
        imported_at_ms: now,
        updated_at_ms: now,
    }
    .into_active_model()
    .reset_all()
}

/// A refused row as stored. A refusal that cannot be stored fails the chunk: stored as an
/// empty list, the row would read as refused for no reason.
fn refusal(
    import_id: &str,
    row: i64,
    number: &str,
    violations: Vec<Violation>,
) -> Result<import_refusal::ActiveModel> {
    let stored: Vec<StoredViolation> = violations.into_iter().map(StoredViolation::from).collect();
    Ok(import_refusal::Model {
        import_id: import_id.to_string(),
        row,
        ruling_number: number
            .chars()
            .take(violation::MAX_REFERENCE_CHARS)
            .collect(),
        refusals: violation::encode(&stored).map_err(Error::internal)?,
    }
    .into_active_model()
    .reset_all())
}

/// A revocation of a ruling (enforcement resumed): who asks, why, in which resumed case.
pub struct Revocation<'a> {
    pub ruling_number: &'a str,
    pub reason: &'a str,
    pub resumed_case_number: &'a str,
    pub now: i64,
}

/// Revokes the ruling and withdraws the certificates resting only on it, in one transaction.
/// Revoking twice is harmless: the ruling as it stands, no certificate withdrawn. `None`:
/// no such ruling.
pub async fn revoke_ruling(
    db: &Db,
    r: Revocation<'_>,
) -> Result<Option<(ruling::Model, Vec<String>)>> {
    let txn = sieve_kernel::db::begin_write(db).await?;
    let Some(found) = get_ruling(&txn, None, Some(r.ruling_number)).await? else {
        return Ok(None);
    };
    if found.revoked {
        return Ok(Some((found, Vec::new())));
    }
    let mut am = found.into_active_model();
    am.revoked = Set(true);
    am.revoked_at_ms = Set(Some(r.now));
    am.revocation_reason = Set(r.reason.chars().take(500).collect());
    am.resumed_case_number = Set(r.resumed_case_number.chars().take(64).collect());
    am.updated_at_ms = Set(r.now);
    let updated = am.update(&txn).await?;
    let withdrawn = revoke_certificates_resting_on(&txn, &updated.ruling_number, r.now).await?;
    txn.commit().await?;
    Ok(Some((updated, withdrawn)))
}

/// Withdraws the standing certificates whose basis the revocation of `ruling_number` takes
/// away ([`rules::basis_gone`]); returns their numbers.
async fn revoke_certificates_resting_on<C: ConnectionTrait>(
    conn: &C,
    ruling_number: &str,
    now: i64,
) -> Result<Vec<String>> {
    let mut revoked = Vec::new();
    for c in certificates_citing(conn, ruling_number).await? {
        // Strictly: an unreadable list read as empty would revoke the certificate (every one
        // of no rulings is revoked).
        let numbers: Vec<String> = sieve_kernel::rules::stored::decode(
            &c.ruling_numbers,
            format_args!("certificate {}", c.id),
            "ruling numbers",
        )?;
        let stored = rulings_by_number(conn, numbers.clone()).await?;
        let gone = rules::basis_gone(&numbers, |n| {
            stored
                .get(n)
                .is_none_or(|r| r.revoked || r.ruling_number == ruling_number)
        });
        if gone {
            certificate::Entity::update_many()
                .filter(certificate::Column::Id.eq(c.id.clone()))
                .col_expr(certificate::Column::RevokedAtMs, Expr::value(now))
                .col_expr(
                    certificate::Column::RevocationReason,
                    Expr::value(format!(
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

//! The pre-check's schema, the same on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(sieve_kernel::outbox::migration::Migration),
            Box::new(M0001PreCheck),
            Box::new(M0002MatchRuns),
            // The court's calendar and the deadlines it recounts (none kept here yet): the
            // pre-check is the stage service that serves the calendar today.
            Box::new(sieve_kernel::deadline::migration::Migration),
            Box::new(sieve_kernel::calendar::stored::migration::Migration),
        ]
    }
}

// Column names repeat the table's word (ruling_number) because that is the court's term.
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum Ruling {
    Table,
    Id,
    RulingNumber,
    CourtCode,
    CourtName,
    DebtorName,
    DebtorIdNumber,
    FiledOn,
    TerminatedOn,
    UnpaidFen,
    Revoked,
    RevocationReason,
    ResumedCaseNumber,
    RevokedAtMs,
    ImportId,
    ImportedAtMs,
    UpdatedAtMs,
}

#[derive(DeriveIden)]
enum RulingImport {
    Table,
    Id,
    RequestId,
    SourceCourtCode,
    SourceCourtName,
    Label,
    Status,
    Expected,
    Received,
    Added,
    Updated,
    Unchanged,
    Refused,
    StartedAtMs,
    CompletedAtMs,
    LeaseUntilMs,
}

#[derive(DeriveIden)]
enum ImportRefusal {
    Table,
    ImportId,
    Row,
    RulingNumber,
    Refusals,
}

#[derive(DeriveIden)]
enum PreCheck {
    Table,
    Id,
    CaseId,
    BankId,
    BankCaseRef,
    DebtorName,
    DebtorIdNumber,
    PrincipalFen,
    InterestFen,
    PenaltyFen,
    FeesFen,
    Outcome,
    Matches,
    TerminatedSince,
    CheckedAtMs,
    CertificateId,
    Seq,
}

#[derive(DeriveIden)]
enum MatchRun {
    Table,
    Id,
    AfterSeq,
    LastSeq,
    Matches,
    TerminatedSince,
    CheckedAtMs,
    TookMs,
}

#[derive(DeriveIden)]
enum CheckMatch {
    Table,
    CheckSeq,
    RulingId,
}

#[derive(DeriveIden)]
enum CheckSequence {
    Table,
    Name,
    Value,
}

#[derive(DeriveIden)]
enum Certificate {
    Table,
    Id,
    Number,
    CourtCode,
    Year,
    Sequence,
    CaseId,
    CheckId,
    BankId,
    BankName,
    RulingNumbers,
    IssuedOn,
    IssuedAtMs,
    Canonical,
    KeyId,
    Signature,
    RevokedAtMs,
    RevocationReason,
}

#[derive(DeriveIden)]
enum CertificateCounter {
    Table,
    CourtCode,
    Year,
    LastSequence,
}

#[derive(DeriveIden)]
enum SigningKey {
    Table,
    KeyId,
    PublicKey,
    ActiveFromMs,
    RetiredAtMs,
}

struct M0001PreCheck;

impl MigrationName for M0001PreCheck {
    fn name(&self) -> &str {
        "m0001_pre_check"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0001PreCheck {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Ruling::Table)
                .if_not_exists()
                .col(string(Ruling::Id).primary_key())
                .col(string_uniq(Ruling::RulingNumber))
                .col(string(Ruling::CourtCode))
                .col(string(Ruling::CourtName))
                .col(string(Ruling::DebtorName))
                .col(string(Ruling::DebtorIdNumber))
                .col(string(Ruling::FiledOn))
                .col(string(Ruling::TerminatedOn))
                .col(big_integer(Ruling::UnpaidFen))
                .col(boolean(Ruling::Revoked))
                .col(string(Ruling::RevocationReason))
                .col(string(Ruling::ResumedCaseNumber))
                .col(big_integer_null(Ruling::RevokedAtMs))
                .col(string(Ruling::ImportId))
                .col(big_integer(Ruling::ImportedAtMs))
                .col(big_integer(Ruling::UpdatedAtMs))
                .to_owned(),
        )
        .await?;
        // Matching looks rulings up by the debtor's ID number.
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("idx_ruling_debtor")
                .table(Ruling::Table)
                .col(Ruling::DebtorIdNumber)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RulingImport::Table)
                .if_not_exists()
                .col(string(RulingImport::Id).primary_key())
                .col(string_uniq(RulingImport::RequestId))
                .col(string(RulingImport::SourceCourtCode))
                .col(string(RulingImport::SourceCourtName))
                .col(string(RulingImport::Label))
                .col(string(RulingImport::Status))
                .col(big_integer(RulingImport::Expected))
                .col(big_integer(RulingImport::Received))
                .col(big_integer(RulingImport::Added))
                .col(big_integer(RulingImport::Updated))
                .col(big_integer(RulingImport::Unchanged))
                .col(big_integer(RulingImport::Refused))
                .col(big_integer(RulingImport::StartedAtMs))
                .col(big_integer_null(RulingImport::CompletedAtMs))
                .col(big_integer(RulingImport::LeaseUntilMs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ImportRefusal::Table)
                .if_not_exists()
                .col(string(ImportRefusal::ImportId))
                .col(big_integer(ImportRefusal::Row))
                .col(string(ImportRefusal::RulingNumber))
                .col(text(ImportRefusal::Refusals))
                .primary_key(
                    Index::create()
                        .col(ImportRefusal::ImportId)
                        .col(ImportRefusal::Row),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PreCheck::Table)
                .if_not_exists()
                .col(string(PreCheck::Id).primary_key())
                .col(string_uniq(PreCheck::CaseId))
                .col(string(PreCheck::BankId))
                .col(string(PreCheck::BankCaseRef))
                .col(string(PreCheck::DebtorName))
                .col(string(PreCheck::DebtorIdNumber))
                .col(big_integer(PreCheck::PrincipalFen))
                .col(big_integer(PreCheck::InterestFen))
                .col(big_integer(PreCheck::PenaltyFen))
                .col(big_integer(PreCheck::FeesFen))
                .col(string(PreCheck::Outcome))
                .col(text(PreCheck::Matches))
                .col(string_null(PreCheck::TerminatedSince))
                .col(big_integer(PreCheck::CheckedAtMs))
                .col(string_null(PreCheck::CertificateId))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Certificate::Table)
                .if_not_exists()
                .col(string(Certificate::Id).primary_key())
                .col(string_uniq(Certificate::Number))
                .col(string(Certificate::CourtCode))
                .col(integer(Certificate::Year))
                .col(big_integer(Certificate::Sequence))
                .col(string_uniq(Certificate::CaseId))
                .col(string(Certificate::CheckId))
                .col(string(Certificate::BankId))
                .col(string(Certificate::BankName))
                .col(text(Certificate::RulingNumbers))
                .col(string(Certificate::IssuedOn))
                .col(big_integer(Certificate::IssuedAtMs))
                .col(blob(Certificate::Canonical))
                .col(string(Certificate::KeyId))
                .col(blob(Certificate::Signature))
                .col(big_integer_null(Certificate::RevokedAtMs))
                .col(text(Certificate::RevocationReason))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CertificateCounter::Table)
                .if_not_exists()
                .col(string(CertificateCounter::CourtCode))
                .col(integer(CertificateCounter::Year))
                .col(big_integer(CertificateCounter::LastSequence))
                .primary_key(
                    Index::create()
                        .col(CertificateCounter::CourtCode)
                        .col(CertificateCounter::Year),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SigningKey::Table)
                .if_not_exists()
                .col(string(SigningKey::KeyId).primary_key())
                .col(blob(SigningKey::PublicKey))
                .col(big_integer(SigningKey::ActiveFromMs))
                .col(big_integer_null(SigningKey::RetiredAtMs))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            SigningKey::Table.into_iden(),
            CertificateCounter::Table.into_iden(),
            Certificate::Table.into_iden(),
            PreCheck::Table.into_iden(),
            ImportRefusal::Table.into_iden(),
            RulingImport::Table.into_iden(),
            Ruling::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

/// Matching moves out of the call that delivers cases into set-based runs (issue 3's
/// benchmark: a million cases matched no slower than one SQL join). A check no longer carries
/// its outcome: its run's range holds it, and `check_match` lists the rulings it matched.
/// Checks made before runs existed become runs of their own, one per original call.
struct M0002MatchRuns;

impl MigrationName for M0002MatchRuns {
    fn name(&self) -> &str {
        "m0002_match_runs"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002MatchRuns {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(MatchRun::Table)
                .if_not_exists()
                .col(string(MatchRun::Id).primary_key())
                .col(big_integer(MatchRun::AfterSeq))
                .col(big_integer_uniq(MatchRun::LastSeq))
                .col(big_integer(MatchRun::Matches))
                .col(string_null(MatchRun::TerminatedSince))
                .col(big_integer(MatchRun::CheckedAtMs))
                .col(big_integer(MatchRun::TookMs))
                .to_owned(),
        )
        .await?;
        // Keyed by the check's number, which runs insert in order: the key only appends. On
        // SQLite the table is its key (WITHOUT ROWID): one b-tree to write, not two.
        let check_match = Table::create()
            .table(CheckMatch::Table)
            .if_not_exists()
            .col(big_integer(CheckMatch::CheckSeq))
            .col(string(CheckMatch::RulingId))
            .primary_key(
                Index::create()
                    .col(CheckMatch::CheckSeq)
                    .col(CheckMatch::RulingId),
            )
            .to_owned();
        let db = m.get_connection();
        if db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
            db.execute_unprepared(&format!(
                "{} WITHOUT ROWID",
                check_match.to_string(SqliteQueryBuilder)
            ))
            .await?;
        } else {
            m.create_table(check_match).await?;
        }
        m.create_table(
            Table::create()
                .table(CheckSequence::Table)
                .if_not_exists()
                .col(string(CheckSequence::Name).primary_key())
                .col(big_integer(CheckSequence::Value))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(PreCheck::Table)
                .add_column(big_integer(PreCheck::Seq).default(0))
                .to_owned(),
        )
        .await?;

        let taken = carry_checks_into_runs(m).await?;
        m.exec_stmt(
            Query::insert()
                .into_table(CheckSequence::Table)
                .columns([CheckSequence::Name, CheckSequence::Value])
                .values_panic(["taken".into(), taken.into()])
                .values_panic(["matched".into(), taken.into()])
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("pre_check_seq")
                .table(PreCheck::Table)
                .col(PreCheck::Seq)
                .unique()
                .to_owned(),
        )
        .await?;
        // One column per statement: SQLite alters one thing at a time.
        for c in [
            PreCheck::Outcome,
            PreCheck::Matches,
            PreCheck::TerminatedSince,
            PreCheck::CheckedAtMs,
        ] {
            m.alter_table(
                Table::alter()
                    .table(PreCheck::Table)
                    .drop_column(c)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    /// Restores the m0001 shape. Lossy: outcomes decided by runs are written back as NO_MATCH
    /// with no rulings; run them again after upgrading to recover them.
    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("pre_check_seq")
                .table(PreCheck::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(PreCheck::Table)
                .drop_column(PreCheck::Seq)
                .to_owned(),
        )
        .await?;
        for c in [
            ColumnDef::new(PreCheck::Outcome)
                .string()
                .not_null()
                .default("NO_MATCH")
                .to_owned(),
            ColumnDef::new(PreCheck::Matches)
                .text()
                .not_null()
                .default("[]")
                .to_owned(),
            ColumnDef::new(PreCheck::TerminatedSince)
                .string()
                .null()
                .to_owned(),
            ColumnDef::new(PreCheck::CheckedAtMs)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(PreCheck::Table)
                    .add_column(c)
                    .to_owned(),
            )
            .await?;
        }
        for t in [
            CheckSequence::Table.into_iden(),
            CheckMatch::Table.into_iden(),
            MatchRun::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

/// A match as m0001 stored it in a check's JSON (other fields are not carried).
#[derive(serde::Deserialize)]
struct CarriedMatch {
    ruling_id: String,
}

/// Numbers the checks m0001 stored, in the order they were made, records the rulings each
/// matched (from its JSON) and groups each original call into a run. Returns the last number.
async fn carry_checks_into_runs(m: &SchemaManager<'_>) -> Result<i64, DbErr> {
    let db = m.get_connection();
    let rows = db
        .query_all(
            Query::select()
                .columns([
                    PreCheck::Id,
                    PreCheck::Matches,
                    PreCheck::TerminatedSince,
                    PreCheck::CheckedAtMs,
                ])
                .from(PreCheck::Table)
                .order_by(PreCheck::CheckedAtMs, Order::Asc)
                .order_by(PreCheck::Id, Order::Asc),
        )
        .await?;
    let mut seq = 0i64;
    // (after_seq, last_seq, since, checked_at_ms, matches)
    let mut runs: Vec<(i64, i64, Option<String>, i64, i64)> = Vec::new();
    for row in rows {
        let id: String = row.try_get("", "id")?;
        let matches: String = row.try_get("", "matches")?;
        let since: Option<String> = row.try_get("", "terminated_since")?;
        let at: i64 = row.try_get("", "checked_at_ms")?;
        seq += 1;
        m.exec_stmt(
            Query::update()
                .table(PreCheck::Table)
                .value(PreCheck::Seq, seq)
                .and_where(Expr::col(PreCheck::Id).eq(id.clone()))
                .to_owned(),
        )
        .await?;
        // Strictly: matches that do not parse, carried as none, would turn a matched check
        // into one that matched nothing. The migration stops, naming the check.
        let carried: Vec<CarriedMatch> =
            sieve_kernel::rules::stored::decode(&matches, format_args!("check {id}"), "matches")
                .map_err(|e| {
                    let cause = std::error::Error::source(&e).map(ToString::to_string);
                    DbErr::Custom(cause.unwrap_or_else(|| e.to_string()))
                })?;
        let ruling_ids: Vec<String> = carried.into_iter().map(|m| m.ruling_id).collect();
        for r in &ruling_ids {
            m.exec_stmt(
                Query::insert()
                    .into_table(CheckMatch::Table)
                    .columns([CheckMatch::CheckSeq, CheckMatch::RulingId])
                    .values_panic([seq.into(), r.clone().into()])
                    .to_owned(),
            )
            .await?;
        }
        match runs.last_mut() {
            Some(run) if run.3 == at && run.2 == since => {
                run.1 = seq;
                run.4 += ruling_ids.len() as i64;
            }
            _ => runs.push((seq - 1, seq, since, at, ruling_ids.len() as i64)),
        }
    }
    for (after, last, since, at, matches) in runs {
        m.exec_stmt(
            Query::insert()
                .into_table(MatchRun::Table)
                .columns([
                    MatchRun::Id,
                    MatchRun::AfterSeq,
                    MatchRun::LastSeq,
                    MatchRun::Matches,
                    MatchRun::TerminatedSince,
                    MatchRun::CheckedAtMs,
                    MatchRun::TookMs,
                ])
                .values_panic([
                    uuid::Uuid::now_v7().simple().to_string().into(),
                    after.into(),
                    last.into(),
                    matches.into(),
                    since.into(),
                    at.into(),
                    0i64.into(),
                ])
                .to_owned(),
        )
        .await?;
    }
    Ok(seq)
}

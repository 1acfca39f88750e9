//! The pre-check's schema, the same on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(sieve_kernel::outbox::migration::Migration),
            Box::new(M0001PreCheck),
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

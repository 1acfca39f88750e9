//! Intake's schema, the same on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(sieve_kernel::outbox::migration::Migration),
            Box::new(M0001Intake),
            Box::new(M0002BatchReceiver),
            Box::new(M0003ExistingDifferences),
            Box::new(M0004PreservationApplied),
        ]
    }
}

#[derive(DeriveIden)]
enum Bank {
    Table,
    Id,
    Code,
    Name,
    CallbackPhone,
    RegisteredAtMs,
}

#[derive(DeriveIden)]
enum Batch {
    Table,
    Id,
    BankId,
    RequestId,
    Label,
    Status,
    ExpectedCases,
    ReceivedCases,
    AcceptedCases,
    ExistingCases,
    RefusedCases,
    SubmittedAtMs,
    CompletedAtMs,
    LeaseUntilMs,
    Receiver,
    StatusReason,
}

#[derive(DeriveIden)]
enum Case {
    // `case` is an SQL keyword; the table is `court_case`.
    #[sea_orm(iden = "court_case")]
    Table,
    Id,
    BankId,
    BankCaseRef,
    BatchId,
    BatchRow,
    Product,
    DebtorKind,
    DebtorName,
    DebtorIdNumber,
    DebtorPhone,
    DebtorAddress,
    DebtorDivisionCode,
    ContractAmountFen,
    PrincipalFen,
    InterestFen,
    PenaltyFen,
    FeesFen,
    ContractRef,
    ContractNamesCourt,
    Stage,
    SubmittedAtMs,
    StageChangedAtMs,
    Version,
    PreservationAppliedAtMs,
}

#[derive(DeriveIden)]
enum BatchRow {
    Table,
    BatchId,
    Row,
    BankCaseRef,
    Outcome,
    CaseId,
    Refusals,
    DifferingFields,
}

#[derive(DeriveIden)]
enum CaseEvent {
    Table,
    EventId,
    CaseId,
    Seq,
    FromStage,
    ToStage,
    Actor,
    Reason,
    SourceRecordId,
    OccurredAtMs,
    RecordedAtMs,
}

struct M0001Intake;

impl MigrationName for M0001Intake {
    fn name(&self) -> &str {
        "m0001_intake"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Intake {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Bank::Table)
                .if_not_exists()
                .col(string(Bank::Id).primary_key())
                .col(string_uniq(Bank::Code))
                .col(string(Bank::Name))
                .col(string(Bank::CallbackPhone))
                .col(big_integer(Bank::RegisteredAtMs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Batch::Table)
                .if_not_exists()
                .col(string(Batch::Id).primary_key())
                .col(string(Batch::BankId))
                .col(string(Batch::RequestId))
                .col(string(Batch::Label))
                .col(string(Batch::Status))
                .col(big_integer(Batch::ExpectedCases))
                .col(big_integer(Batch::ReceivedCases))
                .col(big_integer(Batch::AcceptedCases))
                .col(big_integer(Batch::ExistingCases))
                .col(big_integer(Batch::RefusedCases))
                .col(big_integer(Batch::SubmittedAtMs))
                .col(big_integer_null(Batch::CompletedAtMs))
                .col(big_integer(Batch::LeaseUntilMs))
                .to_owned(),
        )
        .await?;
        // A batch re-sent with the same key is the same batch.
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("uq_batch_request")
                .table(Batch::Table)
                .col(Batch::BankId)
                .col(Batch::RequestId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Case::Table)
                .if_not_exists()
                .col(string(Case::Id).primary_key())
                .col(string(Case::BankId))
                .col(string(Case::BankCaseRef))
                .col(string(Case::BatchId))
                .col(big_integer(Case::BatchRow))
                .col(string(Case::Product))
                .col(string(Case::DebtorKind))
                .col(string(Case::DebtorName))
                .col(string(Case::DebtorIdNumber))
                .col(string(Case::DebtorPhone))
                .col(string(Case::DebtorAddress))
                .col(string(Case::DebtorDivisionCode))
                .col(big_integer(Case::ContractAmountFen))
                .col(big_integer(Case::PrincipalFen))
                .col(big_integer(Case::InterestFen))
                .col(big_integer(Case::PenaltyFen))
                .col(big_integer(Case::FeesFen))
                .col(string(Case::ContractRef))
                .col(boolean(Case::ContractNamesCourt))
                .col(string(Case::Stage))
                .col(big_integer(Case::SubmittedAtMs))
                .col(big_integer(Case::StageChangedAtMs))
                .col(big_integer(Case::Version))
                .to_owned(),
        )
        .await?;
        // One case per bank reference, however often it is submitted.
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("uq_case_bank_ref")
                .table(Case::Table)
                .col(Case::BankId)
                .col(Case::BankCaseRef)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("idx_case_batch_row")
                .table(Case::Table)
                .col(Case::BatchId)
                .col(Case::BatchRow)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("idx_case_stage")
                .table(Case::Table)
                .col(Case::Stage)
                .col(Case::Id)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(BatchRow::Table)
                .if_not_exists()
                .col(string(BatchRow::BatchId))
                .col(big_integer(BatchRow::Row))
                .col(string(BatchRow::BankCaseRef))
                .col(string(BatchRow::Outcome))
                .col(string_null(BatchRow::CaseId))
                .col(text(BatchRow::Refusals))
                .primary_key(Index::create().col(BatchRow::BatchId).col(BatchRow::Row))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CaseEvent::Table)
                .if_not_exists()
                .col(string(CaseEvent::EventId).primary_key())
                .col(string(CaseEvent::CaseId))
                .col(big_integer(CaseEvent::Seq))
                .col(string(CaseEvent::FromStage))
                .col(string(CaseEvent::ToStage))
                .col(string(CaseEvent::Actor))
                .col(text(CaseEvent::Reason))
                .col(string(CaseEvent::SourceRecordId))
                .col(big_integer(CaseEvent::OccurredAtMs))
                .col(big_integer(CaseEvent::RecordedAtMs))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("uq_case_event_seq")
                .table(CaseEvent::Table)
                .col(CaseEvent::CaseId)
                .col(CaseEvent::Seq)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            CaseEvent::Table.into_iden(),
            BatchRow::Table.into_iden(),
            Case::Table.into_iden(),
            Batch::Table.into_iden(),
            Bank::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

/// Who is receiving a batch (so a restarted receiver knows its predecessor's batches are
/// dead), and why a batch ended as it did.
struct M0002BatchReceiver;

impl MigrationName for M0002BatchReceiver {
    fn name(&self) -> &str {
        "m0002_batch_receiver"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002BatchReceiver {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        m.alter_table(
            Table::alter()
                .table(Batch::Table)
                .add_column(string(Batch::Receiver).default(""))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Batch::Table)
                .add_column(text(Batch::StatusReason).default(""))
                .to_owned(),
        )
        .await?;
        // The sweep looks for receiving batches whose lease lapsed.
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("idx_batch_status_lease")
                .table(Batch::Table)
                .col(Batch::Status)
                .col(Batch::LeaseUntilMs)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_batch_status_lease")
                .table(Batch::Table)
                .to_owned(),
        )
        .await?;
        for c in [Batch::StatusReason, Batch::Receiver] {
            m.alter_table(Table::alter().table(Batch::Table).drop_column(c).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Which fields an EXISTING row sent differently from the stored case, so a changed
/// resubmission is not silently dropped.
struct M0003ExistingDifferences;

impl MigrationName for M0003ExistingDifferences {
    fn name(&self) -> &str {
        "m0003_existing_differences"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0003ExistingDifferences {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Rows stored before this compared nothing: they name no difference.
        m.alter_table(
            Table::alter()
                .table(BatchRow::Table)
                .add_column(text(BatchRow::DifferingFields).default("[]"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(BatchRow::Table)
                .drop_column(BatchRow::DifferingFields)
                .to_owned(),
        )
        .await
    }
}

/// When the bank applied for preservation on a case, so that its closing is told to
/// preservation (which lifts the freezes). Null: never.
struct M0004PreservationApplied;

impl MigrationName for M0004PreservationApplied {
    fn name(&self) -> &str {
        "m0004_preservation_applied"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0004PreservationApplied {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Case::Table)
                .add_column(big_integer_null(Case::PreservationAppliedAtMs))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Case::Table)
                .drop_column(Case::PreservationAppliedAtMs)
                .to_owned(),
        )
        .await
    }
}

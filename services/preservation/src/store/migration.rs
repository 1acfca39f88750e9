//! Preservation's schema, the same on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(sieve_kernel::outbox::migration::Migration),
            Box::new(sieve_kernel::deadline::migration::Migration),
            Box::new(sieve_kernel::calendar::stored::migration::Migration),
            Box::new(sieve_kernel::replay::migration::Migration),
            Box::new(M0001Preservation),
            Box::new(M0002OrderLanes),
        ]
    }
}

#[derive(DeriveIden)]
enum Preservation {
    Table,
    Id,
    CaseId,
    OpenCaseId,
    BankId,
    BankCaseRef,
    DebtorName,
    DebtorIdNumber,
    DebtorPhone,
    DebtorAddress,
    ClaimFen,
    AmountFen,
    GuaranteeKind,
    GuaranteeIssuerName,
    GuaranteeIssuerCode,
    GuaranteeInstrument,
    GuaranteeFen,
    GuaranteeValidFrom,
    GuaranteeValidUntil,
    Platforms,
    FeeFen,
    CallbackPhone,
    BankName,
    Status,
    AppliedAtMs,
    RulingOverdue,
    Decision,
    RulingNumber,
    RulingReason,
    Judge,
    RuledAtMs,
    MeasureTakenAtMs,
    NoticeDeliveryId,
    NoticeChannel,
    NoticeStatus,
    NoticeFailure,
    NoticeHtml,
    NoticeDeliveredAtMs,
    NoticeAttempts,
    NoticeNextTryAtMs,
    LitigationId,
    SuitFiledOn,
    LiftReason,
    LiftNote,
    LiftedAtMs,
}

#[derive(DeriveIden)]
enum FreezeOrder {
    Table,
    Id,
    PreservationId,
    CaseId,
    Platform,
    Status,
    RequestedFen,
    FrozenFen,
    PlatformReference,
    RequestedAtMs,
    FrozenAtMs,
    ExpiresOn,
    Renewals,
    LiftWanted,
    LiftedAtMs,
    FailureReason,
    Attempts,
    NextTryAtMs,
    LastError,
}

#[derive(DeriveIden)]
enum Callback {
    Table,
    Id,
    PreservationId,
    CalledAtMs,
    CallerPhone,
    Note,
    RecordedAtMs,
}

#[derive(DeriveIden)]
enum ForgoneCase {
    Table,
    CaseId,
    BankId,
    ToStage,
    Rule,
    AtMs,
}

struct M0001Preservation;

impl MigrationName for M0001Preservation {
    fn name(&self) -> &str {
        "m0001_preservation"
    }
}

fn index(
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
    unique: bool,
) -> IndexCreateStatement {
    let mut i = Index::create();
    i.if_not_exists().name(name).table(table);
    for c in cols {
        i.col(c);
    }
    if unique {
        i.unique();
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Preservation {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use Preservation as P;
        m.create_table(
            Table::create()
                .table(P::Table)
                .if_not_exists()
                .col(string(P::Id).primary_key())
                .col(string(P::CaseId))
                .col(string_null(P::OpenCaseId))
                .col(string(P::BankId))
                .col(string(P::BankCaseRef))
                .col(string(P::DebtorName))
                .col(string(P::DebtorIdNumber))
                .col(string(P::DebtorPhone))
                .col(text(P::DebtorAddress))
                .col(big_integer(P::ClaimFen))
                .col(big_integer(P::AmountFen))
                .col(string(P::GuaranteeKind))
                .col(string(P::GuaranteeIssuerName))
                .col(string(P::GuaranteeIssuerCode))
                .col(string(P::GuaranteeInstrument))
                .col(big_integer(P::GuaranteeFen))
                .col(string_null(P::GuaranteeValidFrom))
                .col(string_null(P::GuaranteeValidUntil))
                .col(string(P::Platforms))
                .col(big_integer(P::FeeFen))
                .col(string(P::CallbackPhone))
                .col(string(P::BankName))
                .col(string(P::Status))
                .col(big_integer(P::AppliedAtMs))
                .col(boolean(P::RulingOverdue))
                .col(string_null(P::Decision))
                .col(string_null(P::RulingNumber))
                .col(text(P::RulingReason))
                .col(string(P::Judge))
                .col(big_integer_null(P::RuledAtMs))
                .col(big_integer_null(P::MeasureTakenAtMs))
                .col(string_null(P::NoticeDeliveryId))
                .col(string(P::NoticeChannel))
                .col(string(P::NoticeStatus))
                .col(text(P::NoticeFailure))
                .col(text(P::NoticeHtml))
                .col(big_integer_null(P::NoticeDeliveredAtMs))
                .col(integer(P::NoticeAttempts))
                .col(big_integer(P::NoticeNextTryAtMs))
                .col(string_null(P::LitigationId))
                .col(string_null(P::SuitFiledOn))
                .col(string_null(P::LiftReason))
                .col(text(P::LiftNote))
                .col(big_integer_null(P::LiftedAtMs))
                .to_owned(),
        )
        .await?;
        // One open preservation per case; NULL (closed ones) repeats freely.
        m.create_index(index(
            "uq_preservation_open_case",
            P::Table,
            vec![P::OpenCaseId.into_iden()],
            true,
        ))
        .await?;
        m.create_index(index(
            "idx_preservation_case",
            P::Table,
            vec![P::CaseId.into_iden(), P::AppliedAtMs.into_iden()],
            false,
        ))
        .await?;
        // The court's work list: by status, overdue first, then oldest.
        m.create_index(index(
            "idx_preservation_work_list",
            P::Table,
            vec![
                P::Status.into_iden(),
                P::RulingOverdue.into_iden(),
                P::AppliedAtMs.into_iden(),
                P::Id.into_iden(),
            ],
            false,
        ))
        .await?;
        m.create_index(index(
            "idx_preservation_bank",
            P::Table,
            vec![P::BankId.into_iden(), P::Status.into_iden()],
            false,
        ))
        .await?;
        // Notices still to send once the freezes answered.
        m.create_index(index(
            "idx_preservation_notice",
            P::Table,
            vec![P::NoticeStatus.into_iden()],
            false,
        ))
        .await?;

        use FreezeOrder as F;
        m.create_table(
            Table::create()
                .table(F::Table)
                .if_not_exists()
                .col(string(F::Id).primary_key())
                .col(string(F::PreservationId))
                .col(string(F::CaseId))
                .col(string(F::Platform))
                .col(string(F::Status))
                .col(big_integer(F::RequestedFen))
                .col(big_integer(F::FrozenFen))
                .col(string(F::PlatformReference))
                .col(big_integer(F::RequestedAtMs))
                .col(big_integer_null(F::FrozenAtMs))
                .col(string_null(F::ExpiresOn))
                .col(integer(F::Renewals))
                .col(string_null(F::LiftWanted))
                .col(big_integer_null(F::LiftedAtMs))
                .col(text(F::FailureReason))
                .col(integer(F::Attempts))
                .col(big_integer(F::NextTryAtMs))
                .col(text_null(F::LastError))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_freeze_order_preservation",
            F::Table,
            vec![F::PreservationId.into_iden()],
            false,
        ))
        .await?;
        // The platforms' work: orders to send, lifts to confirm.
        m.create_index(index(
            "idx_freeze_order_work",
            F::Table,
            vec![F::Status.into_iden(), F::NextTryAtMs.into_iden()],
            false,
        ))
        .await?;
        m.create_index(index(
            "idx_freeze_order_lift",
            F::Table,
            vec![F::LiftWanted.into_iden()],
            false,
        ))
        .await?;

        use Callback as C;
        m.create_table(
            Table::create()
                .table(C::Table)
                .if_not_exists()
                .col(string(C::Id).primary_key())
                .col(string(C::PreservationId))
                .col(big_integer(C::CalledAtMs))
                .col(string(C::CallerPhone))
                .col(text(C::Note))
                .col(big_integer(C::RecordedAtMs))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_callback_preservation",
            C::Table,
            vec![C::PreservationId.into_iden()],
            false,
        ))
        .await?;

        use ForgoneCase as G;
        m.create_table(
            Table::create()
                .table(G::Table)
                .if_not_exists()
                .col(string(G::CaseId).primary_key())
                .col(string(G::BankId))
                .col(string(G::ToStage))
                .col(string(G::Rule))
                .col(big_integer(G::AtMs))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ForgoneCase::Table.into_iden(),
            Callback::Table.into_iden(),
            FreezeOrder::Table.into_iden(),
            Preservation::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

/// The executor works each platform's orders on its own (a lane per platform, so one
/// platform's outage or backlog never holds up the other's): its work index leads with the
/// platform.
struct M0002OrderLanes;

impl MigrationName for M0002OrderLanes {
    fn name(&self) -> &str {
        "m0002_order_lanes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002OrderLanes {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use FreezeOrder as F;
        m.drop_index(
            Index::drop()
                .name("idx_freeze_order_work")
                .table(F::Table)
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_freeze_order_lane",
            F::Table,
            vec![
                F::Platform.into_iden(),
                F::Status.into_iden(),
                F::NextTryAtMs.into_iden(),
            ],
            false,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use FreezeOrder as F;
        m.drop_index(
            Index::drop()
                .name("idx_freeze_order_lane")
                .table(F::Table)
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_freeze_order_work",
            F::Table,
            vec![F::Status.into_iden(), F::NextTryAtMs.into_iden()],
            false,
        ))
        .await
    }
}

//! Intake's tables. Times are milliseconds since the epoch (exact, and the same on SQLite and
//! PostgreSQL); money is fen.

pub mod bank {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bank")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub code: String,
        pub name: String,
        pub callback_phone: String,
        pub registered_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod batch {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "batch")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub bank_id: String,
        pub request_id: String,
        pub label: String,
        pub status: sieve_kernel::bulk::UploadStatus,
        pub expected_cases: i64,
        pub received_cases: i64,
        pub accepted_cases: i64,
        pub existing_cases: i64,
        pub refused_cases: i64,
        pub submitted_at_ms: i64,
        pub completed_at_ms: Option<i64>,
        /// While RECEIVING: the receiver renews this; once it lapses the batch was abandoned
        /// (the receiver crashed) and its partial rows may be purged.
        pub lease_until_ms: i64,
        /// While RECEIVING: the receiver holding the lease, `<host>@<address>/<instance>`.
        pub receiver: String,
        /// Why the batch is ABORTED (or how it completed), for the bank to read.
        pub status_reason: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod case {
    use sea_orm::entity::prelude::*;
    use sieve_kernel::stage::Stage;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "court_case")]
    pub struct Model {
        /// UUIDv7 text: time-ordered, so paging by id pages by submission.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub bank_id: String,
        pub bank_case_ref: String,
        pub batch_id: String,
        /// The row of `batch_id` that created the case.
        pub batch_row: i64,
        pub product: String,
        pub debtor_kind: String,
        pub debtor_name: String,
        /// Normalized (upper-case X, no surrounding spaces).
        pub debtor_id_number: String,
        pub debtor_phone: String,
        pub debtor_address: String,
        pub debtor_division_code: String,
        pub contract_amount_fen: i64,
        pub principal_fen: i64,
        pub interest_fen: i64,
        pub penalty_fen: i64,
        pub fees_fen: i64,
        pub contract_ref: String,
        pub contract_names_court: bool,
        pub stage: Stage,
        pub submitted_at_ms: i64,
        pub stage_changed_at_ms: i64,
        /// Events on the timeline, the admission included; guards concurrent transitions.
        pub version: i64,
        /// When the bank applied for pre-litigation preservation (the first event saying so):
        /// preservation is told when such a case closes, and the case cannot take the
        /// payment-order path (Interp. 427(7)).
        pub preservation_applied_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// A case exists for callers only once its batch completed.
        #[sea_orm(
            belongs_to = "super::batch::Entity",
            from = "Column::BatchId",
            to = "super::batch::Column::Id"
        )]
        Batch,
    }

    impl Related<super::batch::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Batch.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod batch_row {
    use sea_orm::entity::prelude::*;

    /// Rows of a batch that did not create a case: refused ones, and ones naming a case the
    /// bank had already submitted. Rows that created a case are read from `case` itself.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "batch_row")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub batch_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub row: i64,
        pub bank_case_ref: String,
        pub outcome: Outcome,
        pub case_id: Option<String>,
        /// JSON array of {field, rule, description}.
        pub refusals: String,
        /// EXISTING rows: JSON array of the field paths whose value differs from the stored
        /// case (the values themselves are not kept: they are personal data the bank holds).
        pub differing_fields: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    /// What became of a row that created no case, stored as these words.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
    pub enum Outcome {
        /// It names a case the bank had already submitted.
        #[sea_orm(string_value = "EXISTING")]
        Existing,
        #[sea_orm(string_value = "REFUSED")]
        Refused,
    }
}

pub mod case_event {
    use sea_orm::entity::prelude::*;
    use sieve_kernel::stage::Stage;

    /// A transition after admission. The admission itself is the case row (its batch, its
    /// submission time), so a million-case batch writes a million rows, not two million.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "case_event")]
    pub struct Model {
        /// The reporter's event id: a second report with the same id changes nothing.
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: String,
        pub case_id: String,
        /// The case's version this event created.
        pub seq: i64,
        pub from_stage: Stage,
        pub to_stage: Stage,
        pub actor: String,
        pub reason: String,
        pub source_record_id: String,
        pub occurred_at_ms: i64,
        pub recorded_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

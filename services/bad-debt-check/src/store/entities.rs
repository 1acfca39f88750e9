//! The pre-check's tables. Dates are ISO `YYYY-MM-DD` text (ordered as text, the same on
//! SQLite and PostgreSQL); instants are epoch milliseconds; money is fen.

pub mod ruling {
    use sea_orm::entity::prelude::*;

    /// A terminated-enforcement ruling (终本) from the court's enforcement system.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ruling")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub ruling_number: String,
        pub court_code: String,
        pub court_name: String,
        pub debtor_name: String,
        /// Normalized: the matching key.
        pub debtor_id_number: String,
        pub filed_on: String,
        pub terminated_on: String,
        pub unpaid_fen: i64,
        /// Enforcement resumed (恢复执行): the ruling no longer matches.
        pub revoked: bool,
        pub revocation_reason: String,
        pub resumed_case_number: String,
        pub revoked_at_ms: Option<i64>,
        pub import_id: String,
        pub imported_at_ms: i64,
        pub updated_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod ruling_import {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ruling_import")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub request_id: String,
        pub source_court_code: String,
        pub source_court_name: String,
        pub label: String,
        pub status: sieve_kernel::bulk::UploadStatus,
        pub expected: i64,
        pub received: i64,
        pub added: i64,
        pub updated: i64,
        pub unchanged: i64,
        pub refused: i64,
        pub started_at_ms: i64,
        pub completed_at_ms: Option<i64>,
        pub lease_until_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod import_refusal {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "import_refusal")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub import_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub row: i64,
        pub ruling_number: String,
        /// JSON array of {field, rule, description}.
        pub refusals: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod check {
    use sea_orm::entity::prelude::*;

    /// A case taken for the pre-check: one per case, whatever the number of deliveries. Its
    /// outcome is decided by the matching run whose sequence range holds `seq`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pre_check")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub case_id: String,
        pub bank_id: String,
        pub bank_case_ref: String,
        pub debtor_name: String,
        /// Normalized: the matching key.
        pub debtor_id_number: String,
        pub principal_fen: i64,
        pub interest_fen: i64,
        pub penalty_fen: i64,
        pub fees_fen: i64,
        pub certificate_id: Option<String>,
        /// Order of taking, from `check_sequence`: runs match contiguous ranges of it.
        #[sea_orm(unique)]
        pub seq: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod check_match {
    use sea_orm::entity::prelude::*;

    /// A ruling that matched a check when its run matched it (RULES.md: record which ruling
    /// matched). Rulings are never rewritten, only revoked, so the ruling row still shows what
    /// matched; a later revocation does not undo the match, it blocks the certificate.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "check_match")]
    pub struct Model {
        /// The check's `seq`: runs insert in its order, so the key only ever appends.
        #[sea_orm(primary_key, auto_increment = false)]
        pub check_seq: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub ruling_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod match_run {
    use sea_orm::entity::prelude::*;

    /// One set-based pass of the matcher over the checks with `after_seq < seq <= last_seq`.
    /// (How many checks the range holds is not stored: counting them cost a run about a
    /// tenth of its time; a redelivered case leaves its number unused.)
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "match_run")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub after_seq: i64,
        #[sea_orm(unique)]
        pub last_seq: i64,
        /// Check-ruling pairs found.
        pub matches: i64,
        /// The recency window in force: only rulings terminated on or after it counted.
        pub terminated_since: Option<String>,
        pub checked_at_ms: i64,
        /// Wall time of the run up to its commit, for operators and the benchmark.
        pub took_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod check_sequence {
    use sea_orm::entity::prelude::*;

    /// Two counters: `taken`, the last number given to a case, and `matched`, the last
    /// number a run has decided. Takers update `taken` in their transaction, so on PostgreSQL
    /// they commit in number order and a run that reads `taken` never skips a case still
    /// being written. Runs lock `matched`. Two rows, so that taking and matching do not wait
    /// for each other on PostgreSQL.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "check_sequence")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub value: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    pub const TAKEN: &str = "taken";
    pub const MATCHED: &str = "matched";
}

pub mod certificate {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "certificate")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub number: String,
        pub court_code: String,
        pub year: i32,
        pub sequence: i64,
        #[sea_orm(unique)]
        pub case_id: String,
        pub check_id: String,
        pub bank_id: String,
        pub bank_name: String,
        /// JSON array of ruling numbers.
        pub ruling_numbers: String,
        pub issued_on: String,
        pub issued_at_ms: i64,
        /// The exact bytes signed.
        pub canonical: Vec<u8>,
        pub key_id: String,
        pub signature: Vec<u8>,
        pub revoked_at_ms: Option<i64>,
        pub revocation_reason: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod certificate_counter {
    use sea_orm::entity::prelude::*;

    /// The last number issued per court and year: numbers are unique and gapless there.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "certificate_counter")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub court_code: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        pub last_sequence: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod signing_key {
    use sea_orm::entity::prelude::*;

    /// Public keys that ever signed, so certificates verify after a key is rotated.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signing_key")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key_id: String,
        pub public_key: Vec<u8>,
        pub active_from_ms: i64,
        pub retired_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

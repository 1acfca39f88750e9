//! Preservation's tables. Dates are ISO `YYYY-MM-DD` text; instants epoch milliseconds;
//! money fen. Status columns are words (`DeriveActiveEnum`), read strictly.

pub mod preservation {
    use sea_orm::entity::prelude::*;

    /// Where a preservation stands.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
    pub enum Status {
        /// Awaiting the court's ruling (48 hours, CPL 104 para 2).
        #[sea_orm(string_value = "APPLIED")]
        Applied,
        #[sea_orm(string_value = "REJECTED")]
        Rejected,
        /// Approved: freezes sent or held.
        #[sea_orm(string_value = "IN_FORCE")]
        InForce,
        /// Every freeze lifted or lapsed.
        #[sea_orm(string_value = "LIFTED")]
        Lifted,
    }

    /// One application for pre-litigation preservation, and what became of it.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "preservation")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub case_id: String,
        /// The case while this preservation is open (APPLIED or IN_FORCE), else NULL: a
        /// unique column, so a case has at most one open preservation.
        pub open_case_id: Option<String>,
        pub bank_id: String,
        pub bank_case_ref: String,
        pub debtor_name: String,
        /// Normalized resident ID number: the platforms hold accounts by it.
        pub debtor_id_number: String,
        pub debtor_phone: String,
        pub debtor_address: String,
        pub claim_fen: i64,
        pub amount_fen: i64,
        /// `INSURANCE_POLICY` or `BANK_GUARANTEE`.
        pub guarantee_kind: String,
        pub guarantee_issuer_name: String,
        pub guarantee_issuer_code: String,
        pub guarantee_instrument: String,
        pub guarantee_fen: i64,
        pub guarantee_valid_from: Option<String>,
        pub guarantee_valid_until: Option<String>,
        /// Platforms in the order they are frozen, e.g. `ALIPAY,WECHAT_PAY`.
        pub platforms: String,
        pub fee_fen: i64,
        pub callback_phone: String,
        pub bank_name: String,
        pub status: Status,
        pub applied_at_ms: i64,
        /// The 48 hours ran out before a ruling (the deadline fired).
        pub ruling_overdue: bool,
        /// `APPROVE` or `REJECT`.
        pub decision: Option<String>,
        pub ruling_number: Option<String>,
        pub ruling_reason: String,
        pub judge: String,
        pub ruled_at_ms: Option<i64>,
        pub measure_taken_at_ms: Option<i64>,
        /// The notice (CPL 106): its delivery, once every freeze has answered.
        pub notice_delivery_id: Option<String>,
        pub notice_channel: String,
        /// `pending`, `sent`, `delivered` or `failed`.
        pub notice_status: String,
        pub notice_failure: String,
        pub notice_html: String,
        pub notice_delivered_at_ms: Option<i64>,
        /// Sends of the notice that got no answer, and when the next may go.
        pub notice_attempts: i32,
        pub notice_next_try_at_ms: i64,
        pub litigation_id: Option<String>,
        pub suit_filed_on: Option<String>,
        /// A `LiftReason` word, e.g. `NO_SUIT_IN_TIME`.
        pub lift_reason: Option<String>,
        pub lift_note: String,
        pub lifted_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod freeze_order {
    use sea_orm::entity::prelude::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
    pub enum Status {
        /// Written before it is sent; sent (again) until a platform answers.
        #[sea_orm(string_value = "REQUESTED")]
        Requested,
        #[sea_orm(string_value = "FROZEN")]
        Frozen,
        /// The platform holds no account, or refused the order.
        #[sea_orm(string_value = "FAILED")]
        Failed,
        #[sea_orm(string_value = "LIFTED")]
        Lifted,
        /// Reached its expiry unrenewed (Interp. 485).
        #[sea_orm(string_value = "EXPIRED")]
        Expired,
    }

    /// One freeze at one platform. Its id is the order id the platform sees, so sending it
    /// again after a crash or an outage freezes nothing twice.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "freeze_order")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub preservation_id: String,
        pub case_id: String,
        /// `ALIPAY` or `WECHAT_PAY`.
        pub platform: String,
        pub status: Status,
        pub requested_fen: i64,
        pub frozen_fen: i64,
        pub platform_reference: String,
        pub requested_at_ms: i64,
        pub frozen_at_ms: Option<i64>,
        pub expires_on: Option<String>,
        pub renewals: i32,
        /// A lift asked (reason word) and not yet confirmed by the platform.
        pub lift_wanted: Option<String>,
        pub lifted_at_ms: Option<i64>,
        pub failure_reason: String,
        /// Sends without an answer, and when the next may go.
        pub attempts: i32,
        pub next_try_at_ms: i64,
        pub last_error: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod callback {
    use sea_orm::entity::prelude::*;

    /// A call from the debtor to the bank's callback phone.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "callback")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub preservation_id: String,
        pub called_at_ms: i64,
        pub caller_phone: String,
        pub note: String,
        pub recorded_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod forgone {
    use sea_orm::entity::prelude::*;

    /// A case the bank sent on without preservation; kept so the answer stands.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "forgone_case")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub case_id: String,
        pub bank_id: String,
        /// `PAYMENT_ORDER` or `LITIGATION`.
        pub to_stage: String,
        pub rule: String,
        pub at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

//! `sieve.bad_debt_check.v1`: the registry of terminated-enforcement rulings and the pre-check.
//!
//! What the two services share is here; `registry` holds the ruling imports and revocations,
//! `pre_check` the taking of cases, checks and certificates.

use std::collections::HashSet;
use std::sync::Arc;

use sieve_kernel::SharedClock;
use sieve_kernel::error::{Error, Result, reason};
use sieve_kernel::lookup::Batched;
use sieve_kernel::rules::{StoredViolation, violation};
use sieve_kernel::stage::IntakeClient;
use sieve_proto::bad_debt_check::v1 as pb;
use sieve_proto::bad_debt_check::v1::pre_check_service_server::PreCheckService;
use sieve_proto::bad_debt_check::v1::registry_service_server::RegistryService;
use sieve_proto::common::v1 as common;
use tonic::{Request, Response, Status, Streaming};

use crate::convert;
use crate::domain::certificate::{self as cert, CourtKey};
use crate::domain::ruling as rules;
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
    intake: IntakeClient,
    /// Woken after commits that leave messages in the outbox.
    relay: Option<Arc<tokio::sync::Notify>>,
    /// Woken after cases are taken.
    matcher: Option<Arc<tokio::sync::Notify>>,
    /// `GetCheck` by case (the gateway's lookups): concurrent lookups share their queries.
    checks_by_case: Batched<store::CheckRecord>,
}

fn refusal(
    row: i64,
    reference: &str,
    field: &str,
    rule: &str,
    description: impl Into<String>,
) -> common::RowRefusal {
    violation::row_refusal(
        row,
        reference,
        StoredViolation {
            field: field.into(),
            rule: rule.into(),
            description: description.into(),
        },
    )
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
        let intake = IntakeClient::new(intake);
        let readers = db.read().clone();
        let checks_by_case = Batched::spawn("check", db.lookup_limits(), move |case_ids| {
            let readers = readers.clone();
            async move { store::check_records_by_case(&readers, case_ids).await }
        });
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                config,
                intake,
                relay,
                matcher,
                checks_by_case,
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
}

mod pre_check;
mod registry;

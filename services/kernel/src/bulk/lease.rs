//! Opening an upload under its key (a bank's request id, a court's): an upload sent again is
//! answered from the completed one, refused while another receiver holds it under a lease that
//! has not lapsed, and started again when it broke off or its receiver stopped renewing the
//! lease (it died). One write transaction, so two receivers never both open it.
//!
//! The decision is here; the tables are the service's: it finds, restarts and creates its own
//! rows through [`Uploads`].

use async_trait::async_trait;
use sea_orm::entity::prelude::{DeriveActiveEnum, EnumIter, StringLen};
use sea_orm::{DatabaseTransaction, DbErr};

use crate::db::Db;

/// The lease a receiver takes when it opens an upload: from `now_ms` to `until_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub now_ms: i64,
    pub until_ms: i64,
}

impl Lease {
    pub fn new(now_ms: i64, length_ms: i64) -> Self {
        Self {
            now_ms,
            until_ms: now_ms.saturating_add(length_ms),
        }
    }
}

/// An upload's status as stored: the same words for every upload (a batch, an import), kept
/// as text so the stored values are the ones written before the column was typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum UploadStatus {
    #[sea_orm(string_value = "RECEIVING")]
    Receiving,
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
    #[sea_orm(string_value = "ABORTED")]
    Aborted,
}

/// Where an earlier upload under the same key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Completed,
    /// Being received, under a lease up to `lease_until_ms`.
    Receiving {
        lease_until_ms: i64,
    },
    /// Aborted: it broke off.
    Aborted,
}

impl Standing {
    /// From the stored status and lease.
    pub fn of(status: UploadStatus, lease_until_ms: i64) -> Self {
        match status {
            UploadStatus::Completed => Self::Completed,
            UploadStatus::Receiving => Self::Receiving { lease_until_ms },
            UploadStatus::Aborted => Self::Aborted,
        }
    }
}

/// What opening an upload found.
#[derive(Debug)]
pub enum Opened<U> {
    /// New, or an earlier one started again, now being received under the caller's lease.
    Receiving(U),
    /// Completed before under this key: its result stands and answers the call.
    Completed(U),
    /// Another receiver holds it right now.
    Busy(U),
}

/// One upload's table, as opening it needs it.
#[async_trait]
pub trait Uploads: Sync {
    type Upload: Send;

    /// The earlier upload under this key, if any.
    async fn find(&self, txn: &DatabaseTransaction) -> Result<Option<Self::Upload>, DbErr>;

    fn standing(upload: &Self::Upload) -> Standing;

    /// Starts `earlier` (aborted, or abandoned by its receiver) again under `lease`: its
    /// counts from zero, and whatever of it does not stand cleared.
    async fn restart(
        &self,
        txn: &DatabaseTransaction,
        earlier: Self::Upload,
        lease: Lease,
    ) -> Result<Self::Upload, DbErr>;

    /// A new upload under `lease`.
    async fn create(&self, txn: &DatabaseTransaction, lease: Lease) -> Result<Self::Upload, DbErr>;
}

/// Opens `upload` under `lease`, in one write transaction.
pub async fn open<U: Uploads>(
    db: &Db,
    upload: &U,
    lease: Lease,
) -> Result<Opened<U::Upload>, DbErr> {
    let txn = db.begin_write().await?;
    let opened = match upload.find(&txn).await? {
        None => Opened::Receiving(upload.create(&txn, lease).await?),
        Some(earlier) => match decide(U::standing(&earlier), lease.now_ms) {
            Found::Completed => Opened::Completed(earlier),
            Found::Held => Opened::Busy(earlier),
            Found::Free => Opened::Receiving(upload.restart(&txn, earlier, lease).await?),
        },
    };
    txn.commit().await?;
    Ok(opened)
}

/// What an earlier upload standing so means at `now_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    Completed,
    /// Its receiver's lease still runs.
    Held,
    /// Aborted, or its lease lapsed: a new receiver may take it.
    Free,
}

pub(super) fn decide(standing: Standing, now_ms: i64) -> Found {
    match standing {
        Standing::Completed => Found::Completed,
        Standing::Receiving { lease_until_ms } if lease_until_ms > now_ms => Found::Held,
        Standing::Receiving { .. } | Standing::Aborted => Found::Free,
    }
}

//! Request ids that make a retry harmless (DESIGN.md section 5): a state-changing call's
//! answer is kept under its method and request id, written in the call's own transaction, so
//! the call and the memory of it commit together. The same id again with the same content is
//! answered from memory (nothing runs twice); with other content it is refused
//! `REQUEST_ID_REUSED`, since the caller would otherwise believe a call ran that did not.
//!
//! The content is compared by the SHA-256 of the request's protobuf encoding (deterministic
//! for one message in one build), without its request id.

use prost::Message;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::error::{Error, reason};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "request_log")]
    pub struct Model {
        /// `<method>/<request id>`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Who called (a bank id, the court): another caller's id is another request.
        pub caller: String,
        /// SHA-256 hex of the request's content.
        pub digest: String,
        /// The protobuf answer given the first time.
        pub response: Vec<u8>,
        pub created_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity};

/// The request log's table, for the migrator of every service that keeps one.
pub mod migration {
    use sea_orm_migration::prelude::*;
    use sea_orm_migration::schema::*;

    #[derive(DeriveIden)]
    enum RequestLog {
        Table,
        Id,
        Caller,
        Digest,
        Response,
        CreatedAtMs,
    }

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m0000_kernel_request_log"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.create_table(
                Table::create()
                    .table(RequestLog::Table)
                    .if_not_exists()
                    .col(string(RequestLog::Id).primary_key())
                    .col(string(RequestLog::Caller))
                    .col(string(RequestLog::Digest))
                    .col(blob(RequestLog::Response))
                    .col(big_integer(RequestLog::CreatedAtMs))
                    .to_owned(),
            )
            .await
        }

        async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.drop_table(Table::drop().table(RequestLog::Table).to_owned())
                .await
        }
    }
}

/// One call's identity: its method, its caller, its request id and what it asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    key: String,
    caller: String,
    digest: String,
    request_id: String,
}

impl Call {
    /// `content` is the request with its request id cleared (the id is the key, not the
    /// content).
    pub fn new(method: &str, caller: &str, request_id: &str, content: &impl Message) -> Self {
        Self {
            key: format!("{method}/{request_id}"),
            caller: caller.to_string(),
            digest: hex(&Sha256::digest(content.encode_to_vec())),
            request_id: request_id.to_string(),
        }
    }

    /// The answer given before to this call, if it ran; refused when the id ran with other
    /// content or for another caller. Read it again inside the call's write transaction
    /// before writing: two calls racing on one id are decided there.
    pub async fn recall<R, C>(&self, conn: &C) -> Result<Option<R>, Error>
    where
        R: Message + Default,
        C: ConnectionTrait,
    {
        use sea_orm::ColumnTrait;
        let Some(kept) = crate::db::by_key(Entity::find().filter(Column::Id.eq(&self.key)), conn)
            .await
            .map_err(Error::from)?
        else {
            return Ok(None);
        };
        if kept.digest != self.digest || kept.caller != self.caller {
            return Err(Error::bad_request(
                reason::REQUEST_ID_REUSED,
                format!(
                    "request id {} was used before for a different request; send a new id for a new request",
                    crate::rules::mask::excerpt(&self.request_id, crate::wire::MAX_ID_BYTES)
                ),
            )
            .with_violation("request_id", "already used for different content"));
        }
        R::decode(kept.response.as_slice())
            .map(Some)
            .map_err(Error::internal)
    }

    /// Keeps `response` as this call's answer, inside the call's write transaction.
    pub async fn remember<C: ConnectionTrait>(
        &self,
        txn: &C,
        response: &impl Message,
        now_ms: i64,
    ) -> Result<(), DbErr> {
        Entity::insert(ActiveModel {
            id: Set(self.key.clone()),
            caller: Set(self.caller.clone()),
            digest: Set(self.digest.clone()),
            response: Set(response.encode_to_vec()),
            created_at_ms: Set(now_ms),
        })
        .exec_without_returning(txn)
        .await?;
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

//! The executor: a background worker that carries approved preservations out at the
//! platforms (freeze orders sent and resent, lifts) and serves the notice on the debtor once
//! every platform has answered (CPL 104 para 2: executed at once; CPL 106). Everything it
//! does is written before it is sent (orders, notices due), so a crash between a ruling and
//! its freezes only delays them, and a resent order or notice is answered, not repeated.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use sea_orm::DbErr;
use sieve_kernel::SharedClock;
use sieve_kernel::calendar;
use sieve_kernel::delivery::{
    self, Addressee, Channel, Delivery, Dispatch, DispatchError, Document, ReceiptStatus,
};
use sieve_kernel::rules::dates;
use sieve_kernel::worker::{Pass, Work, Worker};
use tokio::sync::Notify;

use crate::channel::{Answer, ChannelError, FreezeChannel, FreezeOrder};
use crate::domain::freezes::{ALL_PLATFORMS, Platform};
use crate::domain::notice::{self, Notice};
use crate::store::{self, Answered, NoticeDue, NoticeSent, OrderParty, freeze_order};

/// Calls to the platforms or the document service in flight at once.
const IN_FLIGHT: usize = 32;

pub struct Executor {
    db: sieve_kernel::db::Db,
    clock: SharedClock,
    platforms: Arc<dyn FreezeChannel>,
    delivery: Arc<dyn Delivery>,
    court_name: String,
    batch: u64,
    poll: Duration,
    wake: Arc<Notify>,
    relay: Arc<Notify>,
}

impl Executor {
    pub fn new(
        db: sieve_kernel::db::Db,
        clock: SharedClock,
        platforms: Arc<dyn FreezeChannel>,
        delivery: Arc<dyn Delivery>,
        court_name: String,
        relay: Arc<Notify>,
    ) -> Self {
        Self {
            db,
            clock,
            platforms,
            delivery,
            court_name,
            batch: 500,
            poll: Duration::from_millis(500),
            wake: Arc::new(Notify::new()),
            relay,
        }
    }

    pub fn batch(mut self, n: u64) -> Self {
        self.batch = n.max(1);
        self
    }

    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        Worker::new(self.poll, self.wake.clone())
            .wake_on_clock(self.clock.as_ref())
            .run(self, shutdown)
            .await;
    }

    /// One pass: each platform's orders due and, beside them, the notices due. Returns how
    /// many orders and notices it handled. Each lane reads again, inside its own write
    /// transaction, the rows it changes, so the lanes run at once: one waits on a platform
    /// or the database while another works, and one platform's outage holds up only its own.
    pub async fn run_once(&self) -> Result<(usize, usize), DbErr> {
        let now_ms = self.clock.now().timestamp_millis();
        let lanes = futures::future::join_all(ALL_PLATFORMS.map(|p| self.orders(p, now_ms)));
        let (lanes, notices) = tokio::join!(lanes, self.notices(now_ms));
        let mut orders = 0;
        for lane in lanes {
            orders += lane?;
        }
        Ok((orders, notices?))
    }

    async fn orders(&self, platform: Platform, now_ms: i64) -> Result<usize, DbErr> {
        let due = store::due_orders(self.db.read(), platform, now_ms, self.batch).await?;
        let count = due.len();
        let answers: Vec<Answered> = futures::stream::iter(due)
            .map(|(o, party)| self.send(o, party))
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        if !answers.is_empty() {
            let calendar = calendar::stored::current(self.db.read()).await?;
            store::record_answers(&self.db, answers, &calendar, now_ms).await?;
            self.relay.notify_one();
        }
        Ok(count)
    }

    async fn notices(&self, now_ms: i64) -> Result<usize, DbErr> {
        let due = store::due_notices(self.db.read(), now_ms, self.batch).await?;
        let count = due.len();
        let sent: Vec<NoticeSent> = futures::stream::iter(due)
            .map(|n| self.serve(n))
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        store::record_notice(&self.db, sent, now_ms).await?;
        Ok(count)
    }

    async fn send(&self, o: freeze_order::Model, party: OrderParty) -> Answered {
        let order_id = o.id.clone();
        let Some(platform) = Platform::parse(&o.platform) else {
            return Answered::Refused {
                order_id,
                why: format!("unknown platform {}", o.platform),
            };
        };
        let lifting = o.status == freeze_order::Status::Frozen;
        let answered = if lifting {
            self.platforms.lift(platform, &o.id).await
        } else {
            self.platforms
                .freeze(&FreezeOrder {
                    order_id: o.id.clone(),
                    platform,
                    id_number: party.id_number,
                    amount_fen: o.requested_fen,
                    ruling_number: party.ruling_number,
                })
                .await
        };
        match answered {
            Ok(Answer::Frozen { frozen_fen }) if !lifting => Answered::Frozen {
                order_id,
                frozen_fen,
            },
            Ok(Answer::NoAccount) if !lifting => Answered::NoAccount { order_id },
            Ok(Answer::Lifted) if lifting => Answered::Lifted { order_id },
            Ok(other) => Answered::Unavailable {
                order_id,
                why: format!("the platform answered {other:?}"),
            },
            Err(ChannelError::Unavailable(why)) => {
                tracing::warn!(order = %o.id, platform = platform.word(), "a platform did not answer; the order goes again");
                Answered::Unavailable { order_id, why }
            }
            Err(ChannelError::Refused(why)) => Answered::Refused { order_id, why },
        }
    }

    /// Renders and sends one notice; its fate, for the record.
    async fn serve(&self, due: NoticeDue) -> NoticeSent {
        let p = &due.preservation;
        let frozen = due
            .frozen
            .iter()
            .filter(|(_, fen)| *fen > 0)
            .filter_map(|(platform, fen)| Some((Platform::parse(platform)?, *fen)))
            .collect();
        let suit_due = due
            .suit_due
            .as_deref()
            .and_then(dates::parse_iso)
            .unwrap_or_default();
        let html = notice::render_html(&Notice {
            court_name: self.court_name.clone(),
            ruling_number: p.ruling_number.clone().unwrap_or_default(),
            ruled_on: store::shanghai_date(p.ruled_at_ms.unwrap_or(p.applied_at_ms)),
            debtor_name: p.debtor_name.clone(),
            bank_name: p.bank_name.clone(),
            callback_phone: p.callback_phone.clone(),
            amount_preserved_fen: p.amount_fen,
            frozen,
            suit_due,
        });
        let phone = Some(p.debtor_phone.trim().to_string()).filter(|s| !s.is_empty());
        let address = Some(p.debtor_address.trim().to_string()).filter(|s| !s.is_empty());
        // A text message where there is a phone; else by post.
        let channel = if phone.is_none() && address.is_some() {
            Channel::Postal
        } else {
            Channel::Sms
        };
        let dispatch = Dispatch {
            delivery_id: format!("notice-{}", p.id),
            case_id: p.case_id.clone(),
            channel,
            addressee: Addressee {
                name: p.debtor_name.clone(),
                id_number: p.debtor_id_number.clone(),
                phone,
                address,
                electronic_address: None,
            },
            document: Document {
                kind: "preservation.notice".into(),
                title: "财产保全告知书 / notice of preservation".into(),
                html,
            },
        };
        let (status, failure, delivered_at_ms) = match self.delivery.send(&dispatch).await {
            Ok(receipt) => match receipt.status {
                ReceiptStatus::Sent { .. } => ("sent", String::new(), None),
                ReceiptStatus::Delivered { at_ms } => ("delivered", String::new(), Some(at_ms)),
                ReceiptStatus::Failed { reason } => ("failed", reason, None),
            },
            Err(DispatchError::Unavailable(why)) => ("pending", why, None),
            Err(DispatchError::Refused(why)) => ("failed", why, None),
        };
        NoticeSent {
            preservation_id: p.id.clone(),
            delivery_id: dispatch.delivery_id,
            channel: channel_word(channel).into(),
            html: dispatch.document.html,
            status: status.into(),
            failure,
            delivered_at_ms,
        }
    }
}

fn channel_word(c: Channel) -> &'static str {
    match c {
        Channel::Sms => "sms",
        Channel::Electronic => "electronic",
        Channel::Postal => "postal",
        Channel::InPerson => "in_person",
        Channel::LeftAtResidence => "left_at_residence",
    }
}

#[async_trait]
impl Work for Executor {
    type Error = DbErr;

    async fn pass(&mut self) -> Result<Pass, DbErr> {
        let (orders, notices) = self.run_once().await?;
        // Answers write the next platform's orders and ready notices: a pass that did
        // anything may have left work for the next one, so it runs at once.
        Ok(if orders + notices > 0 {
            Pass::Busy
        } else {
            Pass::Idle
        })
    }

    fn failed(&self, _: &DbErr) -> &'static str {
        "preservation executor pass failed"
    }
}

/// The document service's gRPC client, for `build`.
pub fn document_service(channel: tonic::transport::Channel) -> Arc<dyn Delivery> {
    Arc::new(delivery::DocumentService::new(channel))
}

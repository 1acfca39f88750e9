//! A document-service provider, simulated: SMS and electronic service delivered at once when
//! the addressee can be reached that way, registered post sent with a tracking number and
//! delivered when the test says so, deliveries idempotent by their id, outages on request
//! (UNAVAILABLE, nothing changed), and debtors of whom a seeded share call the callback phone
//! a delivered document gives them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sieve_kernel::clock::{self, SharedClock};
use sieve_kernel::rules::mask;
use sieve_kernel::{Error, wire};
use sieve_proto::sim::delivery::v1 as pb;
use sieve_proto::sim::delivery::v1::delivery_service_server::{
    DeliveryService, DeliveryServiceServer,
};
use sieve_proto::sim::delivery::v1::delivery_simulator_service_server::{
    DeliverySimulatorService, DeliverySimulatorServiceServer,
};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

#[derive(Debug)]
struct Record {
    request: pb::SendRequest,
    receipt: pb::Receipt,
    sent_at_ms: i64,
}

#[derive(Debug, Default)]
struct Deliveries {
    /// In the order sent.
    records: Vec<Record>,
    by_id: HashMap<String, usize>,
    down: bool,
    callback_share_percent: u32,
    seed: u64,
    /// Receipts and tracking numbers are numbered, so a run reads the same each time.
    sent: u64,
}

/// The provider, shared by its service and the simulator's controls.
#[derive(Debug, Clone)]
pub struct DeliverySimulator {
    state: Arc<Mutex<Deliveries>>,
    clock: SharedClock,
}

impl Default for DeliverySimulator {
    fn default() -> Self {
        Self::new(clock::system())
    }
}

impl DeliverySimulator {
    /// A provider whose deliveries are timed by `clock` (the demo's manual clock: a notice
    /// served on day 3 is delivered on day 3).
    pub fn new(clock: SharedClock) -> Self {
        Self {
            state: Arc::default(),
            clock,
        }
    }

    fn state(&self) -> MutexGuard<'_, Deliveries> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Both services, for a server.
    fn router(self) -> tonic::transport::server::Router {
        tonic::transport::Server::builder()
            .add_service(DeliveryServiceServer::new(self.clone()))
            .add_service(DeliverySimulatorServiceServer::new(self))
    }

    /// Binds `addr` (port 0: any) and serves in the background; the address it answers on
    /// and a sender that stops it.
    pub async fn spawn(
        self,
        addr: SocketAddr,
    ) -> std::io::Result<(SocketAddr, crate::serving::Stop)> {
        crate::serving::spawn(self.router(), addr, "delivery").await
    }

    /// Serves on a free port of this host: a channel to it, and the sender that stops it.
    pub async fn start_local(
        self,
    ) -> Result<(Channel, crate::serving::Stop), Box<dyn std::error::Error + Send + Sync>> {
        crate::serving::start_local(self.router(), "delivery").await
    }
}

fn required(field: &'static str, value: &str) -> Result<(), Status> {
    sieve_kernel::wire::require_id(field, value).map_err(Status::from)
}

fn present(field: &'static str, value: &str) -> Result<(), Status> {
    if value.trim().is_empty() {
        return Err(Error::invalid_field(field, "required / 必填").into());
    }
    Ok(())
}

/// The request whole, before anything is recorded: a refused call changes nothing. The
/// refusals name the field and never quote it (it is personal data).
fn checked(r: &pb::SendRequest) -> Result<(), Status> {
    required("delivery_id", &r.delivery_id)?;
    match pb::Channel::try_from(r.channel) {
        Ok(pb::Channel::Unspecified) | Err(_) => {
            return Err(
                Error::invalid_field("channel", format!("unknown channel {}", r.channel)).into(),
            );
        }
        Ok(_) => {}
    }
    let a = r
        .addressee
        .as_ref()
        .ok_or_else(|| Status::from(Error::invalid_field("addressee", "required / 必填")))?;
    present("addressee.name", &a.name)?;
    present("addressee.id_number", &a.id_number)?;
    let d = r
        .document
        .as_ref()
        .ok_or_else(|| Status::from(Error::invalid_field("document", "required / 必填")))?;
    present("document.kind", &d.kind)?;
    present("document.title", &d.title)?;
    present("document.html", &d.html)?;
    if d.sha256 != sieve_kernel::delivery::sha256_hex(d.html.as_bytes()) {
        return Err(Error::invalid_field(
            "document.sha256",
            "not the SHA-256 (lowercase hex) of document.html",
        )
        .into());
    }
    required("case_reference", &r.case_reference)?;
    Ok(())
}

/// A Chinese mobile number: 11 digits starting with 1.
fn mobile(phone: &str) -> bool {
    let p = phone.trim();
    p.len() == 11 && p.starts_with('1') && p.bytes().all(|b| b.is_ascii_digit())
}

/// What the channel makes of the addressee's contacts: delivered now, sent by post, or why
/// it cannot serve.
enum Outcome {
    Delivered,
    Posted,
    Failed(&'static str),
}

fn outcome(channel: pb::Channel, a: &pb::Addressee) -> Outcome {
    let has = |s: &str| !s.trim().is_empty();
    match channel {
        pb::Channel::Sms if !has(&a.phone) => Outcome::Failed("the addressee has no phone"),
        pb::Channel::Sms if !mobile(&a.phone) => {
            Outcome::Failed("the addressee's phone is not a mobile number")
        }
        pb::Channel::Electronic if !has(&a.electronic_address) => {
            Outcome::Failed("the addressee has no electronic address")
        }
        pb::Channel::Postal if !has(&a.address) => {
            Outcome::Failed("the addressee has no postal address")
        }
        pb::Channel::Postal => Outcome::Posted,
        // The bailiff's visit is recorded at once (the signed or witnessed service record).
        pb::Channel::InPerson | pb::Channel::LeftAtResidence if !has(&a.address) => {
            Outcome::Failed("the addressee has no address to serve at")
        }
        _ => Outcome::Delivered,
    }
}

impl Deliveries {
    fn up(&self) -> Result<(), Status> {
        if self.down {
            return Err(Status::unavailable(
                "the document service is down (simulated outage)",
            ));
        }
        Ok(())
    }

    fn record(&self, delivery_id: &str) -> Result<&Record, Status> {
        self.by_id
            .get(delivery_id)
            .and_then(|&i| self.records.get(i))
            .ok_or_else(|| Status::from(Error::not_found("delivery", delivery_id)))
    }
}

#[tonic::async_trait]
impl DeliveryService for DeliverySimulator {
    async fn send(
        &self,
        request: Request<pb::SendRequest>,
    ) -> Result<Response<pb::SendResponse>, Status> {
        let r = request.into_inner();
        checked(&r)?;
        let now_ms = self.now_ms();
        let mut state = self.state();
        state.up()?;
        if let Some(&i) = state.by_id.get(&r.delivery_id) {
            let Some(first) = state.records.get(i) else {
                return Err(Status::internal("the delivery index is broken"));
            };
            // The same delivery again answers what it did; the same id for another document
            // or addressee is the sender's mistake, not a second service.
            if first.request != r {
                return Err(Status::already_exists(format!(
                    "delivery {} was sent before with other content",
                    mask::excerpt(&r.delivery_id, wire::MAX_ID_BYTES)
                )));
            }
            return Ok(Response::new(pb::SendResponse {
                receipt: Some(first.receipt.clone()),
            }));
        }
        state.sent += 1;
        let n = state.sent;
        let channel = pb::Channel::try_from(r.channel).unwrap_or(pb::Channel::Unspecified);
        let addressee = r.addressee.clone().unwrap_or_default();
        let mut receipt = pb::Receipt {
            receipt_id: format!("rcpt-{n:06}"),
            delivery_id: r.delivery_id.clone(),
            ..Default::default()
        };
        match outcome(channel, &addressee) {
            Outcome::Delivered => {
                receipt.status = pb::DeliveryStatus::Delivered as i32;
                receipt.delivered_at = Some(wire::timestamp(now_ms));
            }
            Outcome::Posted => {
                receipt.status = pb::DeliveryStatus::Sent as i32;
                // EMS's shape: two letters, nine digits, CN.
                receipt.tracking_number = format!("EA{n:09}CN");
            }
            Outcome::Failed(reason) => {
                receipt.status = pb::DeliveryStatus::Failed as i32;
                receipt.failure_reason = reason.to_owned();
            }
        }
        tracing::debug!(
            delivery_id = %mask::excerpt(&r.delivery_id, wire::MAX_ID_BYTES),
            channel = channel.as_str_name(),
            addressee = %mask::name(&addressee.name),
            status = receipt.status().as_str_name(),
            "delivery simulated"
        );
        let i = state.records.len();
        state.by_id.insert(r.delivery_id.clone(), i);
        state.records.push(Record {
            request: r,
            receipt: receipt.clone(),
            sent_at_ms: now_ms,
        });
        Ok(Response::new(pb::SendResponse {
            receipt: Some(receipt),
        }))
    }

    async fn get_delivery(
        &self,
        request: Request<pb::GetDeliveryRequest>,
    ) -> Result<Response<pb::GetDeliveryResponse>, Status> {
        let r = request.into_inner();
        required("delivery_id", &r.delivery_id)?;
        let state = self.state();
        state.up()?;
        let receipt = state.record(&r.delivery_id)?.receipt.clone();
        Ok(Response::new(pb::GetDeliveryResponse {
            receipt: Some(receipt),
        }))
    }
}

/// FNV-1a then SplitMix64's finaliser: stable across builds and Rust releases (std's hasher
/// is not promised to be), and well mixed in the low digits that `% 100` reads even for ID
/// numbers that differ in one character.
fn seeded_hash(seed: u64, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(&seed.to_le_bytes());
    for p in parts {
        eat(p.as_bytes());
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        eat(&[0xff]);
    }
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Whether the debtor of `id_number` calls back, under this seed and share: one answer per
/// debtor, whatever was served on them.
pub fn calls_back(seed: u64, share_percent: u32, id_number: &str) -> bool {
    seeded_hash(seed, &[id_number.trim()]) % 100 < u64::from(share_percent)
}

/// How long after delivery the call comes: between 1 and 72 hours, in whole minutes.
fn call_delay_ms(seed: u64, id_number: &str, delivery_id: &str) -> i64 {
    const HOUR_MIN: u64 = 60;
    let minutes =
        HOUR_MIN + seeded_hash(seed, &[id_number.trim(), delivery_id]) % (71 * HOUR_MIN + 1);
    // At most 72 hours in minutes: it fits.
    i64::try_from(minutes).unwrap_or(0) * 60_000
}

#[tonic::async_trait]
impl DeliverySimulatorService for DeliverySimulator {
    async fn set_outage(
        &self,
        request: Request<pb::SetOutageRequest>,
    ) -> Result<Response<pb::SetOutageResponse>, Status> {
        self.state().down = request.into_inner().down;
        Ok(Response::new(pb::SetOutageResponse {}))
    }

    async fn complete_postal(
        &self,
        request: Request<pb::CompletePostalRequest>,
    ) -> Result<Response<pb::CompletePostalResponse>, Status> {
        let r = request.into_inner();
        required("delivery_id", &r.delivery_id)?;
        let now_ms = self.now_ms();
        let mut state = self.state();
        let i = state
            .by_id
            .get(&r.delivery_id)
            .copied()
            .ok_or_else(|| Status::from(Error::not_found("delivery", &r.delivery_id)))?;
        let Some(record) = state.records.get_mut(i) else {
            return Err(Status::internal("the delivery index is broken"));
        };
        if record.request.channel != pb::Channel::Postal as i32 {
            return Err(Status::failed_precondition("not a postal delivery"));
        }
        match record.receipt.status() {
            pb::DeliveryStatus::Sent => {
                record.receipt.status = pb::DeliveryStatus::Delivered as i32;
                record.receipt.delivered_at = Some(wire::timestamp(now_ms));
            }
            pb::DeliveryStatus::Delivered => {}
            _ => {
                return Err(Status::failed_precondition(
                    "the delivery failed: nothing was posted",
                ));
            }
        }
        Ok(Response::new(pb::CompletePostalResponse {
            receipt: Some(record.receipt.clone()),
        }))
    }

    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let with_html = request.into_inner().with_html;
        let state = self.state();
        let deliveries = state
            .records
            .iter()
            .map(|rec| {
                let mut request = rec.request.clone();
                if !with_html && let Some(d) = request.document.as_mut() {
                    d.html.clear();
                }
                pb::Delivery {
                    request: Some(request),
                    receipt: Some(rec.receipt.clone()),
                    sent_at: Some(wire::timestamp(rec.sent_at_ms)),
                }
            })
            .collect();
        Ok(Response::new(pb::ListDeliveriesResponse { deliveries }))
    }

    async fn set_debtor_behaviour(
        &self,
        request: Request<pb::SetDebtorBehaviourRequest>,
    ) -> Result<Response<pb::SetDebtorBehaviourResponse>, Status> {
        let r = request.into_inner();
        if r.callback_share_percent > 100 {
            return Err(Error::invalid_field("callback_share_percent", "at most 100").into());
        }
        let mut state = self.state();
        state.callback_share_percent = r.callback_share_percent;
        state.seed = r.seed;
        Ok(Response::new(pb::SetDebtorBehaviourResponse {}))
    }

    async fn list_callbacks(
        &self,
        request: Request<pb::ListCallbacksRequest>,
    ) -> Result<Response<pb::ListCallbacksResponse>, Status> {
        let kind = request.into_inner().document_kind;
        let state = self.state();
        let (seed, share) = (state.seed, state.callback_share_percent);
        let mut callbacks: Vec<pb::Callback> = state
            .records
            .iter()
            .filter_map(|rec| {
                let delivered_at = rec.receipt.delivered_at.as_ref()?;
                if rec.receipt.status() != pb::DeliveryStatus::Delivered {
                    return None;
                }
                let a = rec.request.addressee.as_ref()?;
                let d = rec.request.document.as_ref()?;
                if (!kind.is_empty() && d.kind != kind) || !calls_back(seed, share, &a.id_number) {
                    return None;
                }
                let at_ms = wire::millis(delivered_at).saturating_add(call_delay_ms(
                    seed,
                    &a.id_number,
                    &rec.request.delivery_id,
                ));
                Some(pb::Callback {
                    delivery_id: rec.request.delivery_id.clone(),
                    case_reference: rec.request.case_reference.clone(),
                    document_kind: d.kind.clone(),
                    caller_phone: a.phone.trim().to_owned(),
                    called_at: Some(wire::timestamp(at_ms)),
                })
            })
            .collect();
        // In the order called; calls at the same minute in the order sent (the sort is stable).
        callbacks.sort_by_key(|c| c.called_at.as_ref().map_or(0, wire::millis));
        Ok(Response::new(pb::ListCallbacksResponse { callbacks }))
    }
}

#[cfg(test)]
mod tests;

//! Service of documents (送达) on a party: a [`Document`] to an [`Addressee`] by a
//! [`Channel`], answered by a [`Receipt`]. Preservation serves its CPL 106 notice by SMS or
//! electronically; adjudication will serve payment orders by post, in person or at the
//! residence. Which channel the law allows (electronic service only with consent, CPL 90) is
//! the calling service's rule; this is only the way out, behind the [`Delivery`] trait. In
//! service and in tests it is [`DocumentService`], a gRPC client of the provider's interface
//! (`sieve.sim.delivery.v1`, which `sieve-sim` serves for tests and demos).

use std::fmt;

use sha2::{Digest as _, Sha256};
use sieve_proto::sim::delivery::v1 as pb;
use sieve_proto::sim::delivery::v1::delivery_service_client::DeliveryServiceClient;
use tonic::{Code, Status};

use crate::rules::mask;

/// How a document is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A text message to the addressee's mobile phone.
    Sms,
    /// The court's electronic service platform (电子送达).
    Electronic,
    /// Registered post with tracking.
    Postal,
    /// Handed over at the addressee's address (直接送达).
    InPerson,
    /// Left at the residence when the addressee refuses it (留置送达).
    LeftAtResidence,
}

impl Channel {
    pub fn pb(self) -> pb::Channel {
        match self {
            Channel::Sms => pb::Channel::Sms,
            Channel::Electronic => pb::Channel::Electronic,
            Channel::Postal => pb::Channel::Postal,
            Channel::InPerson => pb::Channel::InPerson,
            Channel::LeftAtResidence => pb::Channel::LeftAtResidence,
        }
    }
}

/// Whom a document is served on, with what the court knows of how to reach them. Its `Debug`
/// masks the personal data, so a dispatch can be logged as it is.
#[derive(Clone, PartialEq, Eq)]
pub struct Addressee {
    pub name: String,
    /// A resident ID number, or a unit's unified social credit code.
    pub id_number: String,
    /// A mobile number: needed for SMS.
    pub phone: Option<String>,
    /// A postal address: needed by post, in person and at the residence.
    pub address: Option<String>,
    /// An address on the electronic service platform.
    pub electronic_address: Option<String>,
}

/// `zhang.wei@163.com` → `***@163.com`: the mailbox is personal, the provider is not.
fn electronic_address(raw: &str) -> String {
    match raw.rsplit_once('@') {
        Some((_, domain)) => format!("***@{}", mask::excerpt(domain, 40)),
        None => "***".to_owned(),
    }
}

impl fmt::Debug for Addressee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Addressee")
            .field("name", &mask::name(&self.name))
            .field("id_number", &mask::id_number(&self.id_number))
            .field("phone", &self.phone.as_deref().map(mask::phone))
            .field("address", &self.address.as_deref().map(mask::text))
            .field(
                "electronic_address",
                &self.electronic_address.as_deref().map(electronic_address),
            )
            .finish()
    }
}

/// A printable court document. Its `Debug` shows the HTML's size and digest, not the HTML
/// (which names the addressee).
#[derive(Clone, PartialEq, Eq)]
pub struct Document {
    /// What the document is, as the sending service names it: `preservation.notice`.
    pub kind: String,
    pub title: String,
    /// A self-contained HTML page.
    pub html: String,
}

impl Document {
    /// SHA-256 of the HTML, lowercase hex: the provider checks it, so what is served is what
    /// the court wrote.
    pub fn sha256_hex(&self) -> String {
        sha256_hex(self.html.as_bytes())
    }
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("kind", &mask::excerpt(&self.kind, 80))
            .field("title", &mask::text(&self.title))
            .field("html_bytes", &self.html.len())
            .field("sha256", &self.sha256_hex())
            .finish()
    }
}

/// One document to serve. Sent again with the same id, it is served once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    /// The sender's id for the delivery; a new attempt (after a failure) takes a new one.
    pub delivery_id: String,
    /// The case the document belongs to.
    pub case_id: String,
    pub channel: Channel,
    pub addressee: Addressee,
    pub document: Document,
}

/// Where a delivery stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptStatus {
    /// On its way (a postal delivery, with the post's tracking number).
    Sent { tracking: Option<String> },
    /// Served at this instant (epoch milliseconds): a period that runs from service
    /// starts here.
    Delivered { at_ms: i64 },
    /// This channel could not serve it (no phone for SMS, no address for the post): serve
    /// it another way.
    Failed { reason: String },
}

/// The provider's answer to a dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub receipt_id: String,
    pub status: ReceiptStatus,
}

/// Why a dispatch got no receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// Down, overloaded or unreachable: send the same dispatch again later.
    #[error("the document service is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the dispatch itself (a bad field, an id reused for another
    /// document): sending it again will not help.
    #[error("the document service refused the dispatch: {0}")]
    Refused(String),
}

impl From<Status> for DispatchError {
    fn from(status: Status) -> Self {
        match status.code() {
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Cancelled
            | Code::Unknown
            | Code::Internal => DispatchError::Unavailable(status.message().to_string()),
            _ => DispatchError::Refused(format!("{:?}: {}", status.code(), status.message())),
        }
    }
}

/// The document-service provider as Sieve's services reach it.
#[async_trait::async_trait]
pub trait Delivery: Send + Sync + 'static {
    /// Serves the document; the same dispatch again answers the first receipt.
    async fn send(&self, d: &Dispatch) -> Result<Receipt, DispatchError>;
    /// The receipt as it stands now (a postal delivery is delivered later); `None` when the
    /// provider never received the delivery.
    async fn get(&self, delivery_id: &str) -> Result<Option<Receipt>, DispatchError>;
}

/// The provider's gRPC interface.
#[derive(Debug, Clone)]
pub struct DocumentService {
    client: DeliveryServiceClient<tonic::transport::Channel>,
}

impl DocumentService {
    pub fn new(channel: tonic::transport::Channel) -> Self {
        Self {
            client: DeliveryServiceClient::new(channel),
        }
    }
}

/// The request a dispatch is sent as; absent contacts are empty strings.
pub fn send_request(d: &Dispatch) -> pb::SendRequest {
    let a = &d.addressee;
    pb::SendRequest {
        delivery_id: d.delivery_id.clone(),
        channel: d.channel.pb() as i32,
        addressee: Some(pb::Addressee {
            name: a.name.clone(),
            id_number: a.id_number.clone(),
            phone: a.phone.clone().unwrap_or_default(),
            address: a.address.clone().unwrap_or_default(),
            electronic_address: a.electronic_address.clone().unwrap_or_default(),
        }),
        document: Some(pb::Document {
            kind: d.document.kind.clone(),
            title: d.document.title.clone(),
            html: d.document.html.clone(),
            sha256: d.document.sha256_hex(),
        }),
        case_reference: d.case_id.clone(),
    }
}

/// A provider's receipt in Sieve's terms; one that does not say where the delivery stands is
/// refused (a provider answering that way will not answer better the next time).
pub fn receipt(r: Option<pb::Receipt>) -> Result<Receipt, DispatchError> {
    let r = r.ok_or_else(|| DispatchError::Refused("answered without a receipt".into()))?;
    let status = match pb::DeliveryStatus::try_from(r.status) {
        Ok(pb::DeliveryStatus::Sent) => ReceiptStatus::Sent {
            tracking: Some(r.tracking_number).filter(|t| !t.trim().is_empty()),
        },
        Ok(pb::DeliveryStatus::Delivered) => {
            let at = r
                .delivered_at
                .as_ref()
                .ok_or_else(|| DispatchError::Refused("answered delivered without when".into()))?;
            ReceiptStatus::Delivered {
                at_ms: crate::wire::millis(at),
            }
        }
        Ok(pb::DeliveryStatus::Failed) => ReceiptStatus::Failed {
            reason: r.failure_reason,
        },
        _ => {
            return Err(DispatchError::Refused(format!(
                "answered a receipt in status {}",
                r.status
            )));
        }
    };
    Ok(Receipt {
        receipt_id: r.receipt_id,
        status,
    })
}

#[async_trait::async_trait]
impl Delivery for DocumentService {
    async fn send(&self, d: &Dispatch) -> Result<Receipt, DispatchError> {
        let answered = self.client.clone().send(send_request(d)).await?;
        receipt(answered.into_inner().receipt)
    }

    async fn get(&self, delivery_id: &str) -> Result<Option<Receipt>, DispatchError> {
        let answered = self
            .client
            .clone()
            .get_delivery(pb::GetDeliveryRequest {
                delivery_id: delivery_id.to_string(),
            })
            .await;
        match answered {
            Ok(r) => receipt(r.into_inner().receipt).map(Some),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(status.into()),
        }
    }
}

#[cfg(test)]
mod tests;

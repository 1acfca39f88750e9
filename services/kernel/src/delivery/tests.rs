//! The pure parts of service of documents: the request a dispatch becomes, the receipts read
//! back, the refusals' mapping, the digest and the masked `Debug`. Over the network they are
//! tested against `sieve-sim`'s provider, in that crate.
#![cfg(test)]

use super::*;

const ID: &str = "230722199001011234";
const PHONE: &str = "13917784483";

fn dispatch(channel: Channel) -> Dispatch {
    Dispatch {
        delivery_id: "pres-1/notice".into(),
        case_id: "case-1".into(),
        channel,
        addressee: Addressee {
            name: "杨秀英".into(),
            id_number: ID.into(),
            phone: Some(PHONE.into()),
            address: Some("黑龙江省大庆市杜尔伯特县泰康镇 12 号 13917784483".into()),
            electronic_address: Some("yang.xiuying@163.com".into()),
        },
        document: Document {
            kind: "preservation.notice".into(),
            title: "财产保全告知书".into(),
            html: "<p>杨秀英：230722199001011234</p>".into(),
        },
    }
}

#[test]
fn the_digest_is_sha256_in_lowercase_hex() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let d = dispatch(Channel::Sms).document;
    assert_eq!(d.sha256_hex(), sha256_hex(d.html.as_bytes()));
    assert_eq!(d.sha256_hex().len(), 64);
}

#[test]
fn a_dispatch_logged_shows_no_personal_data() {
    let logged = format!("{:?}", dispatch(Channel::Postal));
    for secret in [
        ID,
        PHONE,
        "秀英",
        "yang.xiuying",
        "<p>",
        "1991",
        "12 号 1391",
    ] {
        assert!(!logged.contains(secret), "{secret} in {logged}");
    }
    for shown in [
        "230722********1234",
        "139****4483",
        "杨**",
        "***@163.com",
        "preservation.notice",
        "pres-1/notice",
        "Postal",
    ] {
        assert!(logged.contains(shown), "{shown} not in {logged}");
    }
}

#[test]
fn a_dispatch_is_sent_with_its_digest_and_unknown_contacts_empty() {
    let mut d = dispatch(Channel::LeftAtResidence);
    d.addressee.phone = None;
    d.addressee.electronic_address = None;
    let r = send_request(&d);
    assert_eq!(r.delivery_id, "pres-1/notice");
    assert_eq!(r.case_reference, "case-1");
    assert_eq!(r.channel, pb::Channel::LeftAtResidence as i32);
    let a = r.addressee.unwrap();
    assert_eq!((a.phone.as_str(), a.electronic_address.as_str()), ("", ""));
    assert_eq!(a.id_number, ID);
    let doc = r.document.unwrap();
    assert_eq!(doc.sha256, d.document.sha256_hex());
    assert_eq!(doc.html, d.document.html);

    let channels = [
        (Channel::Sms, pb::Channel::Sms),
        (Channel::Electronic, pb::Channel::Electronic),
        (Channel::Postal, pb::Channel::Postal),
        (Channel::InPerson, pb::Channel::InPerson),
        (Channel::LeftAtResidence, pb::Channel::LeftAtResidence),
    ];
    for (ours, theirs) in channels {
        assert_eq!(ours.pb(), theirs);
    }
}

fn pb_receipt(status: pb::DeliveryStatus) -> pb::Receipt {
    pb::Receipt {
        receipt_id: "r-1".into(),
        delivery_id: "pres-1/notice".into(),
        status: status as i32,
        ..Default::default()
    }
}

#[test]
fn receipts_read_back_and_a_receipt_that_says_nothing_is_refused() {
    let sent = pb::Receipt {
        tracking_number: "EA000000001CN".into(),
        ..pb_receipt(pb::DeliveryStatus::Sent)
    };
    assert_eq!(
        receipt(Some(sent)),
        Ok(Receipt {
            receipt_id: "r-1".into(),
            status: ReceiptStatus::Sent {
                tracking: Some("EA000000001CN".into())
            },
        })
    );
    assert_eq!(
        receipt(Some(pb_receipt(pb::DeliveryStatus::Sent))).map(|r| r.status),
        Ok(ReceiptStatus::Sent { tracking: None })
    );
    let delivered = pb::Receipt {
        delivered_at: Some(crate::wire::timestamp(1_767_225_600_123)),
        ..pb_receipt(pb::DeliveryStatus::Delivered)
    };
    assert_eq!(
        receipt(Some(delivered)).map(|r| r.status),
        Ok(ReceiptStatus::Delivered {
            at_ms: 1_767_225_600_123
        })
    );
    let failed = pb::Receipt {
        failure_reason: "no phone".into(),
        ..pb_receipt(pb::DeliveryStatus::Failed)
    };
    assert_eq!(
        receipt(Some(failed)).map(|r| r.status),
        Ok(ReceiptStatus::Failed {
            reason: "no phone".into()
        })
    );

    for bad in [
        None,
        Some(pb_receipt(pb::DeliveryStatus::Unspecified)),
        Some(pb::Receipt {
            status: 42,
            ..pb_receipt(pb::DeliveryStatus::Sent)
        }),
        // Delivered, but not said when: no period could start from it.
        Some(pb_receipt(pb::DeliveryStatus::Delivered)),
    ] {
        assert!(matches!(receipt(bad), Err(DispatchError::Refused(_))));
    }
}

#[test]
fn an_unanswered_dispatch_is_worth_a_retry_and_a_refused_one_is_not() {
    for code in [
        Code::Unavailable,
        Code::DeadlineExceeded,
        Code::ResourceExhausted,
        Code::Aborted,
        Code::Cancelled,
        Code::Unknown,
        Code::Internal,
    ] {
        assert_eq!(
            DispatchError::from(Status::new(code, "down")),
            DispatchError::Unavailable("down".into()),
        );
    }
    for code in [
        Code::InvalidArgument,
        Code::AlreadyExists,
        Code::NotFound,
        Code::FailedPrecondition,
        Code::PermissionDenied,
    ] {
        let e = DispatchError::from(Status::new(code, "no"));
        assert!(
            matches!(e, DispatchError::Refused(ref m) if m.ends_with(": no")),
            "{e:?}"
        );
    }
}

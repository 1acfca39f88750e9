//! Banks: registering one, and looking them up.

use sieve_kernel::bulk::Page;
use sieve_kernel::error::{Error, Result, reason};
use sieve_proto::intake::v1 as pb;
use tonic::{Request, Response, Status};

use super::IntakeApi;
use crate::{convert, store};

impl IntakeApi {
    pub(super) async fn require_bank(&self, bank_id: &str) -> Result<()> {
        sieve_kernel::wire::require_id("bank_id", bank_id)?;
        match store::get_bank(self.inner.db.read(), bank_id).await? {
            Some(_) => Ok(()),
            None => Err(Error::not_found("bank", bank_id)),
        }
    }
}

pub(super) async fn register_bank(
    api: &IntakeApi,
    request: Request<pb::RegisterBankRequest>,
) -> Result<Response<pb::RegisterBankResponse>, Status> {
    let r = request.into_inner();
    let code = r.code.trim();
    let mut err = Error::bad_request(reason::INVALID_BANK, "the bank registration is incomplete");
    if code.is_empty()
        || code.len() > 32
        || !code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        err = err.with_violation("code", "1-32 letters, digits, '-' or '_'");
    }
    if r.name.trim().is_empty() || r.name.chars().count() > 128 {
        err = err.with_violation("name", "required, at most 128 characters");
    }
    if crate::domain::identity::validate_mobile(&r.callback_phone).is_err()
        && !(r.callback_phone.len() >= 7
            && r.callback_phone.len() <= 20
            && r.callback_phone
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'-'))
    {
        err = err.with_violation(
            "callback_phone",
            "a mobile or landline number (digits and '-')",
        );
    }
    if !err.violations.is_empty() {
        return Err(err.into());
    }
    let (bank, created) = store::register_bank(
        &api.inner.db,
        code,
        r.name.trim(),
        r.callback_phone.trim(),
        api.now_ms(),
    )
    .await
    .map_err(Error::from)?;
    Ok(Response::new(pb::RegisterBankResponse {
        bank: Some(convert::bank_pb(bank)),
        created,
    }))
}

pub(super) async fn get_bank(
    api: &IntakeApi,
    request: Request<pb::GetBankRequest>,
) -> Result<Response<pb::GetBankResponse>, Status> {
    use pb::get_bank_request::Key;
    let db = api.inner.db.read();
    let bank = match request.into_inner().key {
        Some(Key::BankId(id)) => {
            sieve_kernel::wire::require_id("bank_id", &id)?;
            store::get_bank(db, &id)
                .await
                .map_err(Error::from)?
                .ok_or_else(|| Error::not_found("bank", id))?
        }
        Some(Key::Code(code)) => {
            sieve_kernel::wire::require_id("code", &code)?;
            store::get_bank_by_code(db, &code)
                .await
                .map_err(Error::from)?
                .ok_or_else(|| Error::not_found("bank", code))?
        }
        None => return Err(Error::invalid_field("key", "bank_id or code").into()),
    };
    Ok(Response::new(pb::GetBankResponse {
        bank: Some(convert::bank_pb(bank)),
    }))
}

pub(super) async fn list_banks(
    api: &IntakeApi,
    request: Request<pb::ListBanksRequest>,
) -> Result<Response<pb::ListBanksResponse>, Status> {
    let page = Page::of(request.get_ref().page.as_ref())?;
    let banks = store::list_banks(api.inner.db.read(), &page.token, page.size)
        .await
        .map_err(Error::from)?;
    let next = page.next_token(&banks, |b| b.code.clone());
    Ok(Response::new(pb::ListBanksResponse {
        banks: banks.into_iter().map(convert::bank_pb).collect(),
        next_page_token: next,
    }))
}

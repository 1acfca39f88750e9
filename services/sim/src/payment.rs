//! The payment platforms' freezing interface, simulated: accounts by resident ID number with
//! balances, freezes that hold at most what an account has, orders idempotent by their id,
//! and outages on request (UNAVAILABLE, nothing changed).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sieve_kernel::Error;
use sieve_proto::sim::payment::v1 as pb;
use sieve_proto::sim::payment::v1::payment_platform_service_server::{
    PaymentPlatformService, PaymentPlatformServiceServer,
};
use sieve_proto::sim::payment::v1::payment_simulator_service_server::{
    PaymentSimulatorService, PaymentSimulatorServiceServer,
};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

#[derive(Debug, Default, Clone, Copy)]
struct Funds {
    balance_fen: i64,
    frozen_fen: i64,
}

#[derive(Debug, Default)]
struct Platforms {
    accounts: HashMap<(i32, String), Funds>,
    orders: HashMap<(i32, String), pb::FreezeOrder>,
    down: HashSet<i32>,
}

/// Both platforms, shared by the platform service and the simulator's controls.
#[derive(Debug, Clone, Default)]
pub struct PaymentSimulator {
    state: Arc<Mutex<Platforms>>,
}

impl PaymentSimulator {
    fn state(&self) -> MutexGuard<'_, Platforms> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Both services, for a server.
    fn router(self) -> tonic::transport::server::Router {
        tonic::transport::Server::builder()
            .add_service(PaymentPlatformServiceServer::new(self.clone()))
            .add_service(PaymentSimulatorServiceServer::new(self))
    }

    /// Binds `addr` (port 0: any) and serves in the background; the address it answers on
    /// and a sender that stops it.
    pub async fn spawn(
        self,
        addr: SocketAddr,
    ) -> std::io::Result<(SocketAddr, crate::serving::Stop)> {
        crate::serving::spawn(self.router(), addr, "payment").await
    }

    /// Serves on a free port of this host: a channel to it, and the sender that stops it.
    pub async fn start_local(
        self,
    ) -> Result<(Channel, crate::serving::Stop), Box<dyn std::error::Error + Send + Sync>> {
        crate::serving::start_local(self.router(), "payment").await
    }
}

fn platform(field: &'static str, value: i32) -> Result<i32, Status> {
    match pb::Platform::try_from(value) {
        Ok(pb::Platform::Alipay | pb::Platform::WechatPay) => Ok(value),
        _ => Err(Error::invalid_field(field, format!("unknown platform {value}")).into()),
    }
}

fn required(field: &'static str, value: &str) -> Result<(), Status> {
    sieve_kernel::wire::require_id(field, value).map_err(Status::from)
}

impl Platforms {
    fn up(&self, platform: i32) -> Result<(), Status> {
        if self.down.contains(&platform) {
            return Err(Status::unavailable(
                "the platform is down (simulated outage)",
            ));
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl PaymentPlatformService for PaymentSimulator {
    async fn freeze(
        &self,
        request: Request<pb::FreezeRequest>,
    ) -> Result<Response<pb::FreezeResponse>, Status> {
        let r = request.into_inner();
        let p = platform("platform", r.platform)?;
        required("order_id", &r.order_id)?;
        required("id_number", &r.id_number)?;
        if r.amount_fen <= 0 {
            return Err(Error::invalid_field("amount_fen", "must be positive").into());
        }
        let mut state = self.state();
        state.up(p)?;
        let key = (p, r.order_id.clone());
        if let Some(order) = state.orders.get(&key) {
            // The same order again answers what it did; the same id for another order is
            // the sender's mistake, not a second freeze.
            if order.id_number != r.id_number
                || order.requested_fen != r.amount_fen
                || order.ruling_number != r.ruling_number
            {
                return Err(Status::already_exists(format!(
                    "order {} was sent before with other content",
                    r.order_id
                )));
            }
            return Ok(Response::new(pb::FreezeResponse {
                order: Some(order.clone()),
            }));
        }
        let (status, frozen_fen) = match state.accounts.get_mut(&(p, r.id_number.clone())) {
            None => (pb::OrderStatus::NoAccount, 0),
            Some(funds) => {
                let free = (funds.balance_fen - funds.frozen_fen).max(0);
                let frozen = r.amount_fen.min(free);
                funds.frozen_fen += frozen;
                (pb::OrderStatus::Frozen, frozen)
            }
        };
        let order = pb::FreezeOrder {
            order_id: r.order_id,
            platform: p,
            id_number: r.id_number,
            requested_fen: r.amount_fen,
            frozen_fen,
            status: status as i32,
            ruling_number: r.ruling_number,
        };
        state.orders.insert(key, order.clone());
        Ok(Response::new(pb::FreezeResponse { order: Some(order) }))
    }

    async fn lift(
        &self,
        request: Request<pb::LiftRequest>,
    ) -> Result<Response<pb::LiftResponse>, Status> {
        let r = request.into_inner();
        let p = platform("platform", r.platform)?;
        required("order_id", &r.order_id)?;
        let mut state = self.state();
        state.up(p)?;
        let Some(order) = state.orders.get(&(p, r.order_id.clone())).cloned() else {
            return Err(Error::not_found("freeze order", &r.order_id).into());
        };
        let order = if order.status == pb::OrderStatus::Frozen as i32 {
            if let Some(funds) = state.accounts.get_mut(&(p, order.id_number.clone())) {
                funds.frozen_fen -= order.frozen_fen;
            }
            let lifted = pb::FreezeOrder {
                status: pb::OrderStatus::Lifted as i32,
                ..order
            };
            state
                .orders
                .insert((p, lifted.order_id.clone()), lifted.clone());
            lifted
        } else {
            order
        };
        Ok(Response::new(pb::LiftResponse { order: Some(order) }))
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let r = request.into_inner();
        let p = platform("platform", r.platform)?;
        required("order_id", &r.order_id)?;
        let state = self.state();
        state.up(p)?;
        let order = state
            .orders
            .get(&(p, r.order_id.clone()))
            .cloned()
            .ok_or_else(|| Status::from(Error::not_found("freeze order", &r.order_id)))?;
        Ok(Response::new(pb::GetOrderResponse { order: Some(order) }))
    }
}

#[tonic::async_trait]
impl PaymentSimulatorService for PaymentSimulator {
    async fn open_accounts(
        &self,
        request: Request<pb::OpenAccountsRequest>,
    ) -> Result<Response<pb::OpenAccountsResponse>, Status> {
        let accounts = request.into_inner().accounts;
        // Checked whole before any is opened: a refused call changes nothing.
        for (i, a) in accounts.iter().enumerate() {
            platform("accounts[].platform", a.platform)?;
            if a.id_number.trim().is_empty() || a.balance_fen < 0 {
                return Err(Error::invalid_field(
                    format!("accounts[{i}]"),
                    "an ID number and a balance of at least 0",
                )
                .into());
            }
        }
        let mut state = self.state();
        for (i, a) in accounts.iter().enumerate() {
            let frozen = state
                .accounts
                .get(&(a.platform, a.id_number.clone()))
                .map_or(0, |f| f.frozen_fen);
            if a.balance_fen < frozen {
                return Err(Error::invalid_field(
                    format!("accounts[{i}].balance_fen"),
                    format!("below the {frozen} fen frozen on the account"),
                )
                .into());
            }
        }
        for a in &accounts {
            let funds = state
                .accounts
                .entry((a.platform, a.id_number.clone()))
                .or_default();
            funds.balance_fen = a.balance_fen;
        }
        Ok(Response::new(pb::OpenAccountsResponse {
            opened: accounts.len() as i64,
        }))
    }

    async fn set_outage(
        &self,
        request: Request<pb::SetOutageRequest>,
    ) -> Result<Response<pb::SetOutageResponse>, Status> {
        let r = request.into_inner();
        let p = platform("platform", r.platform)?;
        let mut state = self.state();
        if r.down {
            state.down.insert(p);
        } else {
            state.down.remove(&p);
        }
        Ok(Response::new(pb::SetOutageResponse {}))
    }

    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::GetAccountResponse>, Status> {
        let r = request.into_inner();
        let p = platform("platform", r.platform)?;
        let state = self.state();
        let funds = state
            .accounts
            .get(&(p, r.id_number.clone()))
            .copied()
            .ok_or_else(|| Status::from(Error::not_found("account", "of that ID number")))?;
        Ok(Response::new(pb::GetAccountResponse {
            account: Some(pb::Account {
                platform: p,
                id_number: r.id_number,
                balance_fen: funds.balance_fen,
                frozen_fen: funds.frozen_fen,
            }),
        }))
    }
}

#[cfg(test)]
mod tests;

//! Who is calling: the bearer token checked against the configured keys, the caller's role
//! checked against the door, the organisation checked to exist, and its call rate held to its
//! limit. Refusals are counted and logged through [`RefusalLog`], never a line per call: a
//! flood of bad tokens would otherwise grow the log by megabytes a second.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sieve_kernel::config::CourtSettings;
use sieve_kernel::error::{ERROR_DOMAIN, reason};
use sieve_kernel::refusals::{self, RefusalLog};
use sieve_kernel::{Error, ErrorCode};
use sieve_proto::intake::v1 as intake;
use tonic::{Code, Request, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::forward::IntakeClient;
use crate::token::{self, Claims, Role, SigningKey, TokenError};

/// The authenticated caller of one call.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org_id: String,
    pub role: Role,
}

/// How long a bank found in intake is trusted to exist without asking again: a bank is never
/// deleted, so this only bounds the lookups, one per bank per minute rather than per call.
const KNOWN_BANK_TTL: Duration = Duration::from_secs(60);

pub struct Gate {
    keys: Vec<SigningKey>,
    /// Tokens whose signature was checked, with their claims: a caller sends the same token
    /// on every call, and checking it (base64, HMAC-SHA256, JSON) each time costs more than
    /// the lookup it guards. Expiry is still checked on every call.
    verified: Mutex<HashMap<String, Claims>>,
    limiter: RateLimiter,
    /// Callers without a token (the public door), one bucket per client address.
    anonymous: RateLimiter,
    /// The court this gateway serves: court tokens must name it (by its name, as
    /// `sieve token --court` mints them).
    court: CourtSettings,
    intake: IntakeClient,
    known_banks: Mutex<HashMap<String, Instant>>,
    refusals: Arc<RefusalLog>,
}

impl Gate {
    pub fn new(
        keys: Vec<SigningKey>,
        rate_per_second: u32,
        court: CourtSettings,
        intake: IntakeClient,
    ) -> Self {
        Self {
            keys,
            verified: Mutex::new(HashMap::new()),
            limiter: RateLimiter::new(rate_per_second),
            anonymous: RateLimiter::new(rate_per_second),
            court,
            intake,
            known_banks: Mutex::new(HashMap::new()),
            refusals: RefusalLog::new("call refused"),
        }
    }

    /// Admits a call that needs no token, holding its client address (the TCP peer; a
    /// caller whose address is unknown shares one bucket with the others) to the rate limit.
    pub fn admit_anonymous(&self, remote: Option<SocketAddr>) -> Result<(), Status> {
        let key = remote.map_or_else(|| "unknown".to_string(), |a| a.ip().to_string());
        // The address identifies a person as much as a phone number does: only its hash is
        // logged.
        self.anonymous.admit(&key, || refusals::peer(remote))
    }

    /// The caller of a call to the door of `role`, or why it is refused.
    pub async fn authorize<T>(&self, request: &Request<T>, role: Role) -> Result<Caller, Status> {
        let refused = |reason: &'static str, status: Status| {
            self.refusals
                .refused(&refusals::peer(request.remote_addr()), reason);
            status
        };
        let claims = self
            .authenticate(request)
            .map_err(|(reason, status)| refused(reason, status))?;
        if claims.role != role {
            let status = Error::new(
                ErrorCode::PermissionDenied,
                reason::WRONG_ROLE,
                format!(
                    "a {} token cannot call the {} door",
                    claims.role.as_str(),
                    role.as_str()
                ),
            )
            .with_meta("role", claims.role.as_str())
            .into();
            return Err(refused(reason::WRONG_ROLE, status));
        }
        if claims.org_id.trim().is_empty() {
            let status = unauthenticated(reason::TOKEN_INVALID, "the token names no organisation");
            return Err(refused(reason::TOKEN_INVALID, status));
        }
        // Before the organisation is looked up, so a flood costs no lookups.
        self.limiter
            .admit(&claims.org_id, || claims.org_id.clone())?;
        self.known(&claims)
            .await
            .map_err(|(reason, status)| refused(reason, status))?;
        Ok(Caller {
            org_id: claims.org_id,
            role: claims.role,
        })
    }

    /// Whether the organisation a validly signed token names exists: a key that leaked, or a
    /// token minted for a bank that was never registered, must not open a door.
    async fn known(&self, claims: &Claims) -> Result<(), (&'static str, Status)> {
        match claims.role {
            Role::Court => {
                // One name only, so that one court has one rate-limit bucket.
                if claims.org_id == self.court.name {
                    return Ok(());
                }
                Err((
                    reason::OTHER_COURT,
                    unauthenticated(reason::OTHER_COURT, "the token names another court"),
                ))
            }
            Role::Bank => self.known_bank(&claims.org_id).await,
            // No registry of notary offices or mediation organisations exists yet, and their
            // doors answer only "not deployed": checked here once their services keep one.
            Role::Notary | Role::Mediator => Ok(()),
        }
    }

    async fn known_bank(&self, bank_id: &str) -> Result<(), (&'static str, Status)> {
        let now = Instant::now();
        if self
            .lock_known()
            .get(bank_id)
            .is_some_and(|seen| now.duration_since(*seen) < KNOWN_BANK_TTL)
        {
            return Ok(());
        }
        let found = self
            .intake
            .clone()
            .get_bank(intake::GetBankRequest {
                key: Some(intake::get_bank_request::Key::BankId(bank_id.to_string())),
            })
            .await;
        match found {
            Ok(_) => {
                let mut known = self.lock_known();
                if known.len() >= MAX_BUCKETS {
                    known.retain(|_, seen| now.duration_since(*seen) < KNOWN_BANK_TTL);
                }
                known.insert(bank_id.to_string(), now);
                Ok(())
            }
            Err(status) if status.code() == Code::NotFound => Err((
                reason::UNKNOWN_ORGANISATION,
                unauthenticated(
                    reason::UNKNOWN_ORGANISATION,
                    "the token names a bank that is not registered",
                ),
            )),
            // Intake down or failing: the call could not be served anyway.
            Err(status) => Err((reason::ORGANISATION_UNCHECKED, status)),
        }
    }

    fn lock_known(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.known_banks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn authenticate<T>(&self, request: &Request<T>) -> Result<Claims, (&'static str, Status)> {
        let fail = |reason: &'static str, message: &str| (reason, unauthenticated(reason, message));
        let Some(value) = request.metadata().get("authorization") else {
            return Err(fail(
                reason::TOKEN_MISSING,
                "send `authorization: Bearer <token>`",
            ));
        };
        let bearer = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                fail(
                    reason::TOKEN_INVALID,
                    "the authorization is not `Bearer <token>`",
                )
            })?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        // A poisoned lock only means another call panicked mid-update; the map is still valid.
        let cached = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(bearer)
            .cloned();
        if let Some(claims) = cached {
            if claims.exp.is_some_and(|exp| now >= exp) {
                return Err(fail(reason::TOKEN_EXPIRED, "the token expired"));
            }
            return Ok(claims);
        }
        // The token itself is a credential: only the reason is logged.
        let claims = token::verify(&self.keys, bearer, now).map_err(|e| match e {
            TokenError::Expired => fail(reason::TOKEN_EXPIRED, "the token expired"),
            _ => fail(reason::TOKEN_INVALID, "the token is not valid"),
        })?;
        let mut verified = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Bounded: a flood of distinct valid tokens empties it rather than growing it.
        if verified.len() >= MAX_VERIFIED_TOKENS {
            verified.clear();
        }
        verified.insert(bearer.to_string(), claims.clone());
        Ok(claims)
    }
}

/// Verified tokens remembered at most; each is a few hundred bytes.
const MAX_VERIFIED_TOKENS: usize = 4_096;

fn unauthenticated(reason: &'static str, message: &str) -> Status {
    Error::new(ErrorCode::Unauthenticated, reason, message).into()
}

/// Buckets kept before full ones are forgotten: a full bucket is the same as none, so
/// forgetting it changes nothing but the memory a flood of distinct callers could take.
const MAX_BUCKETS: usize = 65_536;

/// A token bucket per caller: `rate` tokens a second, holding at most `rate`.
struct RateLimiter {
    rate: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
    refusals: Arc<RefusalLog>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl RateLimiter {
    fn new(rate_per_second: u32) -> Self {
        Self {
            rate: f64::from(rate_per_second.max(1)),
            buckets: Mutex::new(HashMap::new()),
            refusals: RefusalLog::new("rate limited"),
        }
    }

    /// Takes a token from `key`'s bucket; `shown` is what a refusal logs for the caller.
    fn admit(&self, key: &str, shown: impl FnOnce() -> String) -> Result<(), Status> {
        let now = Instant::now();
        // A poisoned lock only means another call panicked mid-update; the counts are still
        // usable.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            let rate = self.rate;
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.refilled).as_secs_f64() * rate < rate
            });
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.rate,
            refilled: now,
        });
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.rate);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate);
        drop(buckets);
        self.refusals.refused(&shown(), reason::RATE_LIMITED);
        let mut details = ErrorDetails::new();
        details.set_error_info(
            reason::RATE_LIMITED,
            ERROR_DOMAIN,
            HashMap::from([("limit_per_second".to_string(), format!("{}", self.rate))]),
        );
        details.set_retry_info(Some(wait));
        Err(Status::with_error_details(
            Code::ResourceExhausted,
            format!(
                "more than {} calls a second from this caller; retry shortly",
                self.rate
            ),
            details,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(token: &str) -> tonic::Request<()> {
        let mut r = tonic::Request::new(());
        r.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        r
    }

    #[tokio::test]
    async fn a_remembered_token_is_still_checked_for_expiry_and_stands_for_no_other() {
        let key = SigningKey::generate("k1");
        let settings = sieve_kernel::internal::testing::settings();
        let intake = crate::forward::intake_client(
            sieve_kernel::internal::testing::channel("http://127.0.0.1:1"),
            settings.server.max_message_bytes,
        );
        let gate = Gate::new(vec![key.clone()], 1_000, settings.court, intake);
        let claims = Claims {
            org_id: "bank-1".into(),
            role: Role::Bank,
            exp: None,
        };
        let token = token::mint(&key, &claims);
        for _ in 0..2 {
            assert_eq!(gate.authenticate(&bearer(&token)).unwrap(), claims);
        }
        // A token signed by another key is checked, not taken from what was remembered.
        let forged = token::mint(&SigningKey::generate("k1"), &claims);
        let (reason, _) = gate.authenticate(&bearer(&forged)).unwrap_err();
        assert_eq!(reason, reason::TOKEN_INVALID);
        // An expired token is refused every time (and never remembered).
        let expired = token::mint(
            &key,
            &Claims {
                exp: Some(1),
                ..claims
            },
        );
        for _ in 0..2 {
            let (reason, _) = gate.authenticate(&bearer(&expired)).unwrap_err();
            assert_eq!(reason, reason::TOKEN_EXPIRED);
        }
    }

    #[test]
    fn bucket_allows_a_burst_then_refuses() {
        let limiter = RateLimiter::new(3);
        let shown = || "a".to_string();
        for _ in 0..3 {
            limiter.admit("a", shown).unwrap();
        }
        let status = limiter.admit("a", shown).unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(
            status.get_error_details().error_info().unwrap().reason,
            reason::RATE_LIMITED
        );
        // Another organisation has its own bucket.
        limiter.admit("b", shown).unwrap();
    }
}

//! Who is calling: the bearer token checked against the configured keys, the caller's role
//! checked against the door, and the organisation's call rate held to its limit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sieve_kernel::error::ERROR_DOMAIN;
use sieve_kernel::{Error, ErrorCode};
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::token::{self, Claims, Role, SigningKey, TokenError};

/// The authenticated caller of one call.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org_id: String,
    pub role: Role,
}

pub struct Gate {
    keys: Vec<SigningKey>,
    limiter: RateLimiter,
    /// Callers without a token (the public door), one bucket per client address.
    anonymous: RateLimiter,
}

impl Gate {
    pub fn new(keys: Vec<SigningKey>, rate_per_second: u32) -> Self {
        Self {
            keys,
            limiter: RateLimiter::new(rate_per_second),
            anonymous: RateLimiter::new(rate_per_second),
        }
    }

    /// Admits a call that needs no token, holding its client address (the TCP peer; a
    /// caller whose address is unknown shares one bucket with the others) to the rate limit.
    pub fn admit_anonymous(&self, remote: Option<SocketAddr>) -> Result<(), Status> {
        let key = remote.map_or_else(|| "unknown".to_string(), |a| a.ip().to_string());
        // The address identifies a person as much as a phone number does: not logged.
        self.anonymous.admit(&key, "anonymous")
    }

    /// The caller of a call to the door of `role`, or why it is refused.
    pub fn authorize(&self, metadata: &MetadataMap, role: Role) -> Result<Caller, Status> {
        let claims = self.authenticate(metadata)?;
        if claims.role != role {
            return Err(Error::new(
                ErrorCode::PermissionDenied,
                "WRONG_ROLE",
                format!(
                    "a {} token cannot call the {} door",
                    claims.role.as_str(),
                    role.as_str()
                ),
            )
            .with_meta("role", claims.role.as_str())
            .into());
        }
        if claims.org_id.trim().is_empty() {
            return Err(unauthenticated(
                "TOKEN_INVALID",
                "the token names no organisation",
            ));
        }
        self.limiter.admit(&claims.org_id, &claims.org_id)?;
        Ok(Caller {
            org_id: claims.org_id,
            role: claims.role,
        })
    }

    fn authenticate(&self, metadata: &MetadataMap) -> Result<Claims, Status> {
        let Some(value) = metadata.get("authorization") else {
            return Err(unauthenticated(
                "TOKEN_MISSING",
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
                unauthenticated("TOKEN_INVALID", "the authorization is not `Bearer <token>`")
            })?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        token::verify(&self.keys, bearer, now).map_err(|e| {
            // The token itself is a credential: only the reason is logged.
            tracing::info!(error = %e, "token refused");
            match e {
                TokenError::Expired => unauthenticated("TOKEN_EXPIRED", "the token expired"),
                _ => unauthenticated("TOKEN_INVALID", "the token is not valid"),
            }
        })
    }
}

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
        }
    }

    /// Takes a token from `key`'s bucket; `shown` is what a refusal logs.
    fn admit(&self, key: &str, shown: &str) -> Result<(), Status> {
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
        tracing::warn!(caller = shown, "rate limited");
        let mut details = ErrorDetails::new();
        details.set_error_info(
            "RATE_LIMITED",
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

    #[test]
    fn bucket_allows_a_burst_then_refuses() {
        let limiter = RateLimiter::new(3);
        for _ in 0..3 {
            limiter.admit("a", "a").unwrap();
        }
        let status = limiter.admit("a", "a").unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(
            status.get_error_details().error_info().unwrap().reason,
            "RATE_LIMITED"
        );
        // Another organisation has its own bucket.
        limiter.admit("b", "b").unwrap();
    }
}

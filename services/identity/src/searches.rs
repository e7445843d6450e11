//! Limits on lost-TRN searches (`FindMyTrn`). Each search sends an email to an address of the
//! caller's choosing and may show a TRN, so searches are counted per source and per email
//! address in a window; a captcha is asked for as at sign-in: always, never, or (step-up) once
//! the source has searched or failed to sign in `captcha_after_failures` times in the window.
//! Counts live in the session store, shared by every instance; the email address is kept
//! there only as a keyed fingerprint.

use std::sync::Arc;
use std::time::Duration;

use portal_common::Signer;
use portal_common::kv::{Limit, SessionStore, StoreError};

use crate::throttle::{CaptchaMode, SignInLimits, source_failures_key};

/// What the limits say of one search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Refused for this long.
    Refused(Duration),
    /// May go on; with a solved captcha first when `captcha` is true.
    Open { captcha: bool },
}

/// The limits on searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    pub per_source: u32,
    pub per_email: u32,
    pub window: Duration,
}

pub struct Searches {
    store: Arc<dyn SessionStore>,
    signer: Signer,
    limits: SearchLimits,
    captcha: CaptchaMode,
    captcha_after: i64,
}

/// A search admitted and counted, to be given back if it cannot be kept.
pub struct Counted {
    limits: Vec<Limit>,
}

impl Searches {
    pub fn new(store: Arc<dyn SessionStore>, signer: Signer, sign_in: &SignInLimits) -> Self {
        Self {
            store,
            signer,
            limits: SearchLimits {
                per_source: sign_in.trn_searches_per_source,
                per_email: sign_in.trn_searches_per_email,
                window: Duration::from_secs(sign_in.trn_search_window_seconds),
            },
            captcha: sign_in.captcha,
            captcha_after: i64::from(sign_in.captcha_after_failures),
        }
    }

    /// The counters of a search from `source` (empty when unknown: counted per email only)
    /// for the address `email_key`.
    fn counters(&self, source: &str, email_key: &str) -> Vec<Limit> {
        let email = self
            .signer
            .fingerprint("trn-search-email", email_key.as_bytes());
        let mut limits = vec![Limit {
            key: format!("dqt:trn-search:email:{email}"),
            limit: i64::from(self.limits.per_email),
            window: self.limits.window,
        }];
        if !source.is_empty() {
            limits.push(Limit {
                key: format!(
                    "dqt:trn-search:source:{}",
                    crate::throttle::source_digest(source)
                ),
                limit: i64::from(self.limits.per_source),
                window: self.limits.window,
            });
        }
        limits
    }

    /// Reads the counts (one round trip): refused when either is used up; otherwise whether
    /// a captcha is needed first. Nothing is counted yet.
    pub async fn admit(&self, source: &str, email_key: &str) -> Result<Admission, StoreError> {
        let limits = self.counters(source, email_key);
        let mut keys: Vec<String> = limits.iter().map(|l| l.key.clone()).collect();
        keys.extend(source_failures_key(source));
        let counts = self.store.counters(&keys).await?;
        let full = limits
            .iter()
            .zip(&counts)
            .filter(|(limit, (count, _))| *count >= limit.limit)
            .map(|(_, (_, left))| *left)
            .max();
        if let Some(left) = full {
            return Ok(Admission::Refused(left.max(Duration::from_secs(1))));
        }
        let searches_from_source = if source.is_empty() {
            0
        } else {
            counts.get(1).map_or(0, |(count, _)| *count)
        };
        let sign_in_failures = if source.is_empty() {
            0
        } else {
            counts.get(2).map_or(0, |(count, _)| *count)
        };
        let captcha = match self.captcha {
            CaptchaMode::Always => true,
            CaptchaMode::Off => false,
            CaptchaMode::StepUp => {
                searches_from_source >= self.captcha_after || sign_in_failures >= self.captcha_after
            }
        };
        Ok(Admission::Open { captcha })
    }

    /// Counts the search against both limits in one step: `Err` with the time to wait when
    /// another search took the last place meanwhile.
    pub async fn count(
        &self,
        source: &str,
        email_key: &str,
    ) -> Result<Result<Counted, Duration>, StoreError> {
        let limits = self.counters(source, email_key);
        Ok(self
            .store
            .count_within(&limits, 1)
            .await?
            .map(|()| Counted { limits }))
    }

    /// Gives a counted search back: it could not be kept.
    pub async fn give_back(&self, counted: Counted) -> Result<(), StoreError> {
        self.store.count_within(&counted.limits, -1).await.map(drop)
    }
}

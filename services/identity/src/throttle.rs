//! Throttling of teacher sign-in. TRN, names and date of birth are identifiers, not secrets:
//! guessing is held back by counting failures per TRN and per source, asking for a captcha after
//! a few, and locking after more. Counts live in the session store, so every gateway and
//! identity instance shares them.

use std::sync::Arc;
use std::time::Duration;

use portal_common::kv::SessionStore;
use portal_common::metrics::metrics;
use portal_common::values::Trn;
use sha2::{Digest as _, Sha256};

use crate::error::Error;

/// When a teacher's sign-in needs a solved captcha.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CaptchaMode {
    /// Every sign-in (the old portal's way).
    Always,
    /// After failed sign-ins for the TRN or the source (GOV.UK's advice).
    StepUp,
    /// Never.
    Off,
}

/// Throttling of teacher sign-in. Counts live in the session store, shared by every instance.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct SignInLimits {
    /// When a captcha is needed: always, step-up or off.
    #[arg(long, env = "PORTAL_CAPTCHA", value_enum, default_value_t = CaptchaMode::StepUp)]
    pub captcha: CaptchaMode,
    /// Failed sign-ins count for this many seconds from the first one.
    #[arg(long, env = "PORTAL_SIGN_IN_WINDOW_SECONDS", default_value_t = 15 * 60)]
    pub window_seconds: u64,
    /// With step-up, failures for a TRN or a source after which a captcha is needed.
    #[arg(long, env = "PORTAL_CAPTCHA_AFTER_FAILURES", default_value_t = 3)]
    pub captcha_after_failures: u32,
    /// Failures for one TRN after which it is locked.
    #[arg(long, env = "PORTAL_TRN_LOCK_AFTER_FAILURES", default_value_t = 5)]
    pub trn_lock_after_failures: u32,
    /// Failures from one source after which it is locked.
    #[arg(long, env = "PORTAL_SOURCE_LOCK_AFTER_FAILURES", default_value_t = 30)]
    pub source_lock_after_failures: u32,
    /// How long a lock lasts, in seconds.
    #[arg(long, env = "PORTAL_SIGN_IN_LOCK_SECONDS", default_value_t = 15 * 60)]
    pub lock_seconds: u64,
}

/// What the counts allow for one sign-in attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Refused for this long, whatever the details.
    Locked(Duration),
    /// May be matched; with a solved captcha first when `captcha` is true.
    Open { captcha: bool },
}

/// The counts that decide an attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Attempts for the TRN in the window that have not succeeded (failed, or still being
    /// matched), this one included: what the lock counts, so that concurrent guesses cannot
    /// outrun it.
    pub trn_attempts: i64,
    /// Failures for the TRN in the window: what the captcha step-up counts.
    pub trn_failures: i64,
    /// Failures from the source in the window.
    pub source_failures: i64,
    /// Time left on a lock of the TRN or of the source (zero when neither is locked).
    pub locked_for: Duration,
}

/// The rule, with no I/O: locked while a lock lasts or once the TRN's attempts pass its limit;
/// a captcha always, never, or (step-up) after enough failures for the TRN or the source.
pub fn decide(limits: &SignInLimits, counts: Counts) -> Gate {
    let lock = Duration::from_secs(limits.lock_seconds);
    if !counts.locked_for.is_zero() {
        return Gate::Locked(counts.locked_for);
    }
    if counts.trn_attempts > i64::from(limits.trn_lock_after_failures) {
        return Gate::Locked(lock);
    }
    let after = i64::from(limits.captcha_after_failures);
    let captcha = match limits.captcha {
        CaptchaMode::Always => true,
        CaptchaMode::Off => false,
        CaptchaMode::StepUp => counts.trn_failures >= after || counts.source_failures >= after,
    };
    Gate::Open { captcha }
}

/// One admitted attempt: its keys and counts, to be settled once the outcome is known.
#[derive(Debug)]
pub struct Attempt {
    keys: Keys,
    counts: Counts,
    pub gate: Gate,
}

#[derive(Debug)]
struct Keys {
    trn_attempts: String,
    trn_failures: String,
    trn_lock: String,
    /// `None` when the source is unknown: such attempts are limited per TRN only.
    source_failures: Option<String>,
    source_lock: Option<String>,
}

impl Keys {
    fn new(trn: Trn, source: &str) -> Self {
        // Sources are IP addresses, which are personal data: keep only a digest.
        let source = (!source.is_empty()).then(|| {
            let digest = Sha256::digest(source.as_bytes());
            digest[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        });
        Self {
            trn_attempts: format!("dqt:sign-in:trn:{trn}:attempts"),
            trn_failures: format!("dqt:sign-in:trn:{trn}:failures"),
            trn_lock: format!("dqt:sign-in:trn:{trn}:lock"),
            source_failures: source
                .as_ref()
                .map(|s| format!("dqt:sign-in:source:{s}:failures")),
            source_lock: source.map(|s| format!("dqt:sign-in:source:{s}:lock")),
        }
    }
}

#[derive(Clone)]
pub struct Throttle {
    store: Arc<dyn SessionStore>,
    limits: SignInLimits,
}

impl Throttle {
    pub fn new(store: Arc<dyn SessionStore>, limits: SignInLimits) -> Self {
        Self { store, limits }
    }

    pub fn limits(&self) -> &SignInLimits {
        &self.limits
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.limits.window_seconds)
    }

    /// Admits an attempt: reads the locks and the source's failures, and counts the attempt
    /// against the TRN before the details are matched, so that concurrent guesses cannot
    /// outrun the limit. The same work is done whether or not the TRN exists.
    pub async fn admit(&self, trn: Trn, source: &str) -> Result<Attempt, Error> {
        let keys = Keys::new(trn, source);
        // One round trip: the locks, then the TRN's and the source's failures.
        let mut read = vec![keys.trn_lock.clone()];
        read.extend(keys.source_lock.clone());
        read.push(keys.trn_failures.clone());
        read.extend(keys.source_failures.clone());
        let counters = self.store.counters(&read).await?;
        let locks = if keys.source_lock.is_some() { 2 } else { 1 };
        let locked_for = counters
            .iter()
            .take(locks)
            .filter(|(count, _)| *count > 0)
            .map(|(_, left)| *left)
            .max()
            .unwrap_or_default();
        let count = |i: usize| counters.get(i).map_or(0, |(count, _)| *count);
        let trn_failures = count(locks);
        let source_failures = if keys.source_failures.is_some() {
            count(locks + 1)
        } else {
            0
        };
        let trn_attempts = if locked_for.is_zero() {
            self.store
                .add(std::slice::from_ref(&keys.trn_attempts), 1, self.window())
                .await?
                .first()
                .copied()
                .unwrap_or(1)
        } else {
            0
        };
        let counts = Counts {
            trn_attempts,
            trn_failures,
            source_failures,
            locked_for,
        };
        let gate = decide(&self.limits, counts);
        if let (Gate::Locked(left), true) = (gate, counts.locked_for.is_zero()) {
            // The attempt that passed the limit starts the lock.
            self.store.set_if_absent(&keys.trn_lock, 1, left).await?;
            metrics().locked("trn");
        }
        Ok(Attempt { keys, counts, gate })
    }

    /// The attempt was not tried (no captcha): it does not count against the TRN.
    pub async fn withdraw(&self, attempt: &Attempt) -> Result<(), Error> {
        self.store
            .add(
                std::slice::from_ref(&attempt.keys.trn_attempts),
                -1,
                self.window(),
            )
            .await?;
        Ok(())
    }

    /// The details did not match: the failure counts against the source too, and a TRN or
    /// source at its limit is locked.
    pub async fn failed(&self, attempt: &Attempt) -> Result<(), Error> {
        let lock = Duration::from_secs(self.limits.lock_seconds);
        metrics().sign_in_failed();
        self.store
            .add(
                std::slice::from_ref(&attempt.keys.trn_failures),
                1,
                self.window(),
            )
            .await?;
        if attempt.counts.trn_attempts >= i64::from(self.limits.trn_lock_after_failures) {
            tracing::warn!("a TRN is locked after repeated failed sign-ins");
            metrics().locked("trn");
            self.store
                .set_if_absent(&attempt.keys.trn_lock, 1, lock)
                .await?;
        }
        if let (Some(failures), Some(source_lock)) =
            (&attempt.keys.source_failures, &attempt.keys.source_lock)
        {
            let count = self
                .store
                .add(std::slice::from_ref(failures), 1, self.window())
                .await?
                .first()
                .copied()
                .unwrap_or(0);
            if count >= i64::from(self.limits.source_lock_after_failures) {
                tracing::warn!("a source is locked after repeated failed sign-ins");
                metrics().locked("source");
                self.store.set_if_absent(source_lock, 1, lock).await?;
            }
        }
        Ok(())
    }

    /// The teacher signed in: the TRN's attempts and failures are forgotten.
    pub async fn succeeded(&self, attempt: &Attempt) -> Result<(), Error> {
        let keys = [
            attempt.keys.trn_attempts.clone(),
            attempt.keys.trn_failures.clone(),
        ];
        self.store.delete(&keys).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(captcha: CaptchaMode) -> SignInLimits {
        SignInLimits {
            captcha,
            window_seconds: 900,
            captcha_after_failures: 3,
            trn_lock_after_failures: 5,
            source_lock_after_failures: 30,
            lock_seconds: 900,
        }
    }

    /// The gate for an attempt that follows `trn_failures` failures for the TRN.
    fn gate(captcha: CaptchaMode, trn_failures: i64, source_failures: i64) -> Gate {
        decide(
            &limits(captcha),
            Counts {
                trn_attempts: trn_failures + 1,
                trn_failures,
                source_failures,
                locked_for: Duration::ZERO,
            },
        )
    }

    #[test]
    fn step_up_asks_for_a_captcha_after_three_failures_for_a_trn_or_a_source() {
        use CaptchaMode::StepUp;
        assert_eq!(gate(StepUp, 0, 0), Gate::Open { captcha: false });
        assert_eq!(gate(StepUp, 2, 0), Gate::Open { captcha: false });
        assert_eq!(gate(StepUp, 3, 0), Gate::Open { captcha: true });
        assert_eq!(gate(StepUp, 0, 2), Gate::Open { captcha: false });
        assert_eq!(gate(StepUp, 0, 3), Gate::Open { captcha: true });
    }

    #[test]
    fn always_and_off_ignore_the_counts() {
        assert_eq!(
            gate(CaptchaMode::Always, 1, 0),
            Gate::Open { captcha: true }
        );
        assert_eq!(gate(CaptchaMode::Off, 4, 29), Gate::Open { captcha: false });
    }

    #[test]
    fn the_sixth_attempt_within_the_window_is_locked_out() {
        assert_eq!(gate(CaptchaMode::Off, 4, 0), Gate::Open { captcha: false });
        assert_eq!(
            gate(CaptchaMode::Off, 5, 0),
            Gate::Locked(Duration::from_secs(900))
        );
    }

    #[test]
    fn attempts_still_being_matched_do_not_ask_for_a_captcha() {
        let gate = decide(
            &limits(CaptchaMode::StepUp),
            Counts {
                trn_attempts: 4,
                trn_failures: 0,
                source_failures: 0,
                locked_for: Duration::ZERO,
            },
        );
        assert_eq!(gate, Gate::Open { captcha: false });
    }

    #[test]
    fn a_lock_holds_for_the_time_it_has_left() {
        let gate = decide(
            &limits(CaptchaMode::Off),
            Counts {
                trn_attempts: 0,
                trn_failures: 0,
                source_failures: 0,
                locked_for: Duration::from_secs(42),
            },
        );
        assert_eq!(gate, Gate::Locked(Duration::from_secs(42)));
    }

    #[test]
    fn source_keys_hold_no_address() {
        let keys = Keys::new(Trn::from_number(1_234_567).unwrap(), "203.0.113.9");
        let source = keys.source_failures.unwrap();
        assert!(!source.contains("203.0.113.9"));
        assert!(keys.trn_failures.contains("1234567"));
        assert!(
            Keys::new(Trn::from_number(1).unwrap(), "")
                .source_lock
                .is_none()
        );
    }
}

//! Throttling of sign-in. TRN, names and date of birth are identifiers, not secrets: guessing
//! is held back by counting failures per TRN and per source, asking for a captcha after a few,
//! and locking after more. Client secrets are counted the same way per client id and per
//! source (no captcha: the callers are machines), so that a flood of wrong secrets stops
//! costing Argon2 work once locked. Counts live in the session store, so every gateway and
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
    /// Failures from one source after which it is locked (teacher and client sign-ins alike).
    #[arg(long, env = "PORTAL_SOURCE_LOCK_AFTER_FAILURES", default_value_t = 30)]
    pub source_lock_after_failures: u32,
    /// Failed client sign-ins for one client id after which it is locked.
    #[arg(long, env = "PORTAL_CLIENT_LOCK_AFTER_FAILURES", default_value_t = 10)]
    pub client_lock_after_failures: u32,
    /// Client sign-ins from one source being checked or waiting their turn for Argon2 at once;
    /// more are refused at once (RESOURCE_EXHAUSTED), so that one source's flood of secrets
    /// holds few places in the queue every source shares.
    #[arg(long, env = "PORTAL_CLIENT_SIGN_INS_PER_SOURCE", default_value_t = 4)]
    pub client_sign_ins_per_source: usize,
    /// How long a lock lasts, in seconds.
    #[arg(long, env = "PORTAL_SIGN_IN_LOCK_SECONDS", default_value_t = 15 * 60)]
    pub lock_seconds: u64,
    /// Lost-TRN searches (FindMyTrn) from one source in a window.
    #[arg(long, env = "PORTAL_TRN_SEARCHES_PER_SOURCE", default_value_t = 10)]
    pub trn_searches_per_source: u32,
    /// Lost-TRN searches for one email address in a window.
    #[arg(long, env = "PORTAL_TRN_SEARCHES_PER_EMAIL", default_value_t = 3)]
    pub trn_searches_per_email: u32,
    /// The window lost-TRN searches are counted in, in seconds.
    #[arg(long, env = "PORTAL_TRN_SEARCH_WINDOW_SECONDS", default_value_t = 60 * 60)]
    pub trn_search_window_seconds: u64,
}

/// Who a sign-in attempt is for: what its own counters and lock are kept under.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    Teacher(Trn),
    /// A client id, already checked to be well formed.
    Client(&'a str),
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
    /// Attempts for the subject (TRN or client id) in the window that have not succeeded
    /// (failed, or still being checked), this one included: what the lock counts, so that
    /// concurrent guesses cannot outrun it.
    pub attempts: i64,
    /// Failures for the subject in the window: what the captcha step-up counts.
    pub failures: i64,
    /// Failures from the source in the window.
    pub source_failures: i64,
    /// Time left on a lock of the subject or of the source (zero when neither is locked).
    pub locked_for: Duration,
}

impl SignInLimits {
    /// Failures for a subject after which it is locked.
    fn lock_after(&self, subject: Subject<'_>) -> i64 {
        i64::from(match subject {
            Subject::Teacher(_) => self.trn_lock_after_failures,
            Subject::Client(_) => self.client_lock_after_failures,
        })
    }
}

/// The rule, with no I/O: locked while a lock lasts or once the subject's attempts pass its
/// limit; for a teacher, a captcha always, never, or (step-up) after enough failures for the
/// TRN or the source; never for a client.
pub fn decide(limits: &SignInLimits, subject: Subject<'_>, counts: Counts) -> Gate {
    let lock = Duration::from_secs(limits.lock_seconds);
    if !counts.locked_for.is_zero() {
        return Gate::Locked(counts.locked_for);
    }
    if counts.attempts > limits.lock_after(subject) {
        return Gate::Locked(lock);
    }
    let after = i64::from(limits.captcha_after_failures);
    let captcha = match (subject, limits.captcha) {
        (Subject::Client(_), _) | (_, CaptchaMode::Off) => false,
        (_, CaptchaMode::Always) => true,
        (_, CaptchaMode::StepUp) => counts.failures >= after || counts.source_failures >= after,
    };
    Gate::Open { captcha }
}

/// One admitted attempt: its keys and counts, to be settled once the outcome is known.
#[derive(Debug)]
pub struct Attempt {
    keys: Keys,
    counts: Counts,
    lock_after: i64,
    pub gate: Gate,
}

#[derive(Debug)]
struct Keys {
    attempts: String,
    failures: String,
    lock: String,
    /// `None` when the source is unknown: such attempts are limited per subject only.
    source_failures: Option<String>,
    source_lock: Option<String>,
}

/// A short digest of a source: sources are IP addresses, which are personal data.
pub(crate) fn source_digest(source: &str) -> String {
    Sha256::digest(source.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The counter of a source's failed sign-ins; `None` when the source is unknown.
pub(crate) fn source_failures_key(source: &str) -> Option<String> {
    (!source.is_empty()).then(|| format!("dqt:sign-in:source:{}:failures", source_digest(source)))
}

impl Keys {
    fn new(subject: Subject<'_>, source: &str) -> Self {
        let source_failures = source_failures_key(source);
        let source = (!source.is_empty()).then(|| source_digest(source));
        let subject = match subject {
            Subject::Teacher(trn) => format!("dqt:sign-in:trn:{trn}"),
            Subject::Client(client_id) => format!("dqt:sign-in:client:{client_id}"),
        };
        Self {
            attempts: format!("{subject}:attempts"),
            failures: format!("{subject}:failures"),
            lock: format!("{subject}:lock"),
            source_failures,
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
    /// against the subject before the details are checked, so that concurrent guesses cannot
    /// outrun the limit. The same work is done whether or not the TRN or client exists.
    pub async fn admit(&self, subject: Subject<'_>, source: &str) -> Result<Attempt, Error> {
        let keys = Keys::new(subject, source);
        // One round trip: the locks, then the subject's and the source's failures.
        let mut read = vec![keys.lock.clone()];
        read.extend(keys.source_lock.clone());
        read.push(keys.failures.clone());
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
        let failures = count(locks);
        let source_failures = if keys.source_failures.is_some() {
            count(locks + 1)
        } else {
            0
        };
        let attempts = if locked_for.is_zero() {
            self.store
                .add(std::slice::from_ref(&keys.attempts), 1, self.window())
                .await?
                .first()
                .copied()
                .unwrap_or(1)
        } else {
            0
        };
        let counts = Counts {
            attempts,
            failures,
            source_failures,
            locked_for,
        };
        let gate = decide(&self.limits, subject, counts);
        if let (Gate::Locked(left), true) = (gate, counts.locked_for.is_zero()) {
            // The attempt that passed the limit starts the lock.
            self.store.set_if_absent(&keys.lock, 1, left).await?;
            metrics().locked(subject.kind());
        }
        Ok(Attempt {
            keys,
            counts,
            lock_after: self.limits.lock_after(subject),
            gate,
        })
    }

    /// The attempt was not tried (no captcha): it does not count against the subject.
    pub async fn withdraw(&self, attempt: &Attempt) -> Result<(), Error> {
        self.store
            .add(
                std::slice::from_ref(&attempt.keys.attempts),
                -1,
                self.window(),
            )
            .await?;
        Ok(())
    }

    /// The details did not match: the failure counts against the source too, and a subject
    /// or source at its limit is locked.
    pub async fn failed(&self, attempt: &Attempt, subject: Subject<'_>) -> Result<(), Error> {
        let lock = Duration::from_secs(self.limits.lock_seconds);
        metrics().sign_in_failed();
        self.store
            .add(
                std::slice::from_ref(&attempt.keys.failures),
                1,
                self.window(),
            )
            .await?;
        if attempt.counts.attempts >= attempt.lock_after {
            tracing::warn!(
                subject = subject.kind(),
                "sign-in locked after repeated failures"
            );
            metrics().locked(subject.kind());
            self.store
                .set_if_absent(&attempt.keys.lock, 1, lock)
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

    /// The subject signed in: its attempts and failures are forgotten.
    pub async fn succeeded(&self, attempt: &Attempt) -> Result<(), Error> {
        let keys = [attempt.keys.attempts.clone(), attempt.keys.failures.clone()];
        self.store.delete(&keys).await?;
        Ok(())
    }
}

impl Subject<'_> {
    /// What metrics and logs call the subject's kind (never the subject itself).
    pub fn kind(self) -> &'static str {
        match self {
            Self::Teacher(_) => "trn",
            Self::Client(_) => "client",
        }
    }
}

/// Bounds the Argon2 work of client sign-in: at most `per_source` secrets from one source
/// checked or waiting at once (more are refused at once), and at most `total` checked at once
/// in all, waiting their turn first come, first served. A flood of wrong secrets from one source then holds at most
/// `per_source` places in the queue, and the cores left over serve every other call.
pub struct HashingGate {
    total: tokio::sync::Semaphore,
    per_source: usize,
    busy: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

/// A place taken in the [`HashingGate`]; given back when dropped.
pub struct HashingPermit<'a> {
    _total: tokio::sync::SemaphorePermit<'a>,
    _slot: SourceSlot<'a>,
}

/// One of a source's places; given back when dropped, also when the wait for a place in the
/// queue is cancelled.
struct SourceSlot<'a> {
    gate: &'a HashingGate,
    source: String,
}

impl HashingGate {
    pub fn new(total: usize, per_source: usize) -> Self {
        Self {
            total: tokio::sync::Semaphore::new(total.max(1)),
            per_source: per_source.max(1),
            busy: std::sync::Mutex::default(),
        }
    }

    fn busy(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, usize>> {
        // Every update is one insert or remove: a poisoned map is still consistent.
        self.busy.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for one check from `source`; `None` when the source has all of its places.
    pub async fn enter(&self, source: &str) -> Option<HashingPermit<'_>> {
        let source = source_digest(source);
        {
            let mut busy = self.busy();
            let count = busy.entry(source.clone()).or_default();
            if *count >= self.per_source {
                return None;
            }
            *count += 1;
        }
        let slot = SourceSlot { gate: self, source };
        let total = match self.total.acquire().await {
            Ok(permit) => permit,
            Err(_) => unreachable!("the semaphore is never closed"),
        };
        Some(HashingPermit {
            _total: total,
            _slot: slot,
        })
    }
}

impl Drop for SourceSlot<'_> {
    fn drop(&mut self) {
        let mut busy = self.gate.busy();
        if let Some(count) = busy.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                busy.remove(&self.source);
            }
        }
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
            client_lock_after_failures: 10,
            client_sign_ins_per_source: 2,
            lock_seconds: 900,
            trn_searches_per_source: 10,
            trn_searches_per_email: 3,
            trn_search_window_seconds: 3600,
        }
    }

    fn teacher() -> Subject<'static> {
        Subject::Teacher(Trn::from_number(1_234_567).unwrap())
    }

    /// The gate for an attempt that follows `trn_failures` failures for the TRN.
    fn gate(captcha: CaptchaMode, trn_failures: i64, source_failures: i64) -> Gate {
        decide(
            &limits(captcha),
            teacher(),
            Counts {
                attempts: trn_failures + 1,
                failures: trn_failures,
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
            teacher(),
            Counts {
                attempts: 4,
                failures: 0,
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
            teacher(),
            Counts {
                attempts: 0,
                failures: 0,
                source_failures: 0,
                locked_for: Duration::from_secs(42),
            },
        );
        assert_eq!(gate, Gate::Locked(Duration::from_secs(42)));
    }

    #[test]
    fn source_keys_hold_no_address() {
        let keys = Keys::new(teacher(), "203.0.113.9");
        let source = keys.source_failures.unwrap();
        assert!(!source.contains("203.0.113.9"));
        assert!(keys.failures.contains("1234567"));
        assert!(
            Keys::new(Subject::Teacher(Trn::from_number(1).unwrap()), "")
                .source_lock
                .is_none()
        );
        let client = Keys::new(Subject::Client("secure-access"), "203.0.113.9");
        assert_eq!(client.lock, "dqt:sign-in:client:secure-access:lock");
        assert_eq!(client.source_lock, keys.source_lock, "one lock per source");
    }

    #[test]
    fn clients_are_locked_after_their_own_limit_and_never_asked_for_a_captcha() {
        let client = Subject::Client("secure-access");
        let counts = |failures: i64, source_failures: i64| Counts {
            attempts: failures + 1,
            failures,
            source_failures,
            locked_for: Duration::ZERO,
        };
        let always = limits(CaptchaMode::Always);
        assert_eq!(
            decide(&always, client, counts(9, 29)),
            Gate::Open { captcha: false }
        );
        assert_eq!(
            decide(&always, client, counts(10, 0)),
            Gate::Locked(Duration::from_secs(900))
        );
    }

    #[tokio::test]
    async fn one_source_holds_at_most_its_places_in_the_hashing_queue() {
        let gate = HashingGate::new(1, 2);
        let first = gate.enter("203.0.113.9").await.unwrap();
        // The only place in all is taken: a second check from the source waits in the queue.
        let mut second = Box::pin(gate.enter("203.0.113.9"));
        assert!(futures_poll(&mut second).is_none());
        // The source's two places are taken (one running, one waiting): a third is refused.
        assert!(gate.enter("203.0.113.9").await.is_none());
        // A cancelled wait gives its place back.
        drop(second);
        drop(first);
        let again = gate.enter("203.0.113.9").await;
        assert!(again.is_some());
        let other = Box::pin(gate.enter("198.51.100.1"));
        drop(again);
        assert!(other.await.is_some(), "another source gets the place");
        assert!(gate.busy().is_empty(), "nothing left counted");
    }

    /// Polls a future once, without waiting.
    fn futures_poll<F: std::future::Future + Unpin>(future: &mut F) -> Option<F::Output> {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match std::pin::Pin::new(future).poll(&mut cx) {
            std::task::Poll::Ready(output) => Some(output),
            std::task::Poll::Pending => None,
        }
    }
}

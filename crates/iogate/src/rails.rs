//! The limits at run time: the counts and token buckets each [`Limits`] value is checked
//! against, per server ([`Guardrails`]) and per client ([`EventBudget`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use governor::clock::QuantaClock;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::Limits;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// The limits of one server, and the counts they are checked against.
pub(crate) struct Guardrails {
    pub(crate) limits: Limits,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    /// The clock of every client's event budget. Making a clock calibrates it (a `CPUID` per
    /// call, slow in a VM): once per server, not once per client.
    pub(crate) clock: QuantaClock,
    ip_checks: AtomicU32,
    /// Whether a handshake came without its peer's address (said once, in the log).
    addressless: AtomicBool,
    clients: AtomicUsize,
    users: Mutex<HashMap<Box<str>, usize>>,
}

/// Why a handshake is refused; the text is the client's `connect_error` message.
pub(crate) const TOO_MANY_CONNECTIONS: &str = "Too many connections";
pub(crate) const SERVER_FULL: &str = "Server is full";
pub(crate) const TOO_MANY_FOR_USER: &str = "Too many connections for this user";

impl Guardrails {
    pub(crate) fn new(limits: Limits) -> Self {
        let quota = Quota::per_second(nz(limits.connections_per_ip_per_second))
            .allow_burst(nz(limits.connection_burst_per_ip));
        Self {
            per_ip: RateLimiter::keyed(quota),
            clock: QuantaClock::default(),
            ip_checks: AtomicU32::new(0),
            addressless: AtomicBool::new(false),
            clients: AtomicUsize::new(0),
            users: Mutex::new(HashMap::new()),
            limits,
        }
    }

    /// The cheap checks of a handshake from `ip` (when known), made before any middleware:
    /// the per-IP rate (so that refused handshakes count against their address too) and a
    /// full server.
    pub(crate) fn check_handshake(&self, ip: Option<IpAddr>) -> Result<(), &'static str> {
        if let Some(ip) = ip {
            // Forget quiet addresses now and then, so the table stays small.
            if self.ip_checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
                self.per_ip.retain_recent();
            }
            self.per_ip
                .check_key(&ip)
                .map_err(|_| TOO_MANY_CONNECTIONS)?;
        } else if self.limits.connections_per_ip_per_second != u32::MAX
            && !self.addressless.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "the per-IP connection limit is off: handshakes come without the peer's address. \
                 Serve the app with iogate::serve, or with axum's \
                 into_make_service_with_connect_info::<SocketAddr>()"
            );
        }
        if self.clients.load(Ordering::Relaxed) >= self.limits.max_clients {
            return Err(SERVER_FULL);
        }
        Ok(())
    }

    /// Counts an admitted client in, per server and per `user`, or refuses it when either is
    /// full: check and count in one step, so that simultaneous handshakes cannot pass a
    /// limit together.
    pub(crate) fn count_in(&self, user: Option<&str>) -> Result<(), &'static str> {
        let max = self.limits.max_clients;
        self.clients
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| SERVER_FULL)?;
        if let Some(user) = user {
            let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
            let n = users.entry(user.into()).or_default();
            if *n >= self.limits.max_clients_per_user {
                if *n == 0 {
                    users.remove(user);
                }
                drop(users);
                self.clients.fetch_sub(1, Ordering::AcqRel);
                return Err(TOO_MANY_FOR_USER);
            }
            *n += 1;
        }
        Ok(())
    }

    /// Counts a client out.
    pub(crate) fn disconnected(&self, user: Option<&str>) {
        self.clients.fetch_sub(1, Ordering::Relaxed);
        if let Some(user) = user {
            let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = users.get_mut(user) {
                *n -= 1;
                if *n == 0 {
                    users.remove(user);
                }
            }
        }
    }
}

/// One client's event budget.
pub(crate) struct EventBudget {
    bucket: DefaultDirectRateLimiter,
    /// Start of the current abuse window, in ms since [`epoch`].
    window_start: AtomicU64,
    refusals: AtomicU32,
}

/// What the budget says of one event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allowed,
    Refused,
    /// Refused, and the client has been refused so often lately that it is disconnected.
    Abusive,
}

const ABUSE_WINDOW_MS: u64 = 10_000;

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl EventBudget {
    pub(crate) fn new(limits: &Limits, clock: &QuantaClock) -> Self {
        let quota =
            Quota::per_second(nz(limits.events_per_second)).allow_burst(nz(limits.event_burst));
        Self {
            bucket: RateLimiter::direct_with_clock(quota, clock.clone()),
            window_start: AtomicU64::new(0),
            refusals: AtomicU32::new(0),
        }
    }

    pub(crate) fn check(&self, limits: &Limits) -> Verdict {
        if self.bucket.check().is_ok() {
            return Verdict::Allowed;
        }
        let now = epoch().elapsed().as_millis() as u64;
        let start = self.window_start.load(Ordering::Relaxed);
        if now.saturating_sub(start) > ABUSE_WINDOW_MS {
            self.window_start.store(now, Ordering::Relaxed);
            self.refusals.store(0, Ordering::Relaxed);
        }
        if self.refusals.fetch_add(1, Ordering::Relaxed) + 1 >= limits.abuse_refusals {
            Verdict::Abusive
        } else {
            Verdict::Refused
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_budget_refuses_over_the_burst_and_flags_abuse() {
        let limits = Limits::default()
            .events_per_second(1)
            .event_burst(3)
            .abuse_refusals(5);
        let budget = EventBudget::new(&limits, &QuantaClock::default());
        let verdicts: Vec<_> = (0..8).map(|_| budget.check(&limits)).collect();
        assert_eq!(
            &verdicts[..3],
            &[Verdict::Allowed, Verdict::Allowed, Verdict::Allowed]
        );
        assert_eq!(
            &verdicts[3..7],
            &[
                Verdict::Refused,
                Verdict::Refused,
                Verdict::Refused,
                Verdict::Refused
            ]
        );
        assert_eq!(verdicts[7], Verdict::Abusive);
    }

    #[test]
    fn handshakes_are_limited_per_ip_per_server_and_per_user() {
        let g = Guardrails::new(
            Limits::default()
                .connection_burst_per_ip(2)
                .max_clients(3)
                .max_clients_per_user(1),
        );
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(g.check_handshake(Some(ip)).is_ok());
        assert!(g.check_handshake(Some(ip)).is_ok());
        assert_eq!(g.check_handshake(Some(ip)), Err(TOO_MANY_CONNECTIONS));
        assert!(g.count_in(Some("alice")).is_ok());
        assert_eq!(g.count_in(Some("alice")), Err(TOO_MANY_FOR_USER));
        g.disconnected(Some("alice"));
        assert!(g.count_in(Some("alice")).is_ok());
        assert!(g.count_in(None).is_ok());
        assert!(g.count_in(None).is_ok());
        assert_eq!(g.count_in(None), Err(SERVER_FULL));
        assert_eq!(g.check_handshake(None), Err(SERVER_FULL));
        // A refusal for the user counts nobody in.
        g.disconnected(None);
        assert_eq!(g.count_in(Some("alice")), Err(TOO_MANY_FOR_USER));
        assert!(g.count_in(None).is_ok());
    }
}

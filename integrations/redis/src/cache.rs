//! [`DeniedCache`]: "this key is denied until T", learnt from the store, so
//! a saturated key costs no round trip until T.
//!
//! Invariant: an entry is only ever the store's own answer (a GCRA TAT never
//! moves back and pauses only lengthen), so trusting it until T never admits
//! what the store would refuse; entries past T are dropped when seen, and the
//! map is swept when it doubles, so it holds O(saturated keys).

use std::collections::HashMap;
use tokio::time::Instant;

/// The cache.
#[derive(Debug, Default)]
pub struct DeniedCache {
    until: HashMap<String, Instant>,
    sweep_at: usize,
}

impl DeniedCache {
    /// `key` is denied until `until`.
    pub fn deny(&mut self, key: &str, until: Instant, now: Instant) {
        if self.until.len() >= self.sweep_at.max(64) {
            self.until.retain(|_, t| *t > now);
            self.sweep_at = 2 * self.until.len();
        }
        let slot = self.until.entry(key.to_owned()).or_insert(until);
        *slot = (*slot).max(until);
    }

    /// Until when `key` is known to be denied, if it still is at `now`.
    pub fn denied_until(&mut self, key: &str, now: Instant) -> Option<Instant> {
        match self.until.get(key) {
            Some(&t) if t > now => Some(t),
            Some(_) => {
                self.until.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn denies_until_t_then_forgets() {
        let t0 = Instant::now();
        let mut c = DeniedCache::default();
        c.deny("k", t0 + Duration::from_millis(10), t0);
        assert_eq!(
            c.denied_until("k", t0),
            Some(t0 + Duration::from_millis(10))
        );
        assert_eq!(c.denied_until("other", t0), None);
        // Only lengthens.
        c.deny("k", t0 + Duration::from_millis(5), t0);
        assert_eq!(
            c.denied_until("k", t0),
            Some(t0 + Duration::from_millis(10))
        );
        assert_eq!(c.denied_until("k", t0 + Duration::from_millis(10)), None);
        assert!(c.is_empty());
    }

    #[test]
    fn sweeps_expired_keys_when_it_grows() {
        let t0 = Instant::now();
        let mut c = DeniedCache::default();
        for i in 0..1000 {
            let now = t0 + Duration::from_millis(i);
            c.deny(&i.to_string(), now + Duration::from_millis(2), now);
        }
        assert!(c.len() < 200, "{} keys resident", c.len());
    }
}

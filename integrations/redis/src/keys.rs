//! Key layout: which Redis keys hold a request's shared state.
//!
//! Invariants:
//! - every key one request touches carries the same hash tag, so one script
//!   call works on Redis Cluster: `{prefix}` when the limiter has global
//!   state (global quotas, a global cap, pause-all), else `{prefix<key>}` (so
//!   per-key-only limiters spread keys over the cluster);
//! - a rate cell's name spells its quota (`limit/interval_ns/burst`):
//!   limiters with the same prefix and the same options share limits, and a
//!   changed quota starts afresh instead of misreading another's TAT;
//! - the JS store (`bindings/js/redis/keys.js`) builds exactly the same names, so JS
//!   and native processes share one quota.
//!
//! ```
//! use weir_redis::keys::Keys;
//! let k = Keys::new("crawler:", true);
//! assert_eq!(k.pause("api.example"), "{crawler:}:p:api.example");
//! let k = Keys::new("crawler:", false);
//! assert_eq!(k.pause("api.example"), "{crawler:api.example}:p");
//! ```

use weir::Quota;

/// Names the keys of one prefix.
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
    shared_slot: bool,
}

fn spec(q: &Quota) -> String {
    format!(
        "{}/{}/{}",
        q.limit(),
        weir::time::duration_nanos(q.interval()),
        q.burst()
    )
}

impl Keys {
    /// Keys under `prefix`; `global_state` when the limiter has global
    /// quotas, a global cap or global pauses (then every key shares one slot).
    pub fn new(prefix: &str, global_state: bool) -> Self {
        Keys {
            prefix: prefix.to_owned(),
            shared_slot: global_state,
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{tag}` and the per-key part for `key`.
    fn scoped(&self, key: &str, what: &str) -> String {
        if self.shared_slot {
            format!("{{{}}}:{what}:{key}", self.prefix)
        } else {
            format!("{{{}{key}}}:{what}", self.prefix)
        }
    }

    fn global(&self, what: &str) -> String {
        format!("{{{}}}:{what}", self.prefix)
    }

    /// The cell of a global quota.
    pub fn global_rate(&self, q: &Quota) -> String {
        self.global(&format!("rg:{}", spec(q)))
    }

    /// The cell of a per-key quota for `key`.
    pub fn key_rate(&self, key: &str, q: &Quota) -> String {
        format!("{}:{}", self.scoped(key, "r"), spec(q))
    }

    /// The pause of `key`.
    pub fn pause(&self, key: &str) -> String {
        self.scoped(key, "p")
    }

    /// The pause of every key.
    pub fn pause_all(&self) -> String {
        self.global("pg")
    }

    /// The lease set of the global cap.
    pub fn global_leases(&self) -> String {
        self.global("cg")
    }

    /// The lease set of `key`'s cap.
    pub fn key_leases(&self, key: &str) -> String {
        self.scoped(key, "c")
    }

    /// The channel on which releases are published.
    pub fn release_channel(&self) -> String {
        format!("{}released", self.prefix)
    }
}

//! The hasher of the keyed tables: a small seeded multiply-xorshift hash.
//!
//! Replaces hashbrown's default (foldhash) to keep the wasm small: a few
//! dozen instructions instead of ~4 KB of code, and no 128-bit multiply.
//! Keys are host names and other short strings the application picks: each
//! 8-byte word is xored into the state and mixed by one multiply and a
//! rotate, and `finish` runs a murmur3-style finaliser so the high bits
//! (hashbrown's control byte) and the low bits (its bucket index) both
//! depend on every input bit. Each table gets its own seed (a global
//! counter mixed with an address, as foldhash does without `std`), so two
//! tables never share collisions; like foldhash this is not a keyed PRF and
//! makes no HashDoS promise beyond what a web server's own maps make.

use core::hash::{BuildHasher, Hasher};
use core::sync::atomic::{AtomicUsize, Ordering};

const K: u64 = 0x9e37_79b9_7f4a_7c15;
const M1: u64 = 0xff51_afd7_ed55_8ccd;
const M2: u64 = 0xc4ce_b9fe_1a85_ec53;

/// hashbrown's `HashMap` with [`KeyHash`].
pub type HashMap<K, V> = hashbrown::HashMap<K, V, KeyHash>;

/// A [`BuildHasher`] with a per-table seed.
#[derive(Clone, Debug)]
pub struct KeyHash {
    seed: u64,
}

impl Default for KeyHash {
    fn default() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let local = 0u8;
        let count = NEXT.fetch_add(1, Ordering::Relaxed) as u64;
        let addr = core::ptr::addr_of!(local) as usize as u64;
        KeyHash {
            seed: fmix(count.wrapping_mul(K) ^ addr ^ M2),
        }
    }
}

impl BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    #[inline]
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher { state: self.seed }
    }
}

/// The [`Hasher`] of [`KeyHash`].
#[derive(Clone, Debug)]
pub struct KeyHasher {
    state: u64,
}

impl KeyHasher {
    #[inline]
    fn word(&mut self, word: u64) {
        self.state = (self.state ^ word).wrapping_mul(K).rotate_left(29);
    }
}

#[inline]
fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(M1);
    h ^= h >> 33;
    h = h.wrapping_mul(M2);
    h ^ (h >> 33)
}

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.word(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        // The length goes into the last word, so "a" and "a\0" differ.
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        self.word(u64::from_le_bytes(word) ^ ((bytes.len() as u64) << 56));
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.word(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.word(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.word(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.word(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        fmix(self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec::Vec;

    #[test]
    fn distinct_short_keys_rarely_share_a_bucket_or_a_tag() {
        let h = KeyHash::default();
        let hashes: Vec<u64> = (0..4096)
            .map(|i| h.hash_one(format!("host{i}.example.com")))
            .collect();
        // Low 12 bits (a 4096-bucket table) and the top 7 bits (the tag).
        let mut buckets = [0u32; 4096];
        let mut tags = [0u32; 128];
        for &x in &hashes {
            buckets[(x & 4095) as usize] += 1;
            tags[(x >> 57) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&c| c <= 10),
            "{:?}",
            buckets.iter().max()
        );
        assert!(tags.iter().all(|&c| (8..=60).contains(&c)), "{tags:?}");
        let mut sorted = hashes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), hashes.len());
    }

    #[test]
    fn tables_are_seeded_differently_and_hash_consistently() {
        let (a, b) = (KeyHash::default(), KeyHash::default());
        assert_ne!(a.hash_one("k"), b.hash_one("k"));
        assert_eq!(a.hash_one("k"), a.clone().hash_one("k"));
        assert_ne!(a.hash_one("a"), a.hash_one("a\0"));
        assert_ne!(a.hash_one(""), a.hash_one("\0"));
    }
}

//! Stable hashing for sticky routing. The hash must be the same on every
//! replica and every build, so it is spelled out here (FNV-1a with a
//! SplitMix64 finaliser) rather than taken from `std`'s unstable hasher.

/// A hashed sticky header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StickyKey(u64);

/// Hashes a header value.
pub fn sticky_key(value: &str) -> StickyKey {
    StickyKey(mix(fnv1a(value.as_bytes(), FNV_OFFSET)))
}

impl StickyKey {
    /// Weighted rendezvous score of this key for `target`: `-w / ln(u)` with
    /// `u` uniform in (0, 1) from the pair's hash; the highest score wins,
    /// which picks each target with probability proportional to its weight.
    pub fn score(self, target: &str, weight: u32) -> f64 {
        let pair = mix(fnv1a(target.as_bytes(), self.0 ^ FNV_OFFSET));
        // 53 random bits, shifted off zero so the logarithm is finite and negative.
        let uniform = ((pair >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        -f64::from(weight) / uniform.ln()
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    bytes
        .iter()
        .fold(seed, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// SplitMix64's finaliser: spreads FNV's weak low bits over the whole word.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_scores_are_fixed_across_builds() {
        // Pinned values (computed independently of this code): a change here
        // would re-shuffle every sticky user on every replica.
        assert_eq!(sticky_key("alice").0, 0xc5d1_556d_6677_4a5c);
        assert_eq!(sticky_key("bob").0, 0x6e85_72d0_8b26_8dec);
        assert_eq!(sticky_key("").0, 0xf52a_15e9_a9b5_e89b);
        let score = sticky_key("alice").score("m/1", 10);
        assert!((score - 40.293_434_405_327_95).abs() < 1e-9, "{score}");
    }

    #[test]
    fn scores_are_finite_and_weighted() {
        let key = sticky_key("x");
        let score = key.score("m/1", 10);
        assert!(score.is_finite() && score > 0.0);
        assert_eq!(key.score("m/1", 0), 0.0);
        assert!((key.score("m/1", 20) - 2.0 * score).abs() < 1e-9);
    }
}

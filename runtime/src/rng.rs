//! The one portable random generator of a `gd` run (LANGUAGE.md §4 and §8): the same seed
//! gives the same numbers on every machine, and its whole state fits in a checkpoint.
//!
//! - Bits: **xoshiro256++** (D. Blackman and S. Vigna, "Scrambled linear pseudorandom number
//!   generators", ACM TOMS 2021; reference code <https://prng.di.unimi.it/xoshiro256plusplus.c>).
//!   Small (4 words of state), fast, passes BigCrush, and has a `jump` for independent streams.
//! - Seeding: the 4 state words are the first 4 outputs of **SplitMix64**
//!   (<https://prng.di.unimi.it/splitmix64.c>) started at the seed, as the xoshiro authors
//!   recommend. This equals `rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64`.
//! - `uniform_f64`: the top 53 bits of `next_u64` times 2⁻⁵³, so every value in [0, 1) is
//!   a multiple of 2⁻⁵³ and the conversion is exact.
//! - `normal_f64`: **Marsaglia's polar method** (Marsaglia and Bray 1964). It draws pairs
//!   `u, v` uniform in (-1, 1) until `0 < s = u² + v² < 1`, then returns `u·√(-2 ln s / s)`
//!   and keeps `v·√(-2 ln s / s)` as the spare for the next call. Deterministic: the same state
//!   gives the same draws. `ln` is `libm::log` (a pure-Rust port of musl's), not the system's,
//!   because platform math libraries may differ in the last bit; `sqrt` is IEEE-exact
//!   everywhere, and nothing is fused into an FMA behind our back (Rust never contracts).
//! - `below(n)`: Lemire's multiply-and-reject method ("Fast random integer generation in an
//!   interval", ACM TOMACS 2019), unbiased. `shuffle` is Fisher–Yates from the last index down.
//!
//! [`Rng::state`] is `[s0, s1, s2, s3, has_spare, spare_bits]`: the spare normal belongs to
//! the state, or a resumed run would differ from an uninterrupted one.

/// SplitMix64 (Steele, Lea and Flood 2014), used to seed [`Rng`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Words in a saved [`Rng`] state.
pub const STATE_WORDS: usize = 6;

/// xoshiro256++ with a spare normal draw (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Rng {
    s: [u64; 4],
    spare: Option<f64>,
}

impl Rng {
    pub fn seed_from_u64(seed: u64) -> Self {
        let mut sm = SplitMix64(seed);
        // SplitMix64 is a bijection of its counter, so four outputs are never all zero (the
        // one state xoshiro must not be in).
        Rng {
            s: std::array::from_fn(|_| sm.next_u64()),
            spare: None,
        }
    }

    /// Starts from raw xoshiro256++ words, as the reference code does (for testing against
    /// its published outputs). `None` for the all-zero state, which is a fixed point.
    pub fn from_words(s: [u64; 4]) -> Option<Self> {
        (s != [0; 4]).then_some(Rng { s, spare: None })
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1), a multiple of 2⁻⁵³.
    pub fn uniform_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `lo + (hi - lo) · u` with `u` from [`uniform_f64`](Self::uniform_f64): in [lo, hi),
    /// except that rounding can give exactly `hi`.
    pub fn uniform_range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform_f64()
    }

    /// A standard normal draw (Marsaglia's polar method; see the module docs).
    pub fn normal_f64(&mut self) -> f64 {
        if let Some(spare) = self.spare.take() {
            return spare;
        }
        loop {
            let u = 2.0 * self.uniform_f64() - 1.0;
            let v = 2.0 * self.uniform_f64() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let factor = (-2.0 * libm::log(s) / s).sqrt();
                self.spare = Some(v * factor);
                return u * factor;
            }
        }
    }

    /// Uniform in `0..n` without bias (Lemire's method). `n` must be positive.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        let threshold = n.wrapping_neg() % n; // 2⁶⁴ mod n: low products under it are rejected
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Fisher–Yates: for i from len-1 down to 1, swap i with `below(i + 1)`.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// Advances by 2¹²⁸ draws (the reference `jump`): gives non-overlapping streams, e.g. one
    /// per thread, each a deterministic function of the seed. Drops a pending spare normal.
    pub fn jump(&mut self) {
        const JUMP: [u64; 4] = [
            0x180e_c6d3_3cfd_0aba,
            0xd5a6_1266_f0c9_392c,
            0xa958_2618_e03f_c9aa,
            0x39ab_dc45_29b1_661c,
        ];
        let mut acc = [0u64; 4];
        for word in JUMP {
            for bit in 0..64 {
                if word & (1 << bit) != 0 {
                    for (a, s) in acc.iter_mut().zip(self.s) {
                        *a ^= s;
                    }
                }
                self.next_u64();
            }
        }
        self.s = acc;
        self.spare = None;
    }

    /// The whole state, for checkpoints: `[s0, s1, s2, s3, has_spare, spare_bits]`.
    pub fn state(&self) -> [u64; STATE_WORDS] {
        let [a, b, c, d] = self.s;
        [
            a,
            b,
            c,
            d,
            u64::from(self.spare.is_some()),
            self.spare.map_or(0, f64::to_bits),
        ]
    }

    /// Restores a saved state; `None` if it cannot have come from [`state`](Self::state)
    /// (a corrupt checkpoint).
    pub fn from_state(state: [u64; STATE_WORDS]) -> Option<Self> {
        let mut rng = Rng::from_words([state[0], state[1], state[2], state[3]])?;
        rng.spare = match (state[4], state[5]) {
            (0, 0) => None,
            (1, bits) => Some(f64::from_bits(bits)),
            _ => return None,
        };
        Some(rng)
    }
}

//! The tests' one source of randomness.

/// A small seeded PRNG (xorshift64*) for random delays in tests: they
/// differ from run to run, and a failing run is repeated with the MN_SEED
/// it printed. No crate needed.
pub struct Rng(u64);

impl Rng {
    pub fn for_test(test: &str) -> Rng {
        let seed = std::env::var("MN_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        eprintln!("{test}: MN_SEED={seed}");
        Rng(seed | 1)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

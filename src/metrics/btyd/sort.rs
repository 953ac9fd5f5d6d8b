//! Radix sorting, run-length counting and a fast exact `Decimal` to `f64`
//! conversion for the collapses of a
//! [`Summary`](super::summary::Summary) into distinct rows with weights.
//!
//! A summary's frequencies, recencies and ages are small whole numbers
//! and its monetary values positive `f64`s, whose bit patterns sort like
//! the numbers; a least-significant-digit radix sort of such keys, followed
//! by counting equal neighbours, replaces a hash map with a random access
//! per customer (the collapse of a million customers was dominated by
//! those cache misses).

/// Bits per radix digit at most (2,048 buckets: the counts stay in L1).
const MAX_DIGIT_BITS: u32 = 11;

/// Stable least-significant-digit radix sort of `v` by the low `bits` bits
/// of `key(e)` (higher bits are ignored). A digit in which every key
/// agrees is skipped.
pub(crate) fn radix_sort_by<T: Copy>(v: &mut Vec<T>, bits: u32, key: impl Fn(&T) -> u64) {
    if v.len() < 2 || bits == 0 {
        return;
    }
    let bits = bits.min(u64::BITS);
    let passes = bits.div_ceil(MAX_DIGIT_BITS);
    let digit = bits.div_ceil(passes);
    let mask = (1u64 << digit) - 1;
    let mut counts = vec![0usize; 1 << digit];
    let mut buf: Vec<T> = v.clone();
    for pass in 0..passes {
        let shift = pass * digit;
        counts.iter_mut().for_each(|c| *c = 0);
        let bucket = |e: &T| ((key(e) >> shift) & mask) as usize;
        for e in v.iter() {
            if let Some(c) = counts.get_mut(bucket(e)) {
                *c += 1;
            }
        }
        if counts.contains(&v.len()) {
            continue;
        }
        let mut start = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = start;
            start += n;
        }
        for e in v.iter() {
            if let Some(c) = counts.get_mut(bucket(e)) {
                if let Some(slot) = buf.get_mut(*c) {
                    *slot = *e;
                }
                *c += 1;
            }
        }
        std::mem::swap(v, &mut buf);
    }
}

/// Equal neighbours of a sorted slice as `(value, count)`, in order.
pub(crate) fn run_lengths<T: Copy + PartialEq>(v: &[T]) -> Vec<(T, usize)> {
    let mut out: Vec<(T, usize)> = Vec::new();
    for &e in v {
        match out.last_mut() {
            Some((last, n)) if *last == e => *n += 1,
            _ => out.push((e, 1)),
        }
    }
    out
}

/// Number of bits needed to hold `v`.
pub(crate) fn bit_width(v: u64) -> u32 {
    u64::BITS - v.leading_zeros()
}

/// `10^s` for the scales of a `Decimal` (0 to 28).
const POW10: [u128; 29] = {
    let mut t = [1u128; 29];
    let mut i = 1;
    while i < 29 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// `10^-s`, approximately (for the quotient's estimate only).
const POW10_RECIPROCAL: [f64; 29] = {
    let mut t = [1.0f64; 29];
    let mut i = 1;
    while i < 29 {
        t[i] = t[i - 1] / 10.0;
        i += 1;
    }
    t
};

/// `v as f64` (round to nearest, ties to even) with hardware conversions
/// of 64-bit integers instead of the software 128-bit one: the top 64
/// significant bits with a sticky bit for the rest round like all of `v`
/// (the sticky bit lies below the rounding position), then an exact
/// scaling by a power of two.
fn u128_to_f64(v: u128) -> f64 {
    let high = (v >> 64) as u64;
    if high == 0 {
        return v as u64 as f64;
    }
    let shift = u64::BITS - high.leading_zeros();
    let top = (v >> shift) as u64;
    let sticky = u64::from(v & ((1u128 << shift) - 1) != 0);
    // 2^shift, shift <= 64: an exact power of two.
    let scale = f64::from_bits((1023 + u64::from(shift)) << 52);
    ((top | sticky) as f64) * scale
}

/// `Decimal::to_f64` of `rust_decimal` 1.x, bit for bit, without its two
/// 128-bit divisions (a third of the Gamma-Gamma collapse of a million
/// customers): the integral part `q = ⌊M / 10^s⌋` of the mantissa `M` is
/// estimated in `f64` and corrected to the exact quotient with 128-bit
/// multiplications, then the library's own floating-point steps follow.
/// Values it does not cover (scale 0, negative, integral part above
/// 2^52) go to the library. A property test checks the equality.
pub(crate) fn decimal_to_f64(d: &rust_decimal::Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    let library = || d.to_f64().unwrap_or(f64::NAN);
    let scale = d.scale();
    let Some(&precision) = POW10.get(scale as usize) else {
        return library();
    };
    if scale == 0 || d.is_sign_negative() {
        return library();
    }
    let mantissa = d.mantissa().unsigned_abs();
    let precision_f64 = u128_to_f64(precision);
    // Any close estimate will do: the loops below make it exact.
    let approx =
        ((mantissa >> 64) as u64 as f64) * 18_446_744_073_709_551_616.0 + (mantissa as u64 as f64);
    let estimate = approx * POW10_RECIPROCAL.get(scale as usize).copied().unwrap_or(0.0);
    if !(0.0..4.5e15).contains(&estimate) {
        return library();
    }
    // The cast truncates, which is `floor` here (no libm call).
    let mut q = estimate as u128;
    let Some(mut qp) = q.checked_mul(precision) else {
        return library();
    };
    while qp > mantissa {
        q -= 1;
        qp -= precision;
    }
    while mantissa - qp >= precision {
        q += 1;
        qp += precision;
    }
    // As `rust_decimal::Decimal::as_f64` from here on.
    let frac = u128_to_f64(mantissa - qp) / precision_f64;
    let integral = u128_to_f64(q);
    if frac == 0.0 {
        return integral;
    }
    let value = integral + frac;
    // `10f64.powi(scale)`: exact, and so equal to the table, up to 10^22.
    let round_to = POW10_F64
        .get(scale as usize)
        .copied()
        .unwrap_or_else(|| 10f64.powi(scale as i32));
    round_half_away(value * round_to) / round_to
}

/// `10^s` as `f64` for `s <= 22`, where it is exact.
const POW10_F64: [f64; 23] = {
    let mut t = [1.0f64; 23];
    let mut i = 1;
    while i < 23 {
        t[i] = t[i - 1] * 10.0;
        i += 1;
    }
    t
};

/// `v.round()` (half away from zero) for `v >= 0`, inline: below 2^52 the
/// cast truncates exactly and `v - t` is exact; from 2^52 on (and for
/// anything else) every `f64` is whole, which `round` leaves as it is.
#[inline]
fn round_half_away(v: f64) -> f64 {
    if !(0.0..4_503_599_627_370_496.0).contains(&v) {
        return v.round();
    }
    let t = v as u64 as f64;
    if v - t >= 0.5 { t + 1.0 } else { t }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The radix sort is a stable sort by the key's low bits.
        #[test]
        fn radix_sort_is_a_stable_sort(
            v in proptest::collection::vec((0u64..5000, 0u32..1000), 0..500),
            bits in 1u32..14,
        ) {
            let mut got: Vec<(u64, u32)> = v.iter().copied().enumerate().map(|(i, (k, _))| (k, i as u32)).collect();
            let mut want = got.clone();
            let mask = (1u64 << bits) - 1;
            want.sort_by_key(|e| e.0 & mask);
            radix_sort_by(&mut got, bits, |e| e.0);
            prop_assert_eq!(got, want);
        }

        /// Sorting f64 bits of positive numbers sorts the numbers.
        #[test]
        fn positive_f64_bits_sort_like_the_numbers(v in proptest::collection::vec(1e-300f64..1e300, 0..300)) {
            let mut got: Vec<u64> = v.iter().map(|m| m.to_bits()).collect();
            radix_sort_by(&mut got, 63, |&k| k);
            let mut want = v.clone();
            want.sort_by(f64::total_cmp);
            prop_assert_eq!(got, want.iter().map(|m| m.to_bits()).collect::<Vec<_>>());
        }
    }

    proptest! {
        /// The fast conversion equals the library's bit for bit, on any
        /// positive mantissa and scale, and on means of cent amounts (the
        /// summary's monetary values).
        #[test]
        fn decimal_conversion_equals_the_library(
            lo in proptest::num::u64::ANY,
            hi in 0u32..=u32::MAX,
            scale in 0u32..=28,
            cents in 1i64..10_000_000,
            count in 1i64..400,
        ) {
            use rust_decimal::Decimal;
            use rust_decimal::prelude::ToPrimitive;
            let m = (u128::from(hi) << 64) | u128::from(lo);
            let d = Decimal::from_i128_with_scale(m as i128, scale);
            prop_assert_eq!(decimal_to_f64(&d).to_bits(), d.to_f64().unwrap().to_bits(), "{}", d);
            let small = Decimal::from_i128_with_scale(i128::from(lo % 1_000_000_000), scale);
            prop_assert_eq!(decimal_to_f64(&small).to_bits(), small.to_f64().unwrap().to_bits(), "{}", small);
            let mean = Decimal::new(cents, 2) / Decimal::from(count);
            prop_assert_eq!(decimal_to_f64(&mean).to_bits(), mean.to_f64().unwrap().to_bits(), "{}", mean);
        }
    }

    proptest! {
        /// The inline rounding equals `f64::round` on non-negative values,
        /// including exact halves and values next to them.
        #[test]
        fn inline_round_equals_round(bits in 0u64..0x7ff0_0000_0000_0000, whole in 0u64..1 << 53) {
            let v = f64::from_bits(bits);
            prop_assert_eq!(round_half_away(v).to_bits(), v.round().to_bits(), "{}", v);
            let half = whole as f64 + 0.5;
            for w in [half, f64::from_bits(half.to_bits() - 1), f64::from_bits(half.to_bits() + 1)] {
                prop_assert_eq!(round_half_away(w).to_bits(), w.round().to_bits(), "{}", w);
            }
        }
    }

    #[test]
    fn power_table_equals_powi() {
        for (s, p) in POW10_F64.iter().enumerate() {
            assert_eq!(p.to_bits(), 10f64.powi(s as i32).to_bits(), "{s}");
        }
    }

    proptest! {
        /// The 128-bit conversion rounds like `as f64`.
        #[test]
        fn u128_conversion_rounds_like_the_cast(
            hi in proptest::num::u64::ANY,
            lo in proptest::num::u64::ANY,
            shift in 0u32..128,
        ) {
            let v = ((u128::from(hi) << 64) | u128::from(lo)) >> shift;
            prop_assert_eq!(u128_to_f64(v).to_bits(), (v as f64).to_bits(), "{}", v);
            // ties: exactly half-way patterns
            let tie = (v | 1) << 10 >> 10;
            prop_assert_eq!(u128_to_f64(tie).to_bits(), (tie as f64).to_bits(), "{}", tie);
        }
    }

    #[test]
    fn runs_by_hand() {
        assert_eq!(
            run_lengths(&[1, 1, 2, 3, 3, 3]),
            vec![(1, 2), (2, 1), (3, 3)]
        );
        assert!(run_lengths::<u8>(&[]).is_empty());
        assert_eq!((bit_width(0), bit_width(1), bit_width(546)), (0, 1, 10));
    }
}

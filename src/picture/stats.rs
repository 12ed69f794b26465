//! The distributions the picture's methods rest on: the regularised incomplete gamma
//! function, and from it the chi-squared distribution (its tail and its quantiles) and the
//! normal tail. Pure functions, accurate to well under a part in 10⁹ over the range the
//! picture uses (counts up to millions, statistics up to hundreds).

/// The standard normal quantiles of the two levels the public health profiles use: the
/// 97.5th and 99.9th percentiles (two-sided 95% and 99.8% intervals), to the precision
/// of a double, not the rounded 1.96 and 3.09.
pub const Z_95: f64 = 1.959_963_984_540_054;
pub const Z_99_8: f64 = 3.090_232_306_167_813_5;

/// Whether `x` is a number greater than zero (false for NaN).
pub fn positive(x: f64) -> bool {
    x > 0.0
}

/// ln Γ(x) for x > 0 (Lanczos' approximation, g = 7, nine coefficients; relative error
/// below 10⁻¹⁴), with the reflection formula below one half.
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The regularised lower incomplete gamma function P(a, x) = γ(a, x) / Γ(a), for a > 0
/// and x ≥ 0: its power series below a + 1, and one minus the upper function's continued
/// fraction (modified Lentz) above.
pub fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        0.0
    } else if x < a + 1.0 {
        gamma_series(a, x)
    } else {
        1.0 - gamma_continued_fraction(a, x)
    }
}

/// The regularised upper incomplete gamma function Q(a, x) = 1 - P(a, x), computed
/// directly in the tail so that small probabilities keep their precision.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        1.0
    } else if x < a + 1.0 {
        1.0 - gamma_series(a, x)
    } else {
        gamma_continued_fraction(a, x)
    }
}

const EPSILON: f64 = 1e-16;
const MAX_TERMS: usize = 10_000;

fn gamma_series(a: f64, x: f64) -> f64 {
    let mut term = 1.0 / a;
    let mut sum = term;
    let mut n = a;
    for _ in 0..MAX_TERMS {
        n += 1.0;
        term *= x / n;
        sum += term;
        if term.abs() < sum.abs() * EPSILON {
            break;
        }
    }
    sum * (-x + a * x.ln() - ln_gamma(a)).exp()
}

fn gamma_continued_fraction(a: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..MAX_TERMS {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < EPSILON {
            break;
        }
    }
    (-x + a * x.ln() - ln_gamma(a)).exp() * h
}

/// P(X > x) for X chi-squared with `df` degrees of freedom.
pub fn chi_squared_upper_tail(x: f64, df: f64) -> f64 {
    gamma_q(df / 2.0, x / 2.0)
}

/// The `p` quantile of the chi-squared distribution with `df` degrees of freedom: the x
/// with P(X ≤ x) = p, found by bisection on the distribution function (to a relative
/// 10⁻¹³; the function is monotone, so bisection cannot fail).
pub fn chi_squared_quantile(p: f64, df: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    let cdf = |x: f64| gamma_p(df / 2.0, x / 2.0);
    let mut high = df.max(1.0);
    while cdf(high) < p {
        high *= 2.0;
    }
    let mut low = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (low + high);
        if cdf(mid) < p {
            low = mid;
        } else {
            high = mid;
        }
        if high - low <= 1e-13 * high {
            break;
        }
    }
    0.5 * (low + high)
}

/// The two-sided p-value of a standard normal statistic: P(|Z| > |z|) = erfc(|z| / √2),
/// which is Q(1/2, z²/2).
pub fn normal_two_sided_p(z: f64) -> f64 {
    gamma_q(0.5, z * z / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance * b.abs().max(1e-300)
    }

    // Reference values from the closed forms: Γ(5) = 24, Γ(1/2) = √π.
    #[test]
    fn log_gamma_matches_factorials_and_root_pi() {
        assert!(close(ln_gamma(5.0), 24f64.ln(), 1e-13));
        assert!(close(ln_gamma(0.5), std::f64::consts::PI.sqrt().ln(), 1e-13));
        assert!(close(ln_gamma(101.0), (1..=100).map(|k| (k as f64).ln()).sum::<f64>(), 1e-13));
    }

    // For two degrees of freedom the chi-squared tail is e^(-x/2); with one, the normal's.
    #[test]
    fn chi_squared_tails_match_their_closed_forms() {
        for x in [0.1, 1.0, 5.0, 20.0, 60.0] {
            assert!(close(chi_squared_upper_tail(x, 2.0), (-x / 2.0).exp(), 1e-12), "{x}");
        }
        // P(|Z| > 1.959964) = 0.05, P(|Z| > 3.090232) = 0.002.
        assert!(close(normal_two_sided_p(Z_95), 0.05, 1e-12));
        assert!(close(normal_two_sided_p(Z_99_8), 0.002, 1e-12));
        assert!(close(chi_squared_upper_tail(Z_95 * Z_95, 1.0), 0.05, 1e-12));
    }

    // Quantiles published in chi-squared tables (to the digits given there), and the
    // inverse of the closed form for two degrees of freedom.
    #[test]
    fn chi_squared_quantiles_invert_the_distribution() {
        assert!(close(chi_squared_quantile(0.95, 1.0), 3.841_458_820_694_124, 1e-11));
        assert!(close(chi_squared_quantile(0.975, 10.0), 20.483_177_350_807_39, 1e-11));
        assert!(close(chi_squared_quantile(0.025, 10.0), 3.246_972_780_236_841, 1e-11));
        assert!(close(chi_squared_quantile(0.3, 2.0), -2.0 * 0.7f64.ln(), 1e-12));
        assert_eq!(chi_squared_quantile(0.0, 4.0), 0.0);
    }
}

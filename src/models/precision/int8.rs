//! Linear layers computed in 8-bit integers, for models stored in 8 bits
//! ([`super::Precision::Int8`]) when they tag on the CPU.
//!
//! burn's CPU backend dequantizes 8-bit weights and multiplies in f32, so an 8-bit model was
//! smaller but no faster. Here each weight matrix is quantized once, at load, with one scale per
//! output; each input row is quantized just before the product with a scale of its own; and the
//! products are summed in 32-bit integers. In the browser that is simd128's `i32x4.dot_i16x8_s`:
//! eight multiply-adds in one instruction, where f32 needs two instructions for four (wasm has
//! no fused multiply-add); the values are held widened to 16 bits, the width it reads. The
//! module built with the `relaxed-simd` feature (for browsers that have relaxed SIMD) uses
//! `i32x4.relaxed_dot_i8x16_i7x16_add_s` instead: sixteen multiply-adds, on values held in 8
//! bits. That instruction reads its second operand in 7 bits, so weights take the levels
//! -63..=63 in every build (each build computes the same integers, so the page, Node.js and the
//! command line find the same entities) and inputs -127..=127: every product and every sum of
//! two fits in 16 bits.
//!
//! Rounding the activations to 8 bits costs some precision: the tests bound the difference to
//! the f32 product, and models/README.md gives the dev scores computed this way.

use std::fmt;
use std::ops::Range;

/// Values per step of the widest kernel (AVX2's 16 i16s, relaxed SIMD's 16 i8s); rows are
/// padded with zeros to a multiple of it.
const LANES: usize = 16;
/// The largest weight level: 7 bits, what relaxed SIMD's dot product reads (see above).
const WEIGHT_LEVELS: f32 = 63.0;
/// The largest input level.
const INPUT_LEVELS: f32 = 127.0;

/// How the kernels hold a value: in 8 bits for relaxed SIMD's dot product, which also needs
/// its 7-bit operand non-negative, so there each weight is stored plus [`WEIGHT_OFFSET`] and
/// the sums are corrected by `WEIGHT_OFFSET` × the sum of the row's inputs; elsewhere widened
/// to 16 bits, as `i32x4.dot_i16x8_s` and AVX2's `vpmaddwd` read them.
#[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
type Lane = i8;
#[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
const WEIGHT_OFFSET: i32 = 64;
#[cfg(not(all(target_arch = "wasm32", feature = "relaxed-simd")))]
type Lane = i16;
#[cfg(not(all(target_arch = "wasm32", feature = "relaxed-simd")))]
const WEIGHT_OFFSET: i32 = 0;
/// Rows and outputs computed together: each loaded input row meets `OUTPUTS` weight rows and
/// each loaded weight row `ROWS` input rows. 12 accumulators and 4 weight rows fit x64's 16
/// SIMD registers; in Node.js 3 × 4 ran at 16–20 G multiply-adds/s on the encoder's sizes,
/// 4 × 2 at 11–16 and 4 × 4 (which spills) at 8–19.
const ROWS: usize = 3;
const OUTPUTS: usize = 4;
/// Rows and outputs per tile, so that a tile of inputs and one of weights stay in the cache
/// while every pair in them is computed (64 × 1,536 inputs × 2 bytes = 192 KiB each). Natively
/// the row tiles run on rayon's threads.
const TILE: usize = 64;

/// A linear layer `y = x W + b` with `W` quantized to 8 bits, one scale per output.
pub(crate) struct Int8Linear {
    inputs: usize,
    /// `inputs` rounded up to a multiple of [`LANES`].
    stride: usize,
    /// One row of `stride` levels (plus [`WEIGHT_OFFSET`]) per output (`W` transposed), zero
    /// past `inputs`.
    weights: Vec<Lane>,
    scales: Vec<f32>,
    bias: Vec<f32>,
}

impl fmt::Debug for Int8Linear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Int8Linear({} → {})", self.inputs, self.scales.len())
    }
}

impl Int8Linear {
    /// `weight` is `[inputs, outputs]`, row-major (burn's `Linear` layout); `bias` has
    /// `outputs` values.
    pub fn new(weight: &[f32], bias: Option<&[f32]>, inputs: usize) -> Self {
        assert!(inputs > 0 && weight.len().is_multiple_of(inputs));
        let outputs = weight.len() / inputs;
        let stride = inputs.next_multiple_of(LANES);
        let mut weights = vec![0 as Lane; outputs * stride];
        // Transposed column by column in bands of input rows, so that the rows read stay in
        // the cache.
        let mut largest = vec![0f32; outputs];
        for row in weight.chunks_exact(outputs) {
            for (m, &w) in largest.iter_mut().zip(row) {
                *m = larger(*m, w.abs());
            }
        }
        let scales: Vec<f32> = largest
            .into_iter()
            .map(|m| scale_of([m].into_iter(), WEIGHT_LEVELS))
            .collect();
        const BAND: usize = 32;
        for band in (0..inputs).step_by(BAND) {
            let band_rows = &weight[band * outputs..(band + BAND).min(inputs) * outputs];
            for (output, (row, scale)) in weights.chunks_exact_mut(stride).zip(&scales).enumerate()
            {
                let column = band_rows.iter().skip(output).step_by(outputs);
                for (q, &w) in row[band..].iter_mut().zip(column) {
                    *q = lane(nearest(w / scale).clamp(-63, 63), WEIGHT_OFFSET);
                }
            }
        }
        let bias = bias.map_or_else(|| vec![0.0; outputs], <[f32]>::to_vec);
        assert_eq!(bias.len(), outputs);
        Self {
            inputs,
            stride,
            weights,
            scales,
            bias,
        }
    }

    pub fn outputs(&self) -> usize {
        self.scales.len()
    }

    /// `input` holds rows of `inputs` values; the result, rows of [`Self::outputs`].
    pub fn forward(&self, input: &[f32]) -> Vec<f32> {
        assert!(input.len().is_multiple_of(self.inputs));
        let rows = input.len() / self.inputs;
        let mut quantized = vec![0 as Lane; rows * self.stride];
        let mut row_scales = vec![1f32; rows];
        // What the weights' offset adds to each row's sums.
        let mut row_offsets = vec![0i32; rows];
        for (((x, q), scale), offset) in input
            .chunks_exact(self.inputs)
            .zip(quantized.chunks_exact_mut(self.stride))
            .zip(&mut row_scales)
            .zip(&mut row_offsets)
        {
            *scale = scale_of(x.iter().copied(), INPUT_LEVELS);
            let inverse = 1.0 / *scale;
            let mut sum = 0i32;
            for (q, &x) in q.iter_mut().zip(x) {
                let level = nearest(x * inverse);
                sum += i32::from(level);
                *q = lane(level, 0);
            }
            *offset = WEIGHT_OFFSET * sum;
        }
        let outputs = self.outputs();
        let mut output = vec![0f32; rows * outputs];
        for_each_tile(&mut output, TILE * outputs, |tile, output| {
            let first = tile * TILE;
            let last = (first + TILE).min(rows);
            self.row_tile(
                &quantized[first * self.stride..last * self.stride],
                &row_scales[first..last],
                &row_offsets[first..last],
                output,
            );
        });
        output
    }

    /// The outputs of up to [`TILE`] rows of quantized inputs.
    fn row_tile(
        &self,
        quantized: &[Lane],
        row_scales: &[f32],
        row_offsets: &[i32],
        output: &mut [f32],
    ) {
        let rows = row_scales.len();
        let outputs = self.outputs();
        let row_of = |r: usize| &quantized[r * self.stride..(r + 1) * self.stride];
        let mut store = |r: usize, o: usize, sum: i32| {
            let sum = sum - row_offsets[r];
            output[r * outputs + o] = sum as f32 * (row_scales[r] * self.scales[o]) + self.bias[o];
        };
        for output_tile in (0..outputs).step_by(TILE) {
            let tile = output_tile..(output_tile + TILE).min(outputs);
            let mut r = 0;
            while r + ROWS <= rows {
                let block: [&[Lane]; ROWS] = std::array::from_fn(|i| row_of(r + i));
                self.rows_against(block, tile.clone(), |i, o, sum| store(r + i, o, sum));
                r += ROWS;
            }
            for r in r..rows {
                self.rows_against([row_of(r)], tile.clone(), |_, o, sum| store(r, o, sum));
            }
        }
    }

    /// Hands `store(i, o, sum)` the dot product of `rows[i]` with the weights of each output
    /// `o` in `outputs`.
    fn rows_against<const R: usize>(
        &self,
        rows: [&[Lane]; R],
        outputs: Range<usize>,
        mut store: impl FnMut(usize, usize, i32),
    ) {
        let weights_of = |o: usize| &self.weights[o * self.stride..(o + 1) * self.stride];
        let mut o = outputs.start;
        while o + OUTPUTS <= outputs.end {
            let sums = dot_block::<R, OUTPUTS>(rows, std::array::from_fn(|j| weights_of(o + j)));
            for (i, sums) in sums.iter().enumerate() {
                for (j, &sum) in sums.iter().enumerate() {
                    store(i, o + j, sum);
                }
            }
            o += OUTPUTS;
        }
        for o in o..outputs.end {
            for (i, [sum]) in dot_block::<R, 1>(rows, [weights_of(o)])
                .into_iter()
                .enumerate()
            {
                store(i, o, sum);
            }
        }
    }
}

/// Calls `f(i, chunk)` for each `chunk_len` chunk of `output`: on rayon's threads natively,
/// in turn in the browser (one thread).
fn for_each_tile(output: &mut [f32], chunk_len: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        output
            .par_chunks_mut(chunk_len.max(1))
            .enumerate()
            .for_each(|(i, chunk)| f(i, chunk));
    }
    #[cfg(target_arch = "wasm32")]
    output
        .chunks_mut(chunk_len.max(1))
        .enumerate()
        .for_each(|(i, chunk)| f(i, chunk));
}

/// `level` as a kernel holds it, plus `offset`.
fn lane(level: i16, offset: i32) -> Lane {
    // Within -63..=63 (+64) for weights, -127..=127 for inputs: it fits.
    (i32::from(level) + offset) as Lane
}

/// `x` rounded to the nearest integer, ties to even, within ±127 (NaN gives 0): a value past
/// its row's scale can only come from an infinite input, and must not overflow the sums.
/// Adding and subtracting 1.5 × 2²³ leaves no fraction bits, so the float unit itself rounds:
/// without SSE4.1, which the baseline x86-64 target lacks, `round_ties_even` is a call into
/// libm per value (a third of a second more to load BERT).
fn nearest(x: f32) -> i16 {
    const SHIFT: f32 = 12_582_912.0;
    ((x + SHIFT) - SHIFT).clamp(-127.0, 127.0) as i16
}

/// `candidate` where it is larger than `so_far`, else `so_far` (so a NaN candidate is passed
/// over, as `f32::max` does). In wasm `f32::max` is a call into libm's `fmaxf` (the wasm
/// instruction differs from it on NaN), per value: a tenth of loading the 8-bit BERT in
/// the browser, and one call per input value of every product.
fn larger(so_far: f32, candidate: f32) -> f32 {
    if candidate > so_far {
        candidate
    } else {
        so_far
    }
}

/// The scale that maps the largest magnitude to `levels` (1 for all zeros).
fn scale_of(values: impl Iterator<Item = f32>, levels: f32) -> f32 {
    let largest = values.fold(0f32, |m, v| larger(m, v.abs()));
    if largest > 0.0 && largest.is_finite() {
        largest / levels
    } else {
        1.0
    }
}

/// The dot product of each of `rows` with each of `weights`, all of one length, a multiple
/// of [`LANES`]: relaxed SIMD's or simd128's in the browser, AVX2's `vpmaddwd` on x86-64
/// processors that have it, otherwise portable code.
fn dot_block<const R: usize, const C: usize>(
    rows: [&[Lane]; R],
    weights: [&[Lane]; C],
) -> [[i32; C]; R] {
    #[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
    // SAFETY: the module built with `relaxed-simd` is loaded only where the browser validated
    // relaxed SIMD (js/worker.js); elsewhere it would not even compile.
    return unsafe { relaxed_simd::dot_block(rows, weights) };
    #[cfg(all(
        target_arch = "wasm32",
        target_feature = "simd128",
        not(feature = "relaxed-simd")
    ))]
    return simd128::dot_block(rows, weights);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2, checked just above.
        return unsafe { avx2::dot_block(rows, weights) };
    }
    #[allow(unreachable_code)]
    portable_dot_block(rows, weights)
}

fn portable_dot_block<const R: usize, const C: usize>(
    rows: [&[Lane]; R],
    weights: [&[Lane]; C],
) -> [[i32; C]; R] {
    rows.map(|row| {
        weights.map(|w| {
            row.iter()
                .zip(w)
                .map(|(&a, &b)| i32::from(a) * i32::from(b))
                .sum()
        })
    })
}

/// The loop both browser kernels share: 16 bytes of each row and weight vector at a time,
/// each pair into its four 32-bit sums by `multiply_add(sum, row, weights)`. Inlined into
/// each kernel, so that relaxed SIMD's instruction is emitted where that feature is enabled.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn wasm_dot_block<T, const R: usize, const C: usize>(
    rows: [&[T]; R],
    weights: [&[T]; C],
    multiply_add: impl Fn(
        core::arch::wasm32::v128,
        core::arch::wasm32::v128,
        core::arch::wasm32::v128,
    ) -> core::arch::wasm32::v128,
) -> [[i32; C]; R] {
    use core::arch::wasm32::{i32x4_extract_lane, i32x4_splat, v128, v128_load};
    let step = size_of::<v128>() / size_of::<T>();
    let length = rows[0].len();
    assert!(rows.iter().chain(&weights).all(|v| v.len() == length));
    assert!(length.is_multiple_of(LANES) && LANES.is_multiple_of(step));
    let rows = rows.map(<[T]>::as_ptr);
    let weights = weights.map(<[T]>::as_ptr);
    let mut sums = [[i32x4_splat(0); C]; R];
    // Raw offsets rather than slice iterators: the iterators' checks on every row and step
    // cost as much as the arithmetic.
    for offset in (0..length).step_by(step) {
        // SAFETY: every slice holds `length` values, a multiple of LANES and so of `step`
        // (both asserted above), so each unaligned 16-byte load reads inside its slice.
        let load = |base: *const T| unsafe { v128_load(base.add(offset).cast::<v128>()) };
        let w: [v128; C] = weights.map(load);
        for (sums, &row) in sums.iter_mut().zip(&rows) {
            let x = load(row);
            for (sum, &w) in sums.iter_mut().zip(&w) {
                *sum = multiply_add(*sum, x, w);
            }
        }
    }
    sums.map(|sums| {
        sums.map(|s| {
            i32x4_extract_lane::<0>(s)
                + i32x4_extract_lane::<1>(s)
                + i32x4_extract_lane::<2>(s)
                + i32x4_extract_lane::<3>(s)
        })
    })
}

#[cfg(all(
    target_arch = "wasm32",
    target_feature = "simd128",
    not(feature = "relaxed-simd")
))]
mod simd128 {
    use core::arch::wasm32::{i32x4_add, i32x4_dot_i16x8};

    /// Eight 16-bit products a lane pair per instruction.
    pub(super) fn dot_block<const R: usize, const C: usize>(
        rows: [&[i16]; R],
        weights: [&[i16]; C],
    ) -> [[i32; C]; R] {
        super::wasm_dot_block(rows, weights, |sum, x, w| {
            i32x4_add(sum, i32x4_dot_i16x8(x, w))
        })
    }
}

#[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
mod relaxed_simd {
    use core::arch::wasm32::i32x4_relaxed_dot_i8x16_i7x16_add;

    /// `weights` hold levels plus 64: 7 unsigned bits, which `relaxed_dot_i8x16_i7x16_add`
    /// multiplies exactly on every implementation (the caller takes the offset back out).
    ///
    /// # Safety
    /// The browser must have relaxed SIMD.
    #[target_feature(enable = "relaxed-simd")]
    pub(super) unsafe fn dot_block<const R: usize, const C: usize>(
        rows: [&[i8]; R],
        weights: [&[i8]; C],
    ) -> [[i32; C]; R] {
        super::wasm_dot_block(rows, weights, |sum, x, w| {
            i32x4_relaxed_dot_i8x16_i7x16_add(x, w, sum)
        })
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::LANES;
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi32, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_setzero_si256,
        _mm256_storeu_si256,
    };

    /// # Safety
    /// The processor must have AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn dot_block<const R: usize, const C: usize>(
        rows: [&[i16]; R],
        weights: [&[i16]; C],
    ) -> [[i32; C]; R] {
        let length = rows[0].len();
        assert!(rows.iter().chain(&weights).all(|v| v.len() == length));
        assert!(length.is_multiple_of(LANES));
        let rows = rows.map(<[i16]>::as_ptr);
        let weights = weights.map(<[i16]>::as_ptr);
        let mut sums = [[_mm256_setzero_si256(); C]; R];
        for offset in (0..length).step_by(LANES) {
            // SAFETY: every slice holds `length` values (asserted above), a multiple of
            // LANES, so each unaligned 32-byte load reads inside its slice.
            let load = |base: *const i16| unsafe {
                _mm256_loadu_si256(base.add(offset).cast::<__m256i>())
            };
            let w: [__m256i; C] = weights.map(load);
            for (sums, &row) in sums.iter_mut().zip(&rows) {
                let x = load(row);
                for (sum, &w) in sums.iter_mut().zip(&w) {
                    *sum = _mm256_add_epi32(*sum, _mm256_madd_epi16(x, w));
                }
            }
        }
        sums.map(|sums| {
            sums.map(|s| {
                let mut lanes = [0i32; 8];
                // SAFETY: `lanes` is 32 bytes.
                unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast::<__m256i>(), s) };
                lanes.iter().sum()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic spread of values in about [-1, 1], with a few large ones.
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let v = (state % 2001) as f32 / 1000.0 - 1.0;
                if i % 97 == 0 {
                    v * 6.0
                } else {
                    v
                }
            })
            .collect()
    }

    fn f32_product(x: &[f32], w: &[f32], b: &[f32], inputs: usize) -> Vec<f32> {
        let outputs = b.len();
        x.chunks_exact(inputs)
            .flat_map(|row| {
                (0..outputs).map(move |o| {
                    row.iter()
                        .enumerate()
                        .map(|(i, &v)| v * w[i * outputs + o])
                        .sum::<f32>()
                        + b[o]
                })
            })
            .collect()
    }

    #[test]
    fn the_integer_product_is_within_rounding_of_the_f32_one() {
        // Sizes that leave remainders everywhere: rows past a tile and not a multiple of
        // ROWS, outputs past a tile and not a multiple of OUTPUTS, inputs not a multiple of
        // LANES.
        for (rows, inputs, outputs) in [(1, 3, 1), (7, 37, 5), (70, 384, 131), (5, 1536, 64)] {
            let x = values(rows * inputs, 1 + rows as u32);
            let w = values(inputs * outputs, 2 + inputs as u32);
            let b = values(outputs, 3);
            let linear = Int8Linear::new(&w, Some(&b), inputs);
            let got = linear.forward(&x);
            let want = f32_product(&x, &w, &b, inputs);
            assert_eq!(got.len(), rows * outputs);
            let largest = |v: &mut dyn Iterator<Item = f32>| v.fold(0f32, |m, v| m.max(v.abs()));
            for (r, x) in x.chunks_exact(inputs).enumerate() {
                let step_x = largest(&mut x.iter().copied()) / INPUT_LEVELS;
                for o in 0..outputs {
                    let column = || w.iter().skip(o).step_by(outputs);
                    let step_w = largest(&mut column().copied()) / WEIGHT_LEVELS;
                    // Each value is off by at most half its step: x w's error is at most
                    // Σ |x| Δw/2 + |w| Δx/2 + ΔxΔw/4 (and a little f32 rounding).
                    let bound: f32 = x
                        .iter()
                        .zip(column())
                        .map(|(x, w)| x.abs() * step_w / 2.0 + w.abs() * step_x / 2.0)
                        .sum::<f32>()
                        + inputs as f32 * step_x * step_w / 4.0;
                    let (got, want) = (got[r * outputs + o], want[r * outputs + o]);
                    assert!(
                        (got - want).abs() <= bound * 1.001 + 1e-5,
                        "{rows}×{inputs}×{outputs}, ({r}, {o}): {got} against {want}, bound {bound}"
                    );
                }
            }
            // Over all outputs the error is a small part of the signal: 2.4 % at most here,
            // where every 97th value is six times the others and so coarsens its row's and
            // column's steps (outputs of zero, or of another row, would give 1 or more).
            let norm = |v: &mut dyn Iterator<Item = f32>| v.map(|v| v * v).sum::<f32>().sqrt();
            let relative = norm(&mut got.iter().zip(&want).map(|(a, b)| a - b))
                / norm(&mut want.iter().copied());
            assert!(
                relative < 0.05,
                "{rows}×{inputs}×{outputs}: relative error {relative}"
            );
        }
    }

    #[test]
    fn the_simd_kernel_sums_as_the_portable_one() {
        // Extreme values too: the largest products and sums the kernel can meet, inputs at
        // ±127 and weights at ±63 (stored as the kernel holds them).
        let length = 3 * LANES;
        let levels = |seed: u32, largest: i16| -> Vec<i16> {
            values(length, seed)
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if i % 5 == 0 {
                        largest * v.signum() as i16
                    } else {
                        (v * f32::from(largest) / 6.0) as i16
                    }
                })
                .collect()
        };
        let rows: Vec<Vec<Lane>> = (0..ROWS as u32)
            .map(|seed| levels(seed, 127).into_iter().map(|l| lane(l, 0)).collect())
            .collect();
        let weights: Vec<Vec<Lane>> = (10..10 + OUTPUTS as u32)
            .map(|seed| {
                let levels = levels(seed, 63).into_iter();
                levels.map(|l| lane(l, WEIGHT_OFFSET)).collect()
            })
            .collect();
        let rows: [&[Lane]; ROWS] = std::array::from_fn(|i| rows[i].as_slice());
        let weights: [&[Lane]; OUTPUTS] = std::array::from_fn(|j| weights[j].as_slice());
        assert_eq!(dot_block(rows, weights), portable_dot_block(rows, weights));
        let inputs = [lane(127, 0); LANES];
        let weights = [lane(63, WEIGHT_OFFSET); LANES];
        let largest = 127 * (63 + WEIGHT_OFFSET) * LANES as i32;
        assert_eq!(dot_block([&inputs[..]], [&weights[..]]), [[largest]]);
    }

    #[test]
    fn rounding_is_to_the_nearest_ties_to_even() {
        for x in [
            -127.0f32, -2.5, -1.5, -0.5001, -0.5, 0.0, 0.4999, 0.5, 1.5, 2.5, 126.7, 127.0,
        ] {
            assert_eq!(nearest(x), x.round_ties_even() as i16, "{x}");
        }
        assert_eq!(nearest(127.6), 127);
        assert_eq!(nearest(-1e30), -127);
        assert_eq!(nearest(f32::NAN), 0);
    }

    #[test]
    fn infinite_and_missing_inputs_stay_in_their_rows() {
        let inputs = 20;
        let w = values(inputs * 6, 5);
        let linear = Int8Linear::new(&w, None, inputs);
        let mut x = values(inputs * 3, 6);
        x[3] = f32::INFINITY;
        x[inputs + 7] = f32::NAN;
        x[inputs + 8] = f32::NEG_INFINITY;
        let got = linear.forward(&x);
        assert!(got.iter().all(|v| v.is_finite()), "{got:?}");
        // The last row, all finite, is computed as if alone.
        assert_eq!(&got[12..], &linear.forward(&x[2 * inputs..])[..]);
    }

    #[test]
    fn values_on_the_integer_grid_come_back_exactly() {
        // Every column's largest weight is 63 and each row's largest input 127: all scales
        // are 1, so the integer sums are the f32 ones. An all-zero row gives the bias.
        let inputs = 19;
        let mut w: Vec<f32> = (0..inputs * 3).map(|i| (i % 11) as f32 - 5.0).collect();
        w[..3].fill(63.0);
        let b = [0.5, -1.0, 2.0];
        let linear = Int8Linear::new(&w, Some(&b), inputs);
        let mut x = vec![0f32; inputs * 2];
        x[inputs] = -127.0;
        x[inputs + 4] = 9.0;
        x[2 * inputs - 1] = 3.0;
        let got = linear.forward(&x);
        assert_eq!(&got[..3], &b);
        assert_eq!(&got[3..], &f32_product(&x[inputs..], &w, &b, inputs)[..]);
    }
}

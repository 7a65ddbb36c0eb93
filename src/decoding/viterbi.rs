//! Viterbi search on the host: the best tag path under emission and CRF scores.

use super::CrfScores;

/// The highest-scoring tag sequence for one sentence and its score.
///
/// `emissions` holds `len × scores.tags()` values, row-major (one row per token). Forbidden
/// starts, ends and transitions are never taken, so the path is always well formed.
pub fn viterbi(emissions: &[f32], len: usize, scores: &CrfScores) -> (Vec<usize>, f32) {
    let k = scores.tags();
    assert_eq!(emissions.len(), len * k, "emissions must be len × tags");
    if len == 0 {
        return (Vec::new(), 0.0);
    }
    let allowed = |score: f32| score > super::FORBIDDEN / 2.0;
    let mut best: Vec<f32> = (0..k)
        .map(|j| {
            if allowed(scores.start[j]) {
                scores.start[j] + emissions[j]
            } else {
                f32::NEG_INFINITY
            }
        })
        .collect();
    let mut back = vec![0u32; len * k];
    let mut next = vec![0f32; k];
    for t in 1..len {
        for (j, slot) in next.iter_mut().enumerate() {
            let mut top = (f32::NEG_INFINITY, 0);
            for (i, &previous) in best.iter().enumerate() {
                let transition = scores.transitions[i * k + j];
                if allowed(transition) && previous + transition > top.0 {
                    top = (previous + transition, i);
                }
            }
            *slot = top.0 + emissions[t * k + j];
            back[t * k + j] = top.1 as u32;
        }
        std::mem::swap(&mut best, &mut next);
    }
    let (mut tag, mut total) = (0, f32::NEG_INFINITY);
    for (j, &score) in best.iter().enumerate() {
        if allowed(scores.end[j]) && score + scores.end[j] > total {
            (tag, total) = (j, score + scores.end[j]);
        }
    }
    let mut path = vec![tag; len];
    for t in (1..len).rev() {
        tag = back[t * k + tag] as usize;
        path[t - 1] = tag;
    }
    (path, total)
}

/// Marginal probability of every tag at every token (`len × tags`, row-major) under the CRF,
/// by the forward-backward algorithm in log space.
pub fn marginals(emissions: &[f32], len: usize, scores: &CrfScores) -> Vec<f32> {
    let k = scores.tags();
    if len == 0 {
        return Vec::new();
    }
    let log_sum_exp = |values: &mut dyn Iterator<Item = f64>| {
        let values: Vec<f64> = values.collect();
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        max + values.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
    };
    let emission = |t: usize, j: usize| emissions[t * k + j] as f64;
    let transition = |i: usize, j: usize| scores.transitions[i * k + j] as f64;
    let mut alpha = vec![0f64; len * k];
    let mut beta = vec![0f64; len * k];
    for j in 0..k {
        alpha[j] = scores.start[j] as f64 + emission(0, j);
        beta[(len - 1) * k + j] = scores.end[j] as f64;
    }
    for t in 1..len {
        for j in 0..k {
            alpha[t * k + j] =
                log_sum_exp(&mut (0..k).map(|i| alpha[(t - 1) * k + i] + transition(i, j)))
                    + emission(t, j);
        }
    }
    for t in (0..len - 1).rev() {
        for i in 0..k {
            beta[t * k + i] = log_sum_exp(
                &mut (0..k).map(|j| transition(i, j) + emission(t + 1, j) + beta[(t + 1) * k + j]),
            );
        }
    }
    let log_partition = log_sum_exp(&mut (0..k).map(|j| alpha[j] + beta[j]));
    alpha
        .iter()
        .zip(&beta)
        .map(|(a, b)| (a + b - log_partition).exp() as f32)
        .collect()
}

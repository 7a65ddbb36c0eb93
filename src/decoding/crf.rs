//! A linear-chain CRF over emission scores, with start and end transitions.

use burn::module::{Module, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// Learned transition scores plus the fixed constraints of the tagging scheme.
#[derive(Module, Debug)]
pub struct Crf {
    /// `[from, to]`.
    transitions: Param<Tensor<2>>,
    start: Param<Tensor<1>>,
    end: Param<Tensor<1>>,
    /// The scheme's constraints ([`super::FORBIDDEN`] or 0), added to the learned scores so
    /// that training and decoding see the same space of sequences.
    #[module(skip)]
    constraints: CrfScores,
}

/// CRF scores on the host, for Viterbi: `tags` starts, ends, and `tags × tags` transitions.
#[derive(Clone, Debug, PartialEq)]
pub struct CrfScores {
    pub start: Vec<f32>,
    pub end: Vec<f32>,
    pub transitions: Vec<f32>,
}

impl CrfScores {
    pub fn tags(&self) -> usize {
        self.start.len()
    }
}

impl Crf {
    /// A CRF with zero learned scores under the given constraints.
    pub fn new(constraints: CrfScores, device: &Device) -> Self {
        let k = constraints.tags();
        Self {
            transitions: Param::from_tensor(Tensor::zeros([k, k], device)),
            start: Param::from_tensor(Tensor::zeros([k], device)),
            end: Param::from_tensor(Tensor::zeros([k], device)),
            constraints,
        }
    }

    /// The full scores (learned plus constraints) read back to the host.
    pub fn scores(&self) -> CrfScores {
        let read = |t: Tensor<1>| {
            t.into_data()
                .try_into_vec_as::<f32>()
                .expect("float CRF scores")
        };
        let add = |a: Vec<f32>, b: &[f32]| a.iter().zip(b).map(|(x, y)| x + y).collect();
        CrfScores {
            start: add(read(self.start.val()), &self.constraints.start),
            end: add(read(self.end.val()), &self.constraints.end),
            transitions: add(
                read(self.transitions.val().flatten(0, 1)),
                &self.constraints.transitions,
            ),
        }
    }

    /// Mean negative log-likelihood of the gold tag sequences.
    ///
    /// `emissions` is `[batch, time, tags]`; sequence `b` is `gold[b]`, its first
    /// `gold[b].len()` steps are real and the rest padding. `open[b]` lists tags that may
    /// stand in for an outside tag (0) of `gold[b]`: the entity types its corpus does not
    /// annotate. With them, the likelihood is that of every path consistent with the partial
    /// annotation (Tsuboi et al. 2008), so a chemical corpus does not teach that genes are
    /// outside; without them it is the usual gold-path likelihood.
    // Training's alone, which the browser build leaves out.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub fn nll(&self, emissions: Tensor<3>, gold: &[Vec<usize>], open: &[Vec<usize>]) -> Tensor<1> {
        let [batch, time, k] = emissions.dims();
        assert_eq!(batch, gold.len());
        assert_eq!(batch, open.len());
        let device = emissions.device();
        let constant = |values: &[f32]| {
            Tensor::<1>::from_data(TensorData::new(values.to_vec(), [values.len()]), &device)
        };
        let start = self.start.val() + constant(&self.constraints.start);
        let end = self.end.val() + constant(&self.constraints.end);
        let transitions =
            self.transitions.val() + constant(&self.constraints.transitions).reshape([k, k]);

        let mask_values: Vec<f32> = gold
            .iter()
            .flat_map(|tags| (0..time).map(move |t| if t < tags.len() { 1.0 } else { 0.0 }))
            .collect();
        let mask = constant(&mask_values).reshape([batch, time]);
        let log_partition = forward_algorithm(
            emissions.clone(),
            &mask,
            start.clone(),
            end.clone(),
            transitions.clone(),
        );

        if open.iter().any(|tags| !tags.is_empty()) {
            // The same sum restricted to the paths the annotation allows.
            let mut allowed = vec![super::FORBIDDEN; batch * time * k];
            for (b, (tags, open)) in gold.iter().zip(open).enumerate() {
                for (t, &tag) in tags.iter().enumerate() {
                    let row = &mut allowed[(b * time + t) * k..(b * time + t + 1) * k];
                    row[tag] = 0.0;
                    if tag == 0 {
                        open.iter().for_each(|&j| row[j] = 0.0);
                    }
                }
            }
            let restricted = emissions + constant(&allowed).reshape([batch, time, k]);
            let log_gold = forward_algorithm(restricted, &mask, start, end, transitions);
            return (log_partition - log_gold).mean();
        }

        // The score of the gold path.
        let padded: Vec<i64> = gold
            .iter()
            .flat_map(|tags| (0..time).map(move |t| tags.get(t).copied().unwrap_or(0) as i64))
            .collect();
        let tags = Tensor::<1, Int>::from_data(TensorData::new(padded, [batch * time]), &device)
            .reshape([batch, time]);
        let emitted = (emissions
            .gather(2, tags.unsqueeze_dim(2))
            .squeeze_dim::<2>(2)
            * mask.clone())
        .sum_dim(1)
        .squeeze_dim::<1>(1);
        let index = |values: Vec<i64>| {
            let n = values.len();
            Tensor::<1, Int>::from_data(TensorData::new(values, [n]), &device)
        };
        let firsts = index(
            gold.iter()
                .map(|t| t.first().copied().unwrap_or(0) as i64)
                .collect(),
        );
        let lasts = index(
            gold.iter()
                .map(|t| t.last().copied().unwrap_or(0) as i64)
                .collect(),
        );
        let mut gold_score = emitted + start.select(0, firsts) + end.select(0, lasts);
        if time > 1 {
            // Transition (from, to) of each step, as a row of the flattened matrix; padding
            // steps point at row 0 and are masked out.
            let pairs = index(
                gold.iter()
                    .flat_map(|tags| {
                        (1..time).map(move |t| match (tags.get(t - 1), tags.get(t)) {
                            (Some(&from), Some(&to)) => (from * k + to) as i64,
                            _ => 0,
                        })
                    })
                    .collect(),
            );
            let steps = transitions
                .reshape([k * k])
                .select(0, pairs)
                .reshape([batch, time - 1]);
            gold_score = gold_score
                + (steps * mask.narrow(1, 1, time - 1))
                    .sum_dim(1)
                    .squeeze_dim::<1>(1);
        }
        (log_partition - gold_score).mean()
    }
}

/// Log of the summed exponentiated scores of all paths, per sequence (`[batch]`); `mask`
/// (`[batch, time]`, 1 for real steps) freezes the recursion over padding.
fn forward_algorithm(
    emissions: Tensor<3>,
    mask: &Tensor<2>,
    start: Tensor<1>,
    end: Tensor<1>,
    transitions: Tensor<2>,
) -> Tensor<1> {
    let steps: Vec<Tensor<2>> = emissions.iter_dim(1).map(|e| e.squeeze_dim(1)).collect();
    let mut alpha = steps[0].clone() + start.unsqueeze_dim(0);
    let transitions: Tensor<3> = transitions.unsqueeze_dim(0);
    for (t, emission) in steps.into_iter().enumerate().skip(1) {
        let paths = alpha.clone().unsqueeze_dim::<3>(2) + transitions.clone();
        let next = log_sum_exp(paths, 1).squeeze_dim::<2>(1) + emission;
        let keep = mask.clone().narrow(1, t, 1);
        alpha = next * keep.clone() + alpha * (keep.neg() + 1.0);
    }
    log_sum_exp(alpha + end.unsqueeze_dim(0), 1).squeeze_dim(1)
}

/// `log(sum(exp(x)))` along `dim`, kept as a size-1 dimension; stable for large scores.
fn log_sum_exp<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let max = x.clone().max_dim(dim).detach();
    (x - max.clone()).exp().sum_dim(dim).log() + max
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoding::{viterbi, FORBIDDEN};

    /// 3 tokens, 4 tags: every one of the 64 paths, scored by hand.
    fn example() -> (Vec<f32>, CrfScores, Vec<f32>) {
        let emissions: Vec<f32> = (0..12).map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.6).collect();
        let mut constraints = CrfScores {
            start: vec![0.0; 4],
            end: vec![0.0; 4],
            transitions: vec![0.0; 16],
        };
        constraints.transitions[2 * 4 + 1] = FORBIDDEN;
        constraints.start[3] = FORBIDDEN;
        let learned: Vec<f32> = (0..24).map(|i| ((i * 5 % 7) as f32 - 3.0) * 0.3).collect();
        (emissions, constraints, learned)
    }

    fn crf_with(constraints: CrfScores, learned: &[f32], device: &Device) -> Crf {
        let mut crf = Crf::new(constraints, device);
        let tensor =
            |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), device);
        crf.transitions = Param::from_tensor(tensor(&learned[..16]).reshape([4, 4]));
        crf.start = Param::from_tensor(tensor(&learned[16..20]));
        crf.end = Param::from_tensor(tensor(&learned[20..24]));
        crf
    }

    fn path_score(path: &[usize], emissions: &[f32], s: &CrfScores) -> f64 {
        let mut score = (s.start[path[0]] + s.end[path[path.len() - 1]]) as f64;
        for (t, &tag) in path.iter().enumerate() {
            score += emissions[t * 4 + tag] as f64;
        }
        for w in path.windows(2) {
            score += s.transitions[w[0] * 4 + w[1]] as f64;
        }
        score
    }

    fn all_paths() -> Vec<Vec<usize>> {
        (0..64).map(|i| vec![i / 16, i / 4 % 4, i % 4]).collect()
    }

    #[test]
    fn forward_algorithm_matches_brute_force() {
        let device = Device::flex();
        let (emissions, constraints, learned) = example();
        let crf = crf_with(constraints, &learned, &device);
        let scores = crf.scores();
        let log_partition = all_paths()
            .iter()
            .map(|p| path_score(p, &emissions, &scores).exp())
            .sum::<f64>()
            .ln();
        let tensor = Tensor::<1>::from_data(TensorData::new(emissions.clone(), [12]), &device)
            .reshape([1, 3, 4]);
        for gold in [vec![0, 1, 2], vec![1, 3, 0], vec![2, 2, 3]] {
            let nll = crf
                .nll(tensor.clone(), std::slice::from_ref(&gold), &[vec![]])
                .into_scalar::<f32>();
            let expected = log_partition - path_score(&gold, &emissions, &scores);
            assert!(
                (nll as f64 - expected).abs() < 1e-4,
                "{gold:?}: {nll} vs {expected}"
            );
        }
    }

    #[test]
    fn partial_annotation_sums_over_the_paths_it_allows() {
        let device = Device::flex();
        let (emissions, constraints, learned) = example();
        let crf = crf_with(constraints, &learned, &device);
        let scores = crf.scores();
        let log_sum = |paths: Vec<Vec<usize>>| {
            paths
                .iter()
                .map(|p| path_score(p, &emissions, &scores).exp())
                .sum::<f64>()
                .ln()
        };
        // Gold: O, tag 1, O; tags 2 and 3 are unannotated and may stand in for each O.
        let consistent: Vec<Vec<usize>> = all_paths()
            .into_iter()
            .filter(|p| [0, 2, 3].contains(&p[0]) && p[1] == 1 && [0, 2, 3].contains(&p[2]))
            .collect();
        let expected = log_sum(all_paths()) - log_sum(consistent);
        let tensor = Tensor::<1>::from_data(TensorData::new(emissions.clone(), [12]), &device)
            .reshape([1, 3, 4]);
        let nll = crf
            .nll(tensor, &[vec![0, 1, 0]], &[vec![2, 3]])
            .into_scalar::<f32>();
        assert!((nll as f64 - expected).abs() < 1e-4, "{nll} vs {expected}");
    }

    #[test]
    fn padding_does_not_change_the_likelihood() {
        let device = Device::flex();
        let (emissions, constraints, learned) = example();
        let crf = crf_with(constraints, &learned, &device);
        let short = Tensor::<1>::from_data(TensorData::new(emissions[..8].to_vec(), [8]), &device)
            .reshape([1, 2, 4]);
        let padded = Tensor::<1>::from_data(TensorData::new(emissions.clone(), [12]), &device)
            .reshape([1, 3, 4]);
        let a = crf
            .nll(short, &[vec![1, 2]], &[vec![]])
            .into_scalar::<f32>();
        let b = crf
            .nll(padded, &[vec![1, 2]], &[vec![]])
            .into_scalar::<f32>();
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }

    #[test]
    fn viterbi_matches_brute_force() {
        let device = Device::flex();
        let (emissions, constraints, learned) = example();
        let scores = crf_with(constraints, &learned, &device).scores();
        let best = all_paths()
            .into_iter()
            .map(|p| (path_score(&p, &emissions, &scores), p))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap();
        let (path, score) = viterbi(&emissions, 3, &scores);
        assert_eq!(path, best.1);
        assert!((score as f64 - best.0).abs() < 1e-4);
        // Forbidden steps are never taken.
        assert!(path.windows(2).all(|w| (w[0], w[1]) != (2, 1)) && path[0] != 3);
    }

    // Training is native only: the wasm build has no autodiff.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn gradients_flow_to_every_parameter() {
        let device = Device::flex().autodiff();
        let (emissions, constraints, _) = example();
        let crf = Crf::new(constraints, &device);
        let tensor = Tensor::<1>::from_data(TensorData::new(emissions, [12]), &device)
            .reshape([1, 3, 4])
            .require_grad();
        let grads = crf
            .nll(tensor.clone(), &[vec![0, 1, 2]], &[vec![3]])
            .backward();
        assert!(crf.transitions.val().grad(&grads).is_some());
        assert!(crf.start.val().grad(&grads).is_some());
        assert!(tensor.grad(&grads).is_some());
    }
}

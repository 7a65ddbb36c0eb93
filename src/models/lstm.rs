//! A bidirectional LSTM over right-padded batches of variable-length sequences.
//!
//! burn's own `BiLstm` runs its reverse direction from the last padded step, so padding
//! leaks into real positions, and it multiplies the input by each gate separately at every
//! step. This one reverses each sequence within its own length (so both directions read only
//! real steps first), projects the whole input for all four gates in one matrix product, and
//! keeps one recurrent matrix product per step.
//!
//! At inference on the CPU the recurrence runs on the host instead (see
//! [`BiLstm::forward`]): there a step's dozen small tensor operations cost more than their
//! arithmetic.

use super::tagger::computes_on_host;
use burn::module::{Module, Param};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

/// One direction: gates in the order input, forget, cell, output.
#[derive(Module, Debug)]
pub struct LstmDirection {
    input_weight: Param<Tensor<2>>,
    hidden_weight: Param<Tensor<2>>,
    bias: Param<Tensor<1>>,
}

impl LstmDirection {
    fn new(d_input: usize, d_hidden: usize, device: &Device) -> Self {
        // PyTorch's initialisation, with the forget gate's bias at 1 so that memory is kept
        // by default early in training.
        let bound = 1.0 / (d_hidden as f64).sqrt();
        let uniform = Distribution::Uniform(-bound, bound);
        let mut bias = vec![0f32; 4 * d_hidden];
        bias[d_hidden..2 * d_hidden].fill(1.0);
        Self {
            input_weight: Param::from_tensor(Tensor::random(
                [d_input, 4 * d_hidden],
                uniform,
                device,
            )),
            hidden_weight: Param::from_tensor(Tensor::random(
                [d_hidden, 4 * d_hidden],
                uniform,
                device,
            )),
            bias: Param::from_tensor(Tensor::from_data(
                TensorData::new(bias, [4 * d_hidden]),
                device,
            )),
        }
    }

    fn hidden_size(&self) -> usize {
        self.hidden_weight.dims()[0]
    }

    /// The input's contribution to the gates at every step: `[batch × time, 4 × d_hidden]`.
    fn project(&self, input: Tensor<3>) -> Tensor<2> {
        let [batch, time, d_input] = input.dims();
        input
            .reshape([batch * time, d_input])
            .matmul(self.input_weight.val())
            + self.bias.val().unsqueeze_dim(0)
    }

    /// `[batch, time, d_input]` → `[batch, time, d_hidden]`, reading left to right.
    fn forward(&self, input: Tensor<3>) -> Tensor<3> {
        let [batch, time, _] = input.dims();
        let hidden_size = self.hidden_size();
        let projected = self.project(input).reshape([batch, time, 4 * hidden_size]);
        let device = projected.device();
        let mut hidden = Tensor::<2>::zeros([batch, hidden_size], &device);
        let mut cell = Tensor::<2>::zeros([batch, hidden_size], &device);
        let mut outputs = Vec::with_capacity(time);
        for step in projected.iter_dim(1) {
            let gates = step.squeeze_dim::<2>(1) + hidden.matmul(self.hidden_weight.val());
            let [input_gate, forget_gate, candidate, output_gate]: [Tensor<2>; 4] =
                gates.chunk(4, 1).try_into().expect("four gates");
            cell = sigmoid(forget_gate) * cell + sigmoid(input_gate) * candidate.tanh();
            hidden = sigmoid(output_gate) * cell.clone().tanh();
            outputs.push(hidden.clone());
        }
        Tensor::stack(outputs, 1)
    }
}

/// Forward and backward LSTMs, outputs concatenated: `[batch, time, 2 × d_hidden]`.
#[derive(Module, Debug)]
pub struct BiLstm {
    forward: LstmDirection,
    backward: LstmDirection,
}

impl BiLstm {
    pub fn new(d_input: usize, d_hidden: usize, device: &Device) -> Self {
        Self {
            forward: LstmDirection::new(d_input, d_hidden, device),
            backward: LstmDirection::new(d_input, d_hidden, device),
        }
    }

    pub fn hidden_size(&self) -> usize {
        self.forward.hidden_size()
    }

    /// Runs both directions over `input` (`[batch, time, d]`, right-padded to `lengths`).
    /// Outputs at padded steps are meaningless; outputs at real steps never depend on padding.
    pub fn forward(&self, input: Tensor<3>, lengths: &SequenceLengths) -> Tensor<3> {
        if computes_on_host(&input.device()) {
            if let Some(output) = self.forward_on_host(input.clone(), lengths) {
                return output;
            }
        }
        let [batch, time, d_input] = input.dims();
        let reverse = |x: Tensor<3>, d: usize| {
            x.reshape([batch * time, d])
                .select(0, lengths.reversal.clone())
                .reshape([batch, time, d])
        };
        let left_to_right = self.forward.forward(input.clone());
        let right_to_left = reverse(
            self.backward.forward(reverse(input, d_input)),
            self.hidden_size(),
        );
        Tensor::cat(vec![left_to_right, right_to_left], 2)
    }

    /// [`Self::forward`] with the recurrence on plain slices: each sequence over its own
    /// length only, one step a row-by-row product with the recurrent matrix that the compiler
    /// vectorises. On burn's CPU device a step costs a dozen tensor operations on a few
    /// hundred values each, whose overhead dominated the Bi-LSTM-CRF in the browser
    /// (BENCHMARKS.md). Padded steps come out zero. `None` if the device's values cannot be
    /// read as `f32`.
    fn forward_on_host(&self, input: Tensor<3>, lengths: &SequenceLengths) -> Option<Tensor<3>> {
        let [batch, time, _] = input.dims();
        let hidden_size = self.hidden_size();
        let width = 2 * hidden_size;
        let device = input.device();
        let mut output = vec![0f32; batch * time * width];
        for (direction, reversed) in [(&self.forward, false), (&self.backward, true)] {
            let projected = direction
                .project(input.clone())
                .into_data()
                .try_into_vec::<f32>()
                .ok()?;
            let recurrent = direction
                .hidden_weight
                .val()
                .into_data()
                .try_into_vec::<f32>()
                .ok()?;
            let column = if reversed { hidden_size } else { 0 };
            let mut cell = HostCell::new(hidden_size);
            for (b, &len) in lengths.lengths.iter().enumerate() {
                cell.reset();
                for s in 0..len {
                    let row = b * time + if reversed { len - 1 - s } else { s };
                    let gates = &projected[row * 4 * hidden_size..(row + 1) * 4 * hidden_size];
                    let hidden = cell.step(gates, &recurrent);
                    output[row * width + column..][..hidden_size].copy_from_slice(hidden);
                }
            }
        }
        Some(Tensor::from_data(
            TensorData::new(output, [batch, time, width]),
            &device,
        ))
    }
}

/// One LSTM direction's state on the host, with room for its gates.
struct HostCell {
    hidden: Vec<f32>,
    cell: Vec<f32>,
    gates: Vec<f32>,
}

impl HostCell {
    fn new(hidden_size: usize) -> Self {
        Self {
            hidden: vec![0.0; hidden_size],
            cell: vec![0.0; hidden_size],
            gates: vec![0.0; 4 * hidden_size],
        }
    }

    fn reset(&mut self) {
        self.hidden.fill(0.0);
        self.cell.fill(0.0);
    }

    /// One step from the input's gate contributions `projected` (`4 × hidden`) and the
    /// recurrent matrix (`hidden × 4 hidden`, row-major); returns the new hidden state.
    fn step(&mut self, projected: &[f32], recurrent: &[f32]) -> &[f32] {
        let n = self.hidden.len();
        self.gates.copy_from_slice(projected);
        for (&h, row) in self.hidden.iter().zip(recurrent.chunks_exact(4 * n)) {
            for (gate, &w) in self.gates.iter_mut().zip(row) {
                *gate += h * w;
            }
        }
        let (input_gate, rest) = self.gates.split_at(n);
        let (forget_gate, rest) = rest.split_at(n);
        let (candidate, output_gate) = rest.split_at(n);
        for k in 0..n {
            let cell = sigmoid_of(forget_gate[k]) * self.cell[k]
                + sigmoid_of(input_gate[k]) * candidate[k].tanh();
            self.cell[k] = cell;
            self.hidden[k] = sigmoid_of(output_gate[k]) * cell.tanh();
        }
        &self.hidden
    }
}

fn sigmoid_of(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The lengths of a right-padded batch of sequences, with the row permutation that
/// reverses each of them within its length.
pub struct SequenceLengths {
    lengths: Vec<usize>,
    reversal: Tensor<1, Int>,
}

impl SequenceLengths {
    /// `lengths` of sequences padded to `time` steps.
    pub fn new(lengths: Vec<usize>, time: usize, device: &Device) -> Self {
        Self {
            reversal: reversal_index(&lengths, time, device),
            lengths,
        }
    }
}

/// Row indices into a flattened `[batch × time]` batch that reverse each sequence within its
/// own length and leave padding in place. The permutation is its own inverse.
fn reversal_index(lengths: &[usize], time: usize, device: &Device) -> Tensor<1, Int> {
    let mut index = Vec::with_capacity(lengths.len() * time);
    for (b, &len) in lengths.iter().enumerate() {
        for t in 0..time {
            let source = if t < len { len - 1 - t } else { t };
            index.push((b * time + source) as i64);
        }
    }
    let n = index.len();
    Tensor::from_data(TensorData::new(index, [n]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_difference(a: Tensor<3>, b: Tensor<3>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn padding_never_reaches_real_steps() {
        let _random = crate::models::random::exclusive_random();
        let device = Device::flex();
        device.seed(7);
        let lstm = BiLstm::new(3, 4, &device);
        let sequence = Tensor::<3>::random([1, 2, 3], Distribution::Normal(0.0, 1.0), &device);
        let alone = lstm.forward(sequence.clone(), &SequenceLengths::new(vec![2], 2, &device));
        let padding = Tensor::<3>::random([1, 3, 3], Distribution::Normal(5.0, 1.0), &device);
        let padded = Tensor::cat(vec![sequence, padding], 1);
        let in_batch = lstm.forward(padded, &SequenceLengths::new(vec![2], 5, &device));
        assert!(max_difference(alone, in_batch.narrow(1, 0, 2)) < 1e-6);
    }

    #[test]
    fn backward_direction_reads_right_to_left() {
        let _random = crate::models::random::exclusive_random();
        let device = Device::flex();
        device.seed(3);
        let lstm = BiLstm::new(2, 3, &device);
        let x = Tensor::<3>::random([2, 4, 2], Distribution::Normal(0.0, 1.0), &device);
        let out = lstm.forward(x.clone(), &SequenceLengths::new(vec![4, 4], 4, &device));
        let expected = lstm.backward.forward(x.clone().flip([1])).flip([1]);
        assert!(max_difference(out.clone().narrow(2, 3, 3), expected) < 1e-6);
        assert!(max_difference(out.narrow(2, 0, 3), lstm.forward.forward(x)) < 1e-6);
    }

    // burn's autodiff (the reference path here) is built natively only.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn the_host_recurrence_matches_burns() {
        let _random = crate::models::random::exclusive_random();
        let device = Device::flex();
        device.seed(11);
        let lstm = BiLstm::new(5, 6, &device);
        let lengths = vec![4, 1, 0, 7];
        let x = Tensor::<3>::random([4, 7, 5], Distribution::Normal(0.0, 2.0), &device);
        let values = |t: Tensor<3>| t.into_data().try_into_vec::<f32>().unwrap();
        // A plain CPU device takes the host's recurrence, an autodiff one burn's.
        let host = values(lstm.forward(
            x.clone(),
            &SequenceLengths::new(lengths.clone(), 7, &device),
        ));
        let autodiff = Device::flex().autodiff();
        let burns = values(lstm.to_device(&autodiff).forward(
            x.to_device(&autodiff),
            &SequenceLengths::new(lengths.clone(), 7, &autodiff),
        ));
        let mut compared = 0;
        for (b, &len) in lengths.iter().enumerate() {
            for t in 0..7 {
                let row = (b * 7 + t) * 12..(b * 7 + t + 1) * 12;
                if t < len {
                    for (h, r) in host[row.clone()].iter().zip(&burns[row]) {
                        assert!(
                            (h - r).abs() < 1e-6,
                            "sequence {b} step {t}: {h} against {r}"
                        );
                        compared += 1;
                    }
                } else {
                    assert!(host[row].iter().all(|&h| h == 0.0), "padding is zero");
                }
            }
        }
        assert_eq!(compared, 12 * 12);
        assert!(
            host.iter().any(|&h| h.abs() > 0.1),
            "a state that carries information"
        );
    }

    #[test]
    fn reversal_is_an_involution() {
        let device = Device::flex();
        let index = reversal_index(&[3, 1, 0], 4, &device);
        let values: Vec<i64> = index.clone().into_data().try_into_vec_as().unwrap();
        assert_eq!(values, [2, 1, 0, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        let twice = index.clone().select(0, index);
        let twice: Vec<i64> = twice.into_data().try_into_vec_as().unwrap();
        assert_eq!(twice, (0..12).collect::<Vec<i64>>());
    }
}

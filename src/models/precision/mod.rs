//! How a model's weights are stored and computed: the model file ([`file`]) at four
//! precisions ([`Precision`]), the 4-bit rounding ([`quantize`]) and the 8-bit products of
//! the CPU ([`int8`]).

mod file;
pub(crate) mod int8;
pub(crate) mod quantize;
mod rounding;

pub(crate) use file::{is_unit_weight, load_weights, unit_weight, write_model_file, write_stored};
pub use file::{repack, stored_sizes, with_ensemble_weight};
pub use rounding::{Precision, INT8_BLOCK};

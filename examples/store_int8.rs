//! Rewrites a Bi-LSTM-CRF or BERT model file with 8-bit weights (`Precision::Int8`), as
//! `clinitag train --precision int8` writes them, for measuring what 8 bits cost a model that
//! exists already (BENCHMARKS.md, "Model files at 8 bits"):
//!
//!     cargo run --release --example store_int8 -- models/bert-es.clinitag /tmp/bert-es-int8.clinitag

use clinitag::models::{Model, Precision};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = args.as_slice() else {
        return Err("usage: store_int8 MODEL OUTPUT".into());
    };
    let bytes = std::fs::read(input)?;
    let stored = match Model::from_bytes(&bytes)? {
        Model::BiLstmCrf(model) => model.to_bytes_at(Precision::Int8)?,
        Model::Bert(model) => model.to_bytes_at(Precision::Int8)?,
        _ => return Err("only neural models have weights to store in 8 bits".into()),
    };
    std::fs::write(output, &stored)?;
    println!(
        "{input}: {} bytes; {output}: {} bytes",
        bytes.len(),
        stored.len()
    );
    Ok(())
}

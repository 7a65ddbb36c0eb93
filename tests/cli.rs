//! The `clinitag` command line end to end, on real PharmaCoNER and BC5CDR files.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data() -> PathBuf {
    std::env::var_os("CLINITAG_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

fn clinitag(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clinitag"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("clinitag runs")
}

fn ok(args: &[&str]) -> String {
    let output = clinitag(args);
    assert!(
        output.status.success(),
        "clinitag {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let output = clinitag(args);
    assert!(!output.status.success(), "clinitag {args:?} should fail");
    String::from_utf8(output.stderr).unwrap()
}

/// Copies the first `n` documents (.txt + .ann) of a PharmaCoNER split's subtrack1 into `dir`.
fn sample(split: &str, n: usize, dir: &Path) -> Vec<String> {
    let source = data().join("pharmaconer").join(split).join("subtrack1");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&source)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    names.sort();
    std::fs::create_dir_all(dir).unwrap();
    names
        .iter()
        .take(n)
        .map(|txt| {
            let stem = txt.file_stem().unwrap().to_str().unwrap().to_string();
            std::fs::copy(txt, dir.join(format!("{stem}.txt"))).unwrap();
            std::fs::copy(txt.with_extension("ann"), dir.join(format!("{stem}.ann"))).unwrap();
            stem
        })
        .collect()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn tags_a_clinical_case_with_exact_char_and_utf16_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let stem = &sample("dev", 1, dir.path())[0];
    let file = dir.path().join(format!("{stem}.txt"));
    // Prepend astral and zero-width characters so char and UTF-16 offsets differ.
    let text = format!("🧪\u{200b} {}", std::fs::read_to_string(&file).unwrap());
    std::fs::write(&file, &text).unwrap();
    let chars: Vec<char> = text.chars().collect();
    let utf16: Vec<u16> = text.encode_utf16().collect();

    let json: serde_json::Value = serde_json::from_str(&ok(&["tag", path(&file)])).unwrap();
    let entities = json["entities"].as_array().unwrap();
    assert!(
        !entities.is_empty(),
        "the baseline finds drugs in a real case"
    );
    for entity in entities {
        let (start, end) = (
            entity["start"].as_u64().unwrap() as usize,
            entity["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(
            chars[start..end].iter().collect::<String>(),
            entity["text"].as_str().unwrap()
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["tag", "--offsets", "utf16", path(&file)])).unwrap();
    assert_eq!(json["offsets"], "utf16");
    for entity in json["entities"].as_array().unwrap() {
        let (start, end) = (
            entity["start"].as_u64().unwrap() as usize,
            entity["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(
            String::from_utf16(&utf16[start..end]).unwrap(),
            entity["text"].as_str().unwrap()
        );
    }
}

#[test]
fn tags_a_brat_folder_and_scores_it_with_the_official_rules() {
    let dir = tempfile::tempdir().unwrap();
    let gold = dir.path().join("gold");
    let predicted = dir.path().join("predicted");
    let stems = sample("dev", 5, &gold);
    ok(&["tag", path(&gold), "-o", path(&predicted)]);
    for stem in &stems {
        for ext in ["txt", "ann", "tsv"] {
            assert!(
                predicted.join(format!("{stem}.{ext}")).is_file(),
                "{stem}.{ext} written"
            );
        }
    }
    let scores: serde_json::Value =
        serde_json::from_str(&ok(&["eval", path(&gold), path(&predicted), "--json"])).unwrap();
    let ner = &scores[0]["overall"];
    assert_eq!(scores[0]["documents"], 5);
    assert!(ner["tp"].as_u64().unwrap() > 0);
    // Gold against itself is perfect, UNCLEAR excluded.
    let perfect: serde_json::Value =
        serde_json::from_str(&ok(&["eval", path(&gold), path(&gold), "--json"])).unwrap();
    assert_eq!(perfect[0]["overall"]["fp"], 0);
    assert_eq!(perfect[0]["overall"]["fn_"], 0);

    // A gold document without prediction is refused, as the official scorer does.
    std::fs::remove_file(predicted.join(format!("{}.ann", stems[0]))).unwrap();
    assert!(fails(&["eval", path(&gold), path(&predicted)]).contains("--missing-as-empty"));
    ok(&["eval", path(&gold), path(&predicted), "--missing-as-empty"]);
}

#[test]
fn scores_the_full_dev_set_for_both_subtasks() {
    let dev = data().join("pharmaconer/dev");
    let out = tempfile::tempdir().unwrap();
    ok(&["tag", path(&dev.join("subtrack1")), "-o", path(out.path())]);
    let scores: serde_json::Value =
        serde_json::from_str(&ok(&["eval", path(&dev), path(out.path()), "--json"])).unwrap();
    assert_eq!(
        scores.as_array().unwrap().len(),
        2,
        "NER and concept indexing"
    );
    for report in scores.as_array().unwrap() {
        assert_eq!(report["documents"], 250);
        let o = &report["overall"];
        let (tp, fp, fn_) = (
            o["tp"].as_f64().unwrap(),
            o["fp"].as_f64().unwrap(),
            o["fn_"].as_f64().unwrap(),
        );
        let f1 = 2.0 * tp / (2.0 * tp + fp + fn_);
        // The shipped dictionary baseline (trained on train only) sits well above chance.
        assert!(f1 > 0.7, "{} F1 {f1}", report["title"]);
    }
}

#[test]
fn keeps_conll_tokens_and_writes_one_tag_per_token() {
    let dir = tempfile::tempdir().unwrap();
    let devel = std::fs::read_to_string(data().join("bc5cdr/devel.tsv")).unwrap();
    let head: String = devel
        .lines()
        .take(2_000)
        .map(|l| format!("{l}\n"))
        .collect();
    let gold = dir.path().join("gold.tsv");
    std::fs::write(&gold, &head).unwrap();
    let predicted = dir.path().join("predicted.tsv");
    ok(&["tag", "--lang", "en", path(&gold), "-o", path(&predicted)]);
    let written = std::fs::read_to_string(&predicted).unwrap();
    let tokens = |s: &str| {
        s.lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(tokens(written.trim_end()), tokens(head.trim_end()));
    let report = ok(&["eval", path(&gold), path(&predicted)]);
    assert!(
        report.contains("Chemical") && report.contains("token accuracy"),
        "{report}"
    );
    // A CoNLL file marks no documents, so mentions are not propagated across it unless asked.
    let tagged = |propagate: &str| {
        let out = dir.path().join(format!("{propagate}.tsv"));
        let args = ["tag", "--lang", "en", "--propagate", propagate, path(&gold)];
        ok(&[&args[..], &["-o", path(&out)]].concat());
        std::fs::read_to_string(out).unwrap()
    };
    assert_eq!(tagged("never"), written);
    assert_ne!(tagged("always"), written);
}

#[test]
fn trains_a_model_on_tiny_data_and_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train");
    let dev = dir.path().join("dev");
    sample("train", 20, &train);
    sample("dev", 3, &dev);
    let model = dir.path().join("model.json");
    let report = ok(&[
        "train",
        "--train",
        path(&train),
        "--dev",
        path(&dev),
        "-o",
        path(&model),
    ]);
    assert!(report.contains("subtask 1"), "{report}");
    let text = dir.path().join("note.txt");
    std::fs::write(&text, "").unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["tag", "--model", path(&model), path(&text)])).unwrap();
    assert_eq!(
        json["entities"].as_array().unwrap().len(),
        0,
        "empty text, no entities"
    );
}

/// NER F1 (official rules) of the models given as `--model` on the documents in `gold`.
fn ner_f1(models: &[&str], gold: &Path, predicted: &Path) -> f64 {
    let mut args = vec!["tag", "--no-index", path(gold), "-o", path(predicted)];
    for model in models {
        args.extend(["--model", model]);
    }
    ok(&args);
    scored_f1(gold, predicted)
}

/// NER F1 (official rules) of the BRAT folder `predicted` against `gold`.
fn scored_f1(gold: &Path, predicted: &Path) -> f64 {
    let scores: serde_json::Value = serde_json::from_str(&ok(&[
        "eval",
        path(gold),
        path(predicted),
        "--task",
        "ner",
        "--json",
    ]))
    .unwrap();
    let count = |key: &str| scores[0]["overall"][key].as_f64().unwrap();
    2.0 * count("tp") / (2.0 * count("tp") + count("fp") + count("fn_"))
}

/// The entities of a BRAT `.ann` file: (start, end, type, text).
fn brat_entities(ann: &Path) -> Vec<(usize, usize, String, String)> {
    let ann = std::fs::read_to_string(ann).unwrap();
    let lines = ann.lines().filter(|l| l.starts_with('T'));
    lines
        .map(|line| {
            let [_, span, text] = line.splitn(3, '\t').collect::<Vec<_>>()[..] else {
                panic!("bad line {line}")
            };
            let [label, start, end] = span.split(' ').collect::<Vec<_>>()[..] else {
                panic!("bad span {span}")
            };
            let offset = |s: &str| s.parse().unwrap();
            (offset(start), offset(end), label.into(), text.into())
        })
        .collect()
}

#[test]
fn propagating_found_mentions_through_their_documents_raises_dev_f1() {
    let dev = data().join("pharmaconer/dev/subtrack1");
    let dir = tempfile::tempdir().unwrap();
    let model = "models/bilstm-crf-es.clinitag";
    let [alone, propagated] = ["never", "auto"].map(|propagate| {
        let predicted = dir.path().join(propagate);
        let args = ["tag", "--no-index", "--propagate", propagate, "-m", model];
        ok(&[&args[..], &[path(&dev), "-o", path(&predicted)]].concat());
        scored_f1(&dev, &predicted)
    });
    // 0.8656 against 0.8706 when this was written.
    assert!(propagated > alone + 0.002, "{propagated} against {alone}");
    // Every entity propagation adds is, character for character, one the model found in the
    // same document, and it keeps every entity the model found.
    let mut added = 0;
    for entry in std::fs::read_dir(dir.path().join("auto")).unwrap() {
        let ann = entry.unwrap().path();
        if ann.extension().is_none_or(|e| e != "ann") {
            continue;
        }
        let before = brat_entities(&dir.path().join("never").join(ann.file_name().unwrap()));
        let after = brat_entities(&ann);
        assert!(
            before.iter().all(|e| after.contains(e)),
            "{}",
            ann.display()
        );
        for entity in after.iter().filter(|e| !before.contains(e)) {
            assert!(
                before
                    .iter()
                    .any(|e| e.3 == entity.3 && e.3.chars().count() >= 3),
                "{entity:?} in {}",
                ann.display()
            );
            added += 1;
        }
    }
    assert!(added > 20, "{added} entities added");
}

#[test]
fn an_ensemble_of_the_shipped_spanish_models_beats_each_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let gold = dir.path().join("gold");
    let stems = sample("dev", 10, &gold);
    let (bilstm, bert) = ("models/bilstm-crf-es.clinitag", "models/bert-es.clinitag");
    let alone = [
        ner_f1(&[bilstm], &gold, &dir.path().join("bilstm")),
        ner_f1(&[bert], &gold, &dir.path().join("bert")),
    ];
    let together = ner_f1(&[bilstm, bert], &gold, &dir.path().join("ensemble"));
    assert!(
        alone.iter().all(|&f1| together > f1),
        "ensemble {together} against {alone:?}"
    );
    // Weights count only relative to each other.
    let mut args = vec!["tag", "--no-index", path(&gold), "-m", bilstm, "-m", bert];
    let weighted = dir.path().join("weighted");
    args.extend(["--weights", "3,3", "-o", path(&weighted)]);
    ok(&args);
    let [equal, three] = ["ensemble", "weighted"].map(|name| {
        let ann = dir.path().join(name).join(format!("{}.ann", stems[0]));
        std::fs::read_to_string(ann).unwrap()
    });
    assert_eq!(equal, three);

    let note = dir.path().join("note.txt");
    std::fs::write(&note, "Paracetamol 1 g").unwrap();
    let en = "models/bilstm-crf-en.clinitag";
    assert!(fails(&["tag", "-m", bilstm, "-m", en, path(&note)]).contains("cannot combine"));
    assert!(fails(&[
        "tag",
        "-m",
        bilstm,
        "-m",
        "models/dictionary-es.json",
        path(&note)
    ])
    .contains("tag probabilities"));
    for (weights, error) in [("1", "1 weights for 2 models"), ("1,0", "positive")] {
        let args = [
            "tag",
            "-m",
            bilstm,
            "-m",
            bert,
            "--weights",
            weights,
            path(&note),
        ];
        assert!(fails(&args).contains(error), "--weights {weights}");
    }
    // Weights for a single model would change nothing, so they are refused rather than ignored.
    let args = ["tag", "-m", bilstm, "--weights", "1", path(&note)];
    assert!(fails(&args).contains("ensemble"));
}

/// The shipped English BERT's file gives it twice the Bi-LSTM-CRF's weight (chosen on dev):
/// an ensemble given no weights uses it, and equal weights tag differently.
#[test]
fn the_english_ensemble_weighs_its_members_as_their_files_say() {
    let dir = tempfile::tempdir().unwrap();
    let devel = std::fs::read_to_string(data().join("bc5cdr/devel.tsv")).unwrap();
    let sentences: Vec<&str> = devel.split("\n\n").take(300).collect();
    let input = dir.path().join("devel-300.tsv");
    std::fs::write(&input, sentences.join("\n\n") + "\n").unwrap();
    let (bilstm, bert) = ("models/bilstm-crf-en.clinitag", "models/bert-en.clinitag");
    let tag = |name: &str, weights: Option<&str>| -> String {
        let output = dir.path().join(name);
        let mut args = vec!["tag", "--lang", "en", "-m", bilstm, "-m", bert];
        args.extend(weights.map(|w| ["--weights", w]).into_iter().flatten());
        args.extend([path(&input), "-o", path(&output)]);
        ok(&args);
        std::fs::read_to_string(output).unwrap()
    };
    let default = tag("default.tsv", None);
    assert_eq!(default, tag("one-two.tsv", Some("1,2")));
    let equal = tag("equal.tsv", Some("1,1"));
    let tags = |conll: &str| -> Vec<String> {
        conll
            .lines()
            .filter_map(|line| line.split('\t').nth(1).map(str::to_string))
            .collect()
    };
    let (default, equal) = (tags(&default), tags(&equal));
    assert_eq!(default.len(), equal.len());
    let differing = default.iter().zip(&equal).filter(|(a, b)| a != b).count();
    assert!(differing > 0, "{} words tagged alike", default.len());
}

#[test]
fn bad_input_gets_a_clear_error_and_a_failing_exit() {
    let dir = tempfile::tempdir().unwrap();
    assert!(fails(&["tag", "no/such/file.txt"]).contains("no/such/file.txt"));
    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(
        &corrupt,
        b"{\"format\": \"clinitag-dictionary\", \"version\": 1",
    )
    .unwrap();
    let note = dir.path().join("note.txt");
    std::fs::write(&note, "Paracetamol 1 g").unwrap();
    assert!(fails(&["tag", "--model", path(&corrupt), path(&note)]).contains("cannot load model"));
    assert!(fails(&["tag", "--model", path(&note), path(&note)]).contains("not a clinitag model"));
    assert!(fails(&["tag", "--format", "brat", path(&note)]).contains("--output"));
    let bad_conll = dir.path().join("bad.tsv");
    std::fs::write(&bad_conll, "a\tO\nb\tQ-X\n").unwrap();
    assert!(fails(&["tag", "--lang", "en", path(&bad_conll)]).contains("line 2"));
    assert!(fails(&["eval", path(&note), path(dir.path())]).contains("both"));
    // Refused when the command is read, before any training.
    let train = [
        "train",
        "--arch",
        "bert",
        "--train",
        path(&note),
        "-o",
        path(&note),
    ];
    for weight in ["0", "-1", "NaN", "inf", "two"] {
        let flag = format!("--ensemble-weight={weight}");
        let error = fails(&[&train[..], &[flag.as_str()]].concat());
        assert!(error.contains("not a positive number"), "{weight}: {error}");
    }
    // Languages of corpora: for BERT, all or none of the training corpora, --lang among them.
    let spanish = format!("es:{}", path(&note));
    let bilstm = [
        "train",
        "--arch",
        "bilstm-crf",
        "--train",
        &spanish,
        "-o",
        path(&note),
    ];
    assert!(fails(&bilstm).contains("for BERT"));
    let mixed = [&train[..], &["--train", &spanish]].concat();
    assert!(fails(&mixed).contains("give every --train its language"));
    let english = [
        &train[..3],
        &["--train", &spanish, "--lang", "en", "-o", path(&note)],
    ]
    .concat();
    assert!(fails(&english).contains("--lang en names none"));
    for minutes in ["-1", "NaN", "inf", "half"] {
        let flag = format!("--checkpoint-minutes={minutes}");
        let error = fails(&[&train[..], &[flag.as_str()]].concat());
        assert!(
            error.contains("not a number of minutes"),
            "{minutes}: {error}"
        );
    }
}

#[test]
fn trains_a_bilstm_crf_on_tiny_data_with_checkpoints_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train");
    let dev = dir.path().join("dev");
    sample("train", 8, &train);
    sample("dev", 2, &dev);
    // Pretraining text: the training documents themselves, as plain text.
    let unlabelled = dir.path().join("unlabelled.txt");
    let text: String = std::fs::read_dir(&train)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&unlabelled, text).unwrap();
    let model = dir.path().join("model.clinitag");
    let checkpoints = dir.path().join("checkpoints");
    let common = [
        "train",
        "--arch",
        "bilstm-crf",
        "--train",
        path(&train),
        "--dev",
        path(&dev),
        "--embeddings-corpus",
        path(&unlabelled),
        "--embedding-epochs",
        "1",
        "--hidden",
        "16",
        "--lr-decay",
        "0.5",
        "--checkpoints",
        path(&checkpoints),
        "-o",
        path(&model),
    ];
    let first = ok(&[&common[..], &["--epochs", "1"]].concat());
    assert!(first.contains("subtask 1"), "{first}");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(checkpoints.join("state.json")).unwrap()).unwrap();
    assert_eq!(state["epoch"], 1);
    // Resuming runs only the epochs that are left.
    let second = clinitag(&[&common[..], &["--epochs", "2", "--resume"]].concat());
    assert!(second.status.success());
    let log = String::from_utf8_lossy(&second.stderr);
    assert!(
        log.contains("epoch  2") && !log.contains("epoch  1 "),
        "{log}"
    );
    // Not on a terminal, progress is logged as lines, the last at the end of the epoch's
    // batches with no time left.
    assert!(log.contains("epoch  2  100% ("), "{log}");
    assert!(log.contains("s, 0s to go"), "{log}");
    // The learning rate halves after an epoch that does not improve dev F1, and resumes so.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(checkpoints.join("state.json")).unwrap()).unwrap();
    let improved = state["history"][1]["best"].as_bool().unwrap();
    let expected = if improved { 0.002 } else { 0.001 };
    assert_eq!(state["learning_rate"].as_f64().unwrap(), expected);

    // The model tags text, with entities on exact character offsets.
    let note = dir.path().join("note.txt");
    std::fs::write(
        &note,
        "Se pautó tratamiento con ácido fólico y paracetamol.",
    )
    .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["tag", "--model", path(&model), path(&note)])).unwrap();
    let text: Vec<char> = std::fs::read_to_string(&note).unwrap().chars().collect();
    for entity in json["entities"].as_array().unwrap() {
        let (start, end) = (
            entity["start"].as_u64().unwrap(),
            entity["end"].as_u64().unwrap(),
        );
        let mention: String = text[start as usize..end as usize].iter().collect();
        assert_eq!(entity["text"].as_str().unwrap(), mention);
    }

    // A damaged model file is refused with a clear message.
    let mut bytes = std::fs::read(&model).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    let damaged = dir.path().join("damaged.clinitag");
    std::fs::write(&damaged, &bytes).unwrap();
    assert!(fails(&["tag", "--model", path(&damaged), path(&note)]).contains("damaged"));
}

/// The encoder that `./build.sh encoder` fetches (CLINITAG_ENCODER overrides).
fn encoder() -> PathBuf {
    std::env::var_os("CLINITAG_ENCODER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/encoders/all-minilm-l6-v2")
        })
}

#[test]
fn fine_tunes_bert_on_tiny_data_with_a_spanish_vocabulary_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train");
    let dev = dir.path().join("dev");
    sample("train", 6, &train);
    sample("dev", 2, &dev);
    let encoder = encoder();
    assert!(
        encoder.join("model.safetensors").is_file(),
        "run ./build.sh encoder first ({})",
        encoder.display()
    );
    // The training texts stand in for the unlabelled corpus.
    let unlabelled = dir.path().join("unlabelled.txt");
    let texts: Vec<String> = std::fs::read_dir(&train)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    std::fs::write(&unlabelled, texts.join("\n")).unwrap();
    let model = dir.path().join("bert.clinitag");
    let checkpoints = dir.path().join("checkpoints");
    // Corpora named with their language, as for a model of several languages.
    let (train_es, dev_es) = (format!("es:{}", path(&train)), format!("es:{}", path(&dev)));
    let common = [
        "train",
        "--arch",
        "bert",
        "--train",
        &train_es,
        "--dev",
        &dev_es,
        "--encoder",
        path(&encoder),
        "--extend-vocabulary",
        path(&unlabelled),
        "--new-pieces",
        "50",
        "--max-pieces",
        "64",
        "--learning-rate",
        "1e-4",
        "--checkpoints",
        path(&checkpoints),
        "-o",
        path(&model),
    ];
    let first = clinitag(&[&common[..], &["--epochs", "1"]].concat());
    let log = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{log}");
    assert!(String::from_utf8_lossy(&first.stdout).contains("subtask 1"));
    // Fewer pieces per word once frequent shattered words are pieces of their own.
    let line = log
        .lines()
        .find(|l| l.starts_with("vocabulary:"))
        .expect("vocabulary line");
    let numbers: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.trim_end_matches(',').parse().ok())
        .collect();
    let (before, after) = (numbers[numbers.len() - 2], numbers[numbers.len() - 1]);
    assert!(after < before, "{line}");

    let second = clinitag(&[&common[..], &["--epochs", "2", "--resume"]].concat());
    let log = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{log}");
    assert!(
        log.contains("epoch  2") && !log.contains("epoch  1 "),
        "{log}"
    );
    // Resuming with a vocabulary pruned to the training and dev words (WordPiece here) would
    // read the checkpoint's piece ids as other pieces: refused, with the reason.
    let pruned = clinitag(
        &[
            &common[..],
            &["--epochs", "3", "--resume", "--prune-vocabulary"],
        ]
        .concat(),
    );
    let log = String::from_utf8_lossy(&pruned.stderr);
    assert!(!pruned.status.success(), "{log}");
    assert!(log.contains("pieces kept for"), "{log}");
    assert!(log.contains("another vocabulary"), "{log}");

    // A run killed within an epoch (as the end of a working session kills a long one) goes
    // on from the batch after its last checkpoint, saved here after every batch.
    let third = [&common[..], &["--epochs", "3", "--resume"]].concat();
    let mut killed = Command::new(env!("CARGO_BIN_EXE_clinitag"))
        .args([&third[..], &["--checkpoint-minutes", "0"]].concat())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = || -> Option<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(checkpoints.join("state.json")).ok()?).ok()
    };
    loop {
        if state().is_some_and(|s| s["unfinished"]["batches_done"].as_u64() > Some(0)) {
            killed.kill().unwrap();
            killed.wait().unwrap();
            break;
        }
        assert!(
            killed.try_wait().unwrap().is_none(),
            "the third epoch ended before a checkpoint within it was seen"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let resumed = clinitag(&third);
    let log = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{log}");
    let line = log
        .lines()
        .find(|l| l.starts_with("epoch  3  goes on from its checkpoint after "))
        .unwrap_or_else(|| panic!("{log}"));
    let (done, batches) = line.rsplit(' ').nth(1).unwrap().split_once('/').unwrap();
    let (done, batches): (u64, u64) = (done.parse().unwrap(), batches.parse().unwrap());
    assert!(0 < done && done < batches, "{line}");
    // Three whole epochs' steps: the learning rate's schedule went on from where it stood.
    let state = state().unwrap();
    assert_eq!(state["epoch"], 3);
    assert_eq!(state["step"].as_u64(), Some(3 * batches), "{state}");
    assert!(state.get("unfinished").is_none(), "{state}");

    // The model tags through the same command as every other, on exact character offsets.
    let note = dir.path().join("note.txt");
    let text = "Se pautó ácido fólico 🙂 y paracetamol.\n\nPCR elevada.";
    std::fs::write(&note, text).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["tag", "--model", path(&model), path(&note)])).unwrap();
    let chars: Vec<char> = text.chars().collect();
    for entity in json["entities"].as_array().unwrap() {
        let (start, end) = (
            entity["start"].as_u64().unwrap() as usize,
            entity["end"].as_u64().unwrap() as usize,
        );
        let mention: String = chars[start..end].iter().collect();
        assert_eq!(entity["text"].as_str().unwrap(), mention);
    }
    // The model reads the languages it was trained on: Spanish here, not English.
    let error = fails(&["tag", "--lang", "en", "--model", path(&model), path(&note)]);
    assert!(error.contains("reads es, not 'en'"), "{error}");
    // 16-bit weights: about half of MiniLM's 90 MB of 32-bit floats.
    let size = std::fs::metadata(&model).unwrap().len();
    assert!((40_000_000..50_000_000).contains(&size), "{size}");
}

#[test]
fn builds_a_concept_index_scores_it_on_gold_mentions_and_attaches_concepts() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("train.idx");
    let pharmaconer = data().join("pharmaconer");
    let train = pharmaconer.join("train");
    ok(&[
        "index",
        "build",
        "--brat",
        path(&train),
        "--abbreviations-from",
        path(&train),
        "-o",
        path(&index),
    ]);
    // Gold dev mentions through the matcher beat the exact train lexicon's concept F1 of
    // 0.840 (../shared/data/README.md), with every stage reported.
    let report = ok(&[
        "index",
        "eval",
        path(&pharmaconer.join("dev")),
        "-i",
        path(&index),
    ]);
    let codes = report.lines().find(|l| l.starts_with("codes")).unwrap();
    let f1: f64 = codes.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert!(f1 > 0.845, "{report}");
    for stage in ["exact", "abbreviation", "levenshtein", "fuzzy", "none"] {
        assert!(report.contains(stage), "{stage} in {report}");
    }

    let found = ok(&[
        "index",
        "lookup",
        "-i",
        path(&index),
        "Ácido  fólico",
        "enalaprilo",
    ]);
    assert!(
        found.contains("63718003") && found.contains("exact"),
        "{found}"
    );
    // `enalaprilo` is `enalapril` in the spelling Spanish and English share.
    assert!(
        found.contains("372658000") && found.contains("crosslingual"),
        "{found}"
    );

    // Tagging attaches the index's concepts as AnnotatorNotes and subtrack 2 codes.
    let gold = dir.path().join("gold");
    let predicted = dir.path().join("predicted");
    let stems = sample("dev", 3, &gold);
    ok(&[
        "tag",
        path(&gold),
        "-o",
        path(&predicted),
        "--index",
        path(&index),
    ]);
    let tsv = std::fs::read_to_string(predicted.join(format!("{}.tsv", stems[0]))).unwrap();
    assert!(tsv.lines().any(|l| l
        .split('\t')
        .nth(1)
        .is_some_and(|c| c.parse::<u64>().is_ok())));

    // A damaged index is refused with a clear message.
    let mut bytes = std::fs::read(&index).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&index, &bytes).unwrap();
    let error = fails(&["index", "lookup", "-i", path(&index), "hierro"]);
    assert!(error.contains("truncated or damaged"), "{error}");
}

/// `index build` with `build` (and `-o`), then `index lookup` of `mentions` in what it built.
fn build_and_look_up(index: &Path, build: &[&str], mentions: &[&str]) -> String {
    ok(&[&["index", "build"], build, &["-o", path(index)]].concat());
    ok(&[&["index", "lookup", "-i", path(index)], mentions].concat())
}

#[test]
fn builds_a_concept_index_from_snomed_ct_release_files() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("rf2.idx");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rf2");
    let found = build_and_look_up(
        &index,
        &[
            "--rf2",
            path(&fixtures.join("sct2_Description_Snapshot-es_TEST.txt")),
            "--rf2",
            path(&fixtures.join("der2_cRefset_LanguageSnapshot-es_TEST.txt")),
        ],
        &["Acetaminofén", "ibuprofenos", "acetaminophen"],
    );
    let lines: Vec<&str> = found.lines().collect();
    assert!(
        lines[1].contains("387517004") && lines[1].contains("paracetamol"),
        "{found}"
    );
    assert!(
        lines[1].contains("SNOMED CT descriptions (es, en)"),
        "{found}"
    );
    assert!(
        lines[3].contains("387207008") && lines[3].contains("crosslingual"),
        "{found}"
    );
    // English descriptions are kept by default, for the cross-lingual stage.
    assert!(
        lines[5].contains("387517004") && lines[5].contains("exact"),
        "{found}"
    );
}

#[test]
fn adds_a_fhir_terminology_to_a_shipped_index() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("merged.idx");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fhir");
    let found = build_and_look_up(
        &index,
        &[
            "--base",
            "models/snomed-es.idx",
            "--fhir",
            path(&fixtures.join("ValueSet-expansion-test.json")),
            "--semantic-tags",
            "substance",
        ],
        &["Humira", "hierro", "artritis reumatoide"],
    );
    let lines: Vec<&str> = found.lines().collect();
    assert!(
        lines[1].contains("407317001") && lines[1].contains("clinitag-test-expansion"),
        "{found}"
    );
    // The shipped index's own terms are still there, with their source.
    assert!(lines[3].contains("pharmaconer/train"), "{found}");
    assert!(
        !found.contains("69896004"),
        "the disorder is not a substance: {found}"
    );

    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        "{\"resourceType\": \"ValueSet\",\n  \"expansion\": [}",
    )
    .unwrap();
    let error = fails(&[
        "index",
        "build",
        "--fhir",
        path(&broken),
        "-o",
        path(&index),
    ]);
    assert!(error.contains("broken.json, line 2"), "{error}");
}

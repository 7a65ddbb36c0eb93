//! FHIR R4 terminology resources in JSON, as terminology servers and national release centres
//! publish them: a `CodeSystem` (`concept[]`, nested for hierarchies) or a `ValueSet`
//! (`compose.include[].concept[]`, or an `expansion.contains[]`, nested too). Each concept's
//! `display` and every `designation[]`, in any language, become terms.

use super::index::{IndexBuilder, TermSource};
use super::rf2;
use super::selection::TermSelection;
use crate::error::{Error, Result};
use serde::Deserialize;

const SNOMED_CT: &str = "http://snomed.info/sct";

/// One term of a concept, as the resource gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    /// The language code (`es`, `en-US`), where the designation or the resource states one.
    pub language: Option<String>,
    /// The resource's display for the concept, its preferred term.
    pub preferred: bool,
    /// A SNOMED CT fully specified name, with its semantic tag taken off (`Adalimumab`).
    pub fully_specified: bool,
    pub text: String,
}

/// A concept and its terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Concept {
    pub code: String,
    /// SNOMED CT's semantic tag (`substance`), from a fully specified name.
    pub semantic_tag: String,
    pub terms: Vec<Term>,
}

/// What a resource holds: its name and its concepts, in the order it lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terminology {
    /// The resource's `title`, else its `name`, else its `url`.
    pub name: String,
    pub concepts: Vec<Concept>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resource {
    resource_type: String,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    url: Option<String>,
    /// A CodeSystem's own system is its url.
    #[serde(default)]
    concept: Vec<Entry>,
    #[serde(default)]
    compose: Option<Compose>,
    #[serde(default)]
    expansion: Option<Expansion>,
}

#[derive(Deserialize)]
struct Compose {
    #[serde(default)]
    include: Vec<Include>,
}

#[derive(Deserialize)]
struct Include {
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    concept: Vec<Entry>,
}

#[derive(Deserialize)]
struct Expansion {
    #[serde(default)]
    contains: Vec<Entry>,
}

/// A CodeSystem concept, a ValueSet concept reference or an expansion entry: they share
/// these fields, and nest in `concept` (CodeSystem) or `contains` (expansion).
#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    display: Option<String>,
    #[serde(default)]
    designation: Vec<Designation>,
    #[serde(default)]
    concept: Vec<Entry>,
    #[serde(default)]
    contains: Vec<Entry>,
}

#[derive(Deserialize)]
struct Designation {
    #[serde(default)]
    language: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<Coding>,
    value: String,
}

#[derive(Deserialize)]
struct Coding {
    #[serde(default)]
    code: Option<String>,
}

/// Reads a CodeSystem or ValueSet. Anything else, or JSON that does not parse, is an error
/// that names the line.
pub fn read_terminology(json: &str, source_name: &str) -> Result<Terminology> {
    let resource: Resource = serde_json::from_str(json).map_err(|e| {
        Error::parse(
            source_name,
            e.line().max(1),
            format!("not a FHIR terminology resource ({e})"),
        )
    })?;
    let mut concepts = Vec::new();
    let language = resource.language.as_deref();
    match resource.resource_type.as_str() {
        "CodeSystem" => {
            let system = resource.url.as_deref();
            collect(&resource.concept, system, language, &mut concepts);
        }
        "ValueSet" => {
            for include in resource.compose.iter().flat_map(|c| &c.include) {
                collect(
                    &include.concept,
                    include.system.as_deref(),
                    language,
                    &mut concepts,
                );
            }
            if let Some(expansion) = &resource.expansion {
                collect(&expansion.contains, None, language, &mut concepts);
            }
        }
        other => {
            return Err(Error::parse(
                source_name,
                1,
                format!("a FHIR {other}, not a CodeSystem or ValueSet"),
            ))
        }
    }
    let name = [resource.title, resource.name, resource.url]
        .into_iter()
        .flatten()
        .find(|n| !n.trim().is_empty())
        .unwrap_or_else(|| source_name.to_string());
    Ok(Terminology { name, concepts })
}

/// Flattens entries (and the entries nested in them) into concepts. Entries without a code
/// (expansion headings, say) contribute only their children.
fn collect(
    entries: &[Entry],
    system: Option<&str>,
    language: Option<&str>,
    concepts: &mut Vec<Concept>,
) {
    for entry in entries {
        let system = entry.system.as_deref().or(system);
        let snomed = system == Some(SNOMED_CT);
        if let Some(code) = entry
            .code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            let mut concept = Concept {
                code: code.to_string(),
                semantic_tag: String::new(),
                terms: Vec::new(),
            };
            if let Some(display) = &entry.display {
                concept.add(display, language, true, snomed);
            }
            for designation in &entry.designation {
                let usage = designation.usage.as_ref().and_then(|u| u.code.as_deref());
                let fully_specified = usage == Some(rf2::FULLY_SPECIFIED_NAME);
                let language = designation.language.as_deref().or(language);
                concept.add(&designation.value, language, false, fully_specified);
            }
            concepts.push(concept);
        }
        collect(&entry.concept, system, language, concepts);
        collect(&entry.contains, system, language, concepts);
    }
}

impl Concept {
    /// Adds a term; one that may be a fully specified name (a SNOMED CT display such as
    /// `Adalimumab (substance)`) loses its semantic tag, which the concept keeps.
    fn add(&mut self, text: &str, language: Option<&str>, preferred: bool, maybe_fsn: bool) {
        let (mut text, mut fully_specified) = (text.trim(), false);
        if maybe_fsn {
            let (name, tag) = rf2::split_semantic_tag(text);
            if !tag.is_empty() {
                text = name;
                fully_specified = true;
                if self.semantic_tag.is_empty() {
                    self.semantic_tag = tag.to_string();
                }
            }
        }
        if text.is_empty() {
            return;
        }
        self.terms.push(Term {
            language: language.map(str::to_string),
            preferred,
            fully_specified,
            text: text.to_string(),
        });
    }
}

/// How many concepts and terms an import added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Added {
    pub concepts: usize,
    pub terms: usize,
}

/// Adds the selected concepts and terms of `terminology` to the index as `source`. A
/// concept's preferred term is its display, in the index's language where one is given.
pub fn add_terminology(
    builder: &mut IndexBuilder,
    terminology: &Terminology,
    selection: &TermSelection,
    source: TermSource,
) -> Added {
    let mut added = Added::default();
    for concept in &terminology.concepts {
        let terms: Vec<&Term> = concept
            .terms
            .iter()
            .filter(|t| selection.keeps(t.language.as_deref(), &concept.semantic_tag))
            .collect();
        if terms.is_empty() {
            continue;
        }
        for term in &terms {
            builder.add_term(&term.text, &concept.code, 1, source);
            if term.preferred {
                builder.describe_concept(
                    &concept.code,
                    &term.text,
                    term.language.as_deref(),
                    &concept.semantic_tag,
                );
            }
        }
        builder.describe_concept(&concept.code, "", None, &concept.semantic_tag);
        added.concepts += 1;
        added.terms += terms.len();
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{Matcher, Stage};

    use crate::normalize::fixtures::{
        FHIR_CODE_SYSTEM as CODE_SYSTEM, FHIR_VALUE_SET as VALUE_SET,
    };

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_a_code_system_with_nested_concepts_and_designations() {
        let terminology = read_terminology(CODE_SYSTEM, "cs.json").unwrap();
        assert_eq!(terminology.name, "Fármacos de prueba");
        let codes: Vec<&str> = terminology
            .concepts
            .iter()
            .map(|c| c.code.as_str())
            .collect();
        // The child of a concept is read after its parent.
        assert_eq!(codes, ["387517004", "372687004", "387207008"]);
        let paracetamol = &terminology.concepts[0];
        assert_eq!(paracetamol.semantic_tag, "sustancia");
        let texts: Vec<&str> = paracetamol.terms.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "paracetamol",
                "paracetamol",
                "acetaminofén",
                "Gelocatil",
                "acetaminophen"
            ]
        );
        assert!(paracetamol.terms[1].fully_specified);
        assert_eq!(paracetamol.terms[4].language.as_deref(), Some("en-US"));
        // The resource's own language is every undeclared term's.
        assert_eq!(paracetamol.terms[0].language.as_deref(), Some("es"));
    }

    #[test]
    fn reads_an_expansion_and_strips_snomed_semantic_tags() {
        let terminology = read_terminology(VALUE_SET, "vs.json").unwrap();
        let adalimumab = &terminology.concepts[0];
        assert_eq!(adalimumab.code, "407317001");
        assert_eq!(adalimumab.semantic_tag, "substance");
        assert_eq!(adalimumab.terms[0].text, "Adalimumab");
        assert_eq!(terminology.concepts.len(), 3);
    }

    #[test]
    fn selected_terms_become_index_terms_with_their_source() {
        let mut builder = IndexBuilder::new("es");
        let source = builder.add_source("test code system");
        let terminology = read_terminology(CODE_SYSTEM, "cs.json").unwrap();
        let selection = TermSelection {
            languages: strings(&["es"]),
            semantic_tags: Vec::new(),
        };
        let added = add_terminology(&mut builder, &terminology, &selection, source);
        assert_eq!(added.concepts, 3);
        let matcher = Matcher::new(builder.build().unwrap());
        let found = &matcher.candidates("ACETAMINOFÉN")[0];
        assert_eq!(found.concept.id, "387517004");
        assert_eq!(found.concept.preferred, "paracetamol");
        assert_eq!(found.stage, Stage::Exact);
        assert_eq!(
            matcher.index().source_names(found.sources),
            ["test code system"]
        );
        assert!(matcher.index().lookup("acetaminophen").is_none());

        let mut builder = IndexBuilder::new("es");
        let source = builder.add_source("substances only, any language");
        let terminology = read_terminology(VALUE_SET, "vs.json").unwrap();
        let selection = TermSelection {
            languages: Vec::new(),
            semantic_tags: strings(&["substance"]),
        };
        let added = add_terminology(&mut builder, &terminology, &selection, source);
        assert_eq!(added.concepts, 2, "the disorder is left out");
        let index = builder.build().unwrap();
        assert!(index.lookup("adalimumab").is_some());
        assert!(index.lookup("humira").is_some(), "a designation is a term");
        assert!(index.lookup("rheumatoid arthritis").is_none());
    }

    #[test]
    fn other_resources_and_broken_json_name_the_line() {
        let error = read_terminology("{\"resourceType\": \"Patient\"}", "p.json").unwrap_err();
        assert_eq!(
            error.to_string(),
            "p.json, line 1: a FHIR Patient, not a CodeSystem or ValueSet"
        );
        let broken = "{\n  \"resourceType\": \"ValueSet\",\n  \"compose\": {\"include\": [\n}";
        let error = read_terminology(broken, "vs.json").unwrap_err().to_string();
        assert!(
            error.starts_with("vs.json, line 4: not a FHIR terminology"),
            "{error}"
        );
    }
}

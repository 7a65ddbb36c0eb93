//! What the note says about each entity: present, negated, possible, hypothetical, someone
//! else's (family) or past (historical), and the cue that decided it.
//!
//! ConText (Harkema et al. 2009), as medspaCy runs it: trigger phrases of each category open
//! a scope forward or backward from them within the sentence; the scope ends at a terminating
//! phrase or after a number of tokens; an entity in scopes takes a relative's (family) if one
//! holds it, else the category of its nearest trigger. The phrases are data
//! ([`AssertionRules`]): the Spanish ones from NegEx-MES with clinitag's own for the other
//! categories, the English ones medspaCy's ConText rules (`scripts/assertion_rules.py` writes
//! both).

mod context;
mod rules;

pub use crate::document::Assertion;
pub use context::{AssertionRules, Scope};
pub use rules::{Direction, Rule};

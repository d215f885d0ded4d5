//! The review domain of an open project: its results (generations listed from the start of
//! a scan, pending until their matches come), its label store and every pair's label, and the
//! session's review pace.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::export::CurrentNames;
use crate::project::Project;
use crate::ranking::matches::{GenerationMatches, Match, sort_by_top_similarity};
use crate::review::{Change, Label, LabelRecord, PairContext, PairKey, ReviewStore};
use crate::scan::PendingGeneration;

/// Labels remembered for the pace (the last this many).
const PACE_WINDOW: usize = 60;

/// What the review knows of one project.
pub struct ReviewState {
    project: Project,
    results: Vec<GenerationMatches>,
    by_generation: HashMap<String, usize>,
    /// Generations listed by the running scan whose matches have not come yet.
    pending: HashSet<String>,
    store: ReviewStore,
    labels: HashMap<PairKey, LabelRecord>,
    model_key: crate::embed::ModelKey,
    /// When labels were given this session, newest last (for the pace).
    labelled_at: VecDeque<(Instant, usize)>,
    /// How long the last label write took.
    last_write: Option<Duration>,
    /// The review plan, and the names of the generations it drew.
    plan: Option<(crate::review::plan::ReviewPlan, HashSet<String>)>,
    /// Pairs whose reviewers disagree and that no one has adjudicated: each reviewer's label.
    disputes: HashMap<PairKey, std::collections::BTreeMap<String, Label>>,
    /// Pairs adjudicated (never disputed again, whatever reviewers say).
    adjudicated: HashSet<PairKey>,
    /// Blind review: on when others have labelled the project. The desk then shows only the
    /// current reviewer's own labels, and others' on a pair once one's own is given.
    blind: Option<Blind>,
    /// Whether the current reviewer has chosen to adjudicate, which shows the labels of
    /// disputed pairs they have not labelled themselves.
    adjudicating: bool,
}

/// What blind review keeps apart.
struct Blind {
    /// The current reviewer.
    me: String,
    /// Other reviewers' labels, by pair.
    others: HashMap<PairKey, std::collections::BTreeMap<String, Label>>,
}

/// A pair of the results: (generation index, match index).
pub type PairAt = (usize, usize);

impl ReviewState {
    /// The review of `project`, from its store, labels and last results.
    pub fn new(
        project: Project,
        store: ReviewStore,
        labels: Vec<LabelRecord>,
        results: Vec<GenerationMatches>,
        model_key: crate::embed::ModelKey,
    ) -> Self {
        let mut review = Self {
            project,
            results: Vec::new(),
            by_generation: HashMap::new(),
            pending: HashSet::new(),
            store,
            labels: labels.into_iter().map(|r| (r.key.clone(), r)).collect(),
            model_key,
            labelled_at: VecDeque::new(),
            last_write: None,
            plan: None,
            blind: None,
            adjudicating: false,
            disputes: HashMap::new(),
            adjudicated: HashSet::new(),
        };
        for result in results {
            review.upsert(result);
        }
        review
    }

    /// Turns blind review on when `given` (every reviewer's own labels) holds labels by
    /// someone other than `me`: the desk's labels become `me`'s own.
    pub fn go_blind(&mut self, given: Vec<crate::review::reviewers::ReviewerLabel>, me: &str) {
        if given.iter().all(|l| l.reviewer == me) {
            return;
        }
        let mut others: HashMap<PairKey, std::collections::BTreeMap<String, Label>> =
            HashMap::new();
        let mut own = HashMap::new();
        for l in given {
            if l.reviewer == me {
                own.insert(l.key.clone(), l.record);
            } else {
                others.entry(l.key).or_default().insert(l.reviewer, l.label);
            }
        }
        self.labels = own;
        self.blind = Some(Blind {
            me: me.to_string(),
            others,
        });
    }

    /// Takes the disagreements of `given` (every reviewer's own labels) not settled by
    /// `adjudications` as the queue to adjudicate.
    pub fn set_disputes(
        &mut self,
        given: &[crate::review::reviewers::ReviewerLabel],
        adjudications: &[crate::review::reviewers::Adjudication],
    ) {
        let agreed = crate::review::reviewers::agreement(given, adjudications);
        let queue: HashSet<PairKey> = agreed.disagreements.into_iter().collect();
        self.adjudicated = adjudications.iter().map(|a| a.key.clone()).collect();
        self.disputes.clear();
        for l in given.iter().filter(|l| queue.contains(&l.key)) {
            self.disputes
                .entry(l.key.clone())
                .or_default()
                .insert(l.reviewer.clone(), l.label);
        }
    }

    /// Whether any pair waits for adjudication.
    pub fn has_disputes(&self) -> bool {
        !self.disputes.is_empty()
    }

    /// The reviewers' labels on pair `at` when they disagree and no one has adjudicated.
    pub fn dispute_on(&self, at: PairAt) -> Option<&std::collections::BTreeMap<String, Label>> {
        self.disputes.get(&self.key_of(at)?)
    }

    /// Whether any pair of generation `i` is disputed.
    pub fn disputed_generation(&self, i: usize) -> bool {
        self.results
            .get(i)
            .is_some_and(|r| (0..r.matches.len()).any(|m| self.dispute_on((i, m)).is_some()))
    }

    /// Adjudicates pair `at` as `label` (the final label, kept apart from the reviewers').
    pub(super) fn adjudicate(
        &mut self,
        at: PairAt,
        label: Label,
        reviewer: &str,
    ) -> Result<(), String> {
        let Some(key) = self.key_of(at) else {
            return Ok(());
        };
        self.store
            .adjudicate(&key, Some(label), reviewer)
            .map_err(|e| e.to_string())?;
        self.disputes.remove(&key);
        self.adjudicated.insert(key);
        Ok(())
    }

    /// Brings the queue up to date for `key` after the current reviewer's own label on it
    /// changed (blind review keeps everyone else's labels at hand, so nothing is read).
    fn update_dispute(&mut self, key: &PairKey) {
        let Some(blind) = &self.blind else {
            return;
        };
        let mut given = blind.others.get(key).cloned().unwrap_or_default();
        if let Some(mine) = self.labels.get(key).and_then(|r| r.label) {
            given.insert(blind.me.clone(), mine);
        }
        let disagree = !given.is_empty()
            && crate::review::reviewers::agreed_label(given.values().copied()).is_none();
        if disagree && !self.adjudicated.contains(key) {
            self.disputes.insert(key.clone(), given);
        } else {
            self.disputes.remove(key);
        }
    }

    /// Shows the labels as `me` should see them: blind review again from the store (a changed
    /// reviewer name changes whose labels are one's own).
    pub(super) fn use_reviewer(&mut self, me: &str) -> Result<(), String> {
        let given = self.store.reviewer_labels().map_err(|e| e.to_string())?;
        let latest = self.store.all().map_err(|e| e.to_string())?;
        self.blind = None;
        self.labels = latest.into_iter().map(|r| (r.key.clone(), r)).collect();
        self.go_blind(given, me);
        Ok(())
    }

    /// Whether the reviewers' labels on a disputed pair `at` may be shown: without blind
    /// review, once the current reviewer has labelled the pair, or while they adjudicate
    /// (an adjudicator must see them; a third reviewer who has not labelled must not).
    pub fn dispute_shown(&self, at: PairAt) -> bool {
        self.blind.is_none()
            || self.adjudicating
            || self
                .key_of(at)
                .and_then(|key| self.labels.get(&key))
                .is_some_and(|r| r.label.is_some())
    }

    /// Whether the current reviewer adjudicates (sees every dispute's labels).
    pub fn adjudicating(&self) -> bool {
        self.adjudicating
    }

    /// Starts or stops adjudicating.
    pub(super) fn set_adjudicating(&mut self, on: bool) {
        self.adjudicating = on;
    }

    /// Whether blind review is on.
    pub fn is_blind(&self) -> bool {
        self.blind.is_some()
    }

    /// Other reviewers' labels on pair `at`, shown once the current reviewer has given one
    /// (blind review only).
    pub fn others_on(&self, at: PairAt) -> Option<&std::collections::BTreeMap<String, Label>> {
        let blind = self.blind.as_ref()?;
        let key = self.key_of(at)?;
        self.labels.get(&key)?;
        blind.others.get(&key)
    }

    /// The review plan, if one was drawn.
    pub fn plan(&self) -> Option<&crate::review::plan::ReviewPlan> {
        self.plan.as_ref().map(|(plan, _)| plan)
    }

    /// Whether generation `i` is in the review plan.
    pub fn in_plan(&self, i: usize) -> bool {
        self.plan
            .as_ref()
            .zip(self.results.get(i))
            .is_some_and(|((_, names), r)| names.contains(&r.generation))
    }

    /// Takes `plan` as the review plan.
    pub fn set_plan(&mut self, plan: Option<crate::review::plan::ReviewPlan>) {
        self.plan = plan.map(|plan| {
            let names = plan.generations.iter().cloned().collect();
            (plan, names)
        });
    }

    /// The project.
    pub fn project(&self) -> &Project {
        &self.project
    }

    /// Every generation (pending ones without matches), in the order they came.
    pub fn results(&self) -> &[GenerationMatches] {
        &self.results
    }

    /// Generation `i`.
    pub fn result(&self, i: usize) -> Option<&GenerationMatches> {
        self.results.get(i)
    }

    /// Whether generation `i` waits for its matches.
    pub fn is_pending(&self, i: usize) -> bool {
        self.results
            .get(i)
            .is_some_and(|r| self.pending.contains(&r.generation))
    }

    /// Generations waiting for their matches.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// The model key of the results.
    pub fn model_key(&self) -> &crate::embed::ModelKey {
        &self.model_key
    }

    /// How long the last label write took.
    pub fn last_write(&self) -> Option<Duration> {
        self.last_write
    }

    /// Every label record.
    pub fn records(&self) -> impl Iterator<Item = &LabelRecord> {
        self.labels.values()
    }

    /// The key of pair `(i, m)`, when the scan recorded both images' hashes.
    pub fn key_of(&self, (i, m): PairAt) -> Option<PairKey> {
        let result = self.results.get(i)?;
        PairKey::of(result, result.matches.get(m)?)
    }

    /// The label record of pair `(i, m)`.
    pub fn pair_record(&self, at: PairAt) -> Option<&LabelRecord> {
        self.labels.get(&self.key_of(at)?)
    }

    /// The label of pair `(i, m)`.
    pub fn pair_label(&self, at: PairAt) -> Option<Label> {
        self.pair_record(at).and_then(|r| r.label)
    }

    /// The most severe label on any pair of generation `i`.
    pub fn generation_label(&self, i: usize) -> Option<Label> {
        let result = self.results.get(i)?;
        let rank = |l: Label| Label::ALL.iter().position(|x| *x == l).unwrap_or(9);
        (0..result.matches.len())
            .filter_map(|m| self.pair_label((i, m)))
            .min_by_key(|&l| rank(l))
    }

    /// The index of the generation named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_generation.get(name).copied()
    }

    /// Every pair of the results under its current names, by key.
    pub fn current_names(&self) -> CurrentNames {
        let mut names = CurrentNames::new();
        for result in &self.results {
            for m in &result.matches {
                if let Some(key) = PairKey::of(result, m) {
                    names.insert(key, (result.generation.clone(), m.training.clone()));
                }
            }
        }
        names
    }

    /// Labels given per hour this session, over the last labels (`None` before two).
    pub fn pace_per_hour(&self) -> Option<f64> {
        let (first, _) = self.labelled_at.front()?;
        let (last, _) = self.labelled_at.back()?;
        let labels: usize = self.labelled_at.iter().skip(1).map(|(_, n)| n).sum();
        let secs = last.duration_since(*first).as_secs_f64();
        (labels > 0 && secs > 0.0).then(|| labels as f64 * 3600.0 / secs)
    }

    /// Adds or replaces one generation's results.
    pub(super) fn upsert(&mut self, result: GenerationMatches) {
        self.pending.remove(&result.generation);
        match self.by_generation.get(&result.generation) {
            Some(&i) => self.results[i] = result,
            None => {
                self.by_generation
                    .insert(result.generation.clone(), self.results.len());
                self.results.push(result);
            }
        }
    }

    /// Lists a scan's generations before their matches: each one not yet in the results is
    /// added without matches, pending.
    pub(super) fn list_pending(&mut self, listed: Vec<PendingGeneration>) {
        for generation in listed {
            if self.by_generation.contains_key(&generation.generation) {
                continue;
            }
            self.pending.insert(generation.generation.clone());
            self.upsert(GenerationMatches {
                generation: generation.generation.clone(),
                generation_path: generation.generation_path,
                generation_hash: None,
                prompt: generation.prompt,
                prompt_source: None,
                key: None,
                url: None,
                matches: Vec::new(),
                region_hits: Vec::new(),
                collage: false,
                notes: Vec::new(),
            });
            self.pending.insert(generation.generation);
        }
    }

    /// A scan ended: keep the generations it matched (`seen`, when it finished), drop the
    /// pending ones it never matched, sort by top-1 similarity. Returns the old index → new
    /// index map's lookup by name for the caller's selection.
    pub(super) fn scan_ended(
        &mut self,
        seen: Option<&HashSet<String>>,
        model_key: Option<crate::embed::ModelKey>,
    ) {
        let pending = std::mem::take(&mut self.pending);
        self.results.retain(|r| match seen {
            Some(seen) => seen.contains(&r.generation),
            None => !pending.contains(&r.generation),
        });
        sort_by_top_similarity(&mut self.results);
        self.by_generation = self
            .results
            .iter()
            .enumerate()
            .map(|(i, r)| (r.generation.clone(), i))
            .collect();
        if let Some(key) = model_key {
            self.model_key = key;
        }
    }

    fn context(&self, (i, m): PairAt) -> Option<(PairKey, (String, String), PairContext)> {
        let result = self.results.get(i)?;
        let matched: &Match = result.matches.get(m)?;
        let key = PairKey::of(result, matched)?;
        Some((
            key,
            (result.generation.clone(), matched.training.clone()),
            PairContext::of(result, matched, &self.model_key),
        ))
    }

    /// Labels `pairs` (one transaction, one undo step), on disk when this returns.
    pub(super) fn label(
        &mut self,
        pairs: &[PairAt],
        label: Option<Label>,
        reviewer: &str,
    ) -> Result<usize, String> {
        let mut batch = Vec::with_capacity(pairs.len());
        for &at in pairs {
            match self.context(at) {
                Some(pair) => batch.push(pair),
                None => {
                    return Err(format!(
                        "{} cannot be labelled: its results predate content keys and its files could not be read; scan the project again",
                        self.results
                            .get(at.0)
                            .map_or("A pair", |r| r.generation.as_str())
                    ));
                }
            }
        }
        if batch.is_empty() {
            return Ok(0);
        }
        let started = Instant::now();
        let records = self
            .store
            .set_labels(&batch, label, reviewer)
            .map_err(|e| e.to_string())?;
        self.last_write = Some(started.elapsed());
        let count = records.len();
        for record in records {
            let key = record.key.clone();
            self.labels.insert(key.clone(), record);
            // With several reviewers a label may open (or settle) a disagreement.
            self.update_dispute(&key);
        }
        self.labelled_at.push_back((Instant::now(), count));
        while self.labelled_at.len() > PACE_WINDOW {
            self.labelled_at.pop_front();
        }
        Ok(count)
    }

    /// Saves the note of pair `at` (unchanged notes are not written).
    pub(super) fn note(&mut self, at: PairAt, text: &str, reviewer: &str) -> Result<(), String> {
        let Some((key, names, context)) = self.context(at) else {
            return Ok(());
        };
        let unchanged = self
            .labels
            .get(&key)
            .map_or(text.is_empty(), |r| r.note == text);
        if unchanged {
            return Ok(());
        }
        let record = self
            .store
            .set_note(&key, (&names.0, &names.1), text, reviewer, &context)
            .map_err(|e| e.to_string())?;
        self.labels.insert(key, record);
        Ok(())
    }

    /// Undoes (or redoes) `reviewer`'s own latest change; returns the pairs it changed.
    pub(super) fn step(&mut self, redo: bool, reviewer: &str) -> Result<Vec<Change>, String> {
        let changes = if redo {
            self.store.redo_own(reviewer)
        } else {
            self.store.undo_own(reviewer)
        }
        .map_err(|e| e.to_string())?;
        if let Some(blind) = &self.blind {
            // The pair's latest label may be another reviewer's: show one's own instead.
            let own: HashMap<PairKey, LabelRecord> = self
                .store
                .reviewer_labels()
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|l| l.reviewer == blind.me)
                .map(|l| (l.key, l.record))
                .collect();
            for change in &changes {
                match own.get(&change.key) {
                    Some(record) => self.labels.insert(change.key.clone(), record.clone()),
                    None => self.labels.remove(&change.key),
                };
                self.update_dispute(&change.key);
            }
            return Ok(changes);
        }
        for change in &changes {
            match &change.now {
                Some(record) => self.labels.insert(change.key.clone(), record.clone()),
                None => self.labels.remove(&change.key),
            };
        }
        Ok(changes)
    }

    /// Where pair `key` is in the results, if it is there.
    pub fn find(&self, key: &PairKey) -> Option<PairAt> {
        self.results.iter().enumerate().find_map(|(i, r)| {
            (r.generation_hash.as_deref() == Some(key.generation_hash.as_str()))
                .then(|| {
                    r.matches
                        .iter()
                        .position(|m| {
                            m.training_hash.as_deref() == Some(key.training_hash.as_str())
                        })
                        .map(|m| (i, m))
                })
                .flatten()
        })
    }
}

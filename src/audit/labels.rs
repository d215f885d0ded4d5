//! The labels' side of the report: each pair's final label, reviewers' agreement, the copy
//! rate estimated from labelled bands, and the top pairs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::audit::options::AuditError;
use crate::export::report::{LabelSummary, LabelledPair, PairwiseKappa, TopPair};
use crate::project::Project;
use crate::project::last_scan::LastScan;
use crate::project::review::open_review;
use crate::review::Label;
use crate::stats::{self, BandPrecision};

/// The labels of the pairs of the project's last scan (labels of pairs an earlier scan of
/// other folders found are counted as left out, not mixed in).
pub(crate) fn label_summary(
    project: &Project,
    last: &LastScan,
) -> Result<LabelSummary, AuditError> {
    let (store, _) = open_review(project)?;
    let current: BTreeSet<crate::review::PairKey> = last
        .results
        .iter()
        .flat_map(|r| {
            r.matches
                .iter()
                .filter_map(|m| crate::review::PairKey::of(r, m))
        })
        .collect();
    let (given, older): (Vec<_>, Vec<_>) = store
        .reviewer_labels()?
        .into_iter()
        .partition(|l| current.contains(&l.key));
    let older_pairs: BTreeSet<&crate::review::PairKey> = older.iter().map(|l| &l.key).collect();
    let agreement = crate::review::reviewers::agreement(&given, &store.adjudications()?);
    let mut summary = LabelSummary {
        reviewers: agreement.reviewers.clone(),
        double_reviewed: agreement.double_reviewed,
        disagreements: agreement.disagreements.len(),
        adjudicated: agreement.adjudicated,
        cohen_kappa: agreement
            .cohen
            .iter()
            .map(|c| PairwiseKappa {
                a: c.a.clone(),
                b: c.b.clone(),
                kappa: c.kappa,
                n: c.n,
            })
            .collect(),
        fleiss_kappa: agreement.fleiss,
        labels: given.len(),
        labelled_pairs: given.iter().map(|l| &l.key).collect::<BTreeSet<_>>().len(),
        left_out_pairs: older_pairs.len(),
        left_out_labels: older.len(),
        ..LabelSummary::default()
    };
    let as_pair =
        |l: &crate::review::reviewers::ReviewerLabel, label: Label, reviewer: &str| LabelledPair {
            generation: l.generation.clone(),
            training: l.training.clone(),
            similarity: l.similarity,
            label: label.as_str().to_string(),
            reviewer: reviewer.to_string(),
            labelled_at: l.labelled_at.clone(),
        };
    let mut seen = BTreeSet::new();
    for l in &given {
        summary.pairs.push(as_pair(l, l.label, &l.reviewer));
        if let Some(&label) = agreement.finals.get(&l.key)
            && seen.insert(l.key.clone())
        {
            *summary
                .counts
                .entry(label.as_str().to_string())
                .or_insert(0) += 1;
            summary.final_pairs.push(as_pair(l, label, "final"));
        }
    }
    Ok(summary)
}

/// Each generation's band (of its highest similarity) and, where its top pair is labelled,
/// whether it is a copy.
pub(crate) fn copy_rate(
    last: &LastScan,
    top1: &[f32],
    labels: &LabelSummary,
) -> Option<stats::CopyRateEstimate> {
    let labelled = finals_by_pair(labels);
    let mut bands: BTreeMap<i32, BandPrecision> = BTreeMap::new();
    for (result, &s) in last.results.iter().zip(top1) {
        let band = stats::band_of(s);
        let entry = bands.entry(band).or_insert(BandPrecision {
            from: band as f32 * stats::BAND,
            generations: 0,
            labelled: 0,
            copies: 0,
        });
        entry.generations += 1;
        let top = result
            .matches
            .iter()
            .max_by(|a, b| a.similarity.total_cmp(&b.similarity));
        if let Some(label) =
            top.and_then(|m| labelled.get(&(result.generation.as_str(), m.training.as_str())))
        {
            entry.labelled += 1;
            entry.copies += usize::from(*label != Label::Distinct.as_str());
        }
    }
    stats::estimate_copy_rate(&bands.into_values().collect::<Vec<_>>())
}

/// Each pair's final label, by (generation, training).
fn finals_by_pair(labels: &LabelSummary) -> HashMap<(&str, &str), &str> {
    labels
        .final_pairs
        .iter()
        .map(|p| {
            (
                (p.generation.as_str(), p.training.as_str()),
                p.label.as_str(),
            )
        })
        .collect()
}

pub(crate) fn top_pairs(last: &LastScan, labels: &LabelSummary) -> Vec<TopPair> {
    let labelled = finals_by_pair(labels);
    let mut given: HashMap<(&str, &str), BTreeMap<String, String>> = HashMap::new();
    for p in &labels.pairs {
        given
            .entry((p.generation.as_str(), p.training.as_str()))
            .or_default()
            .insert(p.reviewer.clone(), p.label.clone());
    }
    let mut pairs: Vec<TopPair> = last
        .results
        .iter()
        .flat_map(|r| r.matches.iter().map(move |m| (r, m)))
        .map(|(r, m)| TopPair {
            generation: r.generation.clone(),
            generation_path: r.generation_path.clone(),
            training: m.training.clone(),
            training_path: m.training_path.clone(),
            training_key: m.training_key.clone(),
            training_url: m.training_url.clone(),
            similarity: m.similarity,
            label: labelled
                .get(&(r.generation.as_str(), m.training.as_str()))
                .map(|l| (*l).to_string()),
            reviewers: given
                .get(&(r.generation.as_str(), m.training.as_str()))
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    pairs.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    pairs.truncate(24);
    pairs
}

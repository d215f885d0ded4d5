//! Why a match is where it is, in a reviewer's words: the window of the generation that found
//! it (a small copy inside a screenshot is found by a window, not by the whole image), and
//! how far layout agreement lifted it above SSCD's own order. The desk shows these beside the
//! pair; the similarity itself is always SSCD's cosine.

use crate::ranking::matches::Match;

/// What found or lifted a match.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// Found by a window of the generation: `[x, y, w, h]` in generation pixels, and the
    /// window's share of the generation's width when that is known.
    Window {
        /// The window.
        cell: [u32; 4],
        /// Its width over the generation's.
        width_share: Option<f32>,
    },
    /// Lifted above images SSCD ranks higher by layout agreement.
    Layout {
        /// Its rank by SSCD similarity alone.
        sscd_rank: usize,
        /// Its rank now.
        rank: usize,
        /// The layouts' agreement (-1 to 1).
        agreement: f32,
        /// What the agreement added to its ranking score.
        added: f32,
    },
}

impl Reason {
    /// One line for a reviewer.
    pub fn text(&self) -> String {
        match self {
            Self::Window { cell, width_share } => {
                let [x, y, w, h] = cell;
                let share = width_share
                    .map(|s| format!(", {:.0}% of its width", s * 100.0))
                    .unwrap_or_default();
                format!(
                    "Found by a window of the generation: {w}x{h} px at ({x}, {y}){share}. It is outlined on the generation; with Aligned on, the training image is laid over it."
                )
            }
            Self::Layout {
                sscd_rank,
                rank,
                agreement,
                added,
            } => format!(
                "Lifted from #{sscd_rank} by SSCD alone to #{rank} by layout agreement {agreement:.2} (+{added:.2} to its ranking score); the similarity shown is SSCD's own."
            ),
        }
    }
}

/// The reasons behind `matches[selected]`, ranked with layout `weight`, for a generation
/// `generation_width` pixels wide (when known).
pub fn reasons(
    matches: &[Match],
    selected: usize,
    generation_width: Option<u32>,
    weight: f32,
) -> Vec<Reason> {
    let Some(m) = matches.get(selected) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    if let Some(cell) = m.region {
        found.push(Reason::Window {
            cell,
            width_share: generation_width
                .filter(|w| *w > 0)
                .map(|w| cell[2] as f32 / w as f32),
        });
    }
    let sscd_rank = 1 + matches
        .iter()
        .filter(|other| other.similarity > m.similarity)
        .count();
    if let Some(agreement) = m.layout.filter(|_| sscd_rank > m.rank) {
        found.push(Reason::Layout {
            sscd_rank,
            rank: m.rank,
            agreement,
            added: weight * agreement.max(0.0),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ImageLocation;

    fn m(rank: usize, similarity: f32, layout: Option<f32>, region: Option<[u32; 4]>) -> Match {
        Match {
            rank,
            training: format!("t{rank}.jpg"),
            similarity,
            score: None,
            region,
            layout,
            verification: None,
            training_path: ImageLocation::File(format!("/t/t{rank}.jpg").into()),
            training_caption: None,
            training_key: None,
            training_url: None,
            training_hash: None,
            ranked_by: None,
            duplicates: None,
            index_key: None,
        }
    }

    #[test]
    fn a_lifted_match_names_its_sscd_rank_and_what_layout_added() {
        // #1 by the ranking is third by SSCD (0.41 against 0.47 and 0.44).
        let matches = [
            m(1, 0.41, Some(0.9), None),
            m(2, 0.47, Some(0.1), None),
            m(3, 0.44, None, None),
        ];
        let found = reasons(&matches, 0, None, 0.3);
        assert_eq!(found.len(), 1);
        let Reason::Layout {
            sscd_rank,
            rank,
            agreement,
            added,
        } = found[0]
        else {
            panic!("expected a layout reason, got {found:?}");
        };
        assert_eq!((sscd_rank, rank, agreement), (3, 1, 0.9));
        assert!((added - 0.27).abs() < 1e-6);
        assert!(found[0].text().contains("#3 by SSCD alone to #1"));
        // The match SSCD ranks first was not lifted: no reason.
        assert!(reasons(&matches, 1, None, 0.3).is_empty());
        assert!(reasons(&matches, 7, None, 0.3).is_empty());
    }

    #[test]
    fn a_window_match_gives_its_rectangle_and_share_of_the_width() {
        let matches = [m(1, 0.62, None, Some([960, 90, 192, 120]))];
        let found = reasons(&matches, 0, Some(1280), 0.3);
        assert_eq!(
            found,
            vec![Reason::Window {
                cell: [960, 90, 192, 120],
                width_share: Some(0.15)
            }]
        );
        assert!(
            found[0]
                .text()
                .contains("192x120 px at (960, 90), 15% of its width")
        );
    }
}

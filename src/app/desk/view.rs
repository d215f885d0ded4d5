//! What the reviewer is looking at: the list's sort, filters and order, the selected pair,
//! the grid's page and selection, the compare view, the note being edited, an open question.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::review::ReviewState;
pub use crate::app::choices::{LabelFilter, Mode, SortKey};
use crate::app::commands::GridCommand;
use crate::app::compare::CompareState;
use crate::review::Label;

/// The list's sort and filters.
#[derive(Debug, Clone, PartialEq)]
pub struct ListFilter {
    /// The sort.
    pub sort: SortKey,
    /// Filter on the prompt and file name (case-insensitive).
    pub text: String,
    /// Lowest top-1 similarity shown.
    pub min_similarity: f32,
    /// Highest top-1 similarity shown.
    pub max_similarity: f32,
    /// Filter on labels.
    pub labels: LabelFilter,
    /// Show only generations marked as collages.
    pub collages_only: bool,
    /// Show only the review plan's generations.
    pub plan_only: bool,
    /// Show only generations waiting for adjudication.
    pub disputed_only: bool,
    /// Show only generations whose prompt uses this phrase (normalised, whole words).
    pub phrase: Option<String>,
}

impl Default for ListFilter {
    fn default() -> Self {
        Self {
            sort: SortKey::Similarity,
            text: String::new(),
            min_similarity: -1.0,
            max_similarity: 1.0,
            labels: LabelFilter::All,
            collages_only: false,
            plan_only: false,
            disputed_only: false,
            phrase: None,
        }
    }
}

/// The grid's page, cursor and selection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GridState {
    /// Tiles per row, as last drawn.
    pub columns: usize,
    /// Rows per page, as last drawn.
    pub rows: usize,
    /// The first position (in list order) of the page shown.
    pub first: usize,
    /// The cursor's position in list order.
    pub cursor: usize,
    /// Where a Shift selection starts.
    pub anchor: usize,
    /// Selected generations (indices into the results).
    pub selected: BTreeSet<usize>,
}

impl GridState {
    /// Applies a grid command to the grid over the list's `order` (generation indices in
    /// list order): the cursor, the selection, the page, the layout; then keeps the cursor's
    /// page on screen.
    pub(super) fn apply(&mut self, command: GridCommand, order: &[usize]) {
        let len = order.len();
        let grid = self;
        let select_range = |grid: &mut GridState, to: usize| {
            let (a, b) = (grid.anchor.min(to), grid.anchor.max(to));
            grid.selected = order[a..=b.min(len.saturating_sub(1))]
                .iter()
                .copied()
                .collect();
        };
        match command {
            GridCommand::Click {
                position,
                extend,
                toggle,
            } => {
                if position >= len {
                    return;
                }
                grid.cursor = position;
                if extend {
                    select_range(grid, position);
                } else if toggle {
                    let i = order[position];
                    if !grid.selected.remove(&i) {
                        grid.selected.insert(i);
                    }
                    grid.anchor = position;
                } else {
                    grid.selected = std::iter::once(order[position]).collect();
                    grid.anchor = position;
                }
            }
            GridCommand::Move { dx, dy, extend } => {
                if len == 0 {
                    return;
                }
                let step = dx + dy * grid.columns.max(1) as isize;
                let to = (grid.cursor as isize + step).clamp(0, len as isize - 1) as usize;
                grid.cursor = to;
                if extend {
                    select_range(grid, to);
                } else {
                    grid.anchor = to;
                    grid.selected = std::iter::once(order[to]).collect();
                }
            }
            GridCommand::Page(pages) => {
                let per_page = grid.per_page();
                let last_page = len.saturating_sub(1) / per_page;
                let page = (grid.first / per_page) as isize + pages;
                let page = page.clamp(0, last_page as isize) as usize;
                grid.first = page * per_page;
                grid.cursor = grid.first.min(len.saturating_sub(1));
                grid.anchor = grid.cursor;
                grid.selected.clear();
            }
            GridCommand::SelectPage => {
                grid.selected = order
                    .iter()
                    .skip(grid.first)
                    .take(grid.per_page())
                    .copied()
                    .collect();
            }
            // The desk opens the cursor's pair (`Desk::grid`).
            GridCommand::Open => {}
            GridCommand::Layout { columns, rows } => {
                grid.columns = columns.max(1);
                grid.rows = rows.max(1);
            }
        }
        grid.keep_cursor_page();
    }

    /// Shows the page the cursor is on.
    pub(super) fn keep_cursor_page(&mut self) {
        let per_page = self.per_page();
        self.first = self.cursor / per_page * per_page;
    }

    /// Tiles per page (at least one).
    pub fn per_page(&self) -> usize {
        (self.columns * self.rows).max(1)
    }
}

/// A question waiting for the reviewer's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Question {
    /// Label these (unlabelled, top) pairs of the page distinct?
    LabelRestOfPage(Vec<usize>),
}

/// The view state.
#[derive(Default)]
pub struct ViewState {
    mode: Mode,
    filter: ListFilter,
    order: Vec<usize>,
    dirty: bool,
    /// Select the list's first generation once it is built and no scan is running (on
    /// opening, and after a scan that left nothing selected), so the pair view never opens
    /// on "No generation selected".
    select_first: bool,
    rebuilt_at: Option<Instant>,
    selected: Option<usize>,
    selected_match: usize,
    grid: GridState,
    compare: CompareState,
    question: Option<Question>,
}

impl ViewState {
    /// A fresh view.
    pub fn new() -> Self {
        Self {
            dirty: true,
            select_first: true,
            ..Self::default()
        }
    }

    /// Which view is shown.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The list's sort and filters.
    pub fn filter(&self) -> &ListFilter {
        &self.filter
    }

    /// The results' indices in list order.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// The selected generation.
    pub fn selected(&self) -> Option<usize> {
        self.selected
    }

    /// The selected match of that generation.
    pub fn selected_match(&self) -> usize {
        self.selected_match
    }

    /// The grid.
    pub fn grid(&self) -> &GridState {
        &self.grid
    }

    /// The compare view.
    pub fn compare(&self) -> &CompareState {
        &self.compare
    }

    /// The question waiting for an answer.
    pub fn question(&self) -> Option<&Question> {
        self.question.as_ref()
    }

    pub(super) fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    pub(super) fn filter_mut(&mut self) -> &mut ListFilter {
        self.dirty = true;
        &mut self.filter
    }

    pub(super) fn compare_mut(&mut self) -> &mut CompareState {
        &mut self.compare
    }

    pub(super) fn grid_mut(&mut self) -> &mut GridState {
        &mut self.grid
    }

    pub(super) fn set_question(&mut self, question: Option<Question>) {
        self.question = question;
    }

    /// Asks for the order to be rebuilt.
    pub(super) fn invalidate(&mut self) {
        self.dirty = true;
    }

    /// Selects generation `i` (its first match; the view fits).
    pub(super) fn select(&mut self, i: usize) {
        if self.selected != Some(i) {
            self.selected = Some(i);
            self.selected_match = 0;
            self.compare.fit();
        }
    }

    /// Selects match `m` of the selected generation (clamped to its matches).
    pub(super) fn select_match(&mut self, m: usize, matches: usize) {
        if matches > 0 {
            self.selected_match = m.min(matches - 1);
        }
    }

    /// After the results were re-sorted: selects the generation named `name` again.
    pub(super) fn reselect(&mut self, index: Option<usize>) {
        self.selected = index;
        self.select_first |= index.is_none();
        self.grid.selected.clear();
        self.dirty = true;
    }

    /// Rebuilds the list order when it changed (at most every 200 ms while `busy`).
    pub(super) fn refresh(&mut self, review: &ReviewState, busy: bool) {
        if !self.dirty {
            return;
        }
        if busy
            && self
                .rebuilt_at
                .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        let needle = self.filter.text.to_lowercase();
        let results = review.results();
        let top = |i: usize| results[i].top_similarity().unwrap_or(-1.0);
        let mut order: Vec<usize> = (0..results.len())
            .filter(|&i| {
                let r = &results[i];
                // Pending generations have no similarity yet: they show unless a range
                // narrower than everything is asked for.
                let pending = review.is_pending(i);
                let full_range =
                    self.filter.min_similarity <= -1.0 && self.filter.max_similarity >= 1.0;
                if !(pending && full_range)
                    && (top(i) < self.filter.min_similarity || top(i) > self.filter.max_similarity)
                {
                    return false;
                }
                if !needle.is_empty()
                    && !r.generation.to_lowercase().contains(&needle)
                    && !r
                        .prompt
                        .as_deref()
                        .is_some_and(|p| p.to_lowercase().contains(&needle))
                {
                    return false;
                }
                if let Some(phrase) = &self.filter.phrase
                    && !r
                        .prompt
                        .as_deref()
                        .is_some_and(|p| crate::prompts::phrases::contains(p, phrase))
                {
                    return false;
                }
                if self.filter.collages_only && !r.collage {
                    return false;
                }
                if self.filter.plan_only && !review.in_plan(i) {
                    return false;
                }
                if self.filter.disputed_only && !review.disputed_generation(i) {
                    return false;
                }
                self.filter.labels.admits(review.generation_label(i))
            })
            .collect();
        match self.filter.sort {
            SortKey::Similarity => order.sort_by(|&a, &b| {
                top(b)
                    .total_cmp(&top(a))
                    .then_with(|| results[a].generation.cmp(&results[b].generation))
            }),
            SortKey::Name => {
                order.sort_by(|&a, &b| results[a].generation.cmp(&results[b].generation))
            }
            SortKey::Label => {
                let rank = |i: usize| {
                    review
                        .generation_label(i)
                        .map_or(9, |l| Label::ALL.iter().position(|x| *x == l).unwrap_or(9))
                };
                order.sort_by(|&a, &b| rank(a).cmp(&rank(b)).then(top(b).total_cmp(&top(a))));
            }
        }
        self.order = order;
        self.dirty = false;
        self.rebuilt_at = Some(Instant::now());
        if self.select_first && !busy {
            if self.selected.is_none()
                && let Some(&first) = self.order.first()
            {
                self.select(first);
            }
            self.select_first = self.selected.is_none();
        }
        let len = self.order.len();
        self.grid.cursor = self.grid.cursor.min(len.saturating_sub(1));
        self.grid.first = self.grid.first.min(len.saturating_sub(1));
    }

    /// The position of the selected generation in the list.
    pub fn selected_position(&self) -> Option<usize> {
        let selected = self.selected?;
        self.order.iter().position(|&i| i == selected)
    }
}

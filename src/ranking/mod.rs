//! Matching and ranking, with no threads: how a generation's matches are found in the training
//! index (whole image, regions and windows, blank windows skipped), re-ranked by layout
//! agreement, shortlisted by the cascade's student, and explained.

pub mod blank;
pub mod cascade;
pub mod composite;
pub mod explain;
pub mod layout;
pub mod matches;
pub mod matching;
pub mod regions;
pub mod structure;
pub mod switch;
pub mod verify;

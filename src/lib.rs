//! Replicant finds training-data replication in image generators: for each generated image it
//! finds the closest training images with Meta's SSCD copy-detection embeddings, and gives
//! reviewers a desk to label each pair full copy, near copy or distinct.
//!
//! Layers, dependencies pointing down only: [`app`] (the egui desk) → [`pipeline`] (scan
//! jobs, progress, cancellation, caches) → [`catalog`], [`decode`], [`embed`], [`index`],
//! [`review`], [`export`], with the shared domain types in [`matches`]. Nothing below `app`
//! uses egui, eframe, winit or wgpu, so the command line and tests drive everything the desk
//! does. The desk is the default-on `desk` feature; without it (`--no-default-features`)
//! every command but the desk builds with no GUI crate at all.

pub mod align;
#[cfg(feature = "desk")]
pub mod app;
pub mod catalog;
pub mod decode;
pub mod demo;
pub mod embed;
pub mod eval;
pub mod explain;
pub mod export;
pub mod fsutil;
pub mod index;
pub mod layout;
pub mod matches;
pub mod pipeline;
pub mod review;
pub mod stats;

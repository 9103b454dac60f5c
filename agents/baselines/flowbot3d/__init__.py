"""FlowBot3D-style baseline (Eisner et al., RSS 2022): per-point 3D articulation flow regressed from the
object's point cloud (lifted from depth), acted on by pulling the point of largest flow along its flow."""

import YibiaoCore

/// Namespace reserved for YibiaoMerge; see docs/architecture.md.
public enum YibiaoMergeModule {}

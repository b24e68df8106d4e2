import YibiaoCore

/// Namespace reserved for YibiaoMatching; see docs/architecture.md.
public enum YibiaoMatchingModule {}

import YibiaoCore

/// Namespace reserved for YibiaoAdapters; see docs/architecture.md.
public enum YibiaoAdaptersModule {}

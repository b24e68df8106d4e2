import YibiaoCore

/// Namespace reserved for YibiaoServer; see docs/architecture.md.
public enum YibiaoServerModule {}

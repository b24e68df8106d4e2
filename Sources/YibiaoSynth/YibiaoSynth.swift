import YibiaoCore

/// Namespace reserved for YibiaoSynth; see docs/architecture.md.
public enum YibiaoSynthModule {}

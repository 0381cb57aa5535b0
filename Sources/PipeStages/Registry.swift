public import PipeCore

/// The ops this build of `pipe` provides.
public enum Ops {
  /// Every op with its versions, config schema and constructor. Listed explicitly (no runtime
  /// discovery), so `pipe ops` and pipeline validation see exactly what the code can run; a
  /// semantic change adds a new version next to the old one instead of editing it.
  public static let registry = OpRegistry([
    Normalize.descriptor,
    LengthFilter.descriptor,
    ExactDedup.descriptor,
    ParagraphDedup.descriptor,
    MinHashDedup.descriptor,
    MinHashDedup.descriptorVersion2,
    Passthrough.descriptor,
    LanguageID.descriptor,
    LanguageID.descriptorVersion2,
    CodeLanguage.descriptor,
    Decontaminate.descriptor,
    GopherFilter.descriptor,
    C4Filter.descriptor,
    FineWebFilter.descriptor,
    CodeFilter.descriptor,
    TokenCount.descriptor,
    MixturePlanStage.descriptor,
    MixtureSample.descriptor,
    LLMGenerate.descriptor,
    LLMJudge.descriptor,
    StarAgents.descriptor,
    StarAgents.descriptorVersion2,
    CounterfactualGenerate.descriptor,
    EvaluatorTrain.descriptor,
    QualityMole.descriptor,
  ])
}

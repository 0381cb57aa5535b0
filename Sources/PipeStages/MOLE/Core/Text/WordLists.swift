/// Closed word classes used by the fluency rule and by the features, as hash sets.
///
/// Function words are listed for the languages most common in the project's corpora; in other
/// languages the fluency rule still swaps words, it only drops fewer of them.
enum WordLists {
  /// Function words (articles, prepositions, conjunctions, auxiliaries, particles).
  static let functionWords: Set<UInt64> = hashes(
    [englishFunctionWords, germanicFunctionWords, romanceFunctionWords, cjkFunctionWords].joined(separator: " "))

  private static let englishFunctionWords = """
    a an the of to in on at by for with from into onto upon about as than that which who whom whose
    and or but nor so yet if then because while although though since unless until whether
    is are was were be been being am do does did has have had will would shall should can could may might must
    it its this these those there their they them he she his her him we our us you your i me my
    not no also just very too only such some any each every all both either neither
    """

  /// German and Dutch.
  private static let germanicFunctionWords = """
    der die das den dem des ein eine einer einem einen und oder aber mit von zu im ist sind war nicht auch
    für auf aus bei nach über wie als wenn dass sich es er sie wir ihr
    de het een en van op te dat voor met niet zijn worden wordt ook aan bij door naar
    """

  /// French, Spanish, Portuguese and Italian.
  private static let romanceFunctionWords = """
    le la les un une des du au aux et ou mais avec pour par sur dans est sont ce cette qui que pas ne il elle
    el los las del al y o pero con por para sobre es son este esta se lo una unos
    o os as do da dos das em no na nos nas um uma com pelo pela não é
    il lo gli della delle di dei e con per su non che
    """

  /// Chinese and Japanese particles of one character: `MoleWords` makes each Han or kana character
  /// a word, so longer particles could never match.
  private static let cjkFunctionWords = "的 了 是 在 和 也 就 都 而 及 与 着 之 其 或 被 把 は が を に の で と も へ や"

  /// MoleWords that open a sentence by pointing back to an earlier one (pronouns, connectives):
  /// in a coherent text they follow their antecedent, so where they appear is an order cue.
  static let backwardReferences: Set<UInt64> = hashes(
    """
    this these that those it its they them their he she his her such there then however therefore thus hence
    also moreover furthermore additionally consequently otherwise instead meanwhile finally similarly likewise
    besides nevertheless nonetheless accordingly second third next lastly but and or so because for example
    dies diese dieser deshalb daher außerdem jedoch ce cette ces donc cependant ainsi este esta estos por eso
    sin embargo además isso isto assim portanto questo questa quindi inoltre 这 此 其 该
    """)

  /// MoleWords typical of web boilerplate (navigation, sharing, cookies, subscriptions, legal
  /// footers); the features count them, as C4's and FineWeb's line filters do.
  static let boilerplateWords: Set<UInt64> = hashes(
    """
    click subscribe subscribed newsletter cookie cookies login logout signup sign share shares shared tweet
    facebook twitter instagram linkedin pinterest whatsapp reddit youtube advertisement advertising sponsored
    privacy copyright reserved terms policy menu skip navigation homepage home contact comments comment reply
    posted follow download app unsubscribe javascript browser loading popular trending related tags
    """)

  /// Keywords of common programming languages, which the identifier rule never renames.
  static let codeKeywords: Set<UInt64> = hashes(
    """
    abstract and as assert async await auto bool boolean break byte case catch char class const constexpr continue
    def default defer del delete do double elif else enum except explicit export extends extern false final finally
    float fn for foreach from func function global go goto if impl implements import in include inline instanceof int
    interface is lambda let long loop match mod module mut namespace native new nil none nonlocal not null nullptr
    of operator or override package pass print private protected pub public raise range register return self
    short signed sizeof static struct super switch sync synchronized template this throw throws trait true try
    type typedef typename typeof uint union unsafe unsigned use using var virtual void volatile where while with
    yield my our sub local elsif unless foreach last next redo fi then esac done echo define ifdef ifndef endif
    pragma undef string str list dict map vec option result some ok err std size_t char8_t u8 u16 u32 u64 i32 i64
    f32 f64 usize isize main args argv argc len object java lang util io os sys
    """)

  /// Every list above in one table, for one lookup per word in the feature loop (a `Set`
  /// lookup hashes its key again, which costs more than the rest of the word's work).
  static let flags = WordFlagTable(
    [
      (functionWords, WordFlagTable.function), (backwardReferences, WordFlagTable.backwardReference),
      (boilerplateWords, WordFlagTable.boilerplate), (codeKeywords, WordFlagTable.codeKeyword),
    ])

  /// Hashes of the whitespace-separated words of `text`, as `MoleWords.hash` computes them.
  static func hashes(_ text: String) -> Set<UInt64> {
    Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { MoleWords.hash(String($0)) })
  }
}

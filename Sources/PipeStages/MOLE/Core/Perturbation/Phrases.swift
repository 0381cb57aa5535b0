import PipeCore

/// Text inserted by the prose and code rules.
///
/// Filler is assembled from parts (opener, subject, predicate) so that there are hundreds of
/// variants rather than a handful of sentences an evaluator could memorise one by one.
enum Phrases {
  /// Generic filler parts in one language.
  struct FillerParts {
    /// Sentence openers, including their trailing punctuation and space.
    var openers: [String]
    /// Vague subjects.
    var subjects: [String]
    /// Vague predicates, ending the sentence.
    var predicates: [String]
    /// What goes between two filler sentences.
    var joiner: String
  }

  /// English filler; also used for languages without their own list.
  static let englishFiller = FillerParts(
    openers: [
      "", "In general, ", "Generally speaking, ", "For the most part, ", "In many ways, ", "All things considered, ",
      "Needless to say, ", "As a matter of fact, ", "In some sense, ", "At the end of the day, ", "Of course, ",
      "Basically, ",
    ],
    subjects: [
      "this", "this topic", "the subject", "the whole thing", "this area", "everything here", "it", "the situation",
      "this kind of thing", "the matter", "this part", "all of this",
    ],
    predicates: [
      "is very important.", "matters a lot.", "is something to think about.", "can be quite interesting.",
      "has many different aspects.", "depends on various things.", "is worth keeping in mind.", "is what it is.",
      "means different things to different people.", "is more or less as expected.", "can vary in many ways.",
      "is relevant in a lot of cases.", "should be considered carefully.", "is useful for many people.",
    ],
    joiner: " ")

  /// Chinese filler, for texts written mostly in Han characters.
  static let chineseFiller = FillerParts(
    openers: ["", "总的来说，", "一般来说，", "在很多方面，", "事实上，", "当然，", "基本上，"],
    subjects: ["这个问题", "这件事", "这方面", "这个主题", "这一切", "这种情况"],
    predicates: ["非常重要。", "值得考虑。", "有很多不同的方面。", "取决于各种因素。", "因人而异。", "在很多情况下都有关系。"],
    joiner: "")

  /// Japanese filler, for texts with kana.
  static let japaneseFiller = FillerParts(
    openers: ["", "一般的に言って、", "多くの点で、", "実際に、", "もちろん、", "基本的に、"],
    subjects: ["これは", "このことは", "この問題は", "この分野は", "すべては", "この状況は"],
    predicates: ["とても大切です。", "考える価値があります。", "いろいろな面があります。", "場合によって違います。", "多くの人に役立ちます。"],
    joiner: "")

  /// Web boilerplate lines (navigation, sharing, cookie and subscription prompts, footers).
  static let boilerplate: [String] = [
    "Click here to subscribe to our newsletter!", "Share this article on Facebook, Twitter and LinkedIn.",
    "We use cookies to improve your experience. Accept all cookies", "Skip to main content",
    "© 2024 All rights reserved.", "Home » Blog » Articles", "Read more »", "Sign up for free today!",
    "Log in | Register | Forgot password?", "Posted by admin at 10:42 AM", "Tags: news, updates, misc",
    "Related posts:", "Loading...", "Page 2 of 5 « Previous Next »", "Follow us on Instagram and YouTube",
    "Privacy Policy · Terms of Service · Contact Us", "Download our free app now!", "Comments (0) | Leave a reply",
    "You may also like:", "Advertisement", "Subscribe to get the latest posts sent to your email.",
    "This site uses Akismet to reduce spam.", "Back to top ↑", "Menu ☰", "Sponsored content",
    "Please enable JavaScript in your browser to view this page.", "Trending now: 10 tips you won't believe",
    "Previous post | Next post", "Don't miss out! Join 10,000+ subscribers.", "Share | Tweet | Pin | Email",
    "Cookie settings", "Powered by WordPress", "Last updated: 3 days ago", "Rate this: ★★★★☆",
    "Print this page", "Add to cart", "Breaking news", "Click to expand", "Report an ad", "View comments",
  ]

  /// Notes that mark code as unfinished or suspect.
  static let correctnessMarkers: [String] = [
    "TODO: fix this properly", "FIXME: this is broken for some inputs", "XXX: temporary hack, remove before release",
    "HACK: works for now", "TODO: handle errors here", "FIXME: why does this even work?", "TODO: clean this up",
    "XXX: not thread safe", "FIXME: memory leak?", "TODO: add checks", "HACK: copied from somewhere, do not touch",
    "TODO: this is wrong but tests pass",
  ]

  /// Statement openers that raise or assert, removed by the correctness-markers rule.
  static let errorHandlingOpeners: [String] = [
    "assert", "raise ", "throw ", "panic!(", "die ", "die(", "croak", "abort(", "exit(1)", "return -1;",
    "return err", "return nil, err", "Objects.requireNonNull", "precondition(",
  ]

  /// Filler text of at least `length` bytes (one sentence at least) in the style of `parts`.
  static func filler(_ parts: FillerParts, length: Int, using generator: inout SeededRNG) -> [UInt8] {
    var out: [UInt8] = []
    repeat {
      if !out.isEmpty { out.append(parts.joiner) }
      let opener = parts.openers[generator.below(parts.openers.count)]
      var subject = parts.subjects[generator.below(parts.subjects.count)]
      if opener.isEmpty, parts.joiner == " ", let first = subject.first {
        // English subjects start lowercase; capitalise at the start of a sentence.
        subject = first.uppercased() + subject.dropFirst()
      }
      out.append(opener)
      out.append(subject)
      if parts.joiner == " " { out.append(" ") }
      out.append(parts.predicates[generator.below(parts.predicates.count)])
    } while out.count < length
    return out
  }
}

import Foundation
import PipeCore
import Testing

@testable import PipeStages

/// `lang.id@1` and its model, in memory. The model is the one shipped in the resource bundle.
struct LanguageIDTests {
  // MARK: - Agreement with the Python script

  /// One line of golden.jsonl: a held-out text and what make_langid_model.py predicted.
  struct GoldenText: Decodable {
    var id: String
    var language: String
    var predicted: String
    var score: Double
    var text: String
  }

  /// The golden file written by `make langid-model`: a character table, then the texts.
  static func goldenLines() throws -> [Data] {
    let url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
      .appendingPathComponent("golden.jsonl")
    let data = try Data(contentsOf: url)
    return data.split(separator: UInt8(ascii: "\n")).map { Data($0) }
  }

  @Test func agreesWithThePythonModelOnEveryGoldenText() throws {
    let model = try LanguageModel.shared()
    let texts = try Self.goldenLines().dropFirst().map { try JSONDecoder().decode(GoldenText.self, from: $0) }
    #expect(texts.count >= 200)
    var disagreements: [String] = []
    for golden in texts {
      let prediction = model.classify(golden.text)
      let language = prediction.language ?? "und"
      if language != golden.predicted || abs(prediction.score - golden.score) > 1e-4 {
        disagreements.append(
          "\(golden.id): swift \(language) \(prediction.score), python \(golden.predicted) \(golden.score)")
      }
    }
    #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
  }

  @Test func cutsWordsExactlyAsThePythonScript() throws {
    struct Table: Decodable { var characters: [[UInt32]] }
    let lines = try Self.goldenLines()
    let table = try JSONDecoder().decode(Table.self, from: try #require(lines.first))
    #expect(table.characters.count > 1000)
    var mismatches: [String] = []
    for row in table.characters {
      let (cp, letter, folded, script) = (row[0], row[1] == 1, row[2], UInt8(row[3]))
      if LanguageModel.isLetter(cp) != letter || LanguageModel.fold(cp) != folded
        || LanguageModel.script(of: cp) != script
      {
        mismatches.append(String(cp, radix: 16))
      }
    }
    #expect(mismatches.isEmpty, "U+\(mismatches.prefix(20))")
  }

  // MARK: - One text per script

  /// Real sentences from the held-out man pages and catalogues, one or more per script.
  static let sentences: [(language: String, text: String)] = [
    ("en", "This function marks the end of an idiom sequence. Specifies the object class to initialize."),
    ("de", "Accessdb gibt den Inhalt einer Man-db-Datenbank in einer für Menschen lesbaren Form aus."),
    ("fr", "Le fichier contient les valeurs par défaut des programmes adduser, addgroup, deluser et delgroup."),
    ("es", "whatis muestra descripciones de una línea de las páginas de manual."),
    ("pl", "dpkg-split dzieli pakiety binarne Debiana na mniejsze części oraz scala je z powrotem."),
    ("ru", "accessdb выводит данные, содержащиеся внутри базы данных man-db в понятном человеку формате."),
    ("uk", "Команда chage змінює кількість днів між змінами паролів і дату останньої зміни пароля."),
    ("el", "Το αρχείο ρυθμίσεων δεν υπάρχει στο σύστημα. Εγκατάσταση νέου αρχείου config όπως ζητήσατε."),
    ("ar", "يستخدم للتبليغ عن تغير وصف عمود الجدول يستخدم للتبليغ عن تغير رأس عمود الجدول"),
    ("he", "נדרש אימות כדי להסכים לרישיון משתמש הקצה נדרש אימות כדי לבטל משימה שלא התחלת בעצמך"),
    ("hi", "एक वैध वर्ण नहीं है वर्ण के बाद; एक अवयव नाम से प्रारंभ नहीं होता"),
    ("th", "หน่วยความจำไม่พอสำหรับพิกซ์บัฟใหม่ อ่านตารางสีของ XPM ไม่สำเร็จ"),
    ("ko", "login 풀그림은 한 시스템에 접속처리를 하는 풀그림이다. 또한 현재 접속 중에서도 한 사용자에서 다른 사용자로 바꾸고자 할 때도 사용될 수 있다."),
    ("ja", "groupdel コマンドは、システムアカウントファイルを修正し、グループ group に対応するすべてのエントリを削除する。"),
    ("zh", "如果此字段包含一个数字，此数字会用于 UID。如果一个现有用户更改了 UID，此用户的文件所有权需要手动修复。"),
  ]

  @Test(arguments: sentences)
  func identifiesTheLanguageOfARealSentence(_ sample: (language: String, text: String)) throws {
    let stage = try LanguageID()
    let (verdict, record) = try run(stage, on: sample.text)
    #expect(verdict == .keep)
    #expect(record.metadata("language") == .string(sample.language))
    let score = try #require(record.metadata("language_score")?.doubleValue)
    #expect(score >= 0.65 && score <= 1)
  }

  @Test func coversAtLeastFortyLanguagesInEveryRequiredScript() throws {
    let model = try LanguageModel.shared()
    #expect(model.languages.count >= 40)
    for code in ["en", "ru", "el", "ar", "he", "hi", "th", "ko", "ja", "zh"] {
      #expect(model.languages.contains(code), "\(code)")
    }
  }

  // MARK: - Edge cases

  @Test func emptyTextIsUndeterminedAndDropped() throws {
    let (verdict, record) = try run(try LanguageID(), on: "")
    #expect(verdict == .drop(reason: LanguageID.belowThresholdReason, detail: "und 0.0 < 0.65"))
    #expect(record.metadata("language") == .string("und"))
    #expect(record.metadata("language_score") == .double(0))
  }

  @Test func textWithoutLettersIsUndeterminedAndKeptAsUndWhenAsked() throws {
    let stage = try LanguageID(belowThreshold: .keep)
    let (verdict, record) = try run(stage, on: "12:30 — 3.14159 ++ --> [] {} 😀😀 ٣٤٥ ૧૨")
    #expect(verdict == .keep)
    #expect(record.metadata("language") == .string("und"))
    #expect(record.metadata("language_score") == .double(0))
  }

  @Test func oneWordIsClassifiedWithModestConfidence() throws {
    let model = try LanguageModel.shared()
    let prediction = model.classify("Datenbank")
    let language = try #require(prediction.language)
    #expect(model.languages.contains(language))
    #expect(prediction.score > 0 && prediction.score <= 1)
    // A single word's score is divided by minNgrams, not by its few n-grams: less sure.
    let sentence = model.classify(
      "Accessdb gibt den Inhalt einer Man-db-Datenbank in einer für Menschen lesbaren Form aus.")
    #expect(sentence.language == "de")
    #expect(sentence.score >= prediction.score)
  }

  @Test func aSingleScriptLanguageNeedsOneCharacter() throws {
    let model = try LanguageModel.shared()
    #expect(model.classify("ก").language == "th")
    #expect(model.classify("한").language == "ko")
    #expect(model.classify("ひらがな").language == "ja")
  }

  @Test func anEnormousLineIsClassifiedFromItsFirstCharactersQuickly() throws {
    let sentence = "Accessdb gibt den Inhalt einer Man-db-Datenbank in einer für Menschen lesbaren Form aus. "
    let text = String(repeating: sentence, count: 5_000_000 / sentence.utf8.count + 1)
    #expect(text.utf8.count > 5_000_000)
    let stage = try LanguageID()
    let clock = ContinuousClock()
    var outcome: (verdict: Verdict, record: Record)?
    let elapsed = try clock.measure { outcome = try run(stage, on: text) }
    #expect(outcome?.verdict == .keep)
    #expect(outcome?.record.metadata("language") == .string("de"))
    #expect(elapsed < .seconds(5), "\(elapsed)")

    // One 5 MB word without any separator.
    let word = String(repeating: "x", count: 5_000_000)
    let prediction = try LanguageModel.shared().classify(word, maxChars: 10_000)
    #expect(prediction.language != nil)
  }

  @Test func maxCharsLimitsWhatIsRead() throws {
    let model = try LanguageModel.shared()
    let text =
      "Команда chage змінює кількість днів між змінами паролів. "
      + String(repeating: "Accessdb gibt den Inhalt einer Datenbank in lesbarer Form aus. ", count: 50)
    #expect(model.classify(text, maxChars: 40).language == "uk")
    #expect(model.classify(text).language == "de")
  }

  // MARK: - Threshold and allowlist

  @Test func aLowScoreIsDroppedOrKeptAsUnd() throws {
    let model = try LanguageModel.shared()
    let word = "apt"
    let prediction = model.classify(word)
    let predicted = try #require(prediction.language)
    #expect(prediction.score < 0.65)

    let (dropped, droppedRecord) = try run(try LanguageID(), on: word)
    guard case .drop(let reason, let detail) = dropped else {
      Issue.record("expected a drop, got \(dropped)")
      return
    }
    #expect(reason == "language_score_below_threshold")
    #expect(detail?.hasPrefix(predicted + " ") == true)
    #expect(droppedRecord.metadata("language") == .string(predicted))

    let (kept, keptRecord) = try run(try LanguageID(belowThreshold: .keep), on: word)
    #expect(kept == .keep)
    #expect(keptRecord.metadata("language") == .string("und"))
    let score = try #require(keptRecord.metadata("language_score")?.doubleValue)
    #expect(abs(score - prediction.score) <= 0.00005)

    let (lenient, lenientRecord) = try run(try LanguageID(threshold: 0), on: word)
    #expect(lenient == .keep)
    #expect(lenientRecord.metadata("language") == .string(predicted))
  }

  @Test func theScoreIsRoundedToFourDecimals() throws {
    let (_, record) = try run(try LanguageID(threshold: 0), on: "Datenbank Menschen")
    let score = try #require(record.metadata("language_score")?.doubleValue)
    #expect((score * 10_000).rounded() / 10_000 == score)
  }

  @Test func languagesOutsideTheAllowlistAreDropped() throws {
    let german = "Accessdb gibt den Inhalt einer Man-db-Datenbank in einer für Menschen lesbaren Form aus."
    let onlyFrench = try LanguageID(languages: ["fr", "en"])
    let (verdict, record) = try run(onlyFrench, on: german)
    #expect(verdict == .drop(reason: "language_not_selected", detail: "de"))
    #expect(record.metadata("language") == .string("de"))

    let withGerman = try LanguageID(languages: ["fr", "de"])
    #expect(try run(withGerman, on: german).verdict == .keep)

    // Kept as und below the threshold, und must be listed to survive the allowlist.
    let undToo = try LanguageID(belowThreshold: .keep, languages: ["de", "und"])
    #expect(try run(undToo, on: "").verdict == .keep)
    let undMissing = try LanguageID(belowThreshold: .keep, languages: ["de"])
    #expect(try run(undMissing, on: "").verdict == .drop(reason: "language_not_selected", detail: "und"))
  }

  @Test func anUnknownLanguageCodeIsAConfigError() throws {
    let error = #expect(throws: PipeError.self) { try LanguageID(languages: ["de", "german"]) }
    #expect(error?.code == .config)
    #expect(error?.message.contains("german") == true)
  }

  @Test func existingMetadataIsKeptBesideTheNewKeys() throws {
    var record = makeRecord(
      "Le fichier contient les valeurs par défaut des programmes.", metadata: ["source": .string("x")])
    let verdict = try LanguageID().process(&record, context: testContext)
    #expect(verdict == .keep)
    #expect(record.metadata("source") == .string("x"))
    #expect(record.metadata("language") == .string("fr"))
    #expect(record.jsonLine.contains("\"language\":\"fr\""))
  }

  // MARK: - Descriptor and model file

  @Test func descriptorResolvesWithDefaults() throws {
    let descriptor = LanguageID.descriptor
    #expect(descriptor.qualifiedName == "lang.id@1")
    let (config, issues) = descriptor.resolve([:], path: "stages[0].config")
    #expect(issues.isEmpty)
    let resolved = try #require(config)
    #expect(resolved.values["threshold"]?.doubleValue == 0.65)
    #expect(resolved.values["belowThreshold"]?.stringValue == "drop")
    #expect(resolved.values["languages"]?.arrayValue?.compactMap(\.stringValue) == [])
    #expect(resolved.values["maxChars"]?.intValue == 10_000)
    guard case .record(let stage) = try descriptor.make(resolved) else {
      Issue.record("expected a record stage")
      return
    }
    var record = makeRecord("Команда chage змінює кількість днів між змінами паролів і дату останньої зміни пароля.")
    #expect(try stage.process(&record, context: testContext) == .keep)
    #expect(record.metadata("language") == .string("uk"))
  }

  @Test func descriptorRejectsBadValues() {
    let (_, issues) = LanguageID.descriptor.resolve(
      ["threshold": .double(1.5), "belowThreshold": .string("maybe"), "maxChars": .int(0)], path: "s")
    #expect(Set(issues.map(\.path)) == ["s.threshold", "s.belowThreshold", "s.maxChars"])
  }

  @Test func aMissingOrCorruptModelFileIsAConfigErrorNamingThePath() throws {
    let missing = "/nonexistent/langid.bin"
    let error = #expect(throws: PipeError.self) { try LanguageModel.load(path: missing) }
    #expect(error?.code == .config)
    #expect(error?.file == missing)
    let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: LanguageModel.defaultPath())))
    var flipped = good
    flipped[flipped.count / 2] ^= 0x40
    for bytes in [Array("not a model".utf8), Array(good.prefix(1000)), flipped] {
      let error = #expect(throws: PipeError.self) { try LanguageModel(bytes: bytes, path: "broken.bin") }
      #expect(error?.code == .config)
      #expect(error?.file == "broken.bin")
      #expect(error?.message.contains("corrupt") == true)
    }
    #expect(try LanguageModel(bytes: good, path: "good.bin").languages == LanguageModel.shared().languages)
  }
}

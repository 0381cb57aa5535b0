import PipeCore

extension Record {
  /// Sets `text` to `newText` whenever their UTF-8 bytes differ.
  ///
  /// `Record.text`'s setter ignores a value that is `==` to the current text, and `String ==` is
  /// Unicode canonical equivalence: setting the NFC form of an NFD text would be ignored and the
  /// decomposed bytes written out. When that happens the text is set twice, through a value
  /// that is certainly different, so the new bytes stick.
  mutating func replaceText(with newText: String) {
    text = newText
    let stuck = withTextUTF8 { $0.elementsEqual(newText.utf8) }
    if !stuck {
      text = newText.isEmpty ? " " : ""
      text = newText
    }
  }
}

import Foundation
import Testing

/// Reads an export's chat files the way a fine-tuning tool does (TRL's SFT trainer, axolotl's
/// chat_template datasets): one JSON object per line with `messages`, roles from
/// system/user/assistant, user and assistant alternating and ending with the assistant, no
/// empty turn; and checks the export's manifest counts them.
enum ChatExportCheck {
  static func expectReadable(_ outputFolder: String) throws {
    let manifestData = try #require(FileManager.default.contents(atPath: outputFolder + "/manifest.json"))
    let manifest = try #require(try JSONSerialization.jsonObject(with: manifestData) as? [String: Any])
    let chat = try #require(manifest["chat"] as? [String: Any], "no chat section in \(outputFolder)/manifest.json")
    let files = try #require(chat["files"] as? [[String: Any]])
    var conversations = 0
    for file in files {
      let name = try #require(file["path"] as? String)
      #expect(name.hasPrefix("chat-") && name.hasSuffix(".jsonl"))
      let text = try String(contentsOfFile: outputFolder + "/" + name, encoding: .utf8)
      #expect(text.hasSuffix("\n"))
      for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
        let object = try #require(
          try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
        let messages = try #require(object["messages"] as? [[String: Any]])
        let roles = messages.compactMap { $0["role"] as? String }
        #expect(roles.count == messages.count)
        let turns = roles.first == "system" ? Array(roles.dropFirst()) : roles
        #expect(!turns.isEmpty && turns.count % 2 == 0, "\(roles)")
        for (index, role) in turns.enumerated() { #expect(role == (index % 2 == 0 ? "user" : "assistant")) }
        for message in messages {
          let content = try #require(message["content"] as? String)
          #expect(!content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "an empty turn in \(line)")
        }
        #expect(object["id"] is String)
        #expect(object["metadata"] is [String: Any])
        conversations += 1
      }
    }
    #expect(conversations > 0)
    #expect(chat["conversations"] as? Int == conversations)
  }
}

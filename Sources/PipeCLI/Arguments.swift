import PipeCore

/// Parsed command-line arguments of one command: positionals, options with values, flags.
struct Arguments {
  var positionals: [String] = []
  var options: [String: [String]] = [:]
  var flags: Set<String> = []

  /// Parses `arguments` given the options that take a value and the flags a command knows.
  /// `--name=value` and `--name value` both work; anything unknown is a usage error.
  init(_ arguments: [String], options valued: Set<String>, flags known: Set<String>, command: String) throws {
    var index = 0
    var onlyPositionals = false
    while index < arguments.count {
      let argument = arguments[index]
      index += 1
      if onlyPositionals || !argument.hasPrefix("-") || argument == "-" {
        positionals.append(argument)
        continue
      }
      if argument == "--" {
        onlyPositionals = true
        continue
      }
      var name = argument
      var inlineValue: String? = nil
      if let equals = argument.firstIndex(of: "=") {
        name = String(argument[..<equals])
        inlineValue = String(argument[argument.index(after: equals)...])
      }
      if valued.contains(name) {
        if let inlineValue {
          options[name, default: []].append(inlineValue)
        } else if index < arguments.count {
          options[name, default: []].append(arguments[index])
          index += 1
        } else {
          throw PipeError(.usage, "\(name) needs a value (see `pipe \(command) --help`)")
        }
      } else if known.contains(name), inlineValue == nil {
        flags.insert(name)
      } else {
        throw PipeError(.usage, "unknown option \(argument) for `pipe \(command)` (see `pipe \(command) --help`)")
      }
    }
  }

  func value(_ name: String) -> String? { options[name]?.last }

  func values(_ name: String) -> [String] { options[name] ?? [] }

  func int(_ name: String, range: ClosedRange<Int>) throws -> Int? {
    guard let text = value(name) else { return nil }
    guard let number = Int(text), range.contains(number) else {
      throw PipeError(
        .usage, "\(name) expects an integer in \(range.lowerBound)...\(range.upperBound), got \"\(text)\"")
    }
    return number
  }

  func expectPositionals(_ count: ClosedRange<Int>, usage: String) throws {
    guard count.contains(positionals.count) else {
      throw PipeError(.usage, "usage: \(usage)")
    }
  }
}

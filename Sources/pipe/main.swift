import Foundation
import PipeCLI

exit(CLI.main(Array(CommandLine.arguments.dropFirst())))

import ArgumentParser
import Foundation
import FreeLB

struct Robustness: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Maximum loss increment inside an L2 ball in word-embedding space (spec §10, paper Table 5).")

    func run() throws {
        fail(RunError("robustness: not available yet"))
    }
}

// Compares each target's dependencies in Package.swift with the modules its Swift files import, checks
// that only the allowed targets touch the kernels and BLAS, and that no target sets unsafeFlags.
// Run through scripts/check-dependencies.sh:  swift scripts/check-dependencies.swift MANIFEST.json
// (MANIFEST.json from `swift package dump-package`). Prints every problem, exits 1 if there is one.
import Foundation

/// Module → the targets allowed to depend on it or import it (every other target is a layer violation).
let lowLevelUsers: [String: Set<String>] = [
    "CFreeLBKernels": ["FreeLBTensor", "freelb-bench", "CFreeLBKernelsTests"],
    "FreeLBBLAS": ["FreeLBTensor", "freelb-bench", "FreeLBTensorTests"],
    "COpenBLAS": ["FreeLBBLAS"],
]

struct Target {
    let name: String
    let type: String
    let directory: String
    let dependencies: [String]
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("check-dependencies: \(message)\n".utf8))
    exit(2)
}

guard CommandLine.arguments.count == 2, let manifestData = FileManager.default.contents(atPath: CommandLine.arguments[1]),
      let manifest = try? JSONSerialization.jsonObject(with: manifestData) as? [String: Any],
      let rawTargets = manifest["targets"] as? [[String: Any]]
else { fail("usage: swift scripts/check-dependencies.swift MANIFEST.json (from swift package dump-package)") }

// A dependency is {"byName": [name, condition]}, {"target": [name, condition]} or {"product": [name, package, …]};
// a product is imported under its own name (ArgumentParser).
let targets: [Target] = rawTargets.map { raw in
    let name = raw["name"] as? String ?? "?"
    let type = raw["type"] as? String ?? "regular"
    let directory = raw["path"] as? String ?? (type == "test" ? "Tests/\(name)" : "Sources/\(name)")
    let dependencies = (raw["dependencies"] as? [[String: Any]] ?? []).compactMap { dependency in
        dependency.values.first.flatMap { ($0 as? [Any])?.first as? String }
    }
    return Target(name: name, type: type, directory: directory, dependencies: dependencies)
}
let executables = Set(targets.filter { $0.type == "executable" }.map(\.name))
let knownModules = Set(targets.map(\.name)).union(targets.flatMap(\.dependencies))

/// Imported module → the first file that imports it. Skips lines inside multi-line string literals.
func imports(under directory: String) -> (modules: [String: String], swiftFiles: Int) {
    guard let walker = FileManager.default.enumerator(atPath: directory) else { return ([:], 0) }
    let importLine = try! NSRegularExpression(
        pattern: #"^\s*(?:@\w+(?:\([^)]*\))?\s+)*import\s+(?:(?:typealias|struct|class|enum|protocol|let|var|func)\s+)?(\w+)"#)
    var modules: [String: String] = [:]
    var swiftFiles = 0
    for case let relative as String in walker where relative.hasSuffix(".swift") {
        let path = directory + "/" + relative
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { fail("cannot read \(path)") }
        swiftFiles += 1
        var insideString = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let quotes = line.components(separatedBy: "\"\"\"").count - 1
            if !insideString, let match = importLine.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)),
               let range = Range(match.range(at: 1), in: line), knownModules.contains(String(line[range])) {
                modules[String(line[range])] = modules[String(line[range])] ?? path
            }
            if quotes % 2 == 1 { insideString.toggle() }
        }
    }
    return (modules, swiftFiles)
}

var problems: [String] = []
var checked = 0
var skipped: [String] = []
for target in targets {
    let (imported, swiftFiles) = imports(under: target.directory)
    guard swiftFiles > 0 else {
        skipped.append(target.name)
        continue
    }
    checked += 1
    // A test target may depend on an executable target only to have it built (the CLI tests run it).
    let declared = Set(target.dependencies.filter { !(target.type == "test" && executables.contains($0)) })
    for module in imported.keys.sorted() where !declared.contains(module) {
        problems.append("\(target.name): imports \(module) (\(imported[module]!)) but does not declare it")
    }
    for module in declared.sorted() where imported[module] == nil {
        problems.append("\(target.name): declares \(module) but none of its files imports it")
    }
    for module in declared.union(imported.keys).sorted() {
        if let allowed = lowLevelUsers[module], !allowed.contains(target.name) {
            problems.append("\(target.name): uses \(module), which only \(allowed.sorted().joined(separator: ", ")) may use")
        }
    }
}
if String(decoding: manifestData, as: UTF8.self).contains("\"unsafeFlags\"") {
    problems.append("Package.swift: a target sets unsafeFlags (SwiftPM refuses such packages as versioned dependencies)")
}

if problems.isEmpty {
    print("check-dependencies: \(checked) targets declare exactly what they import (no Swift sources: "
          + "\(skipped.joined(separator: ", "))); kernels and BLAS stay below FreeLBTensor; no unsafeFlags")
} else {
    print("check-dependencies: \(problems.count) problem(s):")
    problems.forEach { print("  " + $0) }
    exit(1)
}

// swift-tools-version:6.0
// A package that depends on FreeLB for Swift by URL and version, as a user's would. It runs one
// FreeLB step and one step of a custom method (FreeLBWithCleanLoss) on the tiny fixture model.
// FREELB_PACKAGE_URL overrides the URL (scripts/example-check.sh points it at a tagged local clone).
import PackageDescription

let freelbURL = Context.environment["FREELB_PACKAGE_URL"] ?? "https://github.com/freelb-swift/freelb-swift.git"

let package = Package(
    name: "FreeLBClient",
    platforms: [.macOS(.v13)],
    dependencies: [.package(url: freelbURL, from: "0.1.0")],
    targets: [
        .executableTarget(
            name: "FreeLBClient",
            dependencies: [
                .product(name: "FreeLB", package: "freelb-swift"),
                .product(name: "FreeLBModels", package: "freelb-swift"),
                .product(name: "FreeLBNN", package: "freelb-swift"),
                .product(name: "FreeLBTensor", package: "freelb-swift")
            ])
    ],
    swiftLanguageModes: [.v5]
)

// swift-tools-version:6.0
// FreeLB for Swift: adversarial fine-tuning of transformer encoders (FreeLB, PGD, FreeAT, YOPO).
//
// Layers (dependencies point downwards only; each target declares exactly the modules it imports,
// which scripts/check-dependencies.sh checks):
//   freelb (CLI), freelb-bench
//   FreeLB              adversarial training: trainers, robustness; resolves Hub ids (FreeLBHub) to folders;
//                       data parallelism over Open MPI (CFreeLBMPI loads libmpi at run time, docs/scaling.md)
//   FreeLBModels        BERT / RoBERTa / ALBERT + heads, HF checkpoints from local folders, model prefixes
//   FreeLBNN            layers, optimizers, schedules
//   FreeLBTensor        tensor engine + reverse-mode autodiff; the only user of the two below
//   FreeLBBLAS          OpenBLAS (Linux) / Accelerate (macOS) bridge, oneDNN bf16 matmul (CFreeLBDNNL, dlopen),
//                       CFreeLBKernels (SIMD C kernels)
//   FreeLBSafetensors, FreeLBHub, FreeLBTokenizers, FreeLBData: IO, no autodiff
import PackageDescription

// No unsafe flags: bounds checks stay in release builds, and the package can be a versioned dependency.
let swiftSettings: [SwiftSetting] = []

let package = Package(
    name: "FreeLB",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "freelb", targets: ["freelb"]),
        .executable(name: "freelb-bench", targets: ["freelb-bench"]),
        .library(name: "FreeLB", targets: ["FreeLB"]),
        .library(name: "FreeLBTensor", targets: ["FreeLBTensor"]),
        .library(name: "FreeLBNN", targets: ["FreeLBNN"]),
        .library(name: "FreeLBModels", targets: ["FreeLBModels"]),
        .library(name: "FreeLBTokenizers", targets: ["FreeLBTokenizers"]),
        .library(name: "FreeLBData", targets: ["FreeLBData"]),
        .library(name: "FreeLBSafetensors", targets: ["FreeLBSafetensors"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "pkg-config"])]),
        // Plain C at SwiftPM's release optimisation; the kernels vectorise explicitly (ext_vector_type)
        // and call no errno-setting libm function in their loops, so they need no extra flags.
        .target(name: "CFreeLBKernels"),
        // oneDNN's bf16 matmul, opened with dlopen at first use (no link-time dependency; see docs/performance.md).
        .target(name: "CFreeLBDNNL", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .target(
            name: "FreeLBBLAS",
            dependencies: ["CFreeLBDNNL", .target(name: "COpenBLAS", condition: .when(platforms: [.linux]))],
            swiftSettings: swiftSettings),
        // The only target that talks to CFreeLBKernels and FreeLBBLAS (besides freelb-bench's raw microbenchmarks).
        .target(name: "FreeLBTensor", dependencies: ["FreeLBBLAS", "CFreeLBKernels"], swiftSettings: swiftSettings),
        .target(name: "FreeLBNN", dependencies: ["FreeLBTensor"], swiftSettings: swiftSettings),
        .target(name: "FreeLBSafetensors", swiftSettings: swiftSettings),
        .target(name: "FreeLBHub", swiftSettings: swiftSettings),
        .target(name: "FreeLBTokenizers", swiftSettings: swiftSettings),
        .target(name: "FreeLBData", dependencies: ["FreeLBTokenizers"], swiftSettings: swiftSettings),
        .target(
            name: "FreeLBModels",
            dependencies: ["FreeLBNN", "FreeLBSafetensors", "FreeLBTensor"],
            swiftSettings: swiftSettings),
        .target(
            name: "FreeLB",
            dependencies: ["CFreeLBMPI", "FreeLBData", "FreeLBHub", "FreeLBModels", "FreeLBNN", "FreeLBSafetensors",
                           "FreeLBTensor", "FreeLBTokenizers"],
            swiftSettings: swiftSettings),
        // Open MPI, loaded with dlopen only under mpirun: nothing links libmpi, so the package builds and trains in
        // one process on a machine without MPI (docs/scaling.md, "Build").
        .target(name: "CFreeLBMPI", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .executableTarget(
            name: "freelb",
            dependencies: ["FreeLB", "FreeLBData", "FreeLBModels", "FreeLBTensor", "FreeLBTokenizers",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings),
        // freelb-bench times raw GEMMs (FreeLBBLAS) and C kernels (CFreeLBKernels) on bare buffers, below the
        // tensor layer on purpose, so it is the one target besides FreeLBTensor that imports them.
        .executableTarget(
            name: "freelb-bench",
            dependencies: ["CFreeLBKernels", "FreeLB", "FreeLBBLAS", "FreeLBModels", "FreeLBNN", "FreeLBTensor"],
            swiftSettings: swiftSettings),

        // Test targets declare exactly what they import (scripts/check-dependencies.sh), plus the
        // executable the CLI tests run.
        .testTarget(name: "CFreeLBKernelsTests", dependencies: ["CFreeLBKernels"]),
        .testTarget(name: "FreeLBTensorTests", dependencies: ["FreeLBBLAS", "FreeLBTensor"]),
        .testTarget(name: "FreeLBNNTests", dependencies: ["FreeLBNN", "FreeLBTensor"]),
        .testTarget(name: "FreeLBSafetensorsTests", dependencies: ["FreeLBSafetensors"], resources: [.copy("Resources")]),
        .testTarget(name: "FreeLBHubTests", dependencies: ["FreeLBHub"]),
        .testTarget(name: "FreeLBTokenizersTests", dependencies: ["FreeLBTokenizers"], resources: [.copy("Resources")]),
        .testTarget(name: "FreeLBDataTests", dependencies: ["FreeLBData", "FreeLBTokenizers"]),
        .target(name: "FreeLBTestSupport", path: "Tests/FreeLBTestSupport"),
        .testTarget(
            name: "FreeLBModelsTests",
            dependencies: ["FreeLBHub", "FreeLBModels", "FreeLBSafetensors", "FreeLBTensor", "FreeLBTestSupport"],
            resources: [.copy("Resources")]),
        .testTarget(
            name: "FreeLBTests",
            dependencies: ["FreeLB", "FreeLBModels", "FreeLBNN", "FreeLBSafetensors", "FreeLBTensor", "FreeLBTestSupport"],
            resources: [.copy("Resources")]),
        .testTarget(
            name: "FreeLBCLITests",
            dependencies: ["FreeLB", "FreeLBModels", "FreeLBNN", "FreeLBSafetensors", "FreeLBTensor", "FreeLBTokenizers",
                           "freelb"]),
    ],
    swiftLanguageModes: [.v5]
)

import Foundation
import PackagePlugin

/// Builds each `static/NAME.c` of a target into a statically linked executable
/// `NAME`, shipped as a resource of that target.
///
/// Why a plugin: these programs run *inside* a sandbox whose root filesystem
/// need not contain a dynamic loader or libc (the pid-1 init, the test probe),
/// and SwiftPM links C executables against the Swift runtime. `cc -static`
/// gives a self-contained binary with no extra step for `swift build`.
///
/// A first line `// static-cflags: FLAGS` adds compiler flags for that file
/// (warren-init is built without libc).
@main
struct StaticBinaries: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let dir = target.directoryURL.appending(path: "static")
        let include = context.package.directoryURL.appending(path: "Sources/CWarrenSandbox/include")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        let headers = files.filter { $0.hasSuffix(".h") }.map { dir.appending(path: $0) }
        return files.filter { $0.hasSuffix(".c") }.sorted().map { file in
            let src = dir.appending(path: file)
            let out = context.pluginWorkDirectoryURL.appending(path: String(file.dropLast(2)))
            let firstLine = (try? String(contentsOf: src, encoding: .utf8))?.split(separator: "\n").first ?? ""
            let marker = "// static-cflags:"
            let extra = firstLine.hasPrefix(marker)
                ? firstLine.dropFirst(marker.count).split(separator: " ").map(String.init) : []
            return .buildCommand(
                displayName: "cc -static \(file)",
                executable: URL(fileURLWithPath: "/usr/bin/cc"),
                arguments: [
                    "-static", "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
                    "-I", include.path, "-o", out.path, src.path,
                ] + extra,
                inputFiles: [src, include.appending(path: "wrn_spawn.h")] + headers,
                outputFiles: [out]
            )
        }
    }
}

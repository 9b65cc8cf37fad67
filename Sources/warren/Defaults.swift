import Foundation

/// Where Warren finds its embedded defaults: the policies and runtime
/// root filesystems of the checkout or installation it runs from.
enum Defaults {
    /// `$WARREN_HOME`, else the nearest parent directory of the executable
    /// that holds `policies/default.json` (a checkout running from
    /// `.build/…`), else `/usr/share/warren`.
    static let home: String = {
        if let env = ProcessInfo.processInfo.environment["WARREN_HOME"], !env.isEmpty { return env }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("policies/default.json").path) {
                return dir.path
            }
            dir.deleteLastPathComponent()
        }
        return "/usr/share/warren"
    }()

    static var policy: String { home + "/policies/default.json" }

    static func rootfs(_ runtime: String) -> String { home + "/rootfs/out/" + runtime }
}
